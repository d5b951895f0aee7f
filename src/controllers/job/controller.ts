/**
 * The Job controller, as upstream's (pkg/controller/job): handlers map
 * Job and pod changes to Job keys (`ns/name`), pod events batched by a
 * second so a burst of pod updates makes one sync; workers run
 * {@link JobSyncer}, retrying failures with a 1 s to 1 min backoff. A
 * second queue strips the tracking finalizer from pods no running Job
 * will count any more (orphans, pods of finished or deleted Jobs).
 */
import type { Job } from "kubernetes-types/batch/v1.js";
import type { Pod } from "kubernetes-types/core/v1.js";
import type { OwnerReference } from "kubernetes-types/meta/v1.js";
import type { SharedInformer } from "../../client/informer.js";
import { ItemExponentialFailureRateLimiter } from "../../client/rate-limiter.js";
import { JOBS, PODS } from "../../client/resources.js";
import { objectKey, splitKey } from "../../client/store.js";
import { systemTimers, type Timers } from "../../client/timers.js";
import { WorkQueue } from "../../client/work-queue.js";
import { selectorFromObject } from "../../machinery/labels.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { isNotFound } from "../../machinery/status-error.js";
import { getControllerOf } from "../common/controller-ref.js";
import { deepEqual } from "../common/equality.js";
import { errorMessage } from "../common/errors.js";
import { ControllerExpectations } from "../common/expectations.js";
import { addPodControllerUIDIndexer, POD_CONTROLLER_UID_INDEX } from "../common/indexers.js";
import { type PodControl, type PodEventRecorder, RealPodControl, restPodApi } from "../common/pod-control.js";
import { podKey } from "../common/pod-utils.js";
import { processNextWorkItem, runController } from "../common/workers.js";
import type { Controller, ControllerContext } from "../manager.js";
import { type JobApi, restJobApi } from "./api.js";
import { BackoffStore } from "./backoff.js";
import {
  DEFAULT_JOB_API_BACKOFF_MS,
  DEFAULT_POD_FAILURE_BACKOFF_MS,
  JOB_CONTROLLER_COMPONENT,
  JOB_GVK,
  MAX_JOB_API_BACKOFF_MS,
  MAX_POD_FAILURE_BACKOFF_MS,
  SYNC_JOB_BATCH_PERIOD_MS,
} from "./constants.js";
import { FinalizerExpectations } from "./finalizer-expectations.js";
import { hasJobTrackingFinalizer, removeTrackingFinalizerPatch } from "./pods.js";
import type { JobControllerTimings } from "./sync-context.js";
import { JobSyncer, managedByExternalController } from "./sync.js";
import { isJobFinished } from "./util.js";

/** Upstream's default `--concurrent-job-syncs`. */
export const DEFAULT_WORKERS = 5;

/** Upstream's timings. */
export const DEFAULT_JOB_TIMINGS: JobControllerTimings = Object.freeze({
  podFailureBackoffMs: DEFAULT_POD_FAILURE_BACKOFF_MS,
  maxPodFailureBackoffMs: MAX_POD_FAILURE_BACKOFF_MS,
  syncBatchPeriodMs: SYNC_JOB_BATCH_PERIOD_MS,
});

/** Options of a {@link JobController}. */
export interface JobControllerOptions {
  readonly jobInformer: SharedInformer<Job>;
  /** The shared pod informer (the controller adds the pod controller-uid index). */
  readonly podInformer: SharedInformer<Pod>;
  readonly api: JobApi;
  readonly podControl: PodControl;
  readonly recorder: PodEventRecorder;
  readonly logger?: Logger;
  /** Concurrent sync loops ({@link DEFAULT_WORKERS}). */
  readonly workers?: number;
  /** Time for queues, backoffs, deadlines and conditions (tests). */
  readonly timers?: Timers;
  /** Backoff and batching ({@link DEFAULT_JOB_TIMINGS} unless given). */
  readonly timings?: Partial<JobControllerTimings>;
}

/** Runs Jobs to completion. {@link run} until the signal aborts. */
export class JobController implements Controller {
  /** Job keys waiting to be synced. */
  readonly queue: WorkQueue<string>;
  /** Keys of pods whose tracking finalizer may have to go. */
  readonly orphanQueue: WorkQueue<string>;
  readonly expectations: ControllerExpectations;
  readonly finalizerExpectations: FinalizerExpectations;
  readonly backoffStore = new BackoffStore();
  readonly syncer: JobSyncer;
  private readonly log: Logger;
  private readonly timers: Timers;
  private readonly timings: JobControllerTimings;

