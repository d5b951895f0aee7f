/**
 * Rollout progress, as upstream's progress.go: the status a Deployment
 * should have during a rollout (the Progressing condition moves through
 * ReplicaSetUpdated to NewReplicaSetAvailable, or to
 * ProgressDeadlineExceeded when nothing moved for progressDeadlineSeconds;
 * ReplicaSet failures surface as ReplicaFailure), and when to look again at
 * a Deployment that is not moving.
 */
import type { Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet } from "kubernetes-types/apps/v1.js";
import { parseTime } from "../common/time.js";
import {
  DEPLOYMENT_PROGRESSING,
  DEPLOYMENT_REPLICA_FAILURE,
  deploymentComplete,
  deploymentProgressing,
  deploymentTimedOut,
  getDeploymentCondition,
  hasProgressDeadline,
  NEW_RS_AVAILABLE_REASON,
  newDeploymentCondition,
  REPLICA_SET_UPDATED_REASON,
  removeDeploymentCondition,
  replicaSetToDeploymentCondition,
  setDeploymentCondition,
  TIMED_OUT_REASON,
} from "./conditions.js";
import { calculateStatus } from "./status.js";

/**
 * The ReplicaFailure conditions of the ReplicaSets as Deployment conditions
 * (upstream's `getReplicaFailures`): the new ReplicaSet's win over old ones'.
 */
export function getReplicaFailures(allRSs: readonly (ReplicaSet | undefined)[], newRS: ReplicaSet | undefined): DeploymentCondition[] {
  const fromNew = (newRS?.status?.conditions ?? []).filter((c) => c.type === DEPLOYMENT_REPLICA_FAILURE).map(replicaSetToDeploymentCondition);
  if (fromNew.length > 0) return fromNew;
  const out: DeploymentCondition[] = [];
  for (const rs of allRSs) {
    if (!rs) continue;
    for (const c of rs.status?.conditions ?? []) if (c.type === DEPLOYMENT_REPLICA_FAILURE) out.push(replicaSetToDeploymentCondition(c));
  }
  return out;
}

/**
 * The status of `d` during a rollout (the computation of upstream's
 * `syncRolloutStatus`): {@link calculateStatus} plus the Progressing
 * condition (none without a progress deadline) and ReplicaFailure.
 */
export function rolloutStatus(allRSs: readonly (ReplicaSet | undefined)[], newRS: ReplicaSet | undefined, d: Deployment, nowMs: number): DeploymentStatus {
  const newStatus = calculateStatus(allRSs, newRS, d, nowMs);
  if (!hasProgressDeadline(d)) removeDeploymentCondition(newStatus, DEPLOYMENT_PROGRESSING);
  // A resync of a completed rollout (one active ReplicaSet, already reported available) estimates nothing.
  const currentCond = getDeploymentCondition(d.status, DEPLOYMENT_PROGRESSING);
  const isCompleteDeployment = newStatus.replicas === newStatus.updatedReplicas && currentCond?.reason === NEW_RS_AVAILABLE_REASON;
  if (hasProgressDeadline(d) && !isCompleteDeployment) {
    const name = d.metadata?.name ?? "";
    const rsName = newRS?.metadata?.name ?? "";
    if (deploymentComplete(d, newStatus)) {
      const msg = newRS ? `ReplicaSet "${rsName}" has successfully progressed.` : `Deployment "${name}" has successfully progressed.`;
      setDeploymentCondition(newStatus, newDeploymentCondition(DEPLOYMENT_PROGRESSING, "True", NEW_RS_AVAILABLE_REASON, msg, nowMs));
    } else if (deploymentProgressing(d, newStatus)) {
      const msg = newRS ? `ReplicaSet "${rsName}" is progressing.` : `Deployment "${name}" is progressing.`;
      const condition = newDeploymentCondition(DEPLOYMENT_PROGRESSING, "True", REPLICA_SET_UPDATED_REASON, msg, nowMs);
      // Unlike other conditions, Progressing is rewritten with the same reason to move lastUpdateTime
      // whenever progress is seen; a True one keeps its transition time.
      if (currentCond) {
        if (currentCond.status === "True") condition.lastTransitionTime = currentCond.lastTransitionTime;
        removeDeploymentCondition(newStatus, DEPLOYMENT_PROGRESSING);
      }
      setDeploymentCondition(newStatus, condition);
    } else if (deploymentTimedOut(d, newStatus, nowMs)) {
      const msg = newRS ? `ReplicaSet "${rsName}" has timed out progressing.` : `Deployment "${name}" has timed out progressing.`;
      setDeploymentCondition(newStatus, newDeploymentCondition(DEPLOYMENT_PROGRESSING, "False", TIMED_OUT_REASON, msg, nowMs));
    }
  }
  const failures = getReplicaFailures(allRSs, newRS);
  if (failures.length > 0) setDeploymentCondition(newStatus, failures[0]!);
  else removeDeploymentCondition(newStatus, DEPLOYMENT_REPLICA_FAILURE);
  return newStatus;
}

/**
 * When a Deployment that showed no progress must be looked at again to
 * tell whether it timed out (upstream's `requeueStuckDeployment`): -1 for
 * never (no deadline, no Progressing condition, complete, already timed
 * out), 0 for at once (less than a second left), otherwise the ms until the
 * deadline of the Progressing condition's lastUpdateTime.
 */
export function stuckRequeueDelay(d: Deployment, newStatus: DeploymentStatus, nowMs: number): number {
  const currentCond = getDeploymentCondition(d.status, DEPLOYMENT_PROGRESSING);
  if (!hasProgressDeadline(d) || !currentCond) return -1;
  if (deploymentComplete(d, newStatus) || currentCond.reason === TIMED_OUT_REASON) return -1;
  const after = parseTime(currentCond.lastUpdateTime) + (d.spec?.progressDeadlineSeconds ?? 0) * 1000 - nowMs;
  return after < 1000 ? 0 : after;
}
