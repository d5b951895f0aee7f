/**
 * Compiles networking.k8s.io/v1 NetworkPolicies into the nftables rule set
 * one node enforces for its own pods: pure data in, pure data out (named
 * sets with their elements, regular chains with their rules), so the
 * semantics are unit-tested without a kernel and the syncer only diffs.
 *
 * Semantics (upstream's API reference): a pod is isolated for ingress
 * (egress) when any policy selecting it has Ingress (Egress) in its
 * policyTypes, which default to Ingress plus Egress when the policy has
 * egress rules. An isolated pod gets only the union of the rules of every
 * policy selecting it. A rule with no `from`/`to` allows every peer, one
 * with no `ports` every port. Peers: podSelector (the policy's namespace),
 * namespaceSelector, both (pods matching in matching namespaces), ipBlock
 * minus its `except`s. Named ports resolve against the destination pod's
 * containerPorts (name and protocol). Replies and traffic from the node
 * itself are allowed by the base chains (nft-script.ts), not here.
 *
 * Layout: every policy gets its own chains (`<id>_ingress`, `<id>_egress`)
 * and sets, the id a hash of `namespace/name`; the dispatch chains
 * `pod_ingress`/`pod_egress` jump to each policy's chain for the pods it
 * selects and reject what no policy accepted. A rule's text references
 * sets only by name, so pod churn changes set elements and never rules.
 * IPv4 only, as skiff's pod network.
 */
import { createHash } from "node:crypto";
import type { Namespace, Pod } from "kubernetes-types/core/v1.js";
import type { NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort } from "kubernetes-types/networking/v1.js";
import { ipToNumber } from "../../machinery/cidr.js";
import { type LabelSelector, selectorFromObject } from "../../machinery/labels.js";
import { cidrRange, formatRange, type IpRange, ipRange, mergeRanges, subtractRanges } from "./ip-ranges.js";

/** A named nft set as the rule set wants it. */
export interface NftSetSpec {
  /** The nft type, e.g. `ipv4_addr` or `ipv4_addr . inet_proto . inet_service`. */
  readonly type: string;
  /** Whether it holds ranges (`flags interval`). */
  readonly interval: boolean;
  /** Elements as nft text, sorted and unique (deleted by this exact text). */
  readonly elements: readonly string[];
}

/** The variable part of the policy table: named sets and regular chains with their rules. */
export interface PolicyRuleset {
  readonly sets: ReadonlyMap<string, NftSetSpec>;
  readonly chains: ReadonlyMap<string, readonly string[]>;
}

/** What {@link compilePolicies} reads. */
export interface PolicyInputs {
  /** Every pod of the cluster (peers may be anywhere); only `nodeName`'s are enforced on. */
  readonly pods: readonly Pod[];
  readonly namespaces: readonly Namespace[];
  readonly policies: readonly NetworkPolicy[];
  readonly nodeName: string;
}

/** The rule set plus what could not be enforced (logged by the caller). */
export interface CompiledPolicies {
  readonly ruleset: PolicyRuleset;
  readonly warnings: readonly string[];
}

/** Local pods isolated for ingress: their traffic goes through `pod_ingress`. */
export const INGRESS_ISOLATED_SET = "ingress_isolated";
/** Local pods isolated for egress: their traffic goes through `pod_egress`. */
export const EGRESS_ISOLATED_SET = "egress_isolated";
export const INGRESS_DISPATCH_CHAIN = "pod_ingress";
export const EGRESS_DISPATCH_CHAIN = "pod_egress";
/** What an isolated pod's traffic gets when no rule allows it (a quick refusal, as kube-router's REJECT, not a hang). */
export const DENY_RULE = 'reject with icmpx type admin-prohibited comment "not allowed by any NetworkPolicy"';

const NAMED_PORT_TYPE = "ipv4_addr . inet_proto . inet_service";
const PROTOCOLS: Record<string, string> = { TCP: "tcp", UDP: "udp", SCTP: "sctp" };

