/**
 * What ServiceLB (k3s' klipper-lb) reports for a LoadBalancer Service on a
 * cluster without a cloud load balancer: the addresses of the nodes that
 * serve it, as `status.loadBalancer.ingress`. On skiff every node's service
 * proxy opens a LoadBalancer Service's ports on the node's addresses (the
 * ingress IPs are node IPs), so the nodes that serve are the Ready ones with
 * a routable address; simulated nodes (loopback addresses) never serve.
 */
import type { LoadBalancerIngress, Node, Service } from "kubernetes-types/core/v1.js";

/** k3s' node label that limits ServiceLB to some nodes once any node carries it. */
export const ENABLE_LB_LABEL = "svccontroller.k3s.cattle.io/enablelb";

/** True when this controller owns the Service's load balancer: type LoadBalancer with no other loadBalancerClass. */
export function servedByServiceLB(svc: Service): boolean {
  return svc.spec?.type === "LoadBalancer" && !svc.spec.loadBalancerClass && !svc.metadata?.deletionTimestamp;
}

function isReady(node: Node): boolean {
  return node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

function isLoopback(ip: string): boolean {
  return ip.startsWith("127.") || ip === "::1";
}

/** The address a node's load balancer answers on: its ExternalIP, else its InternalIP (k3s' choice), when routable. */
export function nodeLoadBalancerIP(node: Node): string | undefined {
  const addrs = node.status?.addresses ?? [];
  const ip = addrs.find((a) => a.type === "ExternalIP")?.address ?? addrs.find((a) => a.type === "InternalIP")?.address;
  return ip && !isLoopback(ip) ? ip : undefined;
}

/**
 * The ingress list for a Service ServiceLB serves: one entry per serving
 * node address, sorted and without duplicates (several nodes in one network
 * namespace share an address). Nodes being deleted, not Ready, or
 * unschedulable do not serve; when some node has {@link ENABLE_LB_LABEL}
 * `"true"`, only those do.
 */
export function desiredIngress(nodes: readonly Node[]): LoadBalancerIngress[] {
  const labelled = nodes.some((n) => n.metadata?.labels?.[ENABLE_LB_LABEL] === "true");
  const ips = new Set<string>();
  for (const n of nodes) {
    if (n.metadata?.deletionTimestamp || n.spec?.unschedulable || !isReady(n)) continue;
    if (labelled && n.metadata?.labels?.[ENABLE_LB_LABEL] !== "true") continue;
    const ip = nodeLoadBalancerIP(n);
    if (ip) ips.add(ip);
  }
  return [...ips].sort().map((ip) => ({ ip, ipMode: "VIP" }));
}

/** True when two ingress lists say the same thing (order included: {@link desiredIngress} sorts). */
export function sameIngress(a: readonly LoadBalancerIngress[] | undefined, b: readonly LoadBalancerIngress[]): boolean {
  const x = a ?? [];
  return x.length === b.length && x.every((e, i) => e.ip === b[i]!.ip && (e.hostname ?? "") === (b[i]!.hostname ?? "") && (e.ipMode ?? "VIP") === (b[i]!.ipMode ?? "VIP"));
}
