/**
 * Objects and fakes for this controller's unit tests, shaped as upstream's
 * test helpers (`newJob`, `newPod`, `setPodsStatuses`): a Job in `default`
 * with generated selector labels, pods owned by it with the tracking
 * finalizer, and a harness running a {@link JobController} over fake
 * informers, pod control, API and recorder on fake time.
 */
import { format } from "node:util";
import type { Job } from "kubernetes-types/batch/v1.js";
import type { Pod } from "kubernetes-types/core/v1.js";
import type { EventSubject } from "../../client/event-recorder.js";
import { FakeTimers } from "../../client/timers.js";
import { notFound } from "../../machinery/status-error.js";
import { FakeListerWatcher, FakePodControl, runningInformer, settle } from "../common/testing.js";
import { rfc3339 } from "../common/time.js";
import { type JobApi, wireStatus } from "./api.js";
import { CONTROLLER_UID_LABEL, JOB_COMPLETION_INDEX_ANNOTATION, JOB_NAME_LABEL, JOB_TRACKING_FINALIZER } from "./constants.js";
import { JobController } from "./controller.js";
import type { JobControllerTimings } from "./sync-context.js";

/** 2024-01-01T12:00:00Z: the fake clock's start. */
export const NOW = Date.UTC(2024, 0, 1, 12);

let uids = 0;

/** Upstream's `newJob(parallelism, completions, backoffLimit, completionMode)`: `default/foobar`. */
export function newJob(parallelism: number, completions: number | undefined, backoffLimit = 6, completionMode = "NonIndexed"): Job {
  const uid = `job-uid-${++uids}`;
  const labels = { foo: "bar", [CONTROLLER_UID_LABEL]: uid, [JOB_NAME_LABEL]: "foobar" };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: "foobar", uid, namespace: "default", resourceVersion: "1", generation: 1, creationTimestamp: rfc3339(NOW - 60_000) },
    spec: {
      selector: { matchLabels: { [CONTROLLER_UID_LABEL]: uid } },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: "main", image: "foo/bar" }], restartPolicy: "Never" },
      },
      parallelism,
      ...(completions !== undefined ? { completions } : {}),
      backoffLimit,
      completionMode,
      suspend: false,
    },
  };
}

/** A pod of `job` in `phase`, with the tracking finalizer unless `tracked` is false. */
export function newPod(name: string, job: Job, phase: string, opts: { index?: number; tracked?: boolean; ready?: boolean; finishedAt?: number; exitCode?: number } = {}): Pod {
  const annotations: Record<string, string> = {};
  const labels: Record<string, string> = { ...job.spec?.template.metadata?.labels };
  if (opts.index !== undefined) {
    annotations[JOB_COMPLETION_INDEX_ANNOTATION] = String(opts.index);
    labels[JOB_COMPLETION_INDEX_ANNOTATION] = String(opts.index);
  }
  const terminated = phase === "Succeeded" || phase === "Failed";
  const finishedAt = rfc3339(opts.finishedAt ?? NOW - 30_000);
  return {
    metadata: {
      name,
      namespace: "default",
      uid: `pod-uid-${++uids}`,
      creationTimestamp: rfc3339(NOW - 50_000),
      labels,
      annotations,
      ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: job.metadata!.name!, uid: job.metadata!.uid!, controller: true, blockOwnerDeletion: true }],
      ...(opts.tracked === false ? {} : { finalizers: [JOB_TRACKING_FINALIZER] }),
    },
    spec: { containers: [{ name: "main", image: "foo/bar" }], nodeName: "node-a" },
    status: {
      phase,
      ...(phase === "Running" && opts.ready !== false ? { conditions: [{ type: "Ready", status: "True" }] } : {}),
      ...(terminated
        ? {
            containerStatuses: [
              {
                name: "main",
                image: "foo/bar",
                imageID: "",
                ready: false,
                restartCount: 0,
                state: { terminated: { exitCode: opts.exitCode ?? (phase === "Succeeded" ? 0 : 1), finishedAt } },
              },
            ],
          }
        : {}),
    },
  };
}

