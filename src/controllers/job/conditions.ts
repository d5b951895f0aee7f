/**
 * Job conditions as upstream writes them: `lastProbeTime` and
 * `lastTransitionTime` both set to now, `reason` and `message` left out
 * when empty (Go's omitempty).
 */
import type { JobCondition } from "kubernetes-types/batch/v1.js";
import { rfc3339 } from "../common/time.js";
import { JOB_FAILED } from "./constants.js";

/** A condition stamped `nowMs` (upstream's `newCondition`). */
export function newCondition(type: string, status: string, reason: string, message: string, nowMs: number): JobCondition {
  const t = rfc3339(nowMs);
  return { type, status, lastProbeTime: t, lastTransitionTime: t, ...(reason ? { reason } : {}), ...(message ? { message } : {}) };
}

/** The first condition of `type`. */
export function findConditionByType(list: readonly JobCondition[] | undefined, type: string): JobCondition | undefined {
  return list?.find((c) => c.type === type);
}

/** The Failed condition that follows an interim FailureTarget one (same reason and message). */
export function newFailedConditionForFailureTarget(cond: JobCondition, nowMs: number): JobCondition {
  return newCondition(JOB_FAILED, "True", cond.reason ?? "", cond.message ?? "", nowMs);
}

/**
 * Sets condition `type` to the given status, reason and message, returning
 * the new list and whether it changed (upstream's `ensureJobConditionStatus`):
 * an existing condition is replaced when any of them differ; a missing one
 * is added unless its status would be False (nothing to False says nothing).
 */
export function ensureJobConditionStatus(
  list: readonly JobCondition[] | undefined,
  type: string,
  status: string,
  reason: string,
  message: string,
  nowMs: number,
): [JobCondition[], boolean] {
  const conditions = [...(list ?? [])];
  const i = conditions.findIndex((c) => c.type === type);
  if (i >= 0) {
    const c = conditions[i]!;
    if (c.status !== status || (c.reason ?? "") !== reason || (c.message ?? "") !== message) {
      conditions[i] = newCondition(type, status, reason, message, nowMs);
      return [conditions, true];
    }
    return [conditions, false];
  }
  if (status !== "False") {
    conditions.push(newCondition(type, status, reason, message, nowMs));
    return [conditions, true];
  }
  return [conditions, false];
}
