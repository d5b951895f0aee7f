/**
 * Finalizer-based tracking, as upstream's `trackJobStatusAndRemoveFinalizers`:
 * a finished pod is first recorded by uid in `status.uncountedTerminatedPods`
 * (or, for Indexed Jobs, in `completedIndexes`), then its tracking
 * finalizer is removed, and only then is it moved into the
 * `succeeded`/`failed` counters. Each step is written before the next, so
 * a controller restart or a lost update never counts a pod twice or not
 * at all. The Job's final condition is set once nothing is left
 * uncounted or terminating.
 */
import type { Job, JobCondition, JobStatus } from "kubernetes-types/batch/v1.js";
import type { Pod } from "kubernetes-types/core/v1.js";
import { isNotFound } from "../../machinery/status-error.js";
import { errorMessage } from "../common/errors.js";
import { JOB_COMPLETE, JOB_FAILURE_TARGET, MAX_UNCOUNTED_PODS } from "./constants.js";
import { ensureJobConditionStatus, newCondition, newFailedConditionForFailureTarget } from "./conditions.js";
import { byCompletionIndex, getCompletionIndex, hasBackoffLimitPerIndex, isIndexedJob, UNKNOWN_COMPLETION_INDEX } from "./indexed.js";
import { hasIndex, intervalsString, total, withOrderedIndexes } from "./intervals.js";
import { matchPodFailurePolicy } from "./pod-failure-policy.js";
import { hasJobTrackingFinalizer, isPodFailed, removeTrackingFinalizerPatch } from "./pods.js";
import { hasSuccessCriteriaMetCondition, isSuccessCriteriaMetCondition } from "./success-policy.js";
import { type JobSyncDeps, jobKey, jobRef, type SyncJobCtx } from "./sync-context.js";

/** Upstream's `trackJobStatusAndRemoveFinalizers`; rejects when a status write or finalizer removal failed. */
export async function trackJobStatusAndRemoveFinalizers(d: JobSyncDeps, ctx: SyncJobCtx, needsFlushIn: boolean): Promise<void> {
  let needsFlush = needsFlushIn;
  const job = ctx.job;
  const status = (job.status ??= {});
  const uncountedStatus = (status.uncountedTerminatedPods ??= {});
  const isIndexed = isIndexedJob(job);
  const completions = job.spec?.completions ?? 0;
  // Completed indexes are introduced in order.
  const pods = isIndexed ? byCompletionIndex(ctx.pods) : ctx.pods;

  const uidsWithFinalizer = new Set<string>();
  for (const p of pods) {
    const uid = p.metadata?.uid ?? "";
    if (hasJobTrackingFinalizer(p) && !ctx.expectedRmFinalizers.has(uid)) uidsWithFinalizer.add(uid);
  }

  if (cleanUncountedPodsWithoutFinalizers(status, uidsWithFinalizer)) needsFlush = true;

  const podsToRemoveFinalizer: Pod[] = [];
  const newSucceededIndexes: number[] = [];
  let reachedMaxUncountedPods = false;
  for (const pod of pods) {
    const uid = pod.metadata?.uid ?? "";
    // Processed by an earlier sync.
    if (!hasJobTrackingFinalizer(pod) || ctx.expectedRmFinalizers.has(uid)) continue;
    const considerPodFailed = isPodFailed(pod, job);
    if (!canRemoveFinalizer(ctx, pod, considerPodFailed)) continue;
    podsToRemoveFinalizer.push(pod);
    if (pod.status?.phase === "Succeeded" && !ctx.uncounted.failed.has(uid)) {
      if (isIndexed) {
        // The index is enough to never count a succeeded pod twice: no uid needed.
        const ix = getCompletionIndex(pod.metadata?.annotations);
        if (ix !== UNKNOWN_COMPLETION_INDEX && ix < completions && !hasIndex(ctx.prevSucceededIndexes, ix)) {
          newSucceededIndexes.push(ix);
          needsFlush = true;
        }
      } else if (!ctx.uncounted.succeeded.has(uid)) {
        needsFlush = true;
        uncountedStatus.succeeded = [...(uncountedStatus.succeeded ?? []), uid];
      }
    } else if (considerPodFailed || (ctx.finishedCondition && !isSuccessCriteriaMetCondition(ctx.finishedCondition))) {
      // Once the Job is finishing, every pod not terminated yet counts as failed.
      const ix = getCompletionIndex(pod.metadata?.annotations);
      if (!ctx.uncounted.failed.has(uid) && (!isIndexed || (ix !== UNKNOWN_COMPLETION_INDEX && ix < completions))) {
        const countFailed = job.spec?.podFailurePolicy ? matchPodFailurePolicy(job.spec.podFailurePolicy, pod).countFailed : true;
        if (countFailed) {
          needsFlush = true;
          uncountedStatus.failed = [...(uncountedStatus.failed ?? []), uid];
        }
      }
    }
    if (newSucceededIndexes.length + (uncountedStatus.succeeded?.length ?? 0) + (uncountedStatus.failed?.length ?? 0) >= MAX_UNCOUNTED_PODS) {
      // Enough for one write: keeps the uid lists small and big Jobs from starving others.
      // The status write and pod updates queue the Job again.
      reachedMaxUncountedPods = true;
      break;
    }
  }

  if (isIndexed) {
    ctx.succeededIndexes = withOrderedIndexes(ctx.succeededIndexes, newSucceededIndexes);
    const succeededStr = intervalsString(ctx.succeededIndexes);
    if (succeededStr !== (status.completedIndexes ?? "")) needsFlush = true;
    status.succeeded = total(ctx.succeededIndexes);
    status.completedIndexes = succeededStr;
    const failedStr = ctx.failedIndexes ? intervalsString(ctx.failedIndexes) : undefined;
    if (status.failedIndexes !== failedStr) {
      if (failedStr === undefined) delete status.failedIndexes;
      else status.failedIndexes = failedStr;
      needsFlush = true;
    }
  }

  if (ctx.finishedCondition?.type === JOB_FAILURE_TARGET) {
    // Written before any finalizer goes, so the reason survives a restart; Failed follows once all is counted.
    status.conditions = [...(status.conditions ?? []), ctx.finishedCondition];
    needsFlush = true;
    ctx.finishedCondition = newFailedConditionForFailureTarget(ctx.finishedCondition, d.clock.now());
  }
  if (isSuccessCriteriaMetCondition(ctx.finishedCondition)) {
    if (!hasSuccessCriteriaMetCondition(job)) {
      status.conditions = [...(status.conditions ?? []), ctx.finishedCondition!];
      needsFlush = true;
    }
    const c = ctx.finishedCondition!;
    ctx.finishedCondition = newCondition(JOB_COMPLETE, "True", c.reason ?? "", c.message ?? "", d.clock.now());
  }

  needsFlush = await flushUncountedAndRemoveFinalizers(d, ctx, podsToRemoveFinalizer, uidsWithFinalizer, needsFlush);
  const jobFinished = !reachedMaxUncountedPods && enactJobFinished(d, ctx);
  if (jobFinished) needsFlush = true;
  if (needsFlush) {
    try {
      ctx.job = await d.api.updateJobStatus(ctx.job);
    } catch (err) {
      throw new Error(`removing uncounted pods from status: ${errorMessage(err)}`, { cause: err });
    }
    if (jobFinished) recordJobFinished(d, ctx.job, ctx.finishedCondition!);
  }
}