/** One recorded event. */
export interface RecordedEvent {
  readonly type: string;
  readonly reason: string;
  readonly note: string;
  readonly regarding: string;
}

/** Records events as `type reason note`. */
export class FakeRecorder {
  readonly events: RecordedEvent[] = [];

  eventf(regarding: EventSubject, _related: EventSubject | undefined, type: string, reason: string, _action: string, note: string, ...args: unknown[]): void {
    const name = "metadata" in regarding && regarding.metadata ? regarding.metadata.name : (regarding as { name?: string }).name;
    this.events.push({ type, reason, note: args.length > 0 ? format(note, ...args) : note, regarding: name ?? "" });
  }

  /** `Type Reason: note` lines. */
  lines(): string[] {
    return this.events.map((e) => `${e.type} ${e.reason}: ${e.note}`);
  }
}

/** A running controller over fakes. */
export interface JobHarness {
  readonly controller: JobController;
  readonly podControl: FakePodControl;
  readonly pods: FakeListerWatcher<Pod>;
  readonly jobs: FakeListerWatcher<Job>;
  readonly recorder: FakeRecorder;
  readonly timers: FakeTimers;
  /** Every status written, in order. */
  readonly statusWrites: Job[];
  /** Syncs `default/foobar` (or `key`) once, after letting informer events land. */
  sync(key?: string): Promise<void>;
  /** The last status written. */
  lastStatus(): Job["status"];
  /** Empties the queues (keys queued by the informers' initial adds); resolves the Job keys. */
  drain(): Promise<string[]>;
  stop(): void;
}

/** Starts a {@link JobController} over `jobs` and `pods`. */
export async function jobHarness(jobs: Job[], pods: Pod[], opts: { timings?: Partial<JobControllerTimings>; now?: number } = {}): Promise<JobHarness> {
  const stop = new AbortController();
  const jobSource = new FakeListerWatcher<Job>(jobs);
  const podSource = new FakeListerWatcher<Pod>(pods);
  const jobInformer = await runningInformer(jobSource, stop.signal);
  const podInformer = await runningInformer(podSource, stop.signal);
  const podControl = new FakePodControl();
  const recorder = new FakeRecorder();
  const statusWrites: Job[] = [];
  const api: JobApi = {
    async getJob(ns, name) {
      const job = jobSource.get(`${ns}/${name}`);
      if (!job) throw notFound({ group: "batch", resource: "jobs" }, name);
      return structuredClone(job);
    },
    async updateJobStatus(job) {
      const stored = jobSource.get(`${job.metadata?.namespace}/${job.metadata?.name}`);
      if (!stored) throw notFound({ group: "batch", resource: "jobs" }, job.metadata?.name ?? "");
      const written = structuredClone({ ...stored, status: wireStatus(job.status) }) as Job;
      statusWrites.push(structuredClone(written));
      // A fresh object, as a real response is: the sync goes on editing it.
      return structuredClone(jobSource.set(written));
    },
  };
  const timers = new FakeTimers(opts.now ?? NOW);
  const controller = new JobController({ jobInformer, podInformer, api, podControl, recorder, timers, timings: opts.timings });
  const drain = async () => {
    const keys: string[] = [];
    while (controller.queue.len() > 0) {
      const k = (await controller.queue.get())!;
      controller.queue.done(k);
      keys.push(k);
    }
    while (controller.orphanQueue.len() > 0) controller.orphanQueue.done((await controller.orphanQueue.get())!);
    return keys;
  };
  await drain();
  return {
    controller,
    podControl,
    pods: podSource,
    jobs: jobSource,
    recorder,
    timers,
    statusWrites,
    async sync(key = "default/foobar") {
      await settle();
      await controller.syncer.syncJob(key);
      await settle();
    },
    lastStatus: () => statusWrites.at(-1)?.status,
    drain,
    stop: () => stop.abort(),
  };
}
