/**
 * The iptables rules of one Service, as upstream kube-proxy's iptables mode
 * writes them (pkg/proxy/iptables/proxier.go syncProxyRules), from the same
 * backend-neutral {@link ServicePortModel} the nftables renderer uses: per
 * port a KUBE-SVC (Cluster policy) and/or KUBE-SVL (Local policy) chain
 * picking an endpoint with `statistic --mode random --probability`, a
 * KUBE-SEP chain per endpoint (hairpin masquerade mark, `recent` list for
 * ClientIP affinity, DNAT), KUBE-EXT for NodePort/external/load-balancer
 * traffic, KUBE-FW for `loadBalancerSourceRanges`; plus the rules this
 * Service adds to the shared chains (nat KUBE-SERVICES and KUBE-NODEPORTS;
 * filter KUBE-SERVICES, KUBE-EXTERNAL-SERVICES and KUBE-PROXY-FIREWALL for
 * traffic with no endpoint or from a source not allowed). Chain names carry
 * the node's prefix (iptables-names.ts). Rules are plain `-A CHAIN …` lines
 * so the backend can diff and restore them.
 */
import { cidrContainsIp, ipToNumber, tryParseCidr } from "../../machinery/cidr.js";
import { endpointString, type ProxyEndpoint } from "./endpoints.js";
import { endpointChain, type FixedChains, fixedChains, servicePortChains } from "./iptables-names.js";
import type { NoEndpointVerdict, ServicePortModel } from "./model.js";
import { servicePortNameString } from "./names.js";

/** What the rules depend on besides the models. */
export interface IptablesRuleContext {
  /** The node's chain prefix (`iptablesChainPrefix(bridge)`). */
  readonly prefix: string;
  /** This node's IPs (for `loadBalancerSourceRanges` that include the node). */
  readonly nodeIPs: readonly string[];
  /** Traffic to a ClusterIP from outside it is masqueraded (upstream's --cluster-cidr local detector). */
  readonly clusterCidr: string;
}

/** Everything one Service contributes, as iptables-restore lines. */
export interface IptablesServiceRules {
  /** Its own nat chains → their rules, in order. */
  readonly natChains: Map<string, readonly string[]>;
  /** Its rules in the shared chains, by table, in order. */
  readonly natShared: readonly string[];
  readonly filterShared: readonly string[];
}

export function emptyIptablesRules(): IptablesServiceRules {
  return { natChains: new Map(), natShared: [], filterShared: [] };
}

/** `"text"`: iptables-restore splits on blanks outside double quotes. */
export function quote(text: string): string {
  return `"${text.replace(/"/g, "")}"`;
}

/** Upstream's probability(n): 1/n with 10 decimals. */
export function probability(n: number): string {
  return (1 / n).toFixed(10);
}

/** The rules of one Service's port models. */
export function iptablesRulesFromModels(models: readonly ServicePortModel[], ctx: IptablesRuleContext): IptablesServiceRules {
  const out = { natChains: new Map<string, readonly string[]>(), natShared: [] as string[], filterShared: [] as string[] };
  const fixed = fixedChains(ctx.prefix);
  for (const m of models) addServicePort(out, m, ctx, fixed);
  return out;
}

function target(v: NoEndpointVerdict | undefined): string {
  return v === "drop" ? "DROP" : "REJECT";
}

