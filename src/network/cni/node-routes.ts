/**
 * The node-level routes that keep cluster traffic on the machine
 * (DESIGN.md §5): the service CIDR goes to an empty local bridge (the host's
 * connections to a ClusterIP still pass the proxy's DNAT; anything unmatched
 * dies here), the cluster CIDR is `unreachable` so only this node's /24
 * (the pod bridge's connected route, more specific) and other nodes' /24s
 * (routes via their node IPs, added here for multi-node) are reachable.
 * Pod-to-pod traffic between nodes keeps its source address (the Kubernetes
 * network model: no NAT between pods), as flannel's RETURN rule does ahead
 * of the bridge plugin's masquerade.
 */
import { type Cidr, formatCidr, ipToNumber, tryParseCidr } from "../../machinery/cidr.js";
import type { Logger } from "../../machinery/log.js";
import { describeFailure, runCommand } from "./exec.js";
import { ensureBridge, ip, setSysctl, sysctlExists } from "./host-net.js";
import { ensureServiceGuard } from "./service-guard.js";

/** What the safety routes are made of. */
export interface NodeSafetyParams {
  readonly clusterCidr: string;
  readonly serviceCidr: string;
  /** The empty bridge the service CIDR is routed to. */
  readonly serviceBridge: string;
  /** The nft table rejecting unmatched service traffic (see service-guard.ts). */
  readonly guardTable: string;
  readonly logger: Logger;
}

/**
 * Installs the safety routes, the service guard and the sysctls pods need
 * (`net.ipv4.ip_forward=1`; `net.bridge.bridge-nf-call-iptables=1` when
 * br_netfilter is there, so Service DNAT applies between pods on one
 * bridge). Idempotent. Resolves with an error message when the node is not
 * safe to run pods on.
 */
export async function ensureNodeSafety(p: NodeSafetyParams): Promise<string | undefined> {
  const cluster = tryParseCidr(p.clusterCidr);
  if (typeof cluster === "string") return `cluster CIDR: ${cluster}`;
  const service = tryParseCidr(p.serviceCidr);
  if (typeof service === "string") return `service CIDR: ${service}`;
  const bridgeErr = await ensureBridge(p.serviceBridge);
  if (bridgeErr !== undefined) return `service CIDR bridge ${p.serviceBridge}: ${bridgeErr}`;
  const svcErr = await ip(["route", "replace", formatCidr(service), "dev", p.serviceBridge]);
  if (svcErr !== undefined) return svcErr;
  const clusterErr = await ip(["route", "replace", "unreachable", formatCidr(cluster)]);
  if (clusterErr !== undefined) return clusterErr;
  const guardErr = await ensureServiceGuard(p.guardTable, formatCidr(service));
  // The route alone keeps the traffic here; without the guard a connect waits out ARP instead of failing at once.
  if (guardErr !== undefined) p.logger.warn("cannot install the service CIDR reject rules; unmatched ClusterIP connections will time out instead of failing at once", { error: guardErr });
  const noMasqErr = await ensurePodToPodNoMasq(formatCidr(cluster));
  // Without it pods still reach each other, only masqueraded to the node's address.
  if (noMasqErr !== undefined) p.logger.warn("cannot exempt pod-to-pod traffic from masquerading; pods on other nodes see this node's address", { error: noMasqErr });
  const fwd = setSysctl("net.ipv4.ip_forward", "1");
  if (fwd.error !== undefined) return fwd.error;
  if (fwd.changed) p.logger.info("enabled IPv4 forwarding for pod traffic", { sysctl: "net.ipv4.ip_forward=1" });
  if (sysctlExists("net.bridge.bridge-nf-call-iptables")) {
    const nf = setSysctl("net.bridge.bridge-nf-call-iptables", "1");
    if (nf.error !== undefined) return nf.error;
    if (nf.changed) p.logger.info("enabled netfilter on bridged traffic", { sysctl: "net.bridge.bridge-nf-call-iptables=1" });
  } else {
    p.logger.warn("br_netfilter is not loaded: traffic between pods on one bridge bypasses Service rules (load it with `modprobe br_netfilter`)");
  }
  return undefined;
}

function parseRoute(cidr: string, nodeIp: string): { dst: Cidr; via: string } | string {
  const dst = tryParseCidr(cidr);
  if (typeof dst === "string") return dst;
  if (ipToNumber(nodeIp) === undefined) return `invalid node IP ${JSON.stringify(nodeIp)}: must be an IPv4 address`;
  return { dst, via: nodeIp };
}

/** Routes another node's podCIDR via its node IP (`ip route replace CIDR via IP`). */
export async function replaceNodeRoute(podCidr: string, nodeIp: string): Promise<string | undefined> {
  const r = parseRoute(podCidr, nodeIp);
  if (typeof r === "string") return r;
  return ip(["route", "replace", formatCidr(r.dst), "via", r.via]);
}

/** Removes the route to another node's podCIDR; succeeds when it is not there. */
export async function deleteNodeRoute(podCidr: string, nodeIp: string): Promise<string | undefined> {
  const r = parseRoute(podCidr, nodeIp);
  if (typeof r === "string") return r;
  const err = await ip(["route", "del", formatCidr(r.dst), "via", r.via]);
  return err !== undefined && /No such process/.test(err) ? undefined : err;
}

/** The comment on the pod-to-pod RETURN rule (how cleanup and readers recognise it). */
export const NO_MASQ_COMMENT = "skiff: pod to pod without NAT";

/** The nat POSTROUTING rule (without the -I/-C/-D verb) that lets pod-to-pod traffic skip masquerading. */
export function podToPodNoMasqRule(clusterCidr: string): string[] {
  return ["POSTROUTING", "-s", clusterCidr, "-d", clusterCidr, "-m", "comment", "--comment", NO_MASQ_COMMENT, "-j", "RETURN"];
}

/** Puts the pod-to-pod RETURN rule first in nat POSTROUTING (before the plugins' masquerade jumps) unless it is there. */
export async function ensurePodToPodNoMasq(clusterCidr: string): Promise<string | undefined> {
  const rule = podToPodNoMasqRule(clusterCidr);
  const check = await runCommand("iptables", ["-w", "-t", "nat", "-C", ...rule]);
  if (check.code === 0) return undefined;
  const args = ["-w", "-t", "nat", "-I", rule[0]!, "1", ...rule.slice(1)];
  const o = await runCommand("iptables", args);
  return o.code === 0 ? undefined : describeFailure("iptables", args, o);
}

/** Removes the pod-to-pod RETURN rule; succeeds when it is not there. */
export async function deletePodToPodNoMasq(clusterCidr: string): Promise<string | undefined> {
  const rule = podToPodNoMasqRule(clusterCidr);
  for (;;) {
    const check = await runCommand("iptables", ["-w", "-t", "nat", "-C", ...rule]);
    if (check.code !== 0) return undefined;
    const args = ["-w", "-t", "nat", "-D", ...rule];
    const o = await runCommand("iptables", args);
    if (o.code !== 0) return describeFailure("iptables", args, o);
  }
}
