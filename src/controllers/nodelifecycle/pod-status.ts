/**
 * Pod status helpers the node lifecycle, taint eviction and PodGC
 * controllers share, as upstream's pkg/api/v1/pod UpdatePodCondition.
 */
import type { ObjectReference, Pod, PodCondition, PodStatus } from "kubernetes-types/core/v1.js";
import { rfc3339 } from "../common/time.js";

/** The condition of `type` in `status`. */
export function getPodCondition(status: PodStatus | undefined, type: string): PodCondition | undefined {
  return status?.conditions?.find((c) => c.type === type);
}

/**
 * UpdatePodCondition: puts `condition` into `status` (in place), stamping
 * lastTransitionTime with `nowMs` unless the status did not change. True
 * when anything changed.
 */
export function updatePodCondition(status: PodStatus, condition: PodCondition, nowMs: number): boolean {
  const cond: PodCondition = { ...condition, lastTransitionTime: rfc3339(nowMs) };
  const conditions = status.conditions ?? [];
  const i = conditions.findIndex((c) => c.type === cond.type);
  if (i < 0) {
    status.conditions = [...conditions, cond];
    return true;
  }
  const old = conditions[i]!;
  if (cond.status === old.status) cond.lastTransitionTime = old.lastTransitionTime;
  const same =
    cond.status === old.status &&
    (cond.reason ?? "") === (old.reason ?? "") &&
    (cond.message ?? "") === (old.message ?? "") &&
    (cond.lastProbeTime ?? "") === (old.lastProbeTime ?? "") &&
    (cond.lastTransitionTime ?? "") === (old.lastTransitionTime ?? "");
  const next = [...conditions];
  next[i] = cond;
  status.conditions = next;
  return !same;
}

/** The DisruptionTarget condition upstream sets before a controller deletes a pod. */
export function disruptionTarget(reason: string, message: string): PodCondition {
  return { type: "DisruptionTarget", status: "True", reason, message };
}

/** The reference events about a pod carry. */
export function podRef(pod: Pod): ObjectReference {
  const m = pod.metadata;
  return { apiVersion: "v1", kind: "Pod", namespace: m?.namespace ?? "", name: m?.name ?? "", ...(m?.uid ? { uid: m.uid } : {}) };
}

/** `ns/name` of namespace and name (a NamespacedName's String()). */
export function namespacedName(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}
