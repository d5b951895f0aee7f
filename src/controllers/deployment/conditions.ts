/**
 * Deployment conditions, as upstream's deployment_util.go: the Available
 * and Progressing conditions with their upstream reasons, the rules for
 * replacing one (same status and reason: kept as is; same status: keep
 * the transition time), and the three verdicts on a rollout: complete,
 * progressing, timed out (progressDeadlineSeconds).
 */
import type { Deployment, DeploymentCondition, DeploymentStatus, ReplicaSetCondition } from "kubernetes-types/apps/v1.js";
import { parseTime, rfc3339 } from "../common/time.js";
import { specReplicas } from "./fenceposts.js";

/** Condition type: at least spec.replicas - maxUnavailable pods available. */
export const DEPLOYMENT_AVAILABLE = "Available";
/** Condition type: how the latest rollout is going. */
export const DEPLOYMENT_PROGRESSING = "Progressing";
/** Condition type: a ReplicaSet cannot create or delete pods (copied from it). */
export const DEPLOYMENT_REPLICA_FAILURE = "ReplicaFailure";

// Progressing reasons.
/** One of its ReplicaSets was scaled as part of the rollout. */
export const REPLICA_SET_UPDATED_REASON = "ReplicaSetUpdated";
/** The new ReplicaSet could not be created. */
export const FAILED_RS_CREATE_REASON = "ReplicaSetCreateError";
/** The new ReplicaSet was created. */
export const NEW_REPLICA_SET_REASON = "NewReplicaSetCreated";
/** An existing ReplicaSet turned out to be the new one. */
export const FOUND_NEW_RS_REASON = "FoundNewReplicaSet";
/** The new ReplicaSet is fully available: the rollout is complete. */
export const NEW_RS_AVAILABLE_REASON = "NewReplicaSetAvailable";
/** No progress within progressDeadlineSeconds. */
export const TIMED_OUT_REASON = "ProgressDeadlineExceeded";
/** Paused: progress is not estimated. */
export const PAUSED_DEPLOY_REASON = "DeploymentPaused";
/** Resumed: the deadline counts from now, not from before the pause. */
export const RESUMED_DEPLOY_REASON = "DeploymentResumed";

/** Available reason: enough pods available. */
export const MINIMUM_REPLICAS_AVAILABLE = "MinimumReplicasAvailable";
/** Available reason: too few pods available. */
export const MINIMUM_REPLICAS_UNAVAILABLE = "MinimumReplicasUnavailable";

/** Go's math.MaxInt32: a progressDeadlineSeconds or revisionHistoryLimit meaning "none". */
export const MAX_INT32 = 2147483647;

/** A new condition stamped `nowMs` for both times (upstream's `NewDeploymentCondition`). */
export function newDeploymentCondition(type: string, status: string, reason: string, message: string, nowMs: number): DeploymentCondition {
  const now = rfc3339(nowMs);
  return { type, status, lastUpdateTime: now, lastTransitionTime: now, reason, message };
}

/** The condition of `type`, if any (a copy, so callers may change it). */
export function getDeploymentCondition(status: DeploymentStatus | undefined, type: string): DeploymentCondition | undefined {
  const c = status?.conditions?.find((x) => x.type === type);
  return c ? { ...c } : undefined;
}

function filterOutCondition(conditions: readonly DeploymentCondition[] | undefined, type: string): DeploymentCondition[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}

/**
 * Adds or replaces `condition` (upstream's `SetDeploymentCondition`): one
 * with the same status and reason is left untouched; one with the same
 * status keeps its lastTransitionTime. The replaced condition moves last.
 */
export function setDeploymentCondition(status: DeploymentStatus, condition: DeploymentCondition): void {
  const current = getDeploymentCondition(status, condition.type);
  if (current && current.status === condition.status && current.reason === condition.reason) return;
  const next = { ...condition };
  if (current && current.status === condition.status) next.lastTransitionTime = current.lastTransitionTime;
  status.conditions = [...filterOutCondition(status.conditions, condition.type), next];
}

