/**
 * The PodDisruptionBudget's DisruptionAllowed condition
 * (pkg/apis/policy/v1 helpers and apimachinery's meta.SetStatusCondition).
 */
import type { PodDisruptionBudget, PodDisruptionBudgetStatus } from "kubernetes-types/policy/v1.js";
import type { Condition } from "kubernetes-types/meta/v1.js";
import { rfc3339 } from "../common/time.js";

export const DisruptionAllowedCondition = "DisruptionAllowed";
/** There are enough healthy pods for a disruption. */
export const SufficientPodsReason = "SufficientPods";
/** There are too few healthy pods for one. */
export const InsufficientPodsReason = "InsufficientPods";
/** The controller could not compute the budget (disruptions are refused meanwhile). */
export const SyncFailedReason = "SyncFailed";

/**
 * meta.SetStatusCondition: adds the condition, or updates the one of its
 * type; lastTransitionTime moves only when the status changes.
 */
export function setStatusCondition(conditions: Condition[], c: Omit<Condition, "lastTransitionTime">, nowMs: number): Condition[] {
  const out = conditions.map((x) => ({ ...x }));
  const existing = out.find((x) => x.type === c.type);
  if (!existing) {
    out.push({ ...c, lastTransitionTime: rfc3339(nowMs) });
    return out;
  }
  if (existing.status !== c.status) {
    existing.status = c.status;
    existing.lastTransitionTime = rfc3339(nowMs);
  }
  existing.reason = c.reason;
  existing.message = c.message;
  if (c.observedGeneration !== undefined) existing.observedGeneration = c.observedGeneration;
  else delete existing.observedGeneration;
  return out;
}

/** UpdateDisruptionAllowedCondition: True/SufficientPods with disruptions allowed, else False/InsufficientPods. */
export function updateDisruptionAllowedCondition(status: PodDisruptionBudgetStatus, nowMs: number): Condition[] {
  const allowed = status.disruptionsAllowed > 0;
  return setStatusCondition(
    status.conditions ?? [],
    {
      type: DisruptionAllowedCondition,
      status: allowed ? "True" : "False",
      reason: allowed ? SufficientPodsReason : InsufficientPodsReason,
      message: "",
      ...(status.observedGeneration !== undefined ? { observedGeneration: status.observedGeneration } : {}),
    },
    nowMs,
  );
}

/** ConditionsAreUpToDate: the condition exists, is of the current generation, and agrees with disruptionsAllowed. */
export function conditionsAreUpToDate(pdb: PodDisruptionBudget): boolean {
  const cond = pdb.status?.conditions?.find((c) => c.type === DisruptionAllowedCondition);
  if (!cond) return false;
  if ((pdb.status?.observedGeneration ?? 0) !== (pdb.metadata?.generation ?? 0)) return false;
  if ((pdb.status?.disruptionsAllowed ?? 0) > 0) return cond.status === "True" && cond.reason === SufficientPodsReason;
  return cond.status === "False" && cond.reason === InsufficientPodsReason;
}
