/**
 * The Recreate strategy, as upstream's recreate.go: scale every old
 * ReplicaSet to 0, wait until none of their pods is left running (terminal
 * pods do not count), only then create or scale up the new ReplicaSet to
 * the full size; prune history once complete.
 */
import type { Deployment, ReplicaSet } from "kubernetes-types/apps/v1.js";
import { deploymentComplete } from "./conditions.js";
import { actualReplicaCount, specReplicas } from "./fenceposts.js";
import { filterActiveReplicaSets } from "./replica-sets.js";
import type { DeploymentSyncer, PodMap } from "./sync.js";

/** One sync of a Recreate rollout (upstream's `rolloutRecreate`). */
export async function rolloutRecreate(s: DeploymentSyncer, d: Deployment, rsList: ReplicaSet[], podMap: PodMap): Promise<void> {
  // No new RS yet: creating one now would scale up before the old pods are gone.
  let [newRS, oldRSs] = await s.getAllReplicaSetsAndSyncRevision(d, rsList, false);
  let allRSs = [...oldRSs, newRS];
  const activeOldRSs = filterActiveReplicaSets(oldRSs);
  if (await scaleDownOldReplicaSetsForRecreate(s, activeOldRSs, d)) return s.syncRolloutStatus(allRSs, newRS, d);
  if (oldPodsRunning(newRS, oldRSs, podMap)) return s.syncRolloutStatus(allRSs, newRS, d);
  if (!newRS) {
    [newRS, oldRSs] = await s.getAllReplicaSetsAndSyncRevision(d, rsList, true);
    allRSs = [...oldRSs, newRS];
  }
  await scaleUpNewReplicaSetForRecreate(s, newRS!, d);
  if (deploymentComplete(d, d.status ?? {})) await s.cleanupDeployment(oldRSs, d);
  return s.syncRolloutStatus(allRSs, newRS, d);
}

/** Scales every old ReplicaSet to 0; resolves whether any changed (upstream's `scaleDownOldReplicaSetsForRecreate`). */
export async function scaleDownOldReplicaSetsForRecreate(s: DeploymentSyncer, oldRSs: ReplicaSet[], d: Deployment): Promise<boolean> {
  let scaled = false;
  for (let i = 0; i < oldRSs.length; i++) {
    const rs = oldRSs[i]!;
    if (specReplicas(rs) === 0) continue;
    const [scaledRS, updatedRS] = await s.scaleReplicaSetAndRecordEvent(rs, 0, d);
    if (scaledRS) {
      oldRSs[i] = updatedRS;
      scaled = true;
    }
  }
  return scaled;
}

/**
 * Whether an old ReplicaSet still reports pods, or any pod not of the new
 * ReplicaSet is not terminal (upstream's `oldPodsRunning`; Unknown counts
 * as running, since it may be).
 */
export function oldPodsRunning(newRS: ReplicaSet | undefined, oldRSs: readonly ReplicaSet[], podMap: PodMap): boolean {
  if (actualReplicaCount(oldRSs) > 0) return true;
  for (const [rsUID, pods] of podMap) {
    if (newRS && newRS.metadata?.uid === rsUID) continue;
    for (const pod of pods) {
      const phase = pod.status?.phase;
      if (phase === "Failed" || phase === "Succeeded") continue;
      return true;
    }
  }
  return false;
}

/** Scales the new ReplicaSet to spec.replicas (upstream's `scaleUpNewReplicaSetForRecreate`). */
export async function scaleUpNewReplicaSetForRecreate(s: DeploymentSyncer, newRS: ReplicaSet, d: Deployment): Promise<boolean> {
  const [scaled] = await s.scaleReplicaSetAndRecordEvent(newRS, specReplicas(d), d);
  return scaled;
}