/** Removes the condition of `type` (upstream's `RemoveDeploymentCondition`). */
export function removeDeploymentCondition(status: DeploymentStatus, type: string): void {
  const rest = filterOutCondition(status.conditions, type);
  if (rest.length > 0) status.conditions = rest;
  else delete status.conditions;
}

/** A ReplicaSet condition as a Deployment one (upstream's `ReplicaSetToDeploymentCondition`). */
export function replicaSetToDeploymentCondition(cond: ReplicaSetCondition): DeploymentCondition {
  return {
    type: cond.type,
    status: cond.status,
    lastTransitionTime: cond.lastTransitionTime,
    lastUpdateTime: cond.lastTransitionTime,
    reason: cond.reason,
    message: cond.message,
  };
}

/** Whether progress is tracked: a progressDeadlineSeconds other than MaxInt32 (upstream's `HasProgressDeadline`). */
export function hasProgressDeadline(d: Deployment): boolean {
  const pds = d.spec?.progressDeadlineSeconds;
  return pds !== undefined && pds !== null && pds !== MAX_INT32;
}

/** Whether old ReplicaSets are pruned: a revisionHistoryLimit other than MaxInt32 (upstream's `HasRevisionHistoryLimit`). */
export function hasRevisionHistoryLimit(d: Deployment): boolean {
  const limit = d.spec?.revisionHistoryLimit;
  return limit !== undefined && limit !== null && limit !== MAX_INT32;
}

/**
 * Every desired replica updated and available, no old ones left, and the
 * latest generation observed (upstream's `DeploymentComplete`).
 */
export function deploymentComplete(d: Deployment, newStatus: DeploymentStatus): boolean {
  const replicas = specReplicas(d);
  return (
    (newStatus.updatedReplicas ?? 0) === replicas &&
    (newStatus.replicas ?? 0) === replicas &&
    (newStatus.availableReplicas ?? 0) === replicas &&
    (newStatus.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0)
  );
}

/**
 * Whether `newStatus` shows progress over the Deployment's current status:
 * more updated, ready or available pods, or fewer old ones (upstream's
 * `DeploymentProgressing`).
 */
export function deploymentProgressing(d: Deployment, newStatus: DeploymentStatus): boolean {
  const old = d.status ?? {};
  const oldStatusOldReplicas = (old.replicas ?? 0) - (old.updatedReplicas ?? 0);
  const newStatusOldReplicas = (newStatus.replicas ?? 0) - (newStatus.updatedReplicas ?? 0);
  return (
    (newStatus.updatedReplicas ?? 0) > (old.updatedReplicas ?? 0) ||
    newStatusOldReplicas < oldStatusOldReplicas ||
    (newStatus.readyReplicas ?? 0) > (old.readyReplicas ?? 0) ||
    (newStatus.availableReplicas ?? 0) > (old.availableReplicas ?? 0)
  );
}

/**
 * Whether the rollout ran out of time (upstream's `DeploymentTimedOut`):
 * the Progressing condition was last updated more than
 * progressDeadlineSeconds before `nowMs`, or already says so. A completed
 * rollout never times out.
 */
export function deploymentTimedOut(d: Deployment, newStatus: DeploymentStatus, nowMs: number): boolean {
  if (!hasProgressDeadline(d)) return false;
  const condition = getDeploymentCondition(newStatus, DEPLOYMENT_PROGRESSING);
  if (!condition) return false;
  // A resync right after a new RS was created may still see the last rollout's success: that is no timeout.
  if (condition.reason === NEW_RS_AVAILABLE_REASON) return false;
  if (condition.reason === TIMED_OUT_REASON) return true;
  const from = parseTime(condition.lastUpdateTime);
  return from + (d.spec?.progressDeadlineSeconds ?? 0) * 1000 < nowMs;
}
