/**
 * The Service fields the registry reads, typed loosely (objects arrive as
 * JSON), and upstream's small predicates over them
 * (pkg/api/service/util.go, registry/core/service/storage).
 */
import type { KObject } from "../registry/types.js";

export interface ServicePortJSON {
  name?: string;
  protocol?: string;
  appProtocol?: string;
  port?: number;
  targetPort?: number | string;
  nodePort?: number;
  [field: string]: unknown;
}

export interface ServiceSpecJSON {
  type?: string;
  clusterIP?: string;
  clusterIPs?: string[];
  ipFamilies?: string[];
  ipFamilyPolicy?: string;
  ports?: ServicePortJSON[];
  selector?: Record<string, string>;
  externalName?: string;
  externalIPs?: string[];
  sessionAffinity?: string;
  sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } };
  externalTrafficPolicy?: string;
  internalTrafficPolicy?: string;
  healthCheckNodePort?: number;
  allocateLoadBalancerNodePorts?: boolean;
  loadBalancerClass?: string;
  loadBalancerSourceRanges?: string[];
  trafficDistribution?: string;
  [field: string]: unknown;
}

export const NONE = "None";

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** The spec of a Service object, created empty when missing. */
export function specOf(o: KObject): ServiceSpecJSON {
  if (!isObj(o.spec)) o.spec = {};
  return o.spec as ServiceSpecJSON;
}

/** The ports list (never undefined; non-object entries read as empty ports). */
export function portsOf(spec: ServiceSpecJSON): ServicePortJSON[] {
  if (!Array.isArray(spec.ports)) return [];
  return spec.ports.map((p) => (isObj(p) ? (p as ServicePortJSON) : ({} as ServicePortJSON)));
}

/** A number field, or 0 when absent or not a number (Go's zero value). */
export const num = (v: unknown): number => (typeof v === "number" ? v : 0);
/** A string field, or "" when absent. */
export const str = (v: unknown): string => (typeof v === "string" ? v : "");
/** A string list field, or undefined when absent. */
export const strs = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.map((x) => String(x)) : undefined);

/** Every type but ExternalName has cluster IPs ("None" counts as a value). */
export const needsClusterIP = (s: ServiceSpecJSON): boolean => s.type !== "ExternalName";
export const needsNodePort = (s: ServiceSpecJSON): boolean => s.type === "NodePort" || s.type === "LoadBalancer";
/** upstream's `isHeadlessService`: clusterIPs is exactly ["None"]. */
export const isHeadless = (s: ServiceSpecJSON): boolean => Array.isArray(s.clusterIPs) && s.clusterIPs.length === 1 && s.clusterIPs[0] === NONE;
/** `ExternallyAccessible`: NodePort, LoadBalancer, or ClusterIP with external IPs. */
export const externallyAccessible = (s: ServiceSpecJSON): boolean =>
  s.type === "LoadBalancer" || s.type === "NodePort" || (s.type === "ClusterIP" && Array.isArray(s.externalIPs) && s.externalIPs.length > 0);
/** `NeedsHealthCheck`: a LoadBalancer with externalTrafficPolicy Local gets a healthCheckNodePort. */
export const needsHealthCheck = (s: ServiceSpecJSON): boolean => s.type === "LoadBalancer" && s.externalTrafficPolicy === "Local";
/** `shouldAllocateNodePorts`: NodePort always, LoadBalancer unless allocateLoadBalancerNodePorts is false. */
export const shouldAllocateNodePorts = (s: ServiceSpecJSON): boolean =>
  s.type === "NodePort" || (s.type === "LoadBalancer" && s.allocateLoadBalancerNodePorts !== false);

/** NodePorts in use by a Service, its healthCheckNodePort included (upstream's collectServiceNodePorts). */
export function collectNodePorts(s: ServiceSpecJSON): number[] {
  const out: number[] = [];
  for (const p of portsOf(s)) if (num(p.nodePort) !== 0) out.push(num(p.nodePort));
  if (num(s.healthCheckNodePort) !== 0) out.push(num(s.healthCheckNodePort));
  return out;
}

const sameList = (a: readonly unknown[] | undefined, b: readonly unknown[] | undefined): boolean =>
  (a?.length ?? 0) === (b?.length ?? 0) && (a ?? []).every((v, i) => v === (b ?? [])[i]);

export const sameClusterIPs = (a: ServiceSpecJSON, b: ServiceSpecJSON): boolean => sameList(a.clusterIPs, b.clusterIPs);
export const sameIPFamilies = (a: ServiceSpecJSON, b: ServiceSpecJSON): boolean => sameList(a.ipFamilies, b.ipFamilies);
