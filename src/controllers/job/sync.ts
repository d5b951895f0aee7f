/**
 * One sync of one Job, as upstream's `syncJob`: re-read it from the cache,
 * claim its pods (adopting orphans with the tracking finalizer), count
 * what finished, decide whether the Job failed (backoffLimit, deadline,
 * pod failure policy, failed indexes) or met its success criteria, delete
 * the pods of a finishing Job or else manage its active pods, and track
 * the status through the pods' finalizers.
 */
import type { Job } from "kubernetes-types/batch/v1.js";
import type { Pod } from "kubernetes-types/core/v1.js";
import { splitKey } from "../../client/store.js";
import { type LabelSelector, selectorFromObject } from "../../machinery/labels.js";
import { type ClaimResult, PodControllerRefManager, recheckDeletionTimestamp } from "../common/controller-ref-manager.js";
import { errorMessage } from "../common/errors.js";
import { filterPodsByOwner } from "../common/indexers.js";
import { filterActivePods } from "../common/pod-utils.js";
import { parseTime, rfc3339 } from "../common/time.js";
import { findConditionByType, ensureJobConditionStatus, newCondition, newFailedConditionForFailureTarget } from "./conditions.js";
import {
  INDEXED_COMPLETION,
  JOB_CONTROLLER_NAME,
  JOB_FAILURE_TARGET,
  JOB_GVK,
  JOB_SUCCESS_CRITERIA_MET,
  JOB_SUSPENDED,
  JOB_TRACKING_FINALIZER,
  NON_INDEXED_COMPLETION,
  REASON_BACKOFF_LIMIT_EXCEEDED,
  REASON_COMPLETIONS_REACHED,
  REASON_DEADLINE_EXCEEDED,
  REASON_FAILED_INDEXES,
  REASON_MAX_FAILED_INDEXES_EXCEEDED,
  REASON_POD_FAILURE_POLICY,
  REASON_SUCCESS_POLICY,
} from "./constants.js";
import { getFinishedTime } from "./backoff.js";
import {
  calculateFailedIndexes,
  calculateSucceededIndexes,
  getCompletionIndex,
  getPodsWithDelayedDeletionPerIndex,
  hasBackoffLimitPerIndex,
  isIndexedJob,
  UNKNOWN_COMPLETION_INDEX,
} from "./indexed.js";
import { total } from "./intervals.js";
import { deleteActivePods, jobSuspended, manageJob } from "./manage.js";
import { matchPodFailurePolicy } from "./pod-failure-policy.js";
import { countReadyPods, countTerminatingPods, hasJobTrackingFinalizer, isPodFailed } from "./pods.js";
import { hasSuccessCriteriaMetCondition, matchSuccessPolicy } from "./success-policy.js";
import { type JobSyncDeps, jobRef, type SyncJobCtx } from "./sync-context.js";
import { trackJobStatusAndRemoveFinalizers } from "./tracking.js";
import { isJobFinished } from "./util.js";

/** The controller name of a Job some other controller manages (`spec.managedBy`), if any. */
export function managedByExternalController(job: Job): string | undefined {
  const name = job.spec?.managedBy;
  return name !== undefined && name !== null && name !== JOB_CONTROLLER_NAME ? name : undefined;
}

/** The sync logic of the Job controller. */
export class JobSyncer {
  constructor(private readonly d: JobSyncDeps) {}

  /** Syncs the Job with `key`; rejects (so the key is retried with backoff) when something failed. */
  async syncJob(key: string): Promise<void> {
    const start = this.d.clock.now();
    try {
      await this.sync(key);
    } finally {
      this.d.logger.debug("finished syncing job", { key, durationMs: this.d.clock.now() - start });
    }
  }