/**
 * Whether a pod's finalizer may go now: the Job is being deleted or is
 * finishing, the pod succeeded, or it failed, unless it is the last failed
 * pod of an index whose replacement must inherit its failure count.
 */
function canRemoveFinalizer(ctx: SyncJobCtx, pod: Pod, considerPodFailed: boolean): boolean {
  if (ctx.job.metadata?.deletionTimestamp || ctx.finishedCondition || pod.status?.phase === "Succeeded") return true;
  if (!considerPodFailed) return false;
  if (hasBackoffLimitPerIndex(ctx.job)) {
    const ix = getCompletionIndex(pod.metadata?.annotations);
    if (ix !== UNKNOWN_COMPLETION_INDEX && ctx.podsWithDelayedDeletionPerIndex.get(ix)?.metadata?.uid === pod.metadata?.uid) return false;
  }
  return true;
}

/**
 * Writes the status with the new uncounted uids (and interim conditions),
 * removes the finalizers, and moves the pods whose finalizer is gone into
 * the counters, writing again only if some removals failed (upstream's
 * `flushUncountedAndRemoveFinalizers`). Resolves whether changes remain to
 * be written.
 */
async function flushUncountedAndRemoveFinalizers(
  d: JobSyncDeps,
  ctx: SyncJobCtx,
  podsToRemoveFinalizer: readonly Pod[],
  uidsWithFinalizer: Set<string>,
  needsFlushIn: boolean,
): Promise<boolean> {
  let needsFlush = needsFlushIn;
  if (needsFlush) {
    try {
      ctx.job = await d.api.updateJobStatus(ctx.job);
    } catch (err) {
      throw new Error(`adding uncounted pods to status: ${errorMessage(err)}`, { cause: err });
    }
    // The pods just recorded are now part of the Job's failure history.
    d.backoffStore.updateBackoffRecord(ctx.newBackoffRecord);
    needsFlush = false;
  }
  const key = jobKey(ctx.job);
  let rmErr: unknown;
  if (podsToRemoveFinalizer.length > 0) {
    const r = await removeTrackingFinalizerFromPods(d, key, podsToRemoveFinalizer);
    podsToRemoveFinalizer.forEach((p, i) => {
      if (r.succeeded[i]) uidsWithFinalizer.delete(p.metadata?.uid ?? "");
    });
    rmErr = r.error;
  }
  // Move what was uncounted (and is now without a finalizer) into the counters.
  const status = (ctx.job.status ??= {});
  status.uncountedTerminatedPods ??= {};
  if (cleanUncountedPodsWithoutFinalizers(status, uidsWithFinalizer)) needsFlush = true;
  if (rmErr !== undefined && needsFlush) {
    // Some removals failed: record the partial progress before failing the sync.
    try {
      ctx.job = await d.api.updateJobStatus(ctx.job);
    } catch (err) {
      throw new Error(`removing uncounted pods from status: ${errorMessage(err)}`, { cause: err });
    }
  }
  if (rmErr !== undefined) throw rmErr;
  return needsFlush;
}

