/**
 * The nftables rules of one Service, as upstream kube-proxy's nftables mode
 * writes them (pkg/proxy/nftables/proxier.go syncProxyRules): per port a
 * `service-` (Cluster policy) and/or `local-` (Local policy) chain load
 * balancing with `numgen random mod N vmap` over `endpoint-` chains that
 * mark hairpin traffic for masquerade and DNAT; an `external-` chain for
 * NodePort, external IPs and load-balancer IPs; a `firewall-` chain for
 * `loadBalancerSourceRanges`; elements of the shared verdict maps; per
 * endpoint affinity sets for `sessionAffinity: ClientIP`.
 *
 * The decisions come from the backend-neutral {@link ServicePortModel}
 * (model.ts); this file only spells them in nft. The result is a plain value
 * so the proxier can diff the last applied rules of a Service against new
 * ones and send only the difference.
 */
import type { Service } from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";
import { cidrContainsIp, ipToNumber, tryParseCidr } from "../../machinery/cidr.js";
import { endpointString, type ProxyEndpoint } from "./endpoints.js";
import { type ModelContext, type NoEndpointVerdict, type ServicePortModel, serviceModel } from "./model.js";
import { endpointChainBase, servicePortChainBase, servicePortNameString } from "./names.js";

/** Chains every table has (upstream's names). */
export const MARK_MASQ_CHAIN = "mark-for-masquerade";
export const REJECT_CHAIN = "reject-chain";
/** The masquerade mark (upstream's default --masquerade-bit 14). */
export const MASQUERADE_MARK = "0x4000";

/** The sets and verdict maps whose elements services own. */
export const ELEMENT_MAPS = ["cluster-ips", "service-ips", "service-nodeports", "no-endpoint-services", "no-endpoint-nodeports", "firewall-ips"] as const;
export type ElementMapName = (typeof ELEMENT_MAPS)[number];

/** One set or map element: the verdict (`""` in a plain set) and a comment. */
export interface MapElement {
  readonly value: string;
  readonly comment?: string;
}

/** Everything one Service contributes to the table. */
export interface ServiceRules {
  /** Chain name → its rules, in order. */
  readonly chains: Map<string, readonly string[]>;
  /** Set name → its declaration body (`type …; flags …; timeout …;`). */
  readonly sets: Map<string, string>;
  /** Map name → element key → element. */
  readonly elements: Map<ElementMapName, Map<string, MapElement>>;
}

/** What the rules depend on besides the Service and its EndpointSlices. */
export interface RuleContext extends ModelContext {
  /** This node's IPs (for `loadBalancerSourceRanges` that include the node). */
  readonly nodeIPs: readonly string[];
  /** Traffic to a ClusterIP from outside it is masqueraded (upstream's --cluster-cidr local detector). */
  readonly clusterCidr: string;
}

/** An empty contribution (headless, ExternalName, deleted). */
export function emptyRules(): ServiceRules {
  return { chains: new Map(), sets: new Map(), elements: new Map() };
}

/** The rules of `svc` given its EndpointSlices. */
export function buildServiceRules(svc: Service, slices: Iterable<EndpointSlice>, ctx: RuleContext): ServiceRules {
  return rulesFromModels(serviceModel(svc, slices, ctx), ctx);
}

/** The rules of one Service's port models. */
export function rulesFromModels(models: readonly ServicePortModel[], ctx: RuleContext): ServiceRules {
  const rules = emptyRules();
  for (const m of models) addServicePort(rules, m, ctx);
  return rules;
}

function addElement(rules: ServiceRules, map: ElementMapName, key: string, el: MapElement): void {
  let m = rules.elements.get(map);
  if (m === undefined) {
    m = new Map();
    rules.elements.set(map, m);
  }
  m.set(key, el);
}