  private async sync(key: string): Promise<void> {
    const d = this.d;
    const { namespace, name } = splitKey(key);
    if (!namespace || !name) throw new Error(`invalid job key "${key}": either namespace or name is missing`);
    const shared = d.getJob(key);
    if (!shared) {
      d.logger.debug("job has been deleted", { key });
      d.expectations.deleteExpectations(key);
      d.finalizerExpectations.deleteExpectations(key);
      d.backoffStore.removeBackoffRecord(key);
      return;
    }
    // A Job another controller manages is none of ours, even if it was queued before that was visible.
    const external = managedByExternalController(shared);
    if (external) {
      d.logger.debug("skip syncing the job as it is managed by an external controller", { key, controllerName: external });
      return;
    }
    // Never edit the cache's copy.
    const job = structuredClone(shared) as Job;
    if (isJobFinished(job)) {
      d.backoffStore.removeBackoffRecord(key);
      return;
    }
    const mode = job.spec?.completionMode;
    if (mode !== undefined && mode !== NON_INDEXED_COMPLETION && mode !== INDEXED_COMPLETION) {
      d.recorder.eventf(jobRef(job), undefined, "Warning", "UnknownCompletionMode", "UnknownCompletionMode", "Skipped Job sync because completion mode is unknown");
      return;
    }
    const status = (job.status ??= {});
    status.uncountedTerminatedPods ??= {};

    // Expectations first: a pod created after this check is only seen by the next sync.
    const satisfiedExpectations = d.expectations.satisfiedExpectations(key);
    const pods = await this.getPodsForJob(job);
    const activePods = filterActivePods(pods);
    const uncounted = {
      succeeded: new Set(status.uncountedTerminatedPods.succeeded ?? []),
      failed: new Set(status.uncountedTerminatedPods.failed ?? []),
    };
    const ctx: SyncJobCtx = {
      job,
      pods,
      activePods,
      ready: countReadyPods(activePods),
      uncounted,
      expectedRmFinalizers: d.finalizerExpectations.getExpectedUIDs(key),
      terminating: countTerminatingPods(pods),
      succeeded: 0,
      failed: 0,
      prevSucceededIndexes: [],
      succeededIndexes: [],
      podsWithDelayedDeletionPerIndex: new Map(),
      newBackoffRecord: { key, failuresAfterLastSuccess: 0 },
    };
    let active = activePods.length;
    const [newSucceededPods, newFailedPods] = getNewFinishedPods(ctx);
    ctx.succeeded = (status.succeeded ?? 0) + newSucceededPods.length + uncounted.succeeded.size;
    ctx.failed = (status.failed ?? 0) + nonIgnoredFailedPodsCount(job, newFailedPods) + uncounted.failed.size;

    // First start: stamp startTime, unless suspended.
    if (!status.startTime && !jobSuspended(job)) status.startTime = rfc3339(d.clock.now());

    ctx.newBackoffRecord = d.backoffStore.newBackoffRecord(key, newSucceededPods, newFailedPods);

    const exceedsBackoffLimit = ctx.failed > (job.spec?.backoffLimit ?? 6);
    ctx.finishedCondition = hasSuccessCriteriaMetCondition(job);
    // With SuccessCriteriaMet already set, the outcome is decided: the pod failure policy no longer applies.
    if (!ctx.finishedCondition) {
      const failureTarget = findConditionByType(status.conditions, JOB_FAILURE_TARGET);
      if (failureTarget?.status === "True") {
        ctx.finishedCondition = newFailedConditionForFailureTarget(failureTarget, d.clock.now());
      } else {
        const msg = getFailJobMessage(job, pods);
        // The interim FailureTarget condition records the message before finalizers (and so the pods) go.
        if (msg !== undefined) ctx.finishedCondition = newCondition(JOB_FAILURE_TARGET, "True", REASON_POD_FAILURE_POLICY, msg, d.clock.now());
      }
    }
    if (!ctx.finishedCondition) {
      if (exceedsBackoffLimit || pastBackoffLimitOnFailure(job, pods)) {
        ctx.finishedCondition = this.newFailureCondition(REASON_BACKOFF_LIMIT_EXCEEDED, "Job has reached the specified backoff limit");
      } else if (this.pastActiveDeadline(job)) {
        ctx.finishedCondition = this.newFailureCondition(REASON_DEADLINE_EXCEEDED, "Job was active longer than specified deadline");
      } else if (job.spec?.activeDeadlineSeconds !== undefined && job.spec.activeDeadlineSeconds !== null && !jobSuspended(job)) {
        const syncIn = job.spec.activeDeadlineSeconds * 1000 - (d.clock.now() - parseTime(status.startTime));
        d.logger.debug("job has activeDeadlineSeconds configuration; will sync this job again", { key, nextSyncInMs: syncIn });
        d.enqueueAfter(key, syncIn);
      }
    }

    if (isIndexedJob(job)) {
      [ctx.prevSucceededIndexes, ctx.succeededIndexes] = calculateSucceededIndexes(job, pods, d.logger);
      ctx.succeeded = total(ctx.succeededIndexes);
      if (hasBackoffLimitPerIndex(job)) {
        ctx.failedIndexes = calculateFailedIndexes(job, pods, d.logger);
        if (!ctx.finishedCondition) {
          const maxFailed = job.spec?.maxFailedIndexes;
          if (maxFailed !== undefined && maxFailed !== null && total(ctx.failedIndexes) > maxFailed) {
            ctx.finishedCondition = this.newFailureCondition(REASON_MAX_FAILED_INDEXES_EXCEEDED, "Job has exceeded the specified maximal number of failed indexes");
          } else if (total(ctx.failedIndexes) > 0 && total(ctx.failedIndexes) + total(ctx.succeededIndexes) >= (job.spec?.completions ?? 0)) {
            ctx.finishedCondition = this.newFailureCondition(REASON_FAILED_INDEXES, "Job has failed indexes");
          }
        }
        ctx.podsWithDelayedDeletionPerIndex = getPodsWithDelayedDeletionPerIndex(
          { job, pods, activePods, succeededIndexes: ctx.succeededIndexes, failedIndexes: ctx.failedIndexes, expectedRmFinalizers: ctx.expectedRmFinalizers },
          getFinishedTime,
        );
      }
      if (!ctx.finishedCondition) {
        const msg = matchSuccessPolicy(job.spec?.successPolicy, job.spec?.completions ?? 0, ctx.succeededIndexes, d.logger);
        if (msg !== undefined) ctx.finishedCondition = newCondition(JOB_SUCCESS_CRITERIA_MET, "True", REASON_SUCCESS_POLICY, msg, d.clock.now());
      }
    }

    let suspendCondChanged = false;
    let manageJobErr: unknown;
    if (ctx.finishedCondition) {
      // A finishing Job's remaining pods go; their finalizers stay until they are counted.
      const r = await deleteActivePods(d, job, activePods);
      if (r.deleted !== active || !satisfiedExpectations) {
        // Not finished yet: pods (or their finalizers) remain, or the cache may not show every pod.
        ctx.finishedCondition = undefined;
      }
      active -= r.deleted;
      ctx.terminating += r.deleted;
      ctx.ready -= r.deletedReady;
      manageJobErr = r.error;
    } else {
      let manageJobCalled = false;
      if (satisfiedExpectations && !job.metadata?.deletionTimestamp) {
        const r = await manageJob(d, ctx);
        active = r.active;
        manageJobErr = r.error;
        manageJobCalled = true;
      }
      const completions = job.spec?.completions;
      // Without completions, the first success ends the Job once the rest stopped; with them, the count does.
      const complete =
        completions === undefined || completions === null ? ctx.succeeded > 0 && active === 0 : ctx.succeeded >= completions && active === 0;
      if (complete) {
        ctx.finishedCondition = this.newSuccessCondition();
      } else if (manageJobCalled) {
        // Conditions and events follow only the sync that managed the pods.
        const now = d.clock.now();
        if (jobSuspended(job)) {
          let changed: boolean;
          [status.conditions, changed] = ensureJobConditionStatus(status.conditions, JOB_SUSPENDED, "True", "JobSuspended", "Job suspended", now);
          if (changed) {
            suspendCondChanged = true;
            d.recorder.eventf(jobRef(job), undefined, "Normal", "Suspended", "Suspended", "Job suspended");
          }
        } else {
          let changed: boolean;
          [status.conditions, changed] = ensureJobConditionStatus(status.conditions, JOB_SUSPENDED, "False", "JobResumed", "Job resumed", now);
          if (changed) {
            suspendCondChanged = true;
            d.recorder.eventf(jobRef(job), undefined, "Normal", "Resumed", "Resumed", "Job resumed");
            // activeDeadlineSeconds counts continuous activity: a resumed Job starts its clock again.
            status.startTime = rfc3339(now);
          }
        }
      }
    }
    if (status.conditions?.length === 0) delete status.conditions;

    const needsStatusUpdate =
      suspendCondChanged || active !== (status.active ?? 0) || ctx.ready !== status.ready || ctx.terminating !== status.terminating;
    status.active = active;
    status.ready = ctx.ready;
    status.terminating = ctx.terminating;
    try {
      await trackJobStatusAndRemoveFinalizers(d, ctx, needsStatusUpdate);
    } catch (err) {
      throw new Error(`tracking status: ${errorMessage(err)}`, { cause: err });
    }
    if (manageJobErr !== undefined) throw manageJobErr;
  }

