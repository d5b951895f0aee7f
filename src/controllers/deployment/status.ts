/**
 * Deployment status from its ReplicaSets, as upstream's `calculateStatus`
 * (sync.go): replica counts summed over the ReplicaSets (updated ones from
 * the new ReplicaSet only), the collision count carried over, and the
 * Available condition from availability against maxUnavailable.
 */
import type { Deployment, DeploymentStatus, ReplicaSet } from "kubernetes-types/apps/v1.js";
import { deepEqual } from "../common/equality.js";
import { DEPLOYMENT_AVAILABLE, MINIMUM_REPLICAS_AVAILABLE, MINIMUM_REPLICAS_UNAVAILABLE, newDeploymentCondition, setDeploymentCondition } from "./conditions.js";
import { actualReplicaCount, availableReplicaCount, maxUnavailable, readyReplicaCount, replicaCount, specReplicas } from "./fenceposts.js";

/** Upstream's message of Available=True. */
export const MINIMUM_AVAILABILITY_MESSAGE = "Deployment has minimum availability.";
/** Upstream's message of Available=False. */
export const NO_MINIMUM_AVAILABILITY_MESSAGE = "Deployment does not have minimum availability.";

/** The status `d` should have, given all its ReplicaSets and the new one (upstream's `calculateStatus`). */
export function calculateStatus(allRSs: readonly (ReplicaSet | undefined)[], newRS: ReplicaSet | undefined, d: Deployment, nowMs: number): DeploymentStatus {
  const availableReplicas = availableReplicaCount(allRSs);
  const totalReplicas = replicaCount(allRSs);
  // More available than desired happens while scaling down: that is no negative unavailability.
  const unavailableReplicas = Math.max(0, totalReplicas - availableReplicas);
  const status: DeploymentStatus = {
    observedGeneration: d.metadata?.generation,
    replicas: actualReplicaCount(allRSs),
    updatedReplicas: actualReplicaCount([newRS]),
    readyReplicas: readyReplicaCount(allRSs),
    availableReplicas,
    unavailableReplicas,
  };
  if (d.status?.collisionCount !== undefined && d.status.collisionCount !== null) status.collisionCount = d.status.collisionCount;
  // Copies, so the cached object is never changed.
  if (d.status?.conditions && d.status.conditions.length > 0) status.conditions = d.status.conditions.map((c) => ({ ...c }));
  if (availableReplicas >= specReplicas(d) - maxUnavailable(d)) {
    setDeploymentCondition(status, newDeploymentCondition(DEPLOYMENT_AVAILABLE, "True", MINIMUM_REPLICAS_AVAILABLE, MINIMUM_AVAILABILITY_MESSAGE, nowMs));
  } else {
    setDeploymentCondition(status, newDeploymentCondition(DEPLOYMENT_AVAILABLE, "False", MINIMUM_REPLICAS_UNAVAILABLE, NO_MINIMUM_AVAILABILITY_MESSAGE, nowMs));
  }
  return status;
}

/**
 * The status as Go serializes it: zero counts and empty conditions left
 * out (omitempty), collisionCount kept whenever set (a pointer).
 */
export function wireStatus(s: DeploymentStatus | undefined): DeploymentStatus {
  const out: DeploymentStatus = {};
  if (!s) return out;
  if (s.observedGeneration) out.observedGeneration = s.observedGeneration;
  if (s.replicas) out.replicas = s.replicas;
  if (s.updatedReplicas) out.updatedReplicas = s.updatedReplicas;
  if (s.readyReplicas) out.readyReplicas = s.readyReplicas;
  if (s.availableReplicas) out.availableReplicas = s.availableReplicas;
  if (s.unavailableReplicas) out.unavailableReplicas = s.unavailableReplicas;
  if (s.conditions && s.conditions.length > 0) out.conditions = s.conditions;
  if (s.collisionCount !== undefined && s.collisionCount !== null) out.collisionCount = s.collisionCount;
  return out;
}

/** Whether two statuses are the same once serialized (upstream's `reflect.DeepEqual(d.Status, newStatus)`). */
export function statusEqual(a: DeploymentStatus | undefined, b: DeploymentStatus | undefined): boolean {
  return deepEqual(wireStatus(a), wireStatus(b));
}
