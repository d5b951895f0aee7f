/**
 * The node lifecycle controller's settings, as kube-controller-manager's
 * flags, with upstream's defaults and checks. Timings are settings so that
 * tests shorten them by configuration.
 */

/** Node lifecycle timings and eviction rates. */
export interface NodeLifecycleSettings {
  /** How often node health is checked (`--node-monitor-period`, 5 s). */
  readonly nodeMonitorPeriodMs: number;
  /** Silence after which a node's conditions become Unknown (`--node-monitor-grace-period`, 50 s). */
  readonly nodeMonitorGracePeriodMs: number;
  /** The same for a node that never posted a Ready condition (`--node-startup-grace-period`, 60 s). */
  readonly nodeStartupGracePeriodMs: number;
  /** Nodes per second tainted NoExecute in a healthy zone (`--node-eviction-rate`, 0.1). */
  readonly nodeEvictionRate: number;
  /** The same in a partially disrupted large zone (`--secondary-node-eviction-rate`, 0.01). */
  readonly secondaryNodeEvictionRate: number;
  /** Zones up to this size stop evicting when partially disrupted (`--large-cluster-size-threshold`, 50). */
  readonly largeClusterSizeThreshold: number;
  /** Share of NotReady nodes (of more than two) that makes a zone partially disrupted (`--unhealthy-zone-threshold`, 0.55). */
  readonly unhealthyZoneThreshold: number;
}

export const DEFAULT_NODE_LIFECYCLE_SETTINGS: NodeLifecycleSettings = Object.freeze({
  nodeMonitorPeriodMs: 5_000,
  nodeMonitorGracePeriodMs: 50_000,
  nodeStartupGracePeriodMs: 60_000,
  nodeEvictionRate: 0.1,
  secondaryNodeEvictionRate: 0.01,
  largeClusterSizeThreshold: 50,
  unhealthyZoneThreshold: 0.55,
});

/** Upstream's default `--terminated-pod-gc-threshold`. */
export const DEFAULT_TERMINATED_POD_GC_THRESHOLD = 12_500;

/** `given` over the defaults; throws a message naming the flag of a value out of range. */
export function resolveNodeLifecycleSettings(given: Partial<NodeLifecycleSettings> = {}): NodeLifecycleSettings {
  const s: NodeLifecycleSettings = { ...DEFAULT_NODE_LIFECYCLE_SETTINGS, ...definedOnly(given) };
  const positive = (v: number, flag: string) => {
    if (!(Number.isFinite(v) && v > 0)) throw new Error(`${flag} must be greater than 0, not ${v}`);
  };
  const nonNegative = (v: number, flag: string) => {
    if (!(Number.isFinite(v) && v >= 0)) throw new Error(`${flag} must be 0 or more, not ${v}`);
  };
  positive(s.nodeMonitorPeriodMs, "--node-monitor-period");
  positive(s.nodeMonitorGracePeriodMs, "--node-monitor-grace-period");
  positive(s.nodeStartupGracePeriodMs, "--node-startup-grace-period");
  nonNegative(s.nodeEvictionRate, "--node-eviction-rate");
  nonNegative(s.secondaryNodeEvictionRate, "--secondary-node-eviction-rate");
  if (!(Number.isInteger(s.largeClusterSizeThreshold) && s.largeClusterSizeThreshold >= 0)) {
    throw new Error(`--large-cluster-size-threshold must be a whole number >= 0, not ${s.largeClusterSizeThreshold}`);
  }
  if (!(s.unhealthyZoneThreshold >= 0 && s.unhealthyZoneThreshold <= 1)) {
    throw new Error(`--unhealthy-zone-threshold must be between 0 and 1, not ${s.unhealthyZoneThreshold}`);
  }
  return s;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