/**
 * Moves uids whose pods no longer carry the finalizer out of
 * `uncountedTerminatedPods` into `succeeded`/`failed`; true when anything moved.
 */
export function cleanUncountedPodsWithoutFinalizers(status: JobStatus, uidsWithFinalizer: ReadonlySet<string>): boolean {
  let updated = false;
  const uncounted = (status.uncountedTerminatedPods ??= {});
  const succeeded = uncounted.succeeded ?? [];
  const keptSucceeded = succeeded.filter((uid) => uidsWithFinalizer.has(uid));
  if (keptSucceeded.length !== succeeded.length) {
    updated = true;
    status.succeeded = (status.succeeded ?? 0) + succeeded.length - keptSucceeded.length;
    uncounted.succeeded = keptSucceeded;
  }
  const failed = uncounted.failed ?? [];
  const keptFailed = failed.filter((uid) => uidsWithFinalizer.has(uid));
  if (keptFailed.length !== failed.length) {
    updated = true;
    status.failed = (status.failed ?? 0) + failed.length - keptFailed.length;
    uncounted.failed = keptFailed;
  }
  return updated;
}

/**
 * Removes the tracking finalizer from each pod (concurrently); a pod
 * already gone counts as done. `succeeded[i]` tells whether pod i is done.
 */
async function removeTrackingFinalizerFromPods(d: JobSyncDeps, key: string, pods: readonly Pod[]): Promise<{ succeeded: boolean[]; error?: unknown }> {
  const succeeded = pods.map(() => false);
  const uids = pods.map((p) => p.metadata?.uid ?? "");
  d.finalizerExpectations.expectFinalizersRemoved(key, uids);
  const errors: unknown[] = [];
  await Promise.all(
    pods.map(async (pod, i) => {
      const patch = removeTrackingFinalizerPatch(pod);
      if (!patch) return;
      try {
        await d.podControl.patchPod(pod.metadata?.namespace ?? "", pod.metadata?.name ?? "", patch);
      } catch (err) {
        // No pod update will show this removal: stop waiting for it.
        d.finalizerExpectations.finalizerRemovalObserved(key, uids[i]!);
        if (!isNotFound(err)) {
          errors.push(err);
          d.logger.error("removing tracking finalizer", { pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, err: errorMessage(err) });
          return;
        }
      }
      succeeded[i] = true;
    }),
  );
  return { succeeded, error: errors[0] };
}

/**
 * Sets the final Complete or Failed condition (and completionTime) once no
 * pod is left uncounted or terminating; true when it did (upstream's
 * `enactJobFinished`).
 */
function enactJobFinished(d: JobSyncDeps, ctx: SyncJobCtx): boolean {
  const cond = ctx.finishedCondition;
  if (!cond) return false;
  const job = ctx.job;
  const status = (job.status ??= {});
  const uncounted = status.uncountedTerminatedPods;
  const count = (uncounted?.succeeded?.length ?? 0) + (uncounted?.failed?.length ?? 0);
  if (count > 0) {
    d.logger.debug("delaying marking the job as finished: uncounted pods remain", { job: jobKey(job), condition: cond.type, count });
    return false;
  }
  if (ctx.terminating > 0) {
    d.logger.debug("delaying marking the job as finished: terminating pods remain", { job: jobKey(job), condition: cond.type, count: ctx.terminating });
    return false;
  }
  [status.conditions] = ensureJobConditionStatus(status.conditions, cond.type, cond.status, cond.reason ?? "", cond.message ?? "", d.clock.now());
  if (cond.type === JOB_COMPLETE) status.completionTime = cond.lastTransitionTime;
  return true;
}

/** The events of a finished Job (upstream's `recordJobFinished`). */
function recordJobFinished(d: JobSyncDeps, job: Job, cond: JobCondition): void {
  const ref = jobRef(job);
  if (cond.type === JOB_COMPLETE) {
    const completions = job.spec?.completions;
    if (completions !== undefined && completions !== null && (job.status?.succeeded ?? 0) > completions) {
      d.recorder.eventf(ref, undefined, "Warning", "TooManySucceededPods", "TooManySucceededPods", "Too many succeeded pods running after completion count reached");
    }
    d.recorder.eventf(ref, undefined, "Normal", "Completed", "Completed", "Job completed");
  } else {
    d.recorder.eventf(ref, undefined, "Warning", cond.reason ?? "", cond.reason ?? "", cond.message ?? "");
  }
}
