/**
 * nft scripts for the proxy table: the whole table (on start, after a failed
 * transaction and as a periodic check) and the difference between the last
 * applied rules of some Services and their new rules (every other sync).
 * Each script is sent as one `nft -f -`, which nft applies as one atomic
 * transaction: packets see the old rules or the new ones, never a mix.
 */
import { ELEMENT_MAPS, type ElementMapName, MARK_MASQ_CHAIN, MASQUERADE_MARK, type MapElement, REJECT_CHAIN, type ServiceRules } from "./rules.js";

/** How NodePorts are matched (upstream's --nodeport-addresses). */
export type NodePortMatch =
  /** Every local address but 127/8 (`0.0.0.0/0` given). */
  | { readonly matchAll: true }
  /** These addresses (the node's primary IPs by default, as upstream's nftables mode). */
  | { readonly matchAll: false; readonly ips: readonly string[] };

/** The parts of the table that are not per Service. */
export interface TableConfig {
  readonly table: string;
  readonly nodePorts: NodePortMatch;
  /** When given, traffic to an address in it no Service owns is rejected (upstream's cluster-ips-check drops it). */
  readonly serviceCidr?: string;
}

/** Declarations of the shared sets and maps (upstream's names and types). */
const MAP_TYPES: Record<ElementMapName, string> = {
  "cluster-ips": "type ipv4_addr;",
  "service-ips": "type ipv4_addr . inet_proto . inet_service : verdict;",
  "service-nodeports": "type inet_proto . inet_service : verdict;",
  "no-endpoint-services": "type ipv4_addr . inet_proto . inet_service : verdict;",
  "no-endpoint-nodeports": "type inet_proto . inet_service : verdict;",
  "firewall-ips": "type ipv4_addr . inet_proto . inet_service : verdict;",
};

function isMap(name: ElementMapName): boolean {
  return MAP_TYPES[name].includes(": verdict");
}

/** Base chains: filter chains run before DNAT (dstnat - 10) to see the Service address, as upstream. */
const BASE_CHAINS: readonly { name: string; spec: string; rules: readonly string[] }[] = [
  { name: "filter-prerouting", spec: "type filter hook prerouting priority -110; policy accept;", rules: ["ct state new jump firewall-check"] },
  {
    name: "filter-input",
    spec: "type filter hook input priority -110; policy accept;",
    rules: ["ct state new jump nodeport-endpoints-check", "ct state new jump service-endpoints-check"],
  },
  {
    name: "filter-forward",
    spec: "type filter hook forward priority -110; policy accept;",
    rules: ["ct state new jump service-endpoints-check", "ct state new jump cluster-ips-check"],
  },
  {
    name: "filter-output",
    spec: "type filter hook output priority -110; policy accept;",
    rules: ["ct state new jump service-endpoints-check", "ct state new jump firewall-check"],
  },
  { name: "filter-output-post-dnat", spec: "type filter hook output priority -90; policy accept;", rules: ["ct state new jump cluster-ips-check"] },
  { name: "nat-prerouting", spec: "type nat hook prerouting priority -100; policy accept;", rules: ["jump services"] },
  { name: "nat-output", spec: "type nat hook output priority -100; policy accept;", rules: ["jump services"] },
  { name: "nat-postrouting", spec: "type nat hook postrouting priority 100; policy accept;", rules: ["jump masquerading"] },
];