function addServicePort(rules: ServiceRules, m: ServicePortModel, ctx: RuleContext): void {
  const spn = m.name;
  const proto = spn.protocol;
  const clusterIP = m.clusterIP;
  const base = servicePortChainBase(spn);
  const clusterPolicyChain = `service-${base}`;
  const localPolicyChain = `local-${base}`;
  const externalChain = `external-${base}`;
  const firewallChain = `firewall-${base}`;
  const { externalIPs, nodePort, externalLocal, hasEndpoints, hasInternalEndpoints, hasExternalEndpoints } = m;
  const lbIPs = m.loadBalancerIPs;
  const affinity = m.affinityTimeoutSeconds !== undefined;

  const epChain = (e: ProxyEndpoint) => `endpoint-${endpointChainBase(spn, endpointString(e))}`;
  const affinitySet = (e: ProxyEndpoint) => `affinity-${endpointChainBase(spn, endpointString(e))}`;

  const usesClusterPolicyChain = m.clusterEndpoints.length > 0;
  const usesLocalPolicyChain = m.localEndpoints.length > 0;
  const internalPolicyChain = m.internalLocal ? localPolicyChain : clusterPolicyChain;
  const externalPolicyChain = externalLocal ? localPolicyChain : clusterPolicyChain;
  const usesExternalChain = hasEndpoints && m.externallyAccessible;
  const sourceRanges = m.loadBalancerSourceRanges;
  const usesFirewallChain = lbIPs.length > 0 && sourceRanges.length > 0;
  const nft = (v: NoEndpointVerdict | undefined) => (v === "reject" ? `goto ${REJECT_CHAIN}` : "drop");
  const internalVerdict = nft(m.internalVerdict);
  const externalVerdict = nft(m.externalVerdict);

  const key = (ip: string) => `${ip} . ${proto} . ${m.port}`;
  const comment = servicePortNameString(spn);
  addElement(rules, "cluster-ips", clusterIP, { value: "" });
  if (hasInternalEndpoints) addElement(rules, "service-ips", key(clusterIP), { value: `goto ${internalPolicyChain}`, comment });
  else addElement(rules, "no-endpoint-services", key(clusterIP), { value: internalVerdict, comment });
  for (const ip of externalIPs) {
    if (usesExternalChain) addElement(rules, "service-ips", key(ip), { value: `goto ${externalChain}`, comment });
    if (!hasExternalEndpoints) addElement(rules, "no-endpoint-services", key(ip), { value: externalVerdict, comment });
  }
  for (const ip of lbIPs) {
    if (usesFirewallChain) addElement(rules, "firewall-ips", key(ip), { value: `goto ${firewallChain}`, comment });
    if (usesExternalChain) addElement(rules, "service-ips", key(ip), { value: `goto ${externalChain}`, comment });
    if (!hasExternalEndpoints) addElement(rules, "no-endpoint-services", key(ip), { value: externalVerdict, comment });
  }
  if (nodePort !== 0) {
    const npKey = `${proto} . ${nodePort}`;
    if (usesExternalChain) addElement(rules, "service-nodeports", npKey, { value: `goto ${externalChain}`, comment });
    if (!hasExternalEndpoints) addElement(rules, "no-endpoint-nodeports", npKey, { value: externalVerdict, comment });
  }

  if (usesFirewallChain) {
    const sources = [...sourceRanges];
    const allowFromNode = sourceRanges.some((r) => {
      const c = tryParseCidr(r.trim());
      return typeof c !== "string" && ctx.nodeIPs.some((ip) => {
        const n = ipToNumber(ip);
        return n !== undefined && cidrContainsIp(c, n);
      });
    });
    // A node reaching its own load-balancer IP comes back with that IP as source (upstream's comment on VIP-like LBs).
    if (allowFromNode) sources.push(...lbIPs);
    rules.chains.set(firewallChain, [`ip saddr != { ${sources.map((s) => s.trim()).join(", ")} } drop`]);
  }

  // The cluster and local policy chains; the clusterIP's masquerade rule goes first in the internal one.
  const policyChain = (name: string, eps: readonly ProxyEndpoint[]) => {
    const r: string[] = [];
    if (hasInternalEndpoints && name === internalPolicyChain) {
      r.push(`ip daddr ${clusterIP} ${proto} dport ${m.port} ip saddr != ${ctx.clusterCidr} jump ${MARK_MASQ_CHAIN}`);
    }
    if (affinity) for (const e of eps) r.push(`ip saddr @${affinitySet(e)} goto ${epChain(e)}`);
    r.push(`numgen random mod ${eps.length} vmap { ${eps.map((e, i) => `${i} : goto ${epChain(e)}`).join(", ")} }`);
    rules.chains.set(name, r);
  };
  if (usesClusterPolicyChain) policyChain(clusterPolicyChain, m.clusterEndpoints);
  if (usesLocalPolicyChain) policyChain(localPolicyChain, m.localEndpoints);

  if (usesExternalChain) {
    const r: string[] = [];
    if (!externalLocal) {
      // Endpoints may be on other nodes: masquerade so replies come back through this node.
      r.push(`jump ${MARK_MASQ_CHAIN}`);
    } else if (usesClusterPolicyChain) {
      // Pods reaching an external address are treated as going out to a load balancer and back: Cluster policy.
      r.push(`ip saddr ${ctx.clusterCidr} goto ${clusterPolicyChain} comment "short-circuit pod traffic"`);
      r.push(`fib saddr type local jump ${MARK_MASQ_CHAIN} comment "masquerade local traffic"`);
      r.push(`fib saddr type local goto ${clusterPolicyChain} comment "short-circuit local traffic"`);
    }
    if (hasExternalEndpoints) r.push(`goto ${externalPolicyChain}`);
    rules.chains.set(externalChain, r);
  }

  for (const e of m.reachableEndpoints) {
    const r = [`ip saddr ${e.ip} jump ${MARK_MASQ_CHAIN}`];
    if (affinity) {
      rules.sets.set(affinitySet(e), `type ipv4_addr; flags dynamic,timeout; timeout ${m.affinityTimeoutSeconds}s;`);
      r.push(`update @${affinitySet(e)} { ip saddr }`);
    }
    r.push(`meta l4proto ${proto} dnat to ${endpointString(e)}`);
    rules.chains.set(epChain(e), r);
  }

}
