/**
 * What a Service port needs from any proxy backend, decided once as
 * upstream's proxiers do (pkg/proxy/{nftables,iptables}/proxier.go share
 * these decisions): which endpoints the Cluster and Local traffic policies
 * use, whether internal and external traffic has somewhere to go, and
 * what happens to it when not (reject or drop). The nftables renderer
 * (rules.ts) turns this into chains and map elements, the iptables one
 * (iptables-rules.ts) into upstream's SVC/SVL/EXT/FW/SEP chains.
 */
import type { Service, ServicePort } from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";
import { ipToNumber } from "../../machinery/cidr.js";
import { categorizeEndpoints, endpointsForPort, type ProxyEndpoint } from "./endpoints.js";
import type { ServicePortName } from "./names.js";

/** What happens to traffic that has no endpoint to go to. */
export type NoEndpointVerdict = "reject" | "drop";

/** One Service port as every backend sees it. */
export interface ServicePortModel {
  readonly name: ServicePortName;
  readonly clusterIP: string;
  readonly port: number;
  /** 0 when none. */
  readonly nodePort: number;
  readonly externalIPs: readonly string[];
  /** status.loadBalancer.ingress IPs, except those in `Proxy` ipMode. */
  readonly loadBalancerIPs: readonly string[];
  readonly loadBalancerSourceRanges: readonly string[];
  /** ClientIP affinity timeout in seconds, undefined without affinity. */
  readonly affinityTimeoutSeconds?: number;
  readonly internalLocal: boolean;
  readonly externalLocal: boolean;
  readonly externallyAccessible: boolean;
  /** Endpoints of the Cluster policy (empty when unused). */
  readonly clusterEndpoints: readonly ProxyEndpoint[];
  /** Endpoints of the Local policy (empty when unused). */
  readonly localEndpoints: readonly ProxyEndpoint[];
  /** Every endpoint some chain sends to. */
  readonly reachableEndpoints: readonly ProxyEndpoint[];
  /** Any usable endpoint anywhere. */
  readonly hasEndpoints: boolean;
  /** ClusterIP traffic has an endpoint under its policy. */
  readonly hasInternalEndpoints: boolean;
  /** NodePort/external/LB traffic has an endpoint under its policy. */
  readonly hasExternalEndpoints: boolean;
  /** Set when ClusterIP traffic has nowhere to go. */
  readonly internalVerdict?: NoEndpointVerdict;
  /** Set when external traffic has nowhere to go. */
  readonly externalVerdict?: NoEndpointVerdict;
}

/** What the model depends on besides the Service and its EndpointSlices. */
export interface ModelContext {
  /** Endpoints with this `nodeName` are local. */
  readonly nodeName: string;
}

export function isIPv4(ip: string | undefined): ip is string {
  return ip !== undefined && ipToNumber(ip) !== undefined;
}

/** The Service's IPv4 ClusterIP (the primary one, or the IPv4 one of a dual-stack Service). */
export function ipv4ClusterIP(svc: Service): string | undefined {
  const ips = svc.spec?.clusterIPs ?? (svc.spec?.clusterIP ? [svc.spec.clusterIP] : []);
  return ips.find(isIPv4);
}

/**
 * Why a Service gets no rules, or undefined when it does: headless and
 * ExternalName Services have nothing to proxy; this proxy programs the IPv4
 * family only.
 */
export function skipReason(svc: Service): string | undefined {
  if (svc.spec?.type === "ExternalName") return "ExternalName";
  const ip = svc.spec?.clusterIP;
  if (ip === undefined || ip === "" || ip === "None") return "headless";
  if (ipv4ClusterIP(svc) === undefined) return `no IPv4 clusterIP (${ip}): this proxy programs the IPv4 family only`;
  return undefined;
}

/** The model of every port of `svc` (none for a skipped Service). */
export function serviceModel(svc: Service, slices: Iterable<EndpointSlice>, ctx: ModelContext): ServicePortModel[] {
  if (skipReason(svc) !== undefined) return [];
  const list = [...slices];
  return (svc.spec?.ports ?? []).map((p) => servicePortModel(svc, p, list, ctx));
}

function servicePortModel(svc: Service, port: ServicePort, slices: EndpointSlice[], ctx: ModelContext): ServicePortModel {
  const spec = svc.spec ?? {};
  const protocolUpper = port.protocol ?? "TCP";
  const name: ServicePortName = {
    namespace: svc.metadata?.namespace ?? "",
    name: svc.metadata?.name ?? "",
    port: port.name ?? "",
    protocol: protocolUpper.toLowerCase(),
  };
  const externalIPs = (spec.externalIPs ?? []).filter(isIPv4);
  // Load-balancer IPs in "Proxy" mode are reached through the load balancer, never directly (upstream's LoadBalancerVIPs).
  const loadBalancerIPs = (svc.status?.loadBalancer?.ingress ?? []).flatMap((i) => (isIPv4(i.ip) && i.ipMode !== "Proxy" ? [i.ip] : []));
  const nodePort = port.nodePort ?? 0;
  const externallyAccessible = nodePort !== 0 || externalIPs.length > 0 || loadBalancerIPs.length > 0;
  const internalLocal = spec.internalTrafficPolicy === "Local";
  const externalLocal = externallyAccessible && spec.externalTrafficPolicy === "Local";
  const cat = categorizeEndpoints(endpointsForPort(slices, port.name ?? "", protocolUpper, ctx.nodeName), { internalLocal, externalLocal, externallyAccessible });
  const hasEndpoints = cat.hasAny;
  const hasInternalEndpoints = hasEndpoints && (!internalLocal || cat.local.length > 0);
  const hasExternalEndpoints = hasEndpoints && (!externalLocal || cat.local.length > 0);
  // No endpoint at all: rejected. A Local policy without a local endpoint: dropped, as upstream.
  const verdict = (has: boolean): NoEndpointVerdict | undefined => (!hasEndpoints ? "reject" : has ? undefined : "drop");
  const internalVerdict = verdict(hasInternalEndpoints);
  const externalVerdict = verdict(hasExternalEndpoints);
  const affinityTimeoutSeconds = spec.sessionAffinity === "ClientIP" ? (spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800) : undefined;
  return {
    name,
    clusterIP: ipv4ClusterIP(svc) as string,
    port: port.port,
    nodePort,
    externalIPs,
    loadBalancerIPs,
    loadBalancerSourceRanges: (spec.loadBalancerSourceRanges ?? []).map((r) => r.trim()),
    ...(affinityTimeoutSeconds !== undefined ? { affinityTimeoutSeconds } : {}),
    internalLocal,
    externalLocal,
    externallyAccessible,
    clusterEndpoints: cat.cluster,
    localEndpoints: cat.local,
    reachableEndpoints: cat.allReachable,
    hasEndpoints,
    hasInternalEndpoints,
    hasExternalEndpoints,
    ...(internalVerdict !== undefined ? { internalVerdict } : {}),
    ...(externalVerdict !== undefined ? { externalVerdict } : {}),
  };
}
