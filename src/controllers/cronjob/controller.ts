/**
 * The CronJob controller, as upstream's ControllerV2
 * (pkg/controller/cronjob): CronJob and Job changes map to CronJob keys;
 * each sync tells when the next schedule time is due, and the key waits
 * in the delaying queue until then, so nothing polls.
 */
import type { CronJob, Job } from "kubernetes-types/batch/v1.js";
import type { OwnerReference } from "kubernetes-types/meta/v1.js";
import type { SharedInformer } from "../../client/informer.js";
import { CRON_JOBS, JOBS } from "../../client/resources.js";
import { objectKey } from "../../client/store.js";
import { systemTimers, type Timers } from "../../client/timers.js";
import { WorkQueue } from "../../client/work-queue.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { getControllerOf } from "../common/controller-ref.js";
import { deepEqual } from "../common/equality.js";
import { errorMessage } from "../common/errors.js";
import type { PodEventRecorder } from "../common/pod-control.js";
import { processNextWorkItem, runController } from "../common/workers.js";
import type { Controller, ControllerContext } from "../manager.js";
import { type CronJobApi, restCronJobApi } from "./api.js";
import { CRONJOB_CONTROLLER_COMPONENT, CRONJOB_GVK } from "./constants.js";
import { CronJobSyncer, cronJobRef, scheduleOf } from "./sync.js";
import { nextScheduleTimeDuration } from "./utils.js";

/** Upstream's default `--concurrent-cron-job-syncs`. */
export const DEFAULT_WORKERS = 5;

/** Options of a {@link CronJobController}. */
export interface CronJobControllerOptions {
  readonly cronJobInformer: SharedInformer<CronJob>;
  readonly jobInformer: SharedInformer<Job>;
  readonly api: CronJobApi;
  readonly recorder: PodEventRecorder;
  readonly logger?: Logger;
  /** Concurrent sync loops ({@link DEFAULT_WORKERS}). */
  readonly workers?: number;
  /** Time for schedules and the queue (tests). */
  readonly timers?: Timers;
}

/** Runs CronJobs on schedule. {@link run} until the signal aborts. */
export class CronJobController implements Controller {
  /** CronJob keys waiting to be synced (now, or at their next schedule time). */
  readonly queue: WorkQueue<string>;
  readonly syncer: CronJobSyncer;
  private readonly log: Logger;
  private readonly timers: Timers;

  constructor(private readonly opts: CronJobControllerOptions) {
    this.timers = opts.timers ?? systemTimers;
    this.log = opts.logger ?? silentLogger;
    this.queue = new WorkQueue<string>({ timers: this.timers });
    this.syncer = new CronJobSyncer({
      getCronJob: (key) => opts.cronJobInformer.get(key),
      jobsInNamespace: (ns) => opts.jobInformer.byNamespace(ns),
      api: opts.api,
      recorder: opts.recorder,
      clock: this.timers,
      logger: this.log,
    });
    opts.jobInformer.addEventHandler({
      onAdd: (job) => this.addJob(job),
      onUpdate: (old, cur) => this.updateJob(old, cur),
      onDelete: (job) => this.deleteJob(job),
    });
    opts.cronJobInformer.addEventHandler({
      onAdd: (cj) => this.queue.add(objectKey(cj)),
      onUpdate: (old, cur) => this.updateCronJob(old, cur),
      onDelete: (cj) => this.queue.add(objectKey(cj)),
    });
  }

  /** Waits for the caches, then runs the workers until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    return runController(signal, {
      name: "cronjob",
      log: this.log,
      queues: [this.queue],
      informers: [this.opts.jobInformer, this.opts.cronJobInformer],
      workers: this.opts.workers ?? DEFAULT_WORKERS,
      processNextWorkItem: () => this.processNextWorkItem(),
    });
  }

  /** Syncs one key; false once the queue is shut down. */
  processNextWorkItem(): Promise<boolean> {
    return processNextWorkItem(
      this.queue,
      async (key) => {
        const requeueAfter = await this.syncer.sync(key);
        if (requeueAfter !== undefined) {
          this.log.debug("re-queuing cronjob", { cronjob: key, requeueAfterMs: requeueAfter });
          this.queue.addAfter(key, requeueAfter);
        }
      },
      (key, err) => {
        this.log.error("error syncing CronJobController, requeuing", { key, err: errorMessage(err) });
        this.queue.addRateLimited(key);
      },
    );
  }

  /**
   * A new schedule (or time zone) moves the next sync to its next time;
   * any other change syncs now.
   */
  private updateCronJob(old: CronJob, cur: CronJob): void {
    if (old.spec?.schedule !== cur.spec?.schedule || (old.spec?.timeZone ?? undefined) !== (cur.spec?.timeZone ?? undefined)) {
      let schedule: ReturnType<typeof scheduleOf>;
      try {
        schedule = scheduleOf(cur);
      } catch (err) {
        // A user error: nothing to do until the spec changes again.
        this.log.info("unparseable schedule for cronjob", { cronjob: objectKey(cur), schedule: cur.spec?.schedule, err: errorMessage(err) });
        this.opts.recorder.eventf(cronJobRef(cur), undefined, "Warning", "UnParseableCronJobSchedule", "Sync", "unparseable schedule for cronjob: %s", cur.spec?.schedule ?? "");
        return;
      }
      this.queue.addAfter(objectKey(cur), nextScheduleTimeDuration(cur, this.timers.now(), schedule));
      return;
    }
    this.queue.add(objectKey(cur));
  }

  // ---- Job handlers ----

  /** The CronJob `ref` points to, if it is one and still the same object (uid). */
  private resolveControllerRef(namespace: string, ref: OwnerReference): CronJob | undefined {
    if (ref.kind !== CRONJOB_GVK.kind) return undefined;
    const cj = this.opts.cronJobInformer.get(`${namespace}/${ref.name}`);
    if (!cj || cj.metadata?.uid !== ref.uid) return undefined;
    return cj;
  }

  private enqueueOwner(job: Job, ref: OwnerReference | undefined): void {
    if (!ref) return;
    const cj = this.resolveControllerRef(job.metadata?.namespace ?? "", ref);
    if (cj) this.queue.add(objectKey(cj));
  }

  private addJob(job: Job): void {
    // After a restart a Job may first appear already being deleted.
    if (job.metadata?.deletionTimestamp) {
      this.deleteJob(job);
      return;
    }
    this.enqueueOwner(job, getControllerOf(job));
  }

  private updateJob(old: Job, cur: Job): void {
    // A resync replays unchanged Jobs.
    if (cur.metadata?.resourceVersion === old.metadata?.resourceVersion) return;
    const curRef = getControllerOf(cur);
    const oldRef = getControllerOf(old);
    if (!deepEqual(curRef, oldRef) && oldRef) this.enqueueOwner(old, oldRef);
    this.enqueueOwner(cur, curRef);
  }

  private deleteJob(job: Job): void {
    // Nobody cares about orphans going away.
    this.enqueueOwner(job, getControllerOf(job));
  }
}

/** The `cronjob` controller of a controller manager. */
export function newCronJobController(ctx: ControllerContext): CronJobController {
  return new CronJobController({
    cronJobInformer: ctx.informers.informerFor<CronJob>(CRON_JOBS),
    jobInformer: ctx.informers.informerFor<Job>(JOBS),
    api: restCronJobApi(ctx.rest),
    recorder: ctx.recorder(CRONJOB_CONTROLLER_COMPONENT),
    logger: ctx.logger.with({ controller: "cronjob" }),
  });
}