/** The fixed regular chains. */
function staticChains(cfg: TableConfig): [string, string[]][] {
  const nodePortMatch = cfg.nodePorts.matchAll ? "fib daddr type local ip daddr != 127.0.0.0/8" : "ip daddr @nodeport-ips";
  const clusterIpsCheck = ['ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"'];
  // Upstream drops here; skiff rejects (issue 8: a connect to an unallocated ClusterIP fails at once, as the
  // service guard table makes it do when no proxy runs).
  if (cfg.serviceCidr !== undefined) {
    clusterIpsCheck.push(`ip daddr ${cfg.serviceCidr} reject with icmp type admin-prohibited comment "Reject traffic to unallocated ClusterIPs"`);
  }
  return [
    [MARK_MASQ_CHAIN, [`mark set mark or ${MASQUERADE_MARK}`]],
    ["masquerading", [`mark and ${MASQUERADE_MARK} == 0 return`, `mark set mark xor ${MASQUERADE_MARK}`, "masquerade fully-random"]],
    ["services", ["ip daddr . meta l4proto . th dport vmap @service-ips", `${nodePortMatch} meta l4proto . th dport vmap @service-nodeports`]],
    ["service-endpoints-check", ["ip daddr . meta l4proto . th dport vmap @no-endpoint-services"]],
    ["nodeport-endpoints-check", [`${nodePortMatch} meta l4proto . th dport vmap @no-endpoint-nodeports`]],
    ["firewall-check", ["ip daddr . meta l4proto . th dport vmap @firewall-ips"]],
    ["cluster-ips-check", clusterIpsCheck],
    [REJECT_CHAIN, ["reject"]],
  ];
}

/** nft refuses comments longer than this ("comment too long, 128 characters maximum allowed"). */
const MAX_COMMENT = 128;

function elementText(key: string, el: MapElement, map: boolean): string {
  // `ns/name:port` can reach 143 characters; a refused comment would fail every transaction.
  const c = el.comment === undefined ? "" : ` comment "${el.comment.replace(/"/g, "").slice(0, MAX_COMMENT)}"`;
  return map ? `${key}${c} : ${el.value}` : `${key}${c}`;
}

/**
 * The whole table, replacing whatever table of that name exists (the
 * `table …{}` + `delete table` pair makes the delete succeed when there is
 * none yet, all in the one transaction).
 */
export function fullScript(cfg: TableConfig, services: Iterable<ServiceRules>): string {
  const t = cfg.table;
  const out: string[] = [`table ip ${t} {}`, `delete table ip ${t}`, `table ip ${t} {`];
  const elements = new Map<ElementMapName, string[]>(ELEMENT_MAPS.map((m) => [m, []]));
  const sets: string[] = [];
  const chains: string[] = [];
  for (const s of services) {
    for (const [map, els] of s.elements) {
      const list = elements.get(map) as string[];
      for (const [k, el] of els) list.push(elementText(k, el, isMap(map)));
    }
    for (const [name, body] of s.sets) sets.push(`  set ${name} { ${body} }`);
    for (const [name, rules] of s.chains) chains.push(`  chain ${name} {`, ...rules.map((r) => `    ${r}`), "  }");
  }
  if (!cfg.nodePorts.matchAll) {
    const ips = cfg.nodePorts.ips;
    out.push(`  set nodeport-ips { type ipv4_addr;${ips.length > 0 ? ` elements = { ${ips.join(", ")} };` : ""} }`);
  }
  for (const map of ELEMENT_MAPS) {
    const els = elements.get(map) as string[];
    const kind = isMap(map) ? "map" : "set";
    out.push(`  ${kind} ${map} { ${MAP_TYPES[map]}${els.length > 0 ? ` elements = { ${els.join(", ")} };` : ""} }`);
  }
  out.push(...sets);
  for (const b of BASE_CHAINS) out.push(`  chain ${b.name} {`, `    ${b.spec}`, ...b.rules.map((r) => `    ${r}`), "  }");
  for (const [name, rules] of staticChains(cfg)) out.push(`  chain ${name} {`, ...rules.map((r) => `    ${r}`), "  }");
  out.push(...chains, "}", "");
  return out.join("\n");
}

/** One Service's last applied rules and its new rules. */
export interface RulesChange {
  readonly old: ServiceRules;
  readonly new: ServiceRules;
}

/** An incremental transaction and how many objects it touches. */
export interface DiffScript {
  /** Empty when nothing changed. */
  readonly script: string;
  /** Chains, sets and elements added, changed or removed. */
  readonly changes: number;
  /**
   * Chains no longer used: flushed by this script, to be deleted by a later
   * one. Kernels before 6.2 notice only a moment after a map element is
   * deleted that its chain is unreferenced, so upstream deletes stale chains
   * a second later in a transaction of their own.
   */
  readonly staleChains: readonly string[];
  /** Chains this script creates (a stale chain used again must not be deleted later). */
  readonly addedChains: readonly string[];
}