function addServicePort(
  out: { natChains: Map<string, readonly string[]>; natShared: string[]; filterShared: string[] },
  m: ServicePortModel,
  ctx: IptablesRuleContext,
  fixed: FixedChains,
): void {
  const spn = servicePortNameString(m.name);
  const proto = m.name.protocol;
  const chains = servicePortChains(ctx.prefix, m.name);
  const epChain = (e: ProxyEndpoint) => endpointChain(ctx.prefix, m.name, endpointString(e));
  const { hasEndpoints, hasInternalEndpoints, hasExternalEndpoints, externalLocal } = m;
  const usesClusterPolicyChain = m.clusterEndpoints.length > 0;
  const usesLocalPolicyChain = m.localEndpoints.length > 0;
  const internalPolicyChain = m.internalLocal ? chains.svl : chains.svc;
  const externalPolicyChain = externalLocal ? chains.svl : chains.svc;
  const usesExternalChain = hasEndpoints && m.externallyAccessible;
  const usesFirewallChain = usesExternalChain && m.loadBalancerIPs.length > 0 && m.loadBalancerSourceRanges.length > 0;
  const lbTrafficChain = usesFirewallChain ? chains.fw : chains.ext;
  const dst = (ip: string, port: number) => `-m ${proto} -p ${proto} -d ${ip}/32 --dport ${port}`;
  // A Local policy with no local endpoint drops; no endpoint at all rejects (upstream's comments say which).
  const internalFilterComment = quote(`${spn} has ${m.internalVerdict === "drop" ? "no local endpoints" : "no endpoints"}`);
  const externalFilterComment = quote(`${spn} has ${m.externalVerdict === "drop" ? "no local endpoints" : "no endpoints"}`);
  const { natShared, filterShared, natChains } = out;

  // The ClusterIP.
  if (hasInternalEndpoints) {
    natShared.push(`-A ${fixed.nat.services} -m comment --comment ${quote(`${spn} cluster IP`)} ${dst(m.clusterIP, m.port)} -j ${internalPolicyChain}`);
  } else {
    filterShared.push(`-A ${fixed.filter.services} -m comment --comment ${internalFilterComment} ${dst(m.clusterIP, m.port)} -j ${target(m.internalVerdict)}`);
  }
  for (const ip of m.externalIPs) {
    if (hasEndpoints) natShared.push(`-A ${fixed.nat.services} -m comment --comment ${quote(`${spn} external IP`)} ${dst(ip, m.port)} -j ${chains.ext}`);
    if (!hasExternalEndpoints) {
      filterShared.push(`-A ${fixed.filter.externalServices} -m comment --comment ${externalFilterComment} ${dst(ip, m.port)} -j ${target(m.externalVerdict)}`);
    }
  }
  for (const ip of m.loadBalancerIPs) {
    if (hasEndpoints) natShared.push(`-A ${fixed.nat.services} -m comment --comment ${quote(`${spn} loadbalancer IP`)} ${dst(ip, m.port)} -j ${lbTrafficChain}`);
    // Whatever KUBE-FW did not let through was not DNATed and still has the load-balancer IP as destination.
    if (usesFirewallChain) {
      filterShared.push(`-A ${fixed.filter.proxyFirewall} -m comment --comment ${quote(`${spn} traffic not accepted by ${chains.fw}`)} ${dst(ip, m.port)} -j DROP`);
    }
    if (!hasExternalEndpoints) {
      filterShared.push(`-A ${fixed.filter.externalServices} -m comment --comment ${externalFilterComment} ${dst(ip, m.port)} -j ${target(m.externalVerdict)}`);
    }
  }
  if (m.nodePort !== 0) {
    if (hasEndpoints) natShared.push(`-A ${fixed.nat.nodePorts} -m comment --comment ${quote(spn)} -m ${proto} -p ${proto} --dport ${m.nodePort} -j ${chains.ext}`);
    if (!hasExternalEndpoints) {
      filterShared.push(
        `-A ${fixed.filter.externalServices} -m comment --comment ${externalFilterComment} -m addrtype --dst-type LOCAL -m ${proto} -p ${proto} --dport ${m.nodePort} -j ${target(m.externalVerdict)}`,
      );
    }
  }

  // The policy chains; the ClusterIP's masquerade rule (traffic from outside the pod network) leads the internal one.
  const policyChain = (name: string, eps: readonly ProxyEndpoint[]) => {
    const r: string[] = [];
    if (hasInternalEndpoints && name === internalPolicyChain) {
      r.push(`-A ${name} -m comment --comment ${quote(`${spn} cluster IP`)} ${dst(m.clusterIP, m.port)} ! -s ${ctx.clusterCidr} -j ${fixed.nat.markMasq}`);
    }
    if (m.affinityTimeoutSeconds !== undefined) {
      for (const e of eps) {
        r.push(`-A ${name} -m comment --comment ${quote(spn)} -m recent --name ${epChain(e)} --mask 255.255.255.255 --rsource --rcheck --seconds ${m.affinityTimeoutSeconds} --reap -j ${epChain(e)}`);
      }
    }
    eps.forEach((e, i) => {
      const stat = i < eps.length - 1 ? ` -m statistic --mode random --probability ${probability(eps.length - i)}` : "";
      r.push(`-A ${name} -m comment --comment ${quote(`${spn} -> ${endpointString(e)}`)}${stat} -j ${epChain(e)}`);
    });
    natChains.set(name, r);
  };
  if (usesClusterPolicyChain) policyChain(chains.svc, m.clusterEndpoints);
  if (usesLocalPolicyChain) policyChain(chains.svl, m.localEndpoints);

  if (usesExternalChain) {
    const r: string[] = [];
    const ext = chains.ext;
    if (!externalLocal) {
      // Endpoints may be on other nodes: masquerade so replies come back through this node.
      r.push(`-A ${ext} -m comment --comment ${quote(`masquerade traffic for ${spn} external destinations`)} -j ${fixed.nat.markMasq}`);
    } else {
      // Pods reaching an external address are treated as going out to a load balancer and back: Cluster policy.
      if (usesClusterPolicyChain) r.push(`-A ${ext} -m comment --comment ${quote(`pod traffic for ${spn} external destinations`)} -s ${ctx.clusterCidr} -j ${chains.svc}`);
      r.push(`-A ${ext} -m comment --comment ${quote(`masquerade LOCAL traffic for ${spn} external destinations`)} -m addrtype --src-type LOCAL -j ${fixed.nat.markMasq}`);
      if (usesClusterPolicyChain) r.push(`-A ${ext} -m comment --comment ${quote(`route LOCAL traffic for ${spn} external destinations`)} -m addrtype --src-type LOCAL -j ${chains.svc}`);
    }
    if (hasExternalEndpoints) r.push(`-A ${ext} -j ${externalPolicyChain}`);
    natChains.set(ext, r);
  }

  if (usesFirewallChain) {
    const fw = chains.fw;
    const c = quote(`${spn} loadbalancer IP`);
    const r = m.loadBalancerSourceRanges.map((s) => `-A ${fw} -m comment --comment ${c} -s ${s} -j ${chains.ext}`);
    const allowFromNode = m.loadBalancerSourceRanges.some((s) => {
      const cidr = tryParseCidr(s);
      return typeof cidr !== "string" && ctx.nodeIPs.some((ip) => {
        const n = ipToNumber(ip);
        return n !== undefined && cidrContainsIp(cidr, n);
      });
    });
    // A node reaching its own load-balancer IP comes back with that IP as source (upstream's comment on VIP-like LBs).
    if (allowFromNode) for (const ip of m.loadBalancerIPs) r.push(`-A ${fw} -m comment --comment ${c} -s ${ip}/32 -j ${chains.ext}`);
    natChains.set(fw, r);
  }

  for (const e of m.reachableEndpoints) {
    const sep = epChain(e);
    const c = `-A ${sep} -m comment --comment ${quote(spn)}`;
    const recent = m.affinityTimeoutSeconds !== undefined ? ` -m recent --set --name ${sep} --mask 255.255.255.255 --rsource` : "";
    // Hairpin: an endpoint reaching itself through the Service must see the node as source, or it answers itself directly.
    natChains.set(sep, [`${c} -s ${e.ip}/32 -j ${fixed.nat.markMasq}`, `${c}${recent} -m ${proto} -p ${proto} -j DNAT --to-destination ${endpointString(e)}`]);
  }
}