/** The chain/set name prefix of a policy: stable, nft-safe and short whatever the names' length. */
export function policyId(namespace: string, name: string): string {
  return `p${createHash("sha256").update(`${namespace}/${name}`).digest("hex").slice(0, 16)}`;
}

/** The policy types a policy affects, with upstream's default. */
export function effectivePolicyTypes(policy: NetworkPolicy): { ingress: boolean; egress: boolean } {
  const types = policy.spec?.policyTypes;
  if (types !== undefined && types.length > 0) return { ingress: types.includes("Ingress"), egress: types.includes("Egress") };
  return { ingress: true, egress: (policy.spec?.egress?.length ?? 0) > 0 };
}

/** A pod's IPv4 address, or undefined when it takes no part (no IP yet, host network, finished). */
export function policyPodIP(pod: Pod): string | undefined {
  if (pod.spec?.hostNetwork === true) return undefined;
  const phase = pod.status?.phase;
  if (phase === "Succeeded" || phase === "Failed") return undefined;
  const ips = [...(pod.status?.podIPs ?? []).map((p) => p.ip), pod.status?.podIP];
  return ips.find((ip): ip is string => ip !== undefined && ipToNumber(ip) !== undefined);
}

interface PodEntry {
  readonly pod: Pod;
  readonly ip: string;
  /** `ip` as a one-address range, parsed once per sync. */
  readonly range: IpRange;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly local: boolean;
}

/** Compiles the policies into the node's rule set. */
export function compilePolicies(inputs: PolicyInputs): CompiledPolicies {
  const warnings: string[] = [];
  const pods: PodEntry[] = [];
  for (const pod of inputs.pods) {
    const ip = policyPodIP(pod);
    const range = ip === undefined ? undefined : ipRange(ip);
    if (ip === undefined || range === undefined) continue;
    pods.push({ pod, ip, range, namespace: pod.metadata?.namespace ?? "default", labels: pod.metadata?.labels ?? {}, local: pod.spec?.nodeName === inputs.nodeName });
  }
  // Selectors mostly look inside one namespace: index by it, so a sync costs pods-per-namespace, not pods-per-cluster, per rule.
  const byNamespace = new Map<string, PodEntry[]>();
  for (const p of pods) {
    const list = byNamespace.get(p.namespace);
    if (list === undefined) byNamespace.set(p.namespace, [p]);
    else list.push(p);
  }
  const nsLabels = new Map<string, Readonly<Record<string, string>>>();
  for (const ns of inputs.namespaces) if (ns.metadata?.name) nsLabels.set(ns.metadata.name, ns.metadata.labels ?? {});
  // The API server labels every namespace with its name; until the informer has it, that label is all we know.
  const labelsOfNamespace = (name: string) => nsLabels.get(name) ?? { "kubernetes.io/metadata.name": name };

  const sets = new Map<string, NftSetSpec>();
  const chains = new Map<string, readonly string[]>();
  const ingressIsolated = new Set<string>();
  const egressIsolated = new Set<string>();
  const ingressDispatch: string[] = [];
  const egressDispatch: string[] = [];

  const sorted = [...inputs.policies].sort((a, b) => policyKey(a).localeCompare(policyKey(b)));
  for (const policy of sorted) {
    const namespace = policy.metadata?.namespace ?? "default";
    const key = policyKey(policy);
    const id = policyId(namespace, policy.metadata?.name ?? "");
    const selector = parseSelector(policy.spec?.podSelector ?? {}, `NetworkPolicy ${key}: spec.podSelector`, warnings);
    const selected = (byNamespace.get(namespace) ?? []).filter((p) => p.local && selector?.matches(p.labels) === true);
    const types = effectivePolicyTypes(policy);
    const ctx: RuleContext = { id, key, namespace, pods, byNamespace, labelsOfNamespace, warnings, sets, selected };
    let dispatched = false;

    if (types.ingress) {
      for (const p of selected) ingressIsolated.add(p.ip);
      const rules = (policy.spec?.ingress ?? []).flatMap((rule, i) => compileRule(ctx, "ingress", i, rule.from, rule.ports));
      if (rules.length > 0) {
        chains.set(`${id}_ingress`, rules);
        ingressDispatch.push(`ip daddr @${id}_pods jump ${id}_ingress comment ${nftString(key)}`);
        dispatched = true;
      }
    }
    if (types.egress) {
      for (const p of selected) egressIsolated.add(p.ip);
      const rules = (policy.spec?.egress ?? []).flatMap((rule, i) => compileRule(ctx, "egress", i, rule.to, rule.ports));
      if (rules.length > 0) {
        chains.set(`${id}_egress`, rules);
        egressDispatch.push(`ip saddr @${id}_pods jump ${id}_egress comment ${nftString(key)}`);
        dispatched = true;
      }
    }
    if (dispatched) sets.set(`${id}_pods`, { type: "ipv4_addr", interval: false, elements: sortedUnique(selected.map((p) => p.ip)) });
  }

  sets.set(INGRESS_ISOLATED_SET, { type: "ipv4_addr", interval: false, elements: sortedUnique([...ingressIsolated]) });
  sets.set(EGRESS_ISOLATED_SET, { type: "ipv4_addr", interval: false, elements: sortedUnique([...egressIsolated]) });
  chains.set(INGRESS_DISPATCH_CHAIN, [...ingressDispatch, DENY_RULE]);
  chains.set(EGRESS_DISPATCH_CHAIN, [...egressDispatch, DENY_RULE]);
  return { ruleset: { sets, chains }, warnings };
}

