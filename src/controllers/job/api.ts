/**
 * The Job writes the controller makes, behind one interface so unit tests
 * can record them: a live read (the adoption recheck) and status updates.
 * Status is written in the shape Go's encoder gives `JobStatus`: counters
 * left out at 0 except `ready` and `terminating` (pointers upstream), and
 * `uncountedTerminatedPods` kept as `{}`.
 */
import type { Job, JobStatus } from "kubernetes-types/batch/v1.js";
import { ResourceClient } from "../../client/resource-client.js";
import { JOBS } from "../../client/resources.js";
import type { RestClient } from "../../client/rest-client.js";

/** What the Job controller asks of the API server; {@link restJobApi} for a real one. */
export interface JobApi {
  /** A live GET (never the cache). */
  getJob(namespace: string, name: string): Promise<Job>;
  /** PUT of the status subresource, conditional on the Job's resourceVersion; resolves the stored Job. */
  updateJobStatus(job: Job): Promise<Job>;
}

/** {@link JobApi} over REST. */
export function restJobApi(rest: RestClient): JobApi {
  const jobs = new ResourceClient<Job>(rest, JOBS);
  return {
    getJob: (ns, name) => jobs.namespace(ns).get(name),
    updateJobStatus: (job) => jobs.namespace(job.metadata?.namespace ?? "").updateStatus({ ...job, status: wireStatus(job.status) }),
  };
}

/** `status` as Go serializes it (omitempty on the int32 counters and strings). */
export function wireStatus(status: JobStatus | undefined): JobStatus {
  const s: JobStatus = { ...(status ?? {}) };
  for (const k of ["active", "succeeded", "failed"] as const) if (!s[k]) delete s[k];
  if (!s.completedIndexes) delete s.completedIndexes;
  if (s.conditions && s.conditions.length === 0) delete s.conditions;
  if (s.uncountedTerminatedPods) {
    const u = { ...s.uncountedTerminatedPods };
    if (!u.succeeded?.length) delete u.succeeded;
    if (!u.failed?.length) delete u.failed;
    s.uncountedTerminatedPods = u;
  }
  return s;
}
