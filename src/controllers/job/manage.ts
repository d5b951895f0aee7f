/**
 * Bringing a Job's active pods to what its spec asks for, as upstream's
 * `manageJob`: a suspended Job loses every active pod; otherwise extra
 * pods (and an Indexed Job's duplicate or out-of-range indexes) are
 * deleted, or missing ones created after the pod failure backoff, in
 * slow-start batches, each with the tracking finalizer and, for Indexed
 * Jobs, its completion index.
 */
import type { Job } from "kubernetes-types/batch/v1.js";
import type { Pod, PodTemplateSpec } from "kubernetes-types/core/v1.js";
import { isNotFound } from "../../machinery/status-error.js";
import { sortActivePods } from "../common/active-pods.js";
import { newControllerRef } from "../common/controller-ref.js";
import { errorMessage } from "../common/errors.js";
import { hasStatusCause, NAMESPACE_TERMINATING_CAUSE } from "../common/pod-control.js";
import { isPodReady } from "../common/pod-utils.js";
import { SLOW_START_INITIAL_BATCH_SIZE, slowStartBatch } from "../common/slow-start.js";
import { getRemainingTime, getRemainingTimePerIndex } from "./backoff.js";
import { JOB_GVK, JOB_TRACKING_FINALIZER, MAX_POD_CREATE_DELETE_PER_SYNC } from "./constants.js";
import {
  addCompletionIndex,
  addCompletionIndexEnvVariables,
  addIndexFailureCountAnnotation,
  firstPendingIndexes,
  hasBackoffLimitPerIndex,
  isIndexedJob,
  podGenerateNameWithIndex,
  splitDuplicatedIndexPods,
  UNKNOWN_COMPLETION_INDEX,
} from "./indexed.js";
import { onlyReplaceFailedPods, removeTrackingFinalizerPatch } from "./pods.js";
import { type JobSyncDeps, jobKey, jobRef, type SyncJobCtx } from "./sync-context.js";

/** `spec.suspend` is true. */
export function jobSuspended(job: Job): boolean {
  return job.spec?.suspend === true;
}

/** What {@link manageJob} ended with: the active count now, and the first failure, if any. */
export interface ManageResult {
  readonly active: number;
  readonly error?: unknown;
}