function sameRules(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((r, i) => r === b[i]);
}

/**
 * The transaction turning the old rules of some Services into their new
 * ones, in an order nft accepts: new chains and sets exist before rules
 * and elements name them; chains are flushed and elements deleted before
 * the sets they name are deleted. Unchanged chains and elements are not
 * touched (upstream's partial sync). Chains no longer used are only flushed
 * here: {@link deleteChainsScript} removes them later.
 */
export function diffScript(table: string, changes: Iterable<RulesChange>): DiffScript {
  const addChains: string[] = [];
  const addSets: string[] = [];
  const flush: string[] = [];
  const delElements = new Map<ElementMapName, string[]>();
  const delSets: string[] = [];
  const staleChains: string[] = [];
  const addedChains: string[] = [];
  const reAddSets: string[] = [];
  const addRules: string[] = [];
  const addElements = new Map<ElementMapName, string[]>();
  let count = 0;
  const push = (m: Map<ElementMapName, string[]>, k: ElementMapName, v: string) => {
    const l = m.get(k);
    if (l === undefined) m.set(k, [v]);
    else l.push(v);
  };
  for (const { old, new: next } of changes) {
    const changedSets = new Set<string>();
    for (const [name, body] of next.sets) {
      const had = old.sets.get(name);
      if (had === undefined) {
        addSets.push(`add set ip ${table} ${name} { ${body} }`);
        count++;
      } else if (had !== body) {
        changedSets.add(name);
        delSets.push(`delete set ip ${table} ${name}`);
        reAddSets.push(`add set ip ${table} ${name} { ${body} }`);
        count++;
      }
    }
    for (const name of old.sets.keys()) {
      if (!next.sets.has(name)) {
        delSets.push(`delete set ip ${table} ${name}`);
        count++;
      }
    }
    for (const [name, rules] of next.chains) {
      const had = old.chains.get(name);
      const refsChangedSet = changedSets.size > 0 && rules.some((r) => [...changedSets].some((s) => r.includes(`@${s} `)));
      if (had !== undefined && sameRules(had, rules) && !refsChangedSet) continue;
      if (had === undefined) {
        addChains.push(`add chain ip ${table} ${name}`);
        addedChains.push(name);
      } else flush.push(`flush chain ip ${table} ${name}`);
      for (const r of rules) addRules.push(`add rule ip ${table} ${name} ${r}`);
      count++;
    }
    for (const name of old.chains.keys()) {
      if (next.chains.has(name)) continue;
      flush.push(`flush chain ip ${table} ${name}`);
      staleChains.push(name);
      count++;
    }
    for (const map of ELEMENT_MAPS) {
      const before = old.elements.get(map);
      const after = next.elements.get(map);
      for (const [k, el] of before ?? []) {
        const now = after?.get(k);
        if (now !== undefined && now.value === el.value && now.comment === el.comment) continue;
        push(delElements, map, k);
        count++;
      }
      for (const [k, el] of after ?? []) {
        const was = before?.get(k);
        if (was !== undefined && was.value === el.value && was.comment === el.comment) continue;
        push(addElements, map, elementText(k, el, isMap(map)));
        if (was === undefined) count++;
      }
    }
  }
  const lines = [
    ...addChains,
    ...addSets,
    ...flush,
    ...[...delElements].map(([m, keys]) => `delete element ip ${table} ${m} { ${keys.join(", ")} }`),
    ...delSets,
    ...reAddSets,
    ...addRules,
    ...[...addElements].map(([m, els]) => `add element ip ${table} ${m} { ${els.join(", ")} }`),
  ];
  return { script: lines.length === 0 ? "" : `${lines.join("\n")}\n`, changes: count, staleChains, addedChains };
}

/** Deletes chains flushed by an earlier transaction. */
export function deleteChainsScript(table: string, chains: Iterable<string>): string {
  const lines = [...chains].map((c) => `delete chain ip ${table} ${c}`);
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}