  constructor(private readonly opts: JobControllerOptions) {
    this.timers = opts.timers ?? systemTimers;
    this.log = opts.logger ?? silentLogger;
    this.timings = { ...DEFAULT_JOB_TIMINGS, ...(opts.timings ?? {}) };
    const limiter = () => new ItemExponentialFailureRateLimiter<string>(DEFAULT_JOB_API_BACKOFF_MS, MAX_JOB_API_BACKOFF_MS);
    this.queue = new WorkQueue<string>({ timers: this.timers, rateLimiter: limiter() });
    this.orphanQueue = new WorkQueue<string>({ timers: this.timers, rateLimiter: limiter() });
    this.expectations = new ControllerExpectations({ clock: this.timers, logger: this.log });
    this.finalizerExpectations = new FinalizerExpectations(this.log);
    addPodControllerUIDIndexer(opts.podInformer);
    this.syncer = new JobSyncer({
      getJob: (key) => opts.jobInformer.get(key),
      pods: opts.podInformer,
      podControl: opts.podControl,
      api: opts.api,
      recorder: opts.recorder,
      expectations: this.expectations,
      finalizerExpectations: this.finalizerExpectations,
      backoffStore: this.backoffStore,
      clock: this.timers,
      logger: this.log,
      timings: this.timings,
      enqueueAfter: (key, ms) => this.queue.addAfter(key, ms),
    });
    opts.jobInformer.addEventHandler({
      onAdd: (job) => this.enqueueImmediately(job),
      onUpdate: (old, cur) => this.updateJob(old, cur),
      onDelete: (job) => this.deleteJob(job),
    });
    opts.podInformer.addEventHandler({
      onAdd: (pod) => this.addPod(pod),
      onUpdate: (old, cur) => this.updatePod(old, cur),
      onDelete: (pod) => this.deletePod(pod, true),
    });
  }

  /** Waits for the caches, then runs the workers and the orphan worker until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    return runController(signal, {
      name: "job",
      log: this.log,
      queues: [this.queue, this.orphanQueue],
      informers: [this.opts.podInformer, this.opts.jobInformer],
      workers: this.opts.workers ?? DEFAULT_WORKERS,
      processNextWorkItem: () => this.processNextWorkItem(),
      afterSync: () => ({ loops: [this.orphanWorker()] }),
    });
  }

  private async orphanWorker(): Promise<void> {
    while (await this.processNextOrphanPod()) {
      // One pod per turn.
    }
  }

  /** Syncs one Job key; false once the queue is shut down. */
  processNextWorkItem(): Promise<boolean> {
    return processNextWorkItem(
      this.queue,
      (key) => this.syncer.syncJob(key),
      (key, err) => {
        this.log.error("syncing job", { key, err: errorMessage(err) });
        this.queue.addRateLimited(key);
      },
    );
  }

  /** Handles one orphan pod key; false once the queue is shut down. */
  processNextOrphanPod(): Promise<boolean> {
    return processNextWorkItem(
      this.orphanQueue,
      (key) => this.syncOrphanPod(key),
      (key, err) => {
        this.log.error("error syncing orphan pod", { pod: key, err: errorMessage(err) });
        this.orphanQueue.addRateLimited(key);
      },
    );
  }

