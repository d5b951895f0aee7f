/**
 * Pod predicates controllers share, as upstream's `pkg/api/v1/pod` and
 * `pkg/controller/controller_utils.go`: activity, readiness, availability.
 */
import type { Pod, PodCondition, PodStatus } from "kubernetes-types/core/v1.js";
import { parseTime } from "./time.js";

/** `ns/name` of a pod (upstream's `controller.PodKey`). */
export function podKey(pod: Pod): string {
  return `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;
}

/** Not Succeeded, not Failed, not being deleted (upstream's `IsPodActive`). */
export function isPodActive(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return phase !== "Succeeded" && phase !== "Failed" && !pod.metadata?.deletionTimestamp;
}

/** The active pods of `pods`, in order (upstream's `FilterActivePods`). */
export function filterActivePods(pods: readonly Pod[]): Pod[] {
  return pods.filter(isPodActive);
}

/** Being deleted but not yet terminal (upstream's `IsPodTerminating`). */
export function isPodTerminating(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return phase !== "Succeeded" && phase !== "Failed" && !!pod.metadata?.deletionTimestamp;
}

/** The pod's `Ready` condition, if it has one. */
export function getPodReadyCondition(status: PodStatus | undefined): PodCondition | undefined {
  return status?.conditions?.find((c) => c.type === "Ready");
}

/** True when the `Ready` condition is `True` (upstream's `IsPodReady`). */
export function isPodReady(pod: Pod): boolean {
  return getPodReadyCondition(pod.status)?.status === "True";
}

/**
 * Ready for at least `minReadySeconds` at `nowMs` (upstream's
 * `IsPodAvailable`): with a positive minReadySeconds, a Ready condition
 * without a lastTransitionTime never counts as available.
 */
export function isPodAvailable(pod: Pod, minReadySeconds: number, nowMs: number): boolean {
  if (!isPodReady(pod)) return false;
  if (!minReadySeconds) return true;
  const since = parseTime(getPodReadyCondition(pod.status)?.lastTransitionTime);
  return since !== 0 && since + minReadySeconds * 1000 < nowMs;
}
