/**
 * The RollingUpdate strategy, as upstream's rolling.go: each sync either
 * scales the new ReplicaSet up as far as maxSurge allows, or scales old
 * ReplicaSets down as far as maxUnavailable allows (unhealthy replicas
 * first, since removing them costs no availability), and when the rollout
 * is complete prunes history; the status is written after each step.
 */
import type { Deployment, ReplicaSet } from "kubernetes-types/apps/v1.js";
import { deploymentComplete } from "./conditions.js";
import { availableReplicaCount, maxUnavailable, newRSNewReplicas, replicaCount, specReplicas } from "./fenceposts.js";
import { byCreationTimestamp, filterActiveReplicaSets } from "./replica-sets.js";
import { keyOf } from "./kinds.js";
import type { DeploymentSyncer } from "./sync.js";

/** One sync of a rolling update (upstream's `rolloutRolling`). */
export async function rolloutRolling(s: DeploymentSyncer, d: Deployment, rsList: ReplicaSet[]): Promise<void> {
  const [newRS, oldRSs] = await s.getAllReplicaSetsAndSyncRevision(d, rsList, true);
  // Created above, so always there.
  const theNewRS = newRS!;
  const allRSs = [...oldRSs, theNewRS];
  if (await reconcileNewReplicaSet(s, allRSs, theNewRS, d)) return s.syncRolloutStatus(allRSs, theNewRS, d);
  if (await reconcileOldReplicaSets(s, allRSs, filterActiveReplicaSets(oldRSs), theNewRS, d)) return s.syncRolloutStatus(allRSs, theNewRS, d);
  if (deploymentComplete(d, d.status ?? {})) await s.cleanupDeployment(oldRSs, d);
  return s.syncRolloutStatus(allRSs, theNewRS, d);
}

/**
 * Scales the new ReplicaSet toward spec.replicas within maxSurge, or down
 * to spec.replicas when above it (upstream's `reconcileNewReplicaSet`);
 * resolves whether it scaled.
 */
export async function reconcileNewReplicaSet(s: DeploymentSyncer, allRSs: readonly ReplicaSet[], newRS: ReplicaSet, d: Deployment): Promise<boolean> {
  const replicas = specReplicas(d);
  if (specReplicas(newRS) === replicas) return false;
  if (specReplicas(newRS) > replicas) {
    const [scaled] = await s.scaleReplicaSetAndRecordEvent(newRS, replicas, d);
    return scaled;
  }
  const newReplicasCount = newRSNewReplicas(d, allRSs, newRS);
  const [scaled] = await s.scaleReplicaSetAndRecordEvent(newRS, newReplicasCount, d);
  return scaled;
}

/**
 * Scales old ReplicaSets down as far as availability allows (upstream's
 * `reconcileOldReplicaSets`): at most all pods - minAvailable - the new
 * ReplicaSet's unavailable pods, so pods of a broken new template never
 * count as room to remove old ones. Unhealthy old replicas go first.
 * Resolves whether anything was scaled down; failures of the scale-downs
 * are not reported, as upstream (the next sync tries again).
 */
export async function reconcileOldReplicaSets(
  s: DeploymentSyncer,
  allRSs: readonly ReplicaSet[],
  oldRSs: ReplicaSet[],
  newRS: ReplicaSet,
  d: Deployment,
): Promise<boolean> {
  const oldPodsCount = replicaCount(oldRSs);
  if (oldPodsCount === 0) return false;
  const allPodsCount = replicaCount(allRSs);
  s.log.debug("New replica set", { replicaSet: keyOf(newRS), availableReplicas: newRS.status?.availableReplicas ?? 0 });
  // Example: 10 replicas, maxUnavailable 2, maxSurge 3; the new RS at 5 crashloops, old at 8: 13 - 8 - 5 = 0,
  // so a node failure among old pods scales nothing down; after a rollback (new RS unavailable 1) 13 - 8 - 1 = 4
  // of the crashlooping pods go.
  const minAvailable = specReplicas(d) - maxUnavailable(d);
  const newRSUnavailablePodCount = specReplicas(newRS) - (newRS.status?.availableReplicas ?? 0);
  const maxScaledDown = allPodsCount - minAvailable - newRSUnavailablePodCount;
  if (maxScaledDown <= 0) return false;
  // Unhealthy replicas first, or they block the rollout until it times out (kubernetes#16737).
  let cleanupCount: number;
  let remaining: ReplicaSet[];
  try {
    [remaining, cleanupCount] = await cleanupUnhealthyReplicas(s, oldRSs, d, maxScaledDown);
  } catch {
    return false;
  }
  s.log.debug("Cleaned up unhealthy replicas from old RSes", { count: cleanupCount });
  let scaledDownCount: number;
  try {
    scaledDownCount = await scaleDownOldReplicaSetsForRollingUpdate(s, [...remaining, newRS], remaining, d);
  } catch {
    return false;
  }
  s.log.debug("Scaled down old RSes", { deployment: keyOf(d), count: scaledDownCount });
  return cleanupCount + scaledDownCount > 0;
}