  /**
   * Removes the tracking finalizer from a pod no unfinished Job of ours
   * controls (upstream's `syncOrphanPod`).
   */
  async syncOrphanPod(key: string): Promise<void> {
    const pod = this.opts.podInformer.get(key);
    if (!pod) {
      this.log.debug("orphan pod has been deleted", { pod: key });
      return;
    }
    const ref = getControllerOf(pod);
    if (ref) {
      // Not a batch/v1 Job: its finalizer is not ours to remove.
      if (ref.kind !== JOB_GVK.kind || ref.apiVersion !== JOB_GVK.apiVersion) return;
      const job = this.resolveControllerRef(pod.metadata?.namespace ?? "", ref);
      if (job && managedByExternalController(job)) return;
      // Adopted meanwhile by a Job still running: it will count the pod.
      if (job && !isJobFinished(job)) return;
    }
    const patch = removeTrackingFinalizerPatch(pod);
    if (!patch) return;
    const { namespace, name } = splitKey(key);
    try {
      await this.opts.podControl.patchPod(namespace, name, patch);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  // ---- enqueueing ----

  private enqueueImmediately(job: Job): void {
    this.queue.add(objectKey(job));
  }

  private enqueueBatched(job: Job): void {
    this.queue.addAfter(objectKey(job), this.timings.syncBatchPeriodMs);
  }

  private enqueueOrphanPod(pod: Pod): void {
    this.orphanQueue.add(podKey(pod));
  }

  // ---- Job handlers ----

  private updateJob(old: Job, cur: Job): void {
    // A status change (often from pod events) is batched; a spec change syncs at once.
    if (cur.metadata?.generation === old.metadata?.generation) this.enqueueBatched(cur);
    else this.enqueueImmediately(cur);
    // A finished Job should have no tracked pods left: a backstop.
    if (isJobFinished(cur)) this.cleanupPodFinalizers(cur);
    // A changed activeDeadlineSeconds moves the deadline sync.
    const start = cur.status?.startTime;
    const curADS = cur.spec?.activeDeadlineSeconds;
    if (!start || curADS === undefined || curADS === null) return;
    const oldADS = old.spec?.activeDeadlineSeconds;
    if (oldADS === undefined || oldADS === null || oldADS !== curADS) {
      const passed = this.timers.now() - Date.parse(start);
      const due = curADS * 1000 - passed;
      this.queue.addAfter(objectKey(cur), due);
      this.log.debug("job's activeDeadlineSeconds updated, will resync", { key: objectKey(cur), inMs: due });
    }
  }

  private deleteJob(job: Job): void {
    this.enqueueImmediately(job);
    this.cleanupPodFinalizers(job);
  }

  /** Queues every pod the Job controls that still has the tracking finalizer, for the orphan worker. */
  private cleanupPodFinalizers(job: Job): void {
    let selector: ReturnType<typeof selectorFromObject>;
    try {
      selector = selectorFromObject(job.spec?.selector);
    } catch (err) {
      this.log.error("parsing deleted job selector", { job: objectKey(job), err: errorMessage(err) });
      return;
    }
    const uid = job.metadata?.uid;
    if (!uid || !selector) return;
    for (const pod of this.opts.podInformer.byIndex(POD_CONTROLLER_UID_INDEX, uid)) {
      if (pod.metadata?.namespace !== job.metadata?.namespace || !selector.matches(pod.metadata?.labels)) continue;
      if (hasJobTrackingFinalizer(pod)) this.enqueueOrphanPod(pod);
    }
  }

  // ---- pod handlers ----

  /** The Job `ref` points to, if it is a Job and still the same object (uid). */
  private resolveControllerRef(namespace: string, ref: OwnerReference): Job | undefined {
    if (ref.kind !== JOB_GVK.kind) return undefined;
    const job = this.opts.jobInformer.get(`${namespace}/${ref.name}`);
    if (!job || job.metadata?.uid !== ref.uid) return undefined;
    return job;
  }

  /** Jobs of the pod's namespace whose selector matches it (upstream's `GetPodJobs`). */
  private getPodJobs(pod: Pod): Job[] {
    const labels = pod.metadata?.labels;
    if (!labels || Object.keys(labels).length === 0) return [];
    const out: Job[] = [];
    for (const job of this.opts.jobInformer.byNamespace(pod.metadata?.namespace ?? "")) {
      try {
        const sel = selectorFromObject(job.spec?.selector);
        if (sel && !sel.empty && sel.matches(labels)) out.push(job);
      } catch {
        // An invalid selector matches nothing.
      }
    }
    if (out.length > 1) this.log.error("user error! more than one job is selecting pods with labels", { pod: podKey(pod), labels: JSON.stringify(labels) });
    return out;
  }

  private addPod(pod: Pod): void {
    if (pod.metadata?.deletionTimestamp) {
      // After a restart a pod may first appear already being deleted: no creation to observe.
      this.deletePod(pod, false);
      return;
    }
    const ref = getControllerOf(pod);
    if (ref) {
      const job = this.resolveControllerRef(pod.metadata?.namespace ?? "", ref);
      if (!job) return;
      this.expectations.creationObserved(objectKey(job));
      this.enqueueBatched(job);
      return;
    }
    // An orphan: drop its finalizer, and let matching Jobs adopt it (no creation to observe).
    if (hasJobTrackingFinalizer(pod)) this.enqueueOrphanPod(pod);
    for (const job of this.getPodJobs(pod)) this.enqueueBatched(job);
  }

  private updatePod(oldPod: Pod, curPod: Pod): void {
    // A resync replays unchanged pods.
    if (curPod.metadata?.resourceVersion === oldPod.metadata?.resourceVersion) return;
    if (curPod.metadata?.deletionTimestamp) {
      // A graceful delete shows first as this update: replace the pod now, not when the kubelet is done.
      this.deletePod(curPod, false);
      return;
    }
    // Only the current state counts: during an ownership change the finalizer may come and go in one event.
    const finalizerRemoved = !hasJobTrackingFinalizer(curPod);
    const curRef = getControllerOf(curPod);
    const oldRef = getControllerOf(oldPod);
    const refChanged = !deepEqual(curRef, oldRef);
    const uid = curPod.metadata?.uid ?? "";
    if (refChanged && oldRef) {
      const job = this.resolveControllerRef(oldPod.metadata?.namespace ?? "", oldRef);
      if (job) {
        if (finalizerRemoved) this.finalizerExpectations.finalizerRemovalObserved(objectKey(job), uid);
        this.enqueueBatched(job);
      }
    }
    if (curRef) {
      const job = this.resolveControllerRef(curPod.metadata?.namespace ?? "", curRef);
      if (!job) return;
      if (finalizerRemoved) this.finalizerExpectations.finalizerRemovalObserved(objectKey(job), uid);
      this.enqueueBatched(job);
      return;
    }
    if (hasJobTrackingFinalizer(curPod)) this.enqueueOrphanPod(curPod);
    const labelChanged = !deepEqual(curPod.metadata?.labels, oldPod.metadata?.labels);
    if (labelChanged || refChanged) for (const job of this.getPodJobs(curPod)) this.enqueueBatched(job);
  }

  /** A pod went (`final`) or is being deleted. */
  private deletePod(pod: Pod, final: boolean): void {
    const ref = getControllerOf(pod);
    const hasFinalizer = hasJobTrackingFinalizer(pod);
    if (!ref) {
      // No Job cares about an orphan going, but a Job's garbage-collected pod may keep our finalizer.
      if (hasFinalizer) this.enqueueOrphanPod(pod);
      return;
    }
    const job = this.resolveControllerRef(pod.metadata?.namespace ?? "", ref);
    if (!job || isJobFinished(job)) {
      // No sync of that Job will remove the finalizer.
      if (hasFinalizer) this.enqueueOrphanPod(pod);
      return;
    }
    const key = objectKey(job);
    this.expectations.deletionObserved(key);
    // The final delete, or an update showing the finalizer gone, ends the wait for its removal.
    if (final || !hasFinalizer) this.finalizerExpectations.finalizerRemovalObserved(key, pod.metadata?.uid ?? "");
    this.enqueueBatched(job);
  }
}

/** The `job` controller of a controller manager, its backoff from the manager's settings. */
export function newJobController(ctx: ControllerContext): JobController {
  const logger = ctx.logger.with({ controller: "job" });
  const s = ctx.settings;
  const timings: Partial<JobControllerTimings> = {
    ...(s.jobPodFailureBackoffMs !== undefined ? { podFailureBackoffMs: s.jobPodFailureBackoffMs } : {}),
    ...(s.jobMaxPodFailureBackoffMs !== undefined ? { maxPodFailureBackoffMs: s.jobMaxPodFailureBackoffMs } : {}),
  };
  const recorder = ctx.recorder(JOB_CONTROLLER_COMPONENT);
  return new JobController({
    jobInformer: ctx.informers.informerFor<Job>(JOBS),
    podInformer: ctx.informers.informerFor<Pod>(PODS),
    api: restJobApi(ctx.rest),
    podControl: new RealPodControl({ pods: restPodApi(ctx.rest), recorder, logger }),
    recorder,
    logger,
    timings,
  });
}
