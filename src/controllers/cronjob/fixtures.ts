/**
 * Objects and fakes for this controller's unit tests (upstream's
 * `cronJob()`, `newJob()`, `fakeJobControl`, `fakeCJControl`): a CronJob
 * and its Jobs held in memory, an API that records every call, and a
 * recorder, on a fake clock.
 */
import { format } from "node:util";
import type { CronJob, Job } from "kubernetes-types/batch/v1.js";
import type { EventSubject } from "../../client/event-recorder.js";
import { FakeClock } from "../../machinery/clock.js";
import { silentLogger } from "../../machinery/log.js";
import { alreadyExists, notFound } from "../../machinery/status-error.js";
import { rfc3339 } from "../common/time.js";
import { type CronJobApi, wireStatus } from "./api.js";
import { CronJobSyncer } from "./sync.js";

const JOBS_Q = { group: "batch", resource: "jobs" };

/** Upstream's `cronJob()`: `default/mycronjob`, hourly on the hour, Allow, no limits. */
export function cronJob(overrides: { schedule?: string; created?: number; concurrencyPolicy?: string } = {}): CronJob {
  return {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: {
      name: "mycronjob",
      namespace: "default",
      uid: "1a2b3c",
      resourceVersion: "1",
      creationTimestamp: rfc3339(overrides.created ?? Date.UTC(2024, 0, 1, 9, 30)),
    },
    spec: {
      schedule: overrides.schedule ?? "0 * * * *",
      concurrencyPolicy: overrides.concurrencyPolicy ?? "Allow",
      jobTemplate: {
        metadata: { labels: { a: "b" }, annotations: { x: "y" } },
        spec: { template: { spec: { containers: [{ name: "c", image: "busybox" }], restartPolicy: "OnFailure" } } },
      },
    },
  };
}

/** A Job of `cj` scheduled at `scheduledMs`, finished as `condition` (or running). */
export function jobOf(cj: CronJob, scheduledMs: number, condition?: "Complete" | "Failed", uid = `job-${scheduledMs}`): Job {
  const name = `${cj.metadata?.name}-${Math.floor(scheduledMs / 60_000)}`;
  const t = rfc3339(scheduledMs + 60_000);
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name,
      namespace: "default",
      uid,
      ownerReferences: [{ apiVersion: "batch/v1", kind: "CronJob", name: cj.metadata!.name!, uid: cj.metadata!.uid!, controller: true, blockOwnerDeletion: true }],
    },
    spec: { template: { spec: { containers: [{ name: "c", image: "busybox" }] } } },
    status: {
      startTime: rfc3339(scheduledMs),
      ...(condition ? { conditions: [{ type: condition, status: "True", lastTransitionTime: t }], ...(condition === "Complete" ? { completionTime: t } : {}) } : {}),
    },
  };
}

/** The active-list entry of `job`. */
export function activeRef(job: Job) {
  return { kind: "Job", namespace: "default", name: job.metadata!.name!, uid: job.metadata!.uid!, apiVersion: "batch/v1" };
}

/** A syncer over in-memory objects, recording what it asked for. */
export class CronJobFixture {
  readonly clock: FakeClock;
  readonly jobs = new Map<string, Job>();
  readonly created: Job[] = [];
  readonly deleted: string[] = [];
  readonly statusWrites: CronJob[] = [];
  readonly events: string[] = [];
  readonly syncer: CronJobSyncer;
  /** What the live GET of the CronJob answers (the cached one unless set). */
  live: CronJob | undefined;

  constructor(
    public cj: CronJob,
    jobs: Job[],
    nowMs: number,
  ) {
    this.clock = new FakeClock(nowMs);
    for (const j of jobs) this.jobs.set(j.metadata!.name!, j);
    const api: CronJobApi = {
      getCronJob: async () => structuredClone(this.live ?? this.cj),
      updateCronJobStatus: async (c) => {
        const written = structuredClone({ ...c, status: wireStatus(c.status) });
        this.statusWrites.push(written);
        this.cj = structuredClone(written);
        return structuredClone(written);
      },
      getJob: async (_ns, name) => {
        const j = this.jobs.get(name);
        if (!j) throw notFound(JOBS_Q, name);
        return structuredClone(j);
      },
      createJob: async (_ns, job) => {
        const name = job.metadata!.name!;
        if (this.jobs.has(name)) throw alreadyExists(JOBS_Q, name);
        const stored: Job = { ...structuredClone(job), metadata: { ...job.metadata, namespace: "default", uid: `uid-${name}`, resourceVersion: "7" } };
        this.created.push(stored);
        this.jobs.set(name, stored);
        return stored;
      },
      deleteJob: async (_ns, name) => {
        this.deleted.push(name);
        this.jobs.delete(name);
      },
    };
    const recorder = {
      eventf: (_r: EventSubject, _rel: EventSubject | undefined, type: string, reason: string, _a: string, note: string, ...args: unknown[]) => {
        this.events.push(`${type} ${reason} ${args.length ? format(note, ...args) : note}`);
      },
    };
    this.syncer = new CronJobSyncer({
      getCronJob: () => this.cj,
      jobsInNamespace: () => [...this.jobs.values()],
      api,
      recorder,
      clock: this.clock,
      logger: silentLogger,
    });
  }

  /** Syncs once; resolves the requeue delay. */
  sync(): Promise<number | undefined> {
    return this.syncer.sync("default/mycronjob");
  }
}
