/**
 * The pod states the StatefulSet controller acts on, as upstream's
 * stateful_set_utils.go. "Created" means the API server has the pod (it
 * has a phase); "unavailable" includes terminating pods.
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import { isPodAvailable, isPodReady } from "../common/pod-utils.js";

/** Running with a True Ready condition (`isRunningAndReady`). */
export function isRunningAndReady(pod: Pod): boolean {
  return pod.status?.phase === "Running" && isPodReady(pod);
}

/** Ready for minReadySeconds at `nowMs` (`isRunningAndAvailable`). */
export function isRunningAndAvailable(pod: Pod, minReadySeconds: number, nowMs: number): boolean {
  return isPodAvailable(pod, minReadySeconds, nowMs);
}

/** The API server has the pod: it has a phase (`isCreated`). */
export function isCreated(pod: Pod): boolean {
  return !!pod.status?.phase;
}

/** Phase Pending (`isPending`). */
export function isPending(pod: Pod): boolean {
  return pod.status?.phase === "Pending";
}

/** Phase Failed (`isFailed`). */
export function isFailed(pod: Pod): boolean {
  return pod.status?.phase === "Failed";
}

/** Phase Succeeded (`isSucceeded`). */
export function isSucceeded(pod: Pod): boolean {
  return pod.status?.phase === "Succeeded";
}

/** Being deleted (`isTerminating`). */
export function isTerminating(pod: Pod): boolean {
  return !!pod.metadata?.deletionTimestamp;
}

/** Running, ready and not being deleted (`isHealthy`). */
export function isHealthy(pod: Pod): boolean {
  return isRunningAndReady(pod) && !isTerminating(pod);
}

/** Not available, or being deleted (`isUnavailable`). */
export function isUnavailable(pod: Pod, minReadySeconds: number, nowMs: number): boolean {
  return !isPodAvailable(pod, minReadySeconds, nowMs) || isTerminating(pod);
}

/** Orders pods by ordinal, ascending or descending (`ascendingOrdinal`, `descendingOrdinal`). */
export function byOrdinal(ordinal: (pod: Pod) => number, descending = false): (a: Pod, b: Pod) => number {
  return descending ? (a, b) => ordinal(b) - ordinal(a) : (a, b) => ordinal(a) - ordinal(b);
}