interface RuleContext {
  readonly id: string;
  readonly key: string;
  readonly namespace: string;
  readonly pods: readonly PodEntry[];
  readonly byNamespace: ReadonlyMap<string, readonly PodEntry[]>;
  readonly labelsOfNamespace: (name: string) => Readonly<Record<string, string>>;
  readonly warnings: string[];
  readonly sets: Map<string, NftSetSpec>;
  /** The local pods the policy selects (the destinations of its ingress rules). */
  readonly selected: readonly PodEntry[];
}

/** The nft rules of one ingress or egress rule: one per port entry (or one for all ports). */
function compileRule(
  ctx: RuleContext,
  direction: "ingress" | "egress",
  index: number,
  peers: readonly NetworkPolicyPeer[] | undefined,
  ports: readonly NetworkPolicyPort[] | undefined,
): string[] {
  const prefix = `${ctx.id}_${direction === "ingress" ? "i" : "e"}${index}`;
  const field = `spec.${direction}[${index}]`;
  let peerMatch = "";
  if (peers !== undefined && peers.length > 0) {
    const ranges = peers.flatMap((peer, j) => peerRanges(ctx, peer, `${field}.${direction === "ingress" ? "from" : "to"}[${j}]`));
    putSet(ctx, `${prefix}_peers`, { type: "ipv4_addr", interval: true, elements: mergeRanges(ranges).map(formatRange) });
    peerMatch = `ip ${direction === "ingress" ? "saddr" : "daddr"} @${prefix}_peers `;
  }
  if (ports === undefined || ports.length === 0) return [`${peerMatch}accept`];
  const rules: string[] = [];
  ports.forEach((port, k) => {
    const where = `NetworkPolicy ${ctx.key}: ${field}.ports[${k}]`;
    const proto = PROTOCOLS[port.protocol ?? "TCP"];
    if (proto === undefined) {
      ctx.warnings.push(`${where}: unsupported protocol "${port.protocol}": supported values: "SCTP", "TCP", "UDP"`);
      return;
    }
    if (port.port === undefined) {
      rules.push(`${peerMatch}meta l4proto ${proto} accept`);
    } else if (typeof port.port === "number") {
      if (port.endPort !== undefined && port.endPort < port.port) {
        ctx.warnings.push(`${where}: endPort ${port.endPort} is less than port ${port.port}; the entry allows nothing`);
        return;
      }
      const range = port.endPort !== undefined && port.endPort !== port.port ? `${port.port}-${port.endPort}` : `${port.port}`;
      rules.push(`${peerMatch}meta l4proto ${proto} th dport ${range} accept`);
    } else {
      // A named port may be a different number on every pod: match address, protocol and port together.
      const candidates = direction === "ingress" ? ctx.selected : ctx.pods;
      const elements = candidates.flatMap((p) => namedPorts(p.pod, port.port as string, proto).map((n) => `${p.ip} . ${proto} . ${n}`));
      putSet(ctx, `${prefix}_p${k}`, { type: NAMED_PORT_TYPE, interval: false, elements: sortedUnique(elements) });
      rules.push(`${peerMatch}ip daddr . meta l4proto . th dport @${prefix}_p${k} accept`);
    }
  });
  return rules;
}

