/**
 * The calls the CronJob controller makes, behind one interface so unit
 * tests can record them (upstream's `cjControlInterface` and
 * `jobControlInterface`).
 */
import type { CronJob, CronJobStatus, Job } from "kubernetes-types/batch/v1.js";
import { ResourceClient } from "../../client/resource-client.js";
import { CRON_JOBS, JOBS } from "../../client/resources.js";
import type { RestClient } from "../../client/rest-client.js";

/** What the CronJob controller asks of the API server; {@link restCronJobApi} for a real one. */
export interface CronJobApi {
  /** A live GET of a CronJob. */
  getCronJob(namespace: string, name: string): Promise<CronJob>;
  /** PUT of the status subresource; resolves the stored CronJob. */
  updateCronJobStatus(cj: CronJob): Promise<CronJob>;
  /** A live GET of a Job. */
  getJob(namespace: string, name: string): Promise<Job>;
  createJob(namespace: string, job: Job): Promise<Job>;
  /** Deletes a Job with Background propagation (its pods go after it). */
  deleteJob(namespace: string, name: string): Promise<void>;
}

/** {@link CronJobApi} over REST. */
export function restCronJobApi(rest: RestClient): CronJobApi {
  const cronJobs = new ResourceClient<CronJob>(rest, CRON_JOBS);
  const jobs = new ResourceClient<Job>(rest, JOBS);
  return {
    getCronJob: (ns, name) => cronJobs.namespace(ns).get(name),
    updateCronJobStatus: (cj) => cronJobs.namespace(cj.metadata?.namespace ?? "").updateStatus({ ...cj, status: wireStatus(cj.status) }),
    getJob: (ns, name) => jobs.namespace(ns).get(name),
    createJob: (ns, job) => jobs.namespace(ns).create(job),
    deleteJob: (ns, name) => jobs.namespace(ns).delete(name, { propagationPolicy: "Background" }),
  };
}

/** `status` as Go serializes it: an empty active list left out. */
export function wireStatus(status: CronJobStatus | undefined): CronJobStatus {
  const s: CronJobStatus = { ...(status ?? {}) };
  if (!s.active?.length) delete s.active;
  return s;
}
