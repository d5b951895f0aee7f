/**
 * Scaling ReplicaSets, as upstream's sync.go: proportional scaling on a
 * scaling event or while paused, the one write that resizes a ReplicaSet
 * (with its ScalingReplicaSet event), and pruning old ReplicaSets beyond
 * revisionHistoryLimit.
 */
import type { Deployment, ReplicaSet } from "kubernetes-types/apps/v1.js";
import { isNotFound } from "../../machinery/status-error.js";
import { replicasAnnotationsNeedUpdate, setReplicasAnnotations } from "./annotations.js";
import { hasRevisionHistoryLimit } from "./conditions.js";
import { isRollingUpdate, maxSurge, replicaCount, specReplicas } from "./fenceposts.js";
import { getProportion, isSaturated } from "./proportions.js";
import { byRevision, bySizeNewer, bySizeOlder, filterActiveReplicaSets, findActiveOrLatest } from "./replica-sets.js";
import { keyOf } from "./kinds.js";
import type { DeploymentSyncer } from "./sync.js";

/**
 * Scales for a scaling event or a paused Deployment (upstream's
 * `scale`): one active ReplicaSet takes the whole size; a saturated new
 * one lets the old ones go to 0; otherwise, for RollingUpdate, the
 * difference to replicas + maxSurge is spread over the active
 * ReplicaSets in proportion to their sizes (larger first; newer first
 * when adding, older first when removing), leftovers to the first.
 */
export async function scale(s: DeploymentSyncer, d: Deployment, newRS: ReplicaSet | undefined, oldRSs: ReplicaSet[]): Promise<void> {
  const replicas = specReplicas(d);
  const activeOrLatest = findActiveOrLatest(newRS, oldRSs);
  if (activeOrLatest) {
    if (specReplicas(activeOrLatest) === replicas) return;
    await scaleReplicaSetAndRecordEvent(s, activeOrLatest, replicas, d);
    return;
  }
  // A saturated new RS (adopted during a rollout, say) means the old ones go.
  if (isSaturated(d, newRS)) {
    for (const old of filterActiveReplicaSets(oldRSs)) await scaleReplicaSetAndRecordEvent(s, old, 0, d);
    return;
  }
  // Old RSs with pods and an unsaturated new one: scale them all proportionally (only for rolling updates).
  if (!isRollingUpdate(d)) return;
  const allRSs = filterActiveReplicaSets([...oldRSs, newRS]);
  const allRSsReplicas = replicaCount(allRSs);
  const allowedSize = replicas > 0 ? replicas + maxSurge(d) : 0;
  const deploymentReplicasToAdd = allowedSize - allRSsReplicas;
  let scalingOperation = "";
  if (deploymentReplicasToAdd > 0) {
    allRSs.sort(bySizeNewer);
    scalingOperation = "up";
  } else if (deploymentReplicasToAdd < 0) {
    allRSs.sort(bySizeOlder);
    scalingOperation = "down";
  }
  // What each gets; the total added never exceeds deploymentReplicasToAdd in absolute value.
  let deploymentReplicasAdded = 0;
  const nameToSize = new Map<string, number>();
  for (const rs of allRSs) {
    const name = rs.metadata?.name ?? "";
    if (deploymentReplicasToAdd !== 0) {
      const proportion = getProportion(rs, d, deploymentReplicasToAdd, deploymentReplicasAdded, s.log);
      nameToSize.set(name, specReplicas(rs) + proportion);
      deploymentReplicasAdded += proportion;
    } else {
      nameToSize.set(name, specReplicas(rs));
    }
  }
  for (let i = 0; i < allRSs.length; i++) {
    const rs = allRSs[i]!;
    const name = rs.metadata?.name ?? "";
    // Leftovers go to the largest.
    if (i === 0 && deploymentReplicasToAdd !== 0) {
      const leftover = deploymentReplicasToAdd - deploymentReplicasAdded;
      nameToSize.set(name, Math.max(0, (nameToSize.get(name) ?? 0) + leftover));
    }
    // Stop at the first failure; the Deployment is requeued.
    await scaleReplicaSet(s, rs, nameToSize.get(name) ?? 0, d, scalingOperation);
  }
}

