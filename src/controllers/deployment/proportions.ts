/**
 * Scaling a Deployment while ReplicaSets share it, as upstream's
 * deployment_util.go: whether the new ReplicaSet holds it all (saturation),
 * and the share of a scaling event each active ReplicaSet gets, from the
 * Deployment size it was last annotated for (proportional scaling).
 */
import type { Deployment, ReplicaSet } from "kubernetes-types/apps/v1.js";
import type { Logger } from "../../machinery/log.js";
import { DESIRED_REPLICAS_ANNOTATION, getMaxReplicasAnnotation } from "./annotations.js";
import { maxSurge, specReplicas } from "./fenceposts.js";

/**
 * Whether the new ReplicaSet holds the whole Deployment: sized and
 * annotated for spec.replicas, all of them available (upstream's
 * `IsSaturated`).
 */
export function isSaturated(d: Deployment, rs: ReplicaSet | undefined): boolean {
  if (!rs) return false;
  const desiredString = rs.metadata?.annotations?.[DESIRED_REPLICAS_ANNOTATION] ?? "";
  if (!/^[+-]?\d+$/.test(desiredString)) return false;
  const replicas = specReplicas(d);
  return specReplicas(rs) === replicas && Number(desiredString) === replicas && (rs.status?.availableReplicas ?? 0) === replicas;
}

/** Go's integer.RoundToInt32: halves away from zero. */
export function roundToInt32(a: number): number {
  return a < 0 ? Math.trunc(a - 0.5) : Math.trunc(a + 0.5);
}

/**
 * The share of `rs` in a scaling event (upstream's
 * `getReplicaSetFraction`): its size scaled by the new Deployment size
 * (replicas + maxSurge) over the size it was annotated for, minus its size.
 */
export function getReplicaSetFraction(rs: ReplicaSet, d: Deployment, logger?: Logger): number {
  if (specReplicas(d) === 0) return -specReplicas(rs);
  const deploymentReplicas = specReplicas(d) + maxSurge(d);
  // Without the annotation fall back to the current size: not exact, but the min/max in getProportion keeps it in bounds.
  const annotatedReplicas = getMaxReplicasAnnotation(rs, logger) ?? d.status?.replicas ?? 0;
  const newRSsize = (specReplicas(rs) * deploymentReplicas) / annotatedReplicas;
  return roundToInt32(newRSsize) - specReplicas(rs);
}

/**
 * How many replicas `rs` gains (or loses) of the `toAdd` a scaling event
 * distributes, `added` being already given to others (upstream's
 * `GetProportion`): never beyond what is left to distribute.
 */
export function getProportion(rs: ReplicaSet | undefined, d: Deployment, toAdd: number, added: number, logger?: Logger): number {
  if (!rs || specReplicas(rs) === 0 || toAdd === 0 || toAdd === added) return 0;
  const rsFraction = getReplicaSetFraction(rs, d, logger);
  const allowed = toAdd - added;
  return toAdd > 0 ? Math.min(rsFraction, allowed) : Math.max(rsFraction, allowed);
}