/** Upstream's `manageJob`. Never modifies `ctx.activePods`. */
export async function manageJob(d: JobSyncDeps, ctx: SyncJobCtx): Promise<ManageResult> {
  const job = ctx.job;
  const key = jobKey(job);
  const active = ctx.activePods.length;
  const parallelism = job.spec?.parallelism ?? 1;

  if (jobSuspended(job)) {
    d.logger.debug("deleting all active pods in suspended job", { job: key, active });
    const podsToDelete = activePodsForRemoval(job, ctx.activePods, active);
    d.expectations.expectDeletions(key, podsToDelete.length);
    const r = await deleteJobPods(d, job, key, podsToDelete);
    ctx.terminating += r.deleted;
    ctx.ready -= r.deletedReady;
    return { active: active - r.deleted, error: r.error };
  }

  const completions = job.spec?.completions;
  let wantActive: number;
  if (completions === undefined || completions === null) {
    // A work-queue Job: once any pod succeeded, leave whatever runs running.
    wantActive = ctx.succeeded > 0 ? active : parallelism;
  } else {
    // Never more active pods than remaining completions.
    wantActive = Math.max(0, Math.min(completions - ctx.succeeded, parallelism));
  }

  const rmAtLeast = Math.max(0, active - wantActive);
  const podsToDelete = activePodsForRemoval(job, ctx.activePods, rmAtLeast).slice(0, MAX_POD_CREATE_DELETE_PER_SYNC);
  if (podsToDelete.length > 0) {
    d.expectations.expectDeletions(key, podsToDelete.length);
    d.logger.debug("too many pods running for job", { job: key, deleted: podsToDelete.length, target: wantActive });
    const r = await deleteJobPods(d, job, key, podsToDelete);
    ctx.terminating += r.deleted;
    ctx.ready -= r.deletedReady;
    // Deletions and creations never share a sync; deletions go first.
    return { active: active - r.deleted, error: r.error };
  }

  const terminating = onlyReplaceFailedPods(job) ? ctx.terminating : 0;
  let diff = wantActive - terminating - active;
  if (diff <= 0) return { active };

  const now = d.clock.now();
  const { podFailureBackoffMs: initial, maxPodFailureBackoffMs: max } = d.timings;
  if (!hasBackoffLimitPerIndex(job)) {
    const remaining = getRemainingTime(ctx.newBackoffRecord, now, initial, max);
    if (remaining > 0) {
      enqueueWithDelay(d, key, remaining);
      return { active };
    }
  }
  diff = Math.min(diff, MAX_POD_CREATE_DELETE_PER_SYNC);

  let indexesToAdd: number[] = [];
  if (isIndexedJob(job)) {
    indexesToAdd = firstPendingIndexes(ctx, diff, job.spec?.completions ?? 0);
    if (hasBackoffLimitPerIndex(job)) {
      const ready: number[] = [];
      let minRemaining: number | undefined;
      for (const ix of indexesToAdd) {
        const remaining = getRemainingTimePerIndex(now, initial, max, ctx.podsWithDelayedDeletionPerIndex.get(ix));
        if (remaining === 0) ready.push(ix);
        else if (minRemaining === undefined || remaining < minRemaining) minRemaining = remaining;
      }
      if (ready.length === 0 && minRemaining !== undefined && minRemaining > 0) {
        enqueueWithDelay(d, key, minRemaining);
        return { active };
      }
      indexesToAdd = ready;
    }
    diff = indexesToAdd.length;
  }
  if (diff === 0) return { active };

  d.expectations.expectCreations(key, diff);
  d.logger.debug("too few pods running", { key, need: wantActive, creating: diff });

  const template = structuredClone(job.spec?.template) as PodTemplateSpec;
  if (isIndexedJob(job)) addCompletionIndexEnvVariables(template);
  const meta = (template.metadata ??= {});
  if (!meta.finalizers?.includes(JOB_TRACKING_FINALIZER)) meta.finalizers = [...(meta.finalizers ?? []), JOB_TRACKING_FINALIZER];

  const controllerRef = newControllerRef(job.metadata, JOB_GVK);
  const ref = jobRef(job);
  const ns = job.metadata?.namespace ?? "";
  const queue = [...indexesToAdd];
  const { successes, error } = await slowStartBatch(diff, SLOW_START_INITIAL_BATCH_SIZE, async () => {
    const ix = queue.length > 0 ? queue.shift()! : UNKNOWN_COMPLETION_INDEX;
    let podTemplate = template;
    let generateName = "";
    if (ix !== UNKNOWN_COMPLETION_INDEX) {
      podTemplate = structuredClone(template);
      addCompletionIndex(podTemplate, ix);
      podTemplate.spec!.hostname = `${job.metadata?.name ?? ""}-${ix}`;
      generateName = podGenerateNameWithIndex(job.metadata?.name ?? "", ix);
      if (hasBackoffLimitPerIndex(job)) addIndexFailureCountAnnotation(podTemplate, job, ctx.podsWithDelayedDeletionPerIndex.get(ix));
    }
    try {
      await d.podControl.createPodsWithGenerateName(ns, podTemplate, ref, controllerRef, generateName);
    } catch (err) {
      // Every create in a terminating namespace fails: nothing to retry, nothing to report.
      if (hasStatusCause(err, NAMESPACE_TERMINATING_CAUSE)) return;
      d.logger.debug("failed creation, decrementing expectations", { job: key, err: errorMessage(err) });
      throw err;
    }
  });
  // Creates that failed or were never attempted will not be observed.
  for (let i = successes; i < diff; i++) d.expectations.creationObserved(key);
  return { active: active + successes, error };
}

