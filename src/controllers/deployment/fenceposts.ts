/**
 * How many pods a rollout may add or take away, as upstream's
 * deployment_util.go and intstr: maxSurge (percentages round up) and
 * maxUnavailable (percentages round down) resolved against spec.replicas,
 * never both zero; replica counts over ReplicaSets; and the new
 * ReplicaSet's next size.
 */
import type { Deployment, ReplicaSet } from "kubernetes-types/apps/v1.js";

/** An int-or-string field (intstr.IntOrString): a count or a percentage like "25%". */
export type IntOrString = number | string;

/** Strategy type: replace pods gradually within maxSurge and maxUnavailable. */
export const ROLLING_UPDATE = "RollingUpdate";
/** Strategy type: remove all old pods, then create the new ones. */
export const RECREATE = "Recreate";

/** spec.replicas of a Deployment or ReplicaSet (the API server defaults it to 1). */
export function specReplicas(obj: Deployment | ReplicaSet | undefined): number {
  return obj?.spec?.replicas ?? 1;
}

/** True for the RollingUpdate strategy (upstream's `IsRollingUpdate`). */
export function isRollingUpdate(d: Deployment): boolean {
  return d.spec?.strategy?.type === ROLLING_UPDATE;
}

/**
 * An int-or-percent scaled against `total` (intstr's
 * `GetScaledValueFromIntOrPercent`): a percentage is rounded up or down
 * as asked; a string that is not a percentage is an error.
 */
export function scaledValueFromIntOrPercent(v: IntOrString | undefined, total: number, roundUp: boolean): number {
  if (v === undefined || v === null) throw new Error("nil value for IntOrString");
  if (typeof v === "number") return Math.trunc(v);
  if (!v.endsWith("%")) throw new Error("invalid value for IntOrString: invalid type: string is not a percentage");
  const digits = v.slice(0, -1);
  if (!/^[+-]?\d+$/.test(digits)) throw new Error(`invalid value for IntOrString: invalid value ${JSON.stringify(v)}: strconv.Atoi: parsing ${JSON.stringify(digits)}: invalid syntax`);
  const value = Number(digits);
  // The same float64 arithmetic as Go: (value * total) / 100, then ceil or floor.
  return roundUp ? Math.ceil((value * total) / 100) : Math.floor((value * total) / 100);
}

/**
 * maxSurge and maxUnavailable resolved together (upstream's
 * `ResolveFenceposts`): absent values count as 0, and when both come out
 * 0 (maxUnavailable may round down to it) maxUnavailable becomes 1, so a
 * rollout can always move.
 */
export function resolveFenceposts(maxSurge: IntOrString | undefined, maxUnavailable: IntOrString | undefined, desired: number): [surge: number, unavailable: number] {
  const surge = scaledValueFromIntOrPercent(maxSurge ?? 0, desired, true);
  let unavailable = scaledValueFromIntOrPercent(maxUnavailable ?? 0, desired, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return [surge, unavailable];
}

/** Like {@link resolveFenceposts} but zeros on invalid values, as upstream's callers ("error caught by validation"). */
function fenceposts(d: Deployment): [number, number] {
  const ru = d.spec?.strategy?.rollingUpdate;
  try {
    return resolveFenceposts(ru?.maxSurge, ru?.maxUnavailable, specReplicas(d));
  } catch {
    return [0, 0];
  }
}

/** The pods a rolling Deployment may have unavailable, never more than spec.replicas (upstream's `MaxUnavailable`). */
export function maxUnavailable(d: Deployment): number {
  const replicas = specReplicas(d);
  if (!isRollingUpdate(d) || replicas === 0) return 0;
  const [, unavailable] = fenceposts(d);
  return Math.min(unavailable, replicas);
}

/** The pods a rolling Deployment must keep available (upstream's `MinAvailable`). */
export function minAvailable(d: Deployment): number {
  if (!isRollingUpdate(d)) return 0;
  return specReplicas(d) - maxUnavailable(d);
}

/** The pods a rolling Deployment may run above spec.replicas (upstream's `MaxSurge`). */
export function maxSurge(d: Deployment): number {
  if (!isRollingUpdate(d)) return 0;
  const [surge] = fenceposts(d);
  return surge;
}

/** Sum of spec.replicas (upstream's `GetReplicaCountForReplicaSets`). */
export function replicaCount(replicaSets: readonly (ReplicaSet | undefined)[]): number {
  let n = 0;
  for (const rs of replicaSets) if (rs) n += specReplicas(rs);
  return n;
}

/** Sum of status.replicas (upstream's `GetActualReplicaCountForReplicaSets`). */
export function actualReplicaCount(replicaSets: readonly (ReplicaSet | undefined)[]): number {
  let n = 0;
  for (const rs of replicaSets) if (rs) n += rs.status?.replicas ?? 0;
  return n;
}

/** Sum of status.readyReplicas (upstream's `GetReadyReplicaCountForReplicaSets`). */
export function readyReplicaCount(replicaSets: readonly (ReplicaSet | undefined)[]): number {
  let n = 0;
  for (const rs of replicaSets) if (rs) n += rs.status?.readyReplicas ?? 0;
  return n;
}

/** Sum of status.availableReplicas (upstream's `GetAvailableReplicaCountForReplicaSets`). */
export function availableReplicaCount(replicaSets: readonly (ReplicaSet | undefined)[]): number {
  let n = 0;
  for (const rs of replicaSets) if (rs) n += rs.status?.availableReplicas ?? 0;
  return n;
}

/**
 * The size the new ReplicaSet should have now (upstream's
 * `NewRSNewReplicas`): for RollingUpdate as many more as maxSurge leaves
 * room for, up to spec.replicas; for Recreate spec.replicas. With no old
 * ReplicaSets that is the full size at once.
 */
export function newRSNewReplicas(d: Deployment, allRSs: readonly (ReplicaSet | undefined)[], newRS: ReplicaSet): number {
  const replicas = specReplicas(d);
  switch (d.spec?.strategy?.type) {
    case ROLLING_UPDATE: {
      const surge = scaledValueFromIntOrPercent(d.spec?.strategy?.rollingUpdate?.maxSurge, replicas, true);
      const currentPodCount = replicaCount(allRSs);
      const maxTotalPods = replicas + surge;
      if (currentPodCount >= maxTotalPods) return specReplicas(newRS);
      const scaleUpCount = Math.min(maxTotalPods - currentPodCount, replicas - specReplicas(newRS));
      return specReplicas(newRS) + scaleUpCount;
    }
    case RECREATE:
      return replicas;
    default:
      throw new Error(`deployment type ${d.spec?.strategy?.type ?? ""} isn't supported`);
  }
}