/**
 * Scales old ReplicaSets down by their unavailable replicas, oldest first,
 * at most `maxCleanupCount` in all (upstream's `cleanupUnhealthyReplicas`);
 * the ReplicaSet controller deletes not-ready pods first, so availability
 * does not drop. Resolves the ReplicaSets (updated where scaled) and the count.
 */
export async function cleanupUnhealthyReplicas(s: DeploymentSyncer, oldRSs: ReplicaSet[], d: Deployment, maxCleanupCount: number): Promise<[ReplicaSet[], number]> {
  oldRSs.sort(byCreationTimestamp);
  let totalScaledDown = 0;
  for (let i = 0; i < oldRSs.length; i++) {
    const targetRS = oldRSs[i]!;
    if (totalScaledDown >= maxCleanupCount) break;
    const replicas = specReplicas(targetRS);
    // Nothing to scale down.
    if (replicas === 0) continue;
    const available = targetRS.status?.availableReplicas ?? 0;
    s.log.debug("Found available pods in old RS", { replicaSet: keyOf(targetRS), availableReplicas: available });
    // No unhealthy replicas.
    if (replicas === available) continue;
    const scaledDownCount = Math.min(maxCleanupCount - totalScaledDown, replicas - available);
    const newReplicasCount = replicas - scaledDownCount;
    if (newReplicasCount > replicas) {
      throw new Error(`when cleaning up unhealthy replicas, got invalid request to scale down ${keyOf(targetRS)} ${replicas} -> ${newReplicasCount}`);
    }
    const [, updated] = await s.scaleReplicaSetAndRecordEvent(targetRS, newReplicasCount, d);
    totalScaledDown += scaledDownCount;
    oldRSs[i] = updated;
  }
  return [oldRSs, totalScaledDown];
}

/**
 * Scales old ReplicaSets down, oldest first, by as many available pods as
 * exceed minAvailable (upstream's `scaleDownOldReplicaSetsForRollingUpdate`);
 * resolves how many replicas it removed.
 */
export async function scaleDownOldReplicaSetsForRollingUpdate(s: DeploymentSyncer, allRSs: readonly ReplicaSet[], oldRSs: ReplicaSet[], d: Deployment): Promise<number> {
  const minAvailable = specReplicas(d) - maxUnavailable(d);
  const availablePodCount = availableReplicaCount(allRSs);
  if (availablePodCount <= minAvailable) return 0;
  s.log.debug("Found available pods in deployment, scaling down old RSes", { deployment: keyOf(d), availableReplicas: availablePodCount });
  oldRSs.sort(byCreationTimestamp);
  let totalScaledDown = 0;
  const totalScaleDownCount = availablePodCount - minAvailable;
  for (const targetRS of oldRSs) {
    if (totalScaledDown >= totalScaleDownCount) break;
    const replicas = specReplicas(targetRS);
    if (replicas === 0) continue;
    const scaleDownCount = Math.min(replicas, totalScaleDownCount - totalScaledDown);
    const newReplicasCount = replicas - scaleDownCount;
    if (newReplicasCount > replicas) {
      throw new Error(`when scaling down old RS, got invalid request to scale down ${keyOf(targetRS)} ${replicas} -> ${newReplicasCount}`);
    }
    await s.scaleReplicaSetAndRecordEvent(targetRS, newReplicasCount, d);
    totalScaledDown += scaleDownCount;
  }
  return totalScaledDown;
}