/** Queues a Job again after `ms`, never sooner than the batching period (upstream's `enqueueSyncJobWithDelay`). */
export function enqueueWithDelay(d: JobSyncDeps, key: string, ms: number): void {
  d.enqueueAfter(key, Math.max(ms, d.timings.syncBatchPeriodMs));
}

/**
 * The active pods to delete: for Indexed Jobs every pod with a duplicate,
 * invalid or out-of-range index; then, to reach `rmAtLeast`, the pods in
 * the earliest stage (not ready before ready, pending before running).
 */
export function activePodsForRemoval(job: Job, pods: readonly Pod[], rmAtLeast: number): Pod[] {
  let rm: Pod[] = [];
  let left: Pod[];
  if (isIndexedJob(job)) {
    const split = splitDuplicatedIndexPods(pods, job.spec?.completions ?? 0);
    rm = split.rm;
    left = split.left;
  } else {
    left = [...pods];
  }
  if (rm.length < rmAtLeast) {
    sortActivePods(left);
    rm = rm.concat(left.slice(0, rmAtLeast - rm.length));
  }
  return rm;
}

/** How many deletes succeeded (and of them, ready pods), and the first failure. */
interface DeleteResult {
  readonly deleted: number;
  readonly deletedReady: number;
  readonly error?: unknown;
}

/**
 * Deletes pods the Job no longer wants, removing each one's tracking
 * finalizer first (these pods are not counted as failures); upstream's
 * `deleteJobPods`.
 */
export async function deleteJobPods(d: JobSyncDeps, job: Job, key: string, pods: readonly Pod[]): Promise<DeleteResult> {
  let deleted = pods.length;
  let deletedReady = 0;
  const errors: unknown[] = [];
  const failDelete = (pod: Pod, err: unknown) => {
    // The informer will not observe this deletion.
    d.expectations.deletionObserved(key);
    if (!isNotFound(err)) {
      d.logger.debug("failed to delete pod", { job: key, pod: pod.metadata?.name, err: errorMessage(err) });
      deleted--;
      errors.push(err);
    }
  };
  const ref = jobRef(job);
  await Promise.all(
    pods.map(async (pod) => {
      const patch = removeTrackingFinalizerPatch(pod);
      if (patch) {
        try {
          await d.podControl.patchPod(pod.metadata?.namespace ?? "", pod.metadata?.name ?? "", patch);
        } catch (err) {
          failDelete(pod, new Error(`removing completion finalizer: ${errorMessage(err)}`, { cause: err }));
          return;
        }
      }
      try {
        await d.podControl.deletePod(job.metadata?.namespace ?? "", pod.metadata?.name ?? "", ref);
      } catch (err) {
        failDelete(pod, err);
      }
      if (isPodReady(pod)) deletedReady++;
    }),
  );
  return { deleted, deletedReady, error: errors[0] };
}

/**
 * Deletes active pods of a Job that is finishing, keeping their
 * finalizers: the tracking step removes them once the pods are counted
 * (upstream's `deleteActivePods`).
 */
export async function deleteActivePods(d: JobSyncDeps, job: Job, pods: readonly Pod[]): Promise<DeleteResult> {
  let deleted = pods.length;
  let deletedReady = 0;
  const errors: unknown[] = [];
  const ref = jobRef(job);
  await Promise.all(
    pods.map(async (pod) => {
      try {
        await d.podControl.deletePod(job.metadata?.namespace ?? "", pod.metadata?.name ?? "", ref);
      } catch (err) {
        if (!isNotFound(err)) {
          deleted--;
          errors.push(err);
          d.logger.error("failed to delete pod", { job: jobKey(job), pod: pod.metadata?.name, err: errorMessage(err) });
        }
      }
      if (isPodReady(pod)) deletedReady++;
    }),
  );
  return { deleted, deletedReady, error: errors[0] };
}
