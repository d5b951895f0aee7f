/**
 * The TTL-after-finished controller, as upstream's
 * (pkg/controller/ttlafterfinished): Jobs that finished and set
 * `ttlSecondsAfterFinished` wait in the delaying queue until their TTL
 * runs out; then, after a live re-read confirms it (the TTL may have
 * changed), they are deleted in the foreground, preconditioned on their
 * uid, so their pods go first.
 */
import type { Job } from "kubernetes-types/batch/v1.js";
import type { SharedInformer } from "../../client/informer.js";
import { ResourceClient } from "../../client/resource-client.js";
import { JOBS } from "../../client/resources.js";
import type { RestClient } from "../../client/rest-client.js";
import { objectKey, splitKey } from "../../client/store.js";
import { systemTimers, type Timers } from "../../client/timers.js";
import { WorkQueue } from "../../client/work-queue.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { isNotFound } from "../../machinery/status-error.js";
import { errorMessage } from "../common/errors.js";
import { processNextWorkItem, runController } from "../common/workers.js";
import type { Controller, ControllerContext } from "../manager.js";
import { needsCleanup, timeLeft } from "./ttl.js";

/** Upstream's default `--concurrent-ttl-after-finished-syncs`. */
export const DEFAULT_WORKERS = 5;

/** The calls the controller makes; {@link restTtlApi} for a real server. */
export interface TtlApi {
  /** A live GET of a Job. */
  getJob(namespace: string, name: string): Promise<Job>;
  /** DELETE with Foreground propagation, preconditioned on `uid`. */
  deleteJob(namespace: string, name: string, uid: string): Promise<void>;
}

/** {@link TtlApi} over REST. */
export function restTtlApi(rest: RestClient): TtlApi {
  const jobs = new ResourceClient<Job>(rest, JOBS);
  return {
    getJob: (ns, name) => jobs.namespace(ns).get(name),
    deleteJob: (ns, name, uid) => jobs.namespace(ns).delete(name, { propagationPolicy: "Foreground", preconditions: { uid } }),
  };
}

/** Options of a {@link TtlAfterFinishedController}. */
export interface TtlAfterFinishedControllerOptions {
  readonly jobInformer: SharedInformer<Job>;
  readonly api: TtlApi;
  readonly logger?: Logger;
  /** Concurrent workers ({@link DEFAULT_WORKERS}). */
  readonly workers?: number;
  /** Time for TTLs and the queue (tests). */
  readonly timers?: Timers;
}

/** Deletes finished Jobs once their TTL runs out. {@link run} until the signal aborts. */
export class TtlAfterFinishedController implements Controller {
  /** Job keys to check. */
  readonly queue: WorkQueue<string>;
  private readonly log: Logger;
  private readonly timers: Timers;

  constructor(private readonly opts: TtlAfterFinishedControllerOptions) {
    this.timers = opts.timers ?? systemTimers;
    this.log = opts.logger ?? silentLogger;
    this.queue = new WorkQueue<string>({ timers: this.timers });
    const consider = (job: Job) => {
      if (!job.metadata?.deletionTimestamp && needsCleanup(job)) this.queue.add(objectKey(job));
    };
    opts.jobInformer.addEventHandler({ onAdd: consider, onUpdate: (_old, cur) => consider(cur) });
  }

  /** Waits for the Job cache, then runs the workers until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    return runController(signal, {
      name: "ttl-after-finished",
      log: this.log,
      queues: [this.queue],
      informers: [this.opts.jobInformer],
      workers: this.opts.workers ?? DEFAULT_WORKERS,
      processNextWorkItem: () => this.processNextWorkItem(),
    });
  }

  /** Handles one key; false once the queue is shut down. */
  processNextWorkItem(): Promise<boolean> {
    return processNextWorkItem(
      this.queue,
      (key) => this.processJob(key),
      (key, err) => {
        this.log.error("error cleaning up Job, will retry", { key, err: errorMessage(err) });
        this.queue.addRateLimited(key);
      },
    );
  }

  /**
   * Deletes the Job if it finished and its TTL ran out, by the cache and
   * then by a live read; otherwise queues it for when the TTL runs out
   * (upstream's `processJob`).
   */
  async processJob(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    this.log.debug("checking if job is ready for cleanup", { job: key });
    const job = this.opts.jobInformer.get(key);
    if (!job || !this.processTTL(job)) return;
    // The cached TTL may be stale: decide on the latest Job.
    let fresh: Job;
    try {
      fresh = await this.opts.api.getJob(namespace, name);
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    if (!this.processTTL(fresh)) return;
    this.log.debug("cleaning up job", { job: key });
    try {
      await this.opts.api.deleteJob(namespace, name, fresh.metadata?.uid ?? "");
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  }

  /** True when the Job's TTL ran out; otherwise queues it for when it will (upstream's `processTTL`). */
  private processTTL(job: Job): boolean {
    // Already being deleted, or nothing to clean up.
    if (job.metadata?.deletionTimestamp || !needsCleanup(job)) return false;
    const left = timeLeft(job, this.timers.now());
    if (left.finishedInFuture) {
      this.log.warn("found job finished in the future; this is likely due to time skew in the cluster; job cleanup will be deferred", { job: objectKey(job) });
    }
    if (left.remainingMs <= 0) return true;
    this.queue.addAfter(objectKey(job), left.remainingMs);
    return false;
  }
}

/** The `ttl-after-finished` controller of a controller manager. */
export function newTtlAfterFinishedController(ctx: ControllerContext): TtlAfterFinishedController {
  return new TtlAfterFinishedController({
    jobInformer: ctx.informers.informerFor<Job>(JOBS),
    api: restTtlApi(ctx.rest),
    logger: ctx.logger.with({ controller: "ttl-after-finished" }),
  });
}
