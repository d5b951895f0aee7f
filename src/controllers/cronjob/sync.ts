/**
 * One sync of one CronJob, as upstream's ControllerV2 `sync`: re-read it
 * from the cache, delete finished Jobs beyond the history limits, reconcile
 * the active list with the Jobs it owns, and, unless suspended, run the
 * most recent unmet schedule time (within startingDeadlineSeconds, as the
 * concurrency policy allows) as a Job named for that time, then say when
 * to look again.
 */
import type { CronJob, Job } from "kubernetes-types/batch/v1.js";
import type { ObjectReference } from "kubernetes-types/core/v1.js";
import { splitKey } from "../../client/store.js";
import type { Clock } from "../../machinery/clock.js";
import type { Logger } from "../../machinery/log.js";
import { hasStatusCause, NAMESPACE_TERMINATING_CAUSE, type PodEventRecorder } from "../common/pod-control.js";
import { getControllerOf, ownerReference } from "../common/controller-ref.js";
import { errorMessage } from "../common/errors.js";
import { isAlreadyExists, isNotFound } from "../../machinery/status-error.js";
import { parseTime } from "../common/time.js";
import { finishedCondition, isJobFinished, isJobSucceeded } from "../job/util.js";
import type { CronJobApi } from "./api.js";
import { CRONJOB_GVK, FORBID_CONCURRENT, REPLACE_CONCURRENT } from "./constants.js";
import { type CronSchedule, isKnownTimeZone, parseStandard, unknownTimeZoneMessage } from "./schedule.js";
import {
  byJobStartTime,
  deleteFromActiveList,
  getJobFromTemplate,
  getJobName,
  inActiveList,
  inActiveListByName,
  jobReference,
  metaTime,
  nextScheduleTime,
  nextScheduleTimeDuration,
} from "./utils.js";

/** What a sync works with. */
export interface CronJobSyncDeps {
  /** The CronJob informer's cache, by `ns/name`. */
  getCronJob(key: string): CronJob | undefined;
  /** The Job informer's Jobs of a namespace. */
  jobsInNamespace(namespace: string): Job[];
  readonly api: CronJobApi;
  readonly recorder: PodEventRecorder;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** The reference events about `cj` point at. */
export function cronJobRef(cj: CronJob): ObjectReference {
  return ownerReference(cj.metadata, CRONJOB_GVK);
}

/** The job reference events name as `related`, so events about different Jobs stay apart. */
function jobRelated(job: Job | ObjectReference): ObjectReference {
  const m = "metadata" in job ? ((job as Job).metadata ?? {}) : (job as ObjectReference);
  return { apiVersion: "batch/v1", kind: "Job", namespace: m.namespace, name: m.name, uid: m.uid };
}

/**
 * The schedule of `cj` (upstream's `formatSchedule` plus `cron.ParseStandard`):
 * a `TZ=` in the schedule itself wins (with a warning event, as it is not
 * supported), else spec.timeZone. Throws robfig's error for a bad schedule.
 */
export function scheduleOf(cj: CronJob, warn?: (reason: string, note: string) => void): CronSchedule {
  const spec = cj.spec?.schedule ?? "";
  if (spec.includes("TZ")) {
    warn?.(
      "UnsupportedSchedule",
      `CRON_TZ or TZ used in schedule ${JSON.stringify(spec)} is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details`,
    );
    return parseStandard(spec);
  }
  const zone = cj.spec?.timeZone;
  // An unknown zone is reported by the sync; the schedule is read without it meanwhile.
  return parseStandard(spec, zone !== undefined && zone !== null && isKnownTimeZone(zone) ? zone : undefined);
}

/** What {@link CronJobSyncer.syncCronJob} ended with. */
interface SyncResult {
  /** When to sync again; undefined: only on a change. */
  readonly requeueAfter?: number;
  /** The CronJob's status changed and must be written. */
  readonly updateStatus: boolean;
  /** A failure worth a retry (the status is written first). */
  readonly error?: unknown;
}

/** The sync logic of the CronJob controller. */
export class CronJobSyncer {
  constructor(private readonly d: CronJobSyncDeps) {}