/** Scales `rs` to `newScale` with an event, if that changes its size (upstream's `scaleReplicaSetAndRecordEvent`). */
export async function scaleReplicaSetAndRecordEvent(s: DeploymentSyncer, rs: ReplicaSet, newScale: number, d: Deployment): Promise<[scaled: boolean, rs: ReplicaSet]> {
  if (specReplicas(rs) === newScale) return [false, rs];
  const scalingOperation = specReplicas(rs) < newScale ? "up" : "down";
  return scaleReplicaSet(s, rs, newScale, d, scalingOperation);
}

/**
 * Writes `rs` with `newScale` replicas and the Deployment's current
 * desired/max replicas annotations, when either differs; a size change
 * records `Scaled up|down replica set NAME to N from M` (upstream's
 * `scaleReplicaSet`).
 */
export async function scaleReplicaSet(s: DeploymentSyncer, rs: ReplicaSet, newScale: number, d: Deployment, scalingOperation: string): Promise<[scaled: boolean, rs: ReplicaSet]> {
  const replicas = specReplicas(d);
  const surge = maxSurge(d);
  const sizeNeedsUpdate = specReplicas(rs) !== newScale;
  const annotationsNeedUpdate = replicasAnnotationsNeedUpdate(rs, replicas, replicas + surge);
  if (!sizeNeedsUpdate && !annotationsNeedUpdate) return [false, rs];
  const oldScale = specReplicas(rs);
  const rsCopy = structuredClone(rs);
  (rsCopy.spec ??= { selector: {} }).replicas = newScale;
  setReplicasAnnotations(rsCopy, replicas, replicas + surge);
  const updated = await s.api.updateReplicaSet(rsCopy);
  if (!sizeNeedsUpdate) return [false, updated];
  s.scalingEvent(d, updated, "Scaled %s replica set %s to %d from %d", scalingOperation, updated.metadata?.name ?? "", newScale, oldScale);
  return [true, updated];
}

/**
 * Deletes the oldest old ReplicaSets beyond revisionHistoryLimit, only
 * those fully scaled down and observed so (upstream's `cleanupDeployment`).
 */
export async function cleanupDeployment(s: DeploymentSyncer, oldRSs: readonly ReplicaSet[], d: Deployment): Promise<void> {
  if (!hasRevisionHistoryLimit(d)) return;
  // One already being deleted is not deleted again.
  const cleanable = oldRSs.filter((rs) => !!rs && !rs.metadata?.deletionTimestamp);
  const diff = cleanable.length - (d.spec?.revisionHistoryLimit ?? 0);
  if (diff <= 0) return;
  cleanable.sort(byRevision);
  s.log.debug("Looking to cleanup old replica sets for deployment", { deployment: keyOf(d) });
  for (let i = 0; i < diff; i++) {
    const rs = cleanable[i]!;
    // Never one with pods, wanted or running, or whose latest spec its controller has not seen.
    if (
      (rs.status?.replicas ?? 0) !== 0 ||
      specReplicas(rs) !== 0 ||
      (rs.metadata?.generation ?? 0) > (rs.status?.observedGeneration ?? 0) ||
      rs.metadata?.deletionTimestamp
    ) {
      continue;
    }
    s.log.debug("Trying to cleanup replica set for deployment", { replicaSet: keyOf(rs), deployment: keyOf(d) });
    try {
      await s.api.deleteReplicaSet(rs.metadata?.namespace ?? "", rs.metadata?.name ?? "");
    } catch (err) {
      // Stop at the first real failure rather than pile deletes onto a struggling API server.
      if (!isNotFound(err)) throw err;
    }
  }
}
