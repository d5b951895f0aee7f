/**
 * What the Job controller asks of its pods: failed or not (as the Job's
 * replacement policy sees it), tracked by the finalizer or not, ready,
 * terminating.
 */
import type { Job } from "kubernetes-types/batch/v1.js";
import type { Pod } from "kubernetes-types/core/v1.js";
import { isPodReady } from "../common/pod-utils.js";
import { JOB_TRACKING_FINALIZER, REPLACEMENT_FAILED } from "./constants.js";

/** The pod carries the Job tracking finalizer (it is not counted yet). */
export function hasJobTrackingFinalizer(pod: Pod): boolean {
  return pod.metadata?.finalizers?.includes(JOB_TRACKING_FINALIZER) ?? false;
}

/**
 * Whether failed pods only are replaced, never terminating ones
 * (`podReplacementPolicy: Failed`, which a pod failure policy implies);
 * upstream's `onlyReplaceFailedPods`.
 */
export function onlyReplaceFailedPods(job: Job): boolean {
  return job.spec?.podReplacementPolicy === REPLACEMENT_FAILED || job.spec?.podFailurePolicy !== undefined;
}

/**
 * A pod counts as failed when its phase is Failed or, unless only failed
 * pods are replaced, when it is being deleted without having succeeded (an
 * orphan may never reach the Failed phase); upstream's `isPodFailed`.
 */
export function isPodFailed(pod: Pod, job: Job): boolean {
  const phase = pod.status?.phase;
  if (phase === "Failed") return true;
  if (onlyReplaceFailedPods(job)) return false;
  return !!pod.metadata?.deletionTimestamp && phase !== "Succeeded";
}

/** Pods with a True Ready condition. */
export function countReadyPods(pods: readonly Pod[]): number {
  let n = 0;
  for (const p of pods) if (isPodReady(p)) n++;
  return n;
}

/** Being deleted and not yet terminal (upstream's `IsPodTerminating`). */
export function isTerminating(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return !!pod.metadata?.deletionTimestamp && phase !== "Succeeded" && phase !== "Failed";
}

/** Pods being deleted and not yet terminal (upstream's `CountTerminatingPods`). */
export function countTerminatingPods(pods: readonly Pod[]): number {
  let n = 0;
  for (const p of pods) if (isTerminating(p)) n++;
  return n;
}

/** The strategic-merge patch dropping the tracking finalizer, or undefined when the pod has none. */
export function removeTrackingFinalizerPatch(pod: Pod): unknown {
  if (!hasJobTrackingFinalizer(pod)) return undefined;
  return { metadata: { "$deleteFromPrimitiveList/finalizers": [JOB_TRACKING_FINALIZER] } };
}