  /**
   * Syncs the CronJob with `key`; resolves when to sync again (ms), or
   * undefined when only a change can make a difference (suspended, bad
   * schedule, gone). Rejects on errors worth a retry.
   */
  async sync(key: string): Promise<number | undefined> {
    const d = this.d;
    const cached = d.getCronJob(key);
    if (!cached) {
      d.logger.debug("cronjob not found, may be it is deleted", { cronjob: key });
      return undefined;
    }
    const { namespace } = splitKey(key);
    const jobs = d.jobsInNamespace(namespace).filter((j) => getControllerOf(j)?.name === cached.metadata?.name);
    // Every change is made to one copy and written once.
    const cj = structuredClone(cached) as CronJob;
    const updateAfterCleanup = await this.cleanupFinishedJobs(cj, jobs);
    const { requeueAfter, updateStatus: updateAfterSync, error: syncErr } = await this.syncCronJob(cj, jobs);
    if (syncErr !== undefined) d.logger.debug("error reconciling cronjob", { cronjob: key, err: errorMessage(syncErr) });
    if (updateAfterCleanup || updateAfterSync) {
      try {
        await d.api.updateCronJobStatus(cj);
      } catch (err) {
        d.logger.debug("unable to update status for cronjob", { cronjob: key, resourceVersion: cached.metadata?.resourceVersion, err: errorMessage(err) });
        throw err;
      }
    }
    if (requeueAfter !== undefined) return requeueAfter;
    if (syncErr !== undefined) throw syncErr;
    return undefined;
  }

  /** Deletes the oldest finished Jobs beyond the history limits; true when the status changed. */
  private async cleanupFinishedJobs(cj: CronJob, jobs: readonly Job[]): Promise<boolean> {
    const sLimit = cj.spec?.successfulJobsHistoryLimit;
    const fLimit = cj.spec?.failedJobsHistoryLimit;
    if ((sLimit === undefined || sLimit === null) && (fLimit === undefined || fLimit === null)) return false;
    const succeeded: Job[] = [];
    const failed: Job[] = [];
    for (const job of jobs) {
      const c = finishedCondition(job);
      if (c?.type === "Complete") succeeded.push(job);
      else if (c?.type === "Failed") failed.push(job);
    }
    let updated = false;
    if (sLimit !== undefined && sLimit !== null && (await this.removeOldestJobs(cj, succeeded, sLimit))) updated = true;
    if (fLimit !== undefined && fLimit !== null && (await this.removeOldestJobs(cj, failed, fLimit))) updated = true;
    return updated;
  }

  private async removeOldestJobs(cj: CronJob, jobs: readonly Job[], maxJobs: number): Promise<boolean> {
    const numToDelete = jobs.length - maxJobs;
    if (numToDelete <= 0) return false;
    this.d.logger.debug("cleaning up jobs from cronjob list", { deletejobnum: numToDelete, jobnum: jobs.length, cronjob: `${cj.metadata?.namespace}/${cj.metadata?.name}` });
    let updated = false;
    for (const job of byJobStartTime(jobs).slice(0, numToDelete)) if (await this.deleteJob(cj, job)) updated = true;
    return updated;
  }

  /** Deletes a Job and drops it from the active list (upstream's `deleteJob`); false when the delete failed. */
  private async deleteJob(cj: CronJob, job: Job): Promise<boolean> {
    const ns = job.metadata?.namespace ?? cj.metadata?.namespace ?? "";
    try {
      await this.d.api.deleteJob(ns, job.metadata?.name ?? "");
    } catch (err) {
      this.d.recorder.eventf(cronJobRef(cj), undefined, "Warning", "FailedDelete", "Delete", "Deleted job: %s", errorMessage(err));
      this.d.logger.error("error deleting job from cronjob", { job: `${ns}/${job.metadata?.name}`, err: errorMessage(err) });
      return false;
    }
    deleteFromActiveList(cj, job.metadata?.uid);
    this.d.recorder.eventf(cronJobRef(cj), jobRelated(job), "Normal", "SuccessfulDelete", "Delete", "Deleted job %s", job.metadata?.name ?? "");
    return true;
  }