function putSet(ctx: RuleContext, name: string, spec: NftSetSpec): void {
  ctx.sets.set(name, spec);
}

/** The addresses one peer stands for. */
function peerRanges(ctx: RuleContext, peer: NetworkPolicyPeer, field: string): IpRange[] {
  const where = `NetworkPolicy ${ctx.key}: ${field}`;
  if (peer.ipBlock !== undefined) {
    const block = cidrRange(peer.ipBlock.cidr);
    if (typeof block === "string") {
      ctx.warnings.push(`${where}.ipBlock.cidr: ${block}; the peer matches nothing`);
      return [];
    }
    const holes: IpRange[] = [];
    for (const [i, text] of (peer.ipBlock.except ?? []).entries()) {
      const hole = cidrRange(text);
      if (typeof hole === "string") ctx.warnings.push(`${where}.ipBlock.except[${i}]: ${hole}; ignored`);
      else holes.push(hole);
    }
    return subtractRanges(block, holes);
  }
  if (peer.podSelector === undefined && peer.namespaceSelector === undefined) {
    ctx.warnings.push(`${where}: must specify a peer (podSelector, namespaceSelector or ipBlock); the peer matches nothing`);
    return [];
  }
  const podSel = peer.podSelector === undefined ? undefined : parseSelector(peer.podSelector, `${where}.podSelector`, ctx.warnings);
  const nsSel = peer.namespaceSelector === undefined ? undefined : parseSelector(peer.namespaceSelector, `${where}.namespaceSelector`, ctx.warnings);
  if ((peer.podSelector !== undefined && podSel === undefined) || (peer.namespaceSelector !== undefined && nsSel === undefined)) return [];
  // Without a namespaceSelector the podSelector means the policy's own namespace.
  const namespaces = nsSel === undefined ? [ctx.namespace] : [...ctx.byNamespace.keys()].filter((ns) => nsSel.matches(ctx.labelsOfNamespace(ns)));
  const out: IpRange[] = [];
  for (const ns of namespaces) {
    for (const p of ctx.byNamespace.get(ns) ?? []) {
      if (podSel === undefined || podSel.matches(p.labels)) out.push(p.range);
    }
  }
  return out;
}

/** The container port numbers a pod names `name` for `proto`. */
function namedPorts(pod: Pod, name: string, proto: string): number[] {
  const out: number[] = [];
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) {
      if (p.name === name && (PROTOCOLS[p.protocol ?? "TCP"] ?? "") === proto) out.push(p.containerPort);
    }
  }
  return out;
}

function parseSelector(sel: Parameters<typeof selectorFromObject>[0], where: string, warnings: string[]): LabelSelector | undefined {
  try {
    return selectorFromObject(sel ?? {});
  } catch (err) {
    warnings.push(`${where}: ${(err as Error).message}; it selects nothing`);
    return undefined;
  }
}

function policyKey(p: NetworkPolicy): string {
  return `${p.metadata?.namespace ?? "default"}/${p.metadata?.name ?? ""}`;
}

function sortedUnique(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

/** A quoted nft string (comments hold at most 128 bytes; names never hold quotes). */
function nftString(s: string): string {
  return JSON.stringify(s.replace(/["\\]/g, "").slice(0, 120));
}
