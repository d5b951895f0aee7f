/**
 * Zone health, as upstream's node lifecycle controller judges it: a zone
 * with no Ready node is fully disrupted, one with more than two NotReady
 * nodes making up at least `--unhealthy-zone-threshold` of it is partially
 * disrupted, any other is normal. The state picks the zone's eviction rate.
 */
import type { NodeCondition } from "kubernetes-types/core/v1.js";

export type ZoneState = "Initial" | "Normal" | "FullDisruption" | "PartialDisruption";

/** ComputeZoneState: the number of NotReady nodes and the zone's state. */
export function computeZoneState(readyConditions: readonly (NodeCondition | undefined)[], unhealthyZoneThreshold: number): { notReady: number; state: ZoneState } {
  let ready = 0;
  let notReady = 0;
  for (const c of readyConditions) {
    if (c?.status === "True") ready++;
    else notReady++;
  }
  if (ready === 0 && notReady > 0) return { notReady, state: "FullDisruption" };
  if (notReady > 2 && notReady / (notReady + ready) >= unhealthyZoneThreshold) return { notReady, state: "PartialDisruption" };
  return { notReady, state: "Normal" };
}

/** Eviction rates of {@link evictionQPS}. */
export interface EvictionRates {
  /** `--node-eviction-rate` (0.1 nodes/s). */
  readonly evictionRate: number;
  /** `--secondary-node-eviction-rate` (0.01 nodes/s). */
  readonly secondaryEvictionRate: number;
  /** `--large-cluster-size-threshold` (50). */
  readonly largeClusterThreshold: number;
}

/**
 * The tainting rate of a zone in `state` with `zoneSize` nodes
 * (setLimiterInZone with HealthyQPSFunc and ReducedQPSFunc): the normal
 * rate when healthy or fully disrupted, and when partially disrupted the
 * secondary rate in a large zone, none in a small one.
 */
export function evictionQPS(state: ZoneState, zoneSize: number, r: EvictionRates): number | undefined {
  switch (state) {
    case "Normal":
    case "FullDisruption":
      return r.evictionRate;
    case "PartialDisruption":
      return zoneSize > r.largeClusterThreshold ? r.secondaryEvictionRate : 0;
    default:
      return undefined;
  }
}