  /**
   * Upstream's `syncCronJob`: reconciles the active list and starts a Job
   * when one is due. `cj` is edited in place.
   */
  private async syncCronJob(cj: CronJob, jobs: readonly Job[]): Promise<SyncResult> {
    const d = this.d;
    const now = d.clock.now();
    const key = `${cj.metadata?.namespace ?? ""}/${cj.metadata?.name ?? ""}`;
    const ref = cronJobRef(cj);
    let updateStatus = false;

    const children = new Set<string>();
    for (const j of jobs) {
      const uid = j.metadata?.uid ?? "";
      children.add(uid);
      const found = inActiveList(cj, uid);
      if (!found && !isJobFinished(j)) {
        let fresh: CronJob;
        try {
          fresh = await d.api.getCronJob(cj.metadata?.namespace ?? "", cj.metadata?.name ?? "");
        } catch (err) {
          return { updateStatus, error: err };
        }
        if (inActiveList(fresh, uid)) {
          // The cache was behind: go on with the live CronJob, which knows this Job.
          cj.metadata = fresh.metadata;
          cj.spec = fresh.spec;
          cj.status = fresh.status;
          continue;
        }
        // Created by someone else (kubectl create job --from), or we crashed before recording it.
        d.recorder.eventf(ref, jobRelated(j), "Warning", "UnexpectedJob", "Sync", "Saw a job that the controller did not create or forgot: %s", j.metadata?.name ?? "");
      } else if (found && isJobFinished(j)) {
        const c = finishedCondition(j);
        deleteFromActiveList(cj, uid);
        d.recorder.eventf(ref, jobRelated(j), "Normal", "SawCompletedJob", "Sync", "Saw completed job: %s, condition: %s", j.metadata?.name ?? "", c?.type ?? "");
        updateStatus = true;
      }
      if (isJobSucceeded(j)) {
        // Any successful Job moves lastSuccessfulTime, active-listed or not.
        const done = j.status?.completionTime;
        const status = (cj.status ??= {});
        if (!status.lastSuccessfulTime && done) {
          status.lastSuccessfulTime = done;
          updateStatus = true;
        }
        if (done && status.lastSuccessfulTime && parseTime(done) > parseTime(status.lastSuccessfulTime)) {
          status.lastSuccessfulTime = done;
          updateStatus = true;
        }
      }
    }

    // An active Job that no longer exists would keep a Forbid CronJob from ever running again.
    for (const a of [...(cj.status?.active ?? [])]) {
      if (children.has(a.uid ?? "")) continue;
      try {
        // A live read: the cache may just not show it yet.
        await d.api.getJob(a.namespace ?? "", a.name ?? "");
      } catch (err) {
        if (!isNotFound(err)) return { updateStatus, error: err };
        d.recorder.eventf(ref, jobRelated(a), "Normal", "MissingJob", "Sync", "Active job went missing: %s", a.name ?? "");
        deleteFromActiveList(cj, a.uid);
        updateStatus = true;
      }
    }

    // Being deleted: nothing but the status.
    if (cj.metadata?.deletionTimestamp) return { updateStatus };

    const zone = cj.spec?.timeZone;
    if (zone !== undefined && zone !== null && !isKnownTimeZone(zone)) {
      d.logger.debug("not starting job because timeZone is invalid", { cronjob: key, timeZone: zone });
      d.recorder.eventf(ref, undefined, "Warning", "UnknownTimeZone", "Sync", "invalid timeZone: %s: %s", JSON.stringify(zone), unknownTimeZoneMessage(zone));
      return { updateStatus };
    }
    if (cj.spec?.suspend === true) {
      d.logger.debug("not starting job because the cron is suspended", { cronjob: key });
      return { updateStatus };
    }

    let schedule: CronSchedule;
    try {
      schedule = scheduleOf(cj, (reason, note) => d.recorder.eventf(ref, undefined, "Warning", reason, "Sync", note));
    } catch (err) {
      // A user error: nothing to do until the spec changes.
      d.logger.info("unparseable schedule", { cronjob: key, schedule: cj.spec?.schedule, err: errorMessage(err) });
      d.recorder.eventf(ref, undefined, "Warning", "UnparseableSchedule", "Sync", "unparseable schedule: %s : %s", JSON.stringify(cj.spec?.schedule ?? ""), errorMessage(err));
      return { updateStatus };
    }

    let scheduled: { time?: number; missed: string };
    try {
      scheduled = nextScheduleTime(cj, now, schedule);
    } catch (err) {
      d.logger.info("invalid schedule", { cronjob: key, schedule: cj.spec?.schedule, err: errorMessage(err) });
      d.recorder.eventf(ref, undefined, "Warning", "InvalidSchedule", "Sync", "invalid schedule: %s : %s", cj.spec?.schedule ?? "", errorMessage(err));
      return { updateStatus };
    }
    if (scheduled.missed === "many") {
      d.recorder.eventf(ref, undefined, "Warning", "TooManyMissedTimes", "Sync", "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew");
      d.logger.info("too many missed times", { cronjob: key });
    }
    const scheduledTime = scheduled.time;
    if (scheduledTime === undefined) {
      // Only after a restart can a sync come without a time due.
      d.logger.debug("no unmet start times", { cronjob: key });
      return { requeueAfter: nextScheduleTimeDuration(cj, now, schedule), updateStatus };
    }

    const sds = cj.spec?.startingDeadlineSeconds;
    if (sds !== undefined && sds !== null && scheduledTime + sds * 1000 < now) {
      d.logger.debug("missed starting window", { cronjob: key });
      d.recorder.eventf(ref, undefined, "Warning", "MissSchedule", "Sync", "Missed scheduled time to start a job: %s", rfc1123z(scheduledTime));
      return { requeueAfter: nextScheduleTimeDuration(cj, now, schedule), updateStatus };
    }
    const jobName = getJobName(cj, scheduledTime);
    if (inActiveListByName(cj, cj.metadata?.namespace ?? "", jobName) || parseTime(cj.status?.lastScheduleTime) === scheduledTime) {
      d.logger.debug("not starting job because the scheduled time is already processed", { cronjob: key, schedule: metaTime(scheduledTime) });
      return { requeueAfter: nextScheduleTimeDuration(cj, now, schedule), updateStatus };
    }
    if (cj.spec?.concurrencyPolicy === FORBID_CONCURRENT && (cj.status?.active?.length ?? 0) > 0) {
      // The active list may lag behind, so Forbid can still overlap when runs are close together.
      d.logger.debug("not starting job because prior execution is still running and concurrency policy is Forbid", { cronjob: key });
      d.recorder.eventf(ref, undefined, "Normal", "JobAlreadyActive", "Sync", "Not starting job because prior execution is running and concurrency policy is Forbid");
      return { requeueAfter: nextScheduleTimeDuration(cj, now, schedule), updateStatus };
    }
    if (cj.spec?.concurrencyPolicy === REPLACE_CONCURRENT) {
      for (const a of [...(cj.status?.active ?? [])]) {
        d.logger.debug("deleting job that was still running at next scheduled start time", { job: `${a.namespace}/${a.name}` });
        let job: Job;
        try {
          job = await d.api.getJob(a.namespace ?? "", a.name ?? "");
        } catch (err) {
          d.recorder.eventf(ref, undefined, "Warning", "FailedGet", "Get", "Get job: %s", errorMessage(err));
          return { updateStatus, error: err };
        }
        if (!(await this.deleteJob(cj, job))) return { updateStatus, error: new Error(`could not replace job ${job.metadata?.namespace}/${job.metadata?.name}`) };
        updateStatus = true;
      }
    }

    const jobReq = getJobFromTemplate(cj, scheduledTime);
    const ns = cj.metadata?.namespace ?? "";
    let jobResp: Job;
    let alreadyExists = false;
    try {
      jobResp = await d.api.createJob(ns, jobReq);
    } catch (err) {
      // In a terminating namespace every create fails: nothing to report.
      if (hasStatusCause(err, NAMESPACE_TERMINATING_CAUSE)) return { updateStatus, error: err };
      if (!isAlreadyExists(err)) {
        d.recorder.eventf(ref, undefined, "Warning", "FailedCreate", "Create", "Error creating job: %s", errorMessage(err));
        return { updateStatus, error: err };
      }
      // Made before, by us (a status write was lost) or by someone else.
      alreadyExists = true;
      try {
        jobResp = await d.api.getJob(ns, jobReq.metadata?.name ?? "");
      } catch (getErr) {
        return { updateStatus, error: getErr };
      }
      // Not ours: whoever made it keeps the status.
      if (getControllerOf(jobResp)?.uid !== cj.metadata?.uid) return { updateStatus };
      if (inActiveList(cj, jobResp.metadata?.uid)) return { updateStatus };
    }
    if (alreadyExists) {
      d.logger.info("job already exists", { cronjob: key, job: `${ns}/${jobName}` });
    } else {
      d.logger.debug("created job", { job: `${ns}/${jobResp.metadata?.name}`, cronjob: key });
      d.recorder.eventf(ref, jobRelated(jobResp), "Normal", "SuccessfulCreate", "Create", "Created job %s", jobResp.metadata?.name ?? "");
    }
    // The Job's name is the lock against making it twice if this status write is lost.
    const status = (cj.status ??= {});
    status.active = [...(status.active ?? []), jobReference(jobResp)];
    status.lastScheduleTime = metaTime(scheduledTime);
    updateStatus = true;
    return { requeueAfter: nextScheduleTimeDuration(cj, now, schedule), updateStatus };
  }
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Go's `t.UTC().Format(time.RFC1123Z)`: `Mon, 02 Jan 2006 15:04:05 +0000`. */
export function rfc1123z(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${DAYS[d.getUTCDay()]}, ${p(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}