  private newFailureCondition(reason: string, message: string) {
    // Failed is set only once every pod is counted and none is terminating: FailureTarget first.
    return newCondition(JOB_FAILURE_TARGET, "True", reason, message, this.d.clock.now());
  }

  private newSuccessCondition() {
    return newCondition(JOB_SUCCESS_CRITERIA_MET, "True", REASON_COMPLETIONS_REACHED, "Reached expected number of succeeded pods", this.d.clock.now());
  }

  /** activeDeadlineSeconds passed since startTime (never while suspended). */
  private pastActiveDeadline(job: Job): boolean {
    const ads = job.spec?.activeDeadlineSeconds;
    if (ads === undefined || ads === null || !job.status?.startTime || jobSuspended(job)) return false;
    return this.d.clock.now() - parseTime(job.status.startTime) >= ads * 1000;
  }

  /**
   * The pods the Job owns, adopting matching orphans (with the tracking
   * finalizer) and releasing owned pods that stopped matching; adopted pods
   * are seen with the finalizer for the rest of the sync (upstream's
   * `getPodsForJob`).
   */
  async getPodsForJob(job: Job): Promise<Pod[]> {
    const m = job.metadata ?? {};
    let selector: LabelSelector | undefined;
    try {
      selector = selectorFromObject(job.spec?.selector);
    } catch (err) {
      throw new Error(`couldn't convert Job selector: ${errorMessage(err)}`, { cause: err });
    }
    const candidates = filterPodsByOwner(this.d.pods, m);
    // A cached Job may already be deleted: a live read decides before adopting (kubernetes#42639).
    const canAdopt = recheckDeletionTimestamp(async () => {
      const fresh = await this.d.api.getJob(m.namespace ?? "", m.name ?? "");
      if (fresh.metadata?.uid !== m.uid) throw new Error(`original Job ${m.namespace}/${m.name} is gone: got uid ${fresh.metadata?.uid ?? ""}, wanted ${m.uid ?? ""}`);
      return fresh;
    });
    const manager = new PodControllerRefManager(this.d.podControl, {
      controller: m,
      selector,
      controllerKind: JOB_GVK,
      canAdopt,
      finalizers: [JOB_TRACKING_FINALIZER],
    });
    const claim: ClaimResult<Pod> = await manager.claimPods(candidates);
    if (claim.error) throw claim.error;
    return claim.claimed.map((p) => {
      const adopted = !(p.metadata?.ownerReferences ?? []).some((r) => r.uid === m.uid);
      if (!adopted || hasJobTrackingFinalizer(p)) return p;
      return { ...p, metadata: { ...p.metadata, finalizers: [...(p.metadata?.finalizers ?? []), JOB_TRACKING_FINALIZER] } };
    });
  }
}

