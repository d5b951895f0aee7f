/**
 * Which endpoints a Service port sends traffic to, as upstream's
 * pkg/proxy/topology.go CategorizeEndpoints: ready endpoints first,
 * serving-and-terminating ones only when no ready endpoint is left, and
 * node-local ones for the `Local` traffic policies.
 */
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";

/** One endpoint of a Service port. */
export interface ProxyEndpoint {
  readonly ip: string;
  readonly port: number;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  /** Whether it runs on this node (its `nodeName` is ours). */
  readonly local: boolean;
}

/** `ip:port`. */
export function endpointString(e: { ip: string; port: number }): string {
  return `${e.ip}:${e.port}`;
}

/**
 * The endpoints of one Service port (matched by port name and protocol)
 * across the Service's EndpointSlices; only IPv4 slices, only the first
 * address of each endpoint (as upstream), duplicates merged (a ready copy wins).
 */
export function endpointsForPort(slices: Iterable<EndpointSlice>, portName: string, protocol: string, nodeName: string): ProxyEndpoint[] {
  const byKey = new Map<string, ProxyEndpoint>();
  for (const slice of slices) {
    if (slice.addressType !== "IPv4") continue;
    const port = slice.ports?.find((p) => (p.name ?? "") === portName && (p.protocol ?? "TCP") === protocol);
    if (port?.port === undefined) continue;
    for (const ep of slice.endpoints ?? []) {
      const ip = ep.addresses?.[0];
      if (ip === undefined) continue;
      // API semantics: a nil `ready` means ready; a nil `serving` means the same as `ready`.
      const ready = ep.conditions?.ready ?? true;
      const e: ProxyEndpoint = {
        ip,
        port: port.port,
        ready,
        serving: ep.conditions?.serving ?? ready,
        terminating: ep.conditions?.terminating ?? false,
        local: ep.nodeName === nodeName,
      };
      const key = endpointString(e);
      const had = byKey.get(key);
      if (had === undefined || (!had.ready && e.ready)) byKey.set(key, e);
    }
  }
  return [...byKey.values()].sort((a, b) => compareEndpoints(a, b));
}

function compareEndpoints(a: ProxyEndpoint, b: ProxyEndpoint): number {
  const s = endpointString(a);
  const t = endpointString(b);
  return s < t ? -1 : s > t ? 1 : 0;
}

/** The traffic policies that decide which endpoints are used. */
export interface TrafficPolicies {
  readonly internalLocal: boolean;
  readonly externalLocal: boolean;
  /** NodePort, external IPs or load-balancer IPs. */
  readonly externallyAccessible: boolean;
}

/** What {@link categorizeEndpoints} found. */
export interface CategorizedEndpoints {
  /** Used by the `Cluster` policy. */
  readonly cluster: ProxyEndpoint[];
  /** Used by the `Local` policy. */
  readonly local: ProxyEndpoint[];
  /** Every endpoint some chain of this port sends to. */
  readonly allReachable: ProxyEndpoint[];
  /** Whether any usable endpoint exists anywhere in the cluster. */
  readonly hasAny: boolean;
}

/** Upstream's CategorizeEndpoints, without topology hints. */
export function categorizeEndpoints(endpoints: readonly ProxyEndpoint[], p: TrafficPolicies): CategorizedEndpoints {
  // Externally reachable ports always need the Cluster endpoints: pods and the node itself are short-circuited to them.
  const usesCluster = !p.internalLocal || p.externallyAccessible;
  const usesLocal = p.internalLocal || (p.externallyAccessible && p.externalLocal);
  let cluster: ProxyEndpoint[] = [];
  let hasAny = false;
  if (usesCluster) {
    cluster = endpoints.filter((e) => e.ready);
    // No ready endpoint anywhere: fall back to those still serving while they terminate.
    if (cluster.length === 0) cluster = endpoints.filter((e) => e.serving && e.terminating);
    hasAny = cluster.length > 0;
  }
  if (!usesLocal) return { cluster, local: [], allReachable: cluster, hasAny };
  let localReady = false;
  let localServingTerminating = false;
  for (const e of endpoints) {
    if (e.ready) {
      hasAny = true;
      if (e.local) localReady = true;
    } else if (e.serving && e.terminating) {
      hasAny = true;
      if (e.local) localServingTerminating = true;
    }
  }
  let local: ProxyEndpoint[] = [];
  if (localReady) local = endpoints.filter((e) => e.local && e.ready);
  else if (localServingTerminating) local = endpoints.filter((e) => e.local && e.serving && e.terminating);
  if (!usesCluster) return { cluster, local, allReachable: local, hasAny };
  const all = new Map<string, ProxyEndpoint>();
  for (const e of [...cluster, ...local]) all.set(endpointString(e), e);
  return { cluster, local, allReachable: [...all.values()], hasAny };
}