/** Tracked pods that succeeded or failed and are not counted yet (upstream's `getNewFinishedPods`). */
function getNewFinishedPods(ctx: SyncJobCtx): [succeeded: Pod[], failed: Pod[]] {
  return [
    validPodsWithFilter(ctx, ctx.uncounted.succeeded, (p) => p.status?.phase === "Succeeded"),
    validPodsWithFilter(ctx, ctx.uncounted.failed, (p) => isPodFailed(p, ctx.job)),
  ];
}

/** Pods with the finalizer, not already uncounted, with a valid index for Indexed Jobs, passing `filter`. */
function validPodsWithFilter(ctx: SyncJobCtx, uncounted: ReadonlySet<string>, filter: (p: Pod) => boolean): Pod[] {
  const out: Pod[] = [];
  const completions = ctx.job.spec?.completions ?? 0;
  for (const p of ctx.pods) {
    const uid = p.metadata?.uid ?? "";
    if (!hasJobTrackingFinalizer(p) || uncounted.has(uid) || ctx.expectedRmFinalizers.has(uid)) continue;
    if (isIndexedJob(ctx.job)) {
      const ix = getCompletionIndex(p.metadata?.annotations);
      if (ix === UNKNOWN_COMPLETION_INDEX || ix >= completions) continue;
    }
    if (filter(p)) out.push(p);
  }
  return out;
}

/** Failed pods the pod failure policy does not ignore. */
function nonIgnoredFailedPodsCount(job: Job, failedPods: readonly Pod[]): number {
  if (!job.spec?.podFailurePolicy) return failedPods.length;
  return failedPods.filter((p) => matchPodFailurePolicy(job.spec!.podFailurePolicy, p).countFailed).length;
}

/** The message of the first FailJob rule a failed pod matches (upstream's `getFailJobMessage`). */
function getFailJobMessage(job: Job, pods: readonly Pod[]): string | undefined {
  if (!job.spec?.podFailurePolicy) return undefined;
  for (const p of pods) {
    if (!isPodFailed(p, job)) continue;
    const msg = matchPodFailurePolicy(job.spec.podFailurePolicy, p).jobFailureMessage;
    if (msg !== undefined) return msg;
  }
  return undefined;
}

/**
 * With restartPolicy OnFailure, failures are container restarts: the
 * restarts of running and pending pods reach backoffLimit (any restart,
 * for a limit of 0); upstream's `pastBackoffLimitOnFailure`.
 */
export function pastBackoffLimitOnFailure(job: Job, pods: readonly Pod[]): boolean {
  if (job.spec?.template?.spec?.restartPolicy !== "OnFailure") return false;
  let restarts = 0;
  for (const p of pods) {
    const phase = p.status?.phase;
    if (phase !== "Running" && phase !== "Pending") continue;
    for (const cs of p.status?.initContainerStatuses ?? []) restarts += cs.restartCount ?? 0;
    for (const cs of p.status?.containerStatuses ?? []) restarts += cs.restartCount ?? 0;
  }
  const limit = job.spec?.backoffLimit ?? 6;
  return limit === 0 ? restarts > 0 : restarts >= limit;
}
