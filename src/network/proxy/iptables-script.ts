/**
 * iptables-restore input for the iptables backend, always applied with
 * `--noflush` (other programs' chains, e.g. CNI portmap's, stay untouched)
 * and always one transaction per sync, as upstream's iptables proxier:
 *
 * - a full restore (start, after a failure, periodically) declares every
 *   chain of ours (declaring flushes it), flushes and deletes chains of ours
 *   that are no longer wanted, deletes our old jump rules from the built-in
 *   chains (found in `iptables-save` output) and inserts them again;
 * - an incremental restore rewrites the shared chains (KUBE-SERVICES and
 *   friends are rebuilt every sync upstream too), refills only the
 *   per-Service chains that changed and `-X`es those no longer used.
 *
 * Our objects are found by the node's chain prefix: a jump rule is ours when
 * its target chain starts with it; its comment names the node for people.
 */
import type { FixedChains } from "./iptables-names.js";
import { fixedChains } from "./iptables-names.js";
import { type IptablesServiceRules, quote } from "./iptables-rules.js";
import type { NodePortMatch } from "./nft-script.js";
import { MASQUERADE_MARK } from "./rules.js";

export type IptablesTable = "filter" | "nat";
export const IPTABLES_TABLES: readonly IptablesTable[] = ["filter", "nat"];

/** The parts of the ruleset that are not per Service. */
export interface IptablesConfig {
  /** The node's chain prefix (`SKIFF-<tag>-`). */
  readonly prefix: string;
  /** Named in jump comments (the node and its bridge). */
  readonly node: string;
  /** How NodePorts are matched; `matchAll` includes 127.0.0.1 (route_localnet), as upstream's iptables mode. */
  readonly nodePorts: NodePortMatch;
  /** When given, new traffic still addressed to it after DNAT (an unallocated ClusterIP, an unknown port) is rejected. */
  readonly serviceCidr?: string;
}

/** One rule in a built-in chain jumping to one of ours. */
export interface JumpRule {
  readonly table: IptablesTable;
  /** The built-in chain. */
  readonly chain: string;
  /** Everything after `-A CHAIN`. */
  readonly spec: string;
}

/** Whether NodePorts answer on 127.0.0.1 (needs net.ipv4.conf.all.route_localnet=1). */
export function localhostNodePorts(cfg: IptablesConfig): boolean {
  return cfg.nodePorts.matchAll;
}

/** The jump rules from the built-in chains, in the order they should end up (upstream's iptablesJumpChains). */
export function jumpRules(cfg: IptablesConfig): JumpRule[] {
  const f = fixedChains(cfg.prefix);
  const c = (what: string) => `-m comment --comment ${quote(`${what} (skiff node ${cfg.node})`)}`;
  const isNew = "-m conntrack --ctstate NEW";
  const out: JumpRule[] = [
    { table: "filter", chain: "INPUT", spec: `${isNew} ${c("kubernetes load balancer firewall")} -j ${f.filter.proxyFirewall}` },
    { table: "filter", chain: "INPUT", spec: `${isNew} ${c("kubernetes externally-visible service portals")} -j ${f.filter.externalServices}` },
    { table: "filter", chain: "FORWARD", spec: `${isNew} ${c("kubernetes load balancer firewall")} -j ${f.filter.proxyFirewall}` },
    { table: "filter", chain: "FORWARD", spec: `${isNew} ${c("kubernetes service portals")} -j ${f.filter.services}` },
    { table: "filter", chain: "FORWARD", spec: `${isNew} ${c("kubernetes externally-visible service portals")} -j ${f.filter.externalServices}` },
    { table: "filter", chain: "OUTPUT", spec: `${isNew} ${c("kubernetes load balancer firewall")} -j ${f.filter.proxyFirewall}` },
    { table: "filter", chain: "OUTPUT", spec: `${isNew} ${c("kubernetes service portals")} -j ${f.filter.services}` },
    { table: "nat", chain: "PREROUTING", spec: `${c("kubernetes service portals")} -j ${f.nat.services}` },
    { table: "nat", chain: "OUTPUT", spec: `${c("kubernetes service portals")} -j ${f.nat.services}` },
    { table: "nat", chain: "POSTROUTING", spec: `${c("kubernetes postrouting rules")} -j ${f.nat.postrouting}` },
  ];
  if (localhostNodePorts(cfg)) out.splice(2, 0, { table: "filter", chain: "INPUT", spec: `${c("kubernetes firewall for dropping marked packets")} -j ${f.filter.firewall}` });
  return out;
}

/** The fixed chains' names by table. */
function fixedByTable(f: FixedChains): Record<IptablesTable, string[]> {
  return { filter: Object.values(f.filter), nat: Object.values(f.nat) };
}

/** Rules of the fixed chains that do not depend on Services. */
function staticRules(cfg: IptablesConfig, f: FixedChains): Record<IptablesTable, string[]> {
  const nat = [
    `-A ${f.nat.postrouting} -m mark ! --mark ${MASQUERADE_MARK}/${MASQUERADE_MARK} -j RETURN`,
    // Clear the mark so a re-traversal (e.g. IPsec) does not masquerade twice.
    `-A ${f.nat.postrouting} -j MARK --xor-mark ${MASQUERADE_MARK}`,
    `-A ${f.nat.postrouting} -m comment --comment ${quote("kubernetes service traffic requiring SNAT")} -j MASQUERADE --random-fully`,
    `-A ${f.nat.markMasq} -j MARK --or-mark ${MASQUERADE_MARK}`,
  ];
  const filter: string[] = [];
  if (localhostNodePorts(cfg)) {
    // route_localnet lets 127/8 be routed; only DNATed (NodePort) traffic may arrive for it from elsewhere (upstream's KUBE-FIREWALL rule).
    filter.push(
      `-A ${f.filter.firewall} -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m comment --comment ${quote("block incoming localnet connections")} -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP`,
    );
  }
  return { filter, nat };
}

/** The shared chains' rules: every Service's, in key order, then the trailing fixed ones. */
function sharedRules(cfg: IptablesConfig, f: FixedChains, services: ReadonlyMap<string, IptablesServiceRules>): Record<IptablesTable, string[]> {
  const keys = [...services.keys()].sort();
  const nat = keys.flatMap((k) => services.get(k)?.natShared ?? []);
  const filter = keys.flatMap((k) => services.get(k)?.filterShared ?? []);
  const npComment = `-m comment --comment ${quote("kubernetes service nodeports; NOTE: this must be the last rule in this chain")}`;
  if (cfg.nodePorts.matchAll) nat.push(`-A ${f.nat.services} ${npComment} -m addrtype --dst-type LOCAL -j ${f.nat.nodePorts}`);
  else for (const ip of cfg.nodePorts.ips) nat.push(`-A ${f.nat.services} ${npComment} -d ${ip}/32 -j ${f.nat.nodePorts}`);
  if (cfg.serviceCidr !== undefined) {
    // Not upstream: as the nftables mode's cluster-ips-check, a connect to nothing fails at once.
    filter.push(`-A ${f.filter.services} -d ${cfg.serviceCidr} -m comment --comment ${quote("Reject traffic to unallocated ClusterIPs")} -j REJECT --reject-with icmp-admin-prohibited`);
  }
  return { filter, nat };
}

/** What `iptables-save -t TABLE` shows of ours. */
export interface SavedOurs {
  /** Chains with our prefix. */
  readonly chains: string[];
  /** Rules in other chains that jump to ours, as printed (`-A CHAIN …`). */
  readonly jumps: string[];
}

/** Finds our chains and jump rules in `iptables-save` output of one table. */
export function parseSaved(text: string, prefix: string): SavedOurs {
  const chains: string[] = [];
  const jumps: string[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith(":")) {
      const name = line.slice(1).split(" ")[0] ?? "";
      if (name.startsWith(prefix)) chains.push(name);
    } else if (line.startsWith("-A ")) {
      const chain = line.split(" ")[1] ?? "";
      const m = / -[jg] (\S+)/.exec(line);
      if (!chain.startsWith(prefix) && m?.[1]?.startsWith(prefix)) jumps.push(line);
    }
  }
  return { chains, jumps };
}

/** Every nat chain of the Services. */
function serviceNatChains(services: ReadonlyMap<string, IptablesServiceRules>): Map<string, readonly string[]> {
  const out = new Map<string, readonly string[]>();
  for (const r of services.values()) for (const [c, rules] of r.natChains) out.set(c, rules);
  return out;
}

/**
 * The full restore: every chain of ours rewritten, stale ones deleted, jump
 * rules deleted and inserted again, whatever was there (`saved`).
 */
export function fullRestore(cfg: IptablesConfig, services: ReadonlyMap<string, IptablesServiceRules>, saved: Record<IptablesTable, SavedOurs>): string {
  const f = fixedChains(cfg.prefix);
  const fixed = fixedByTable(f);
  const stat = staticRules(cfg, f);
  const shared = sharedRules(cfg, f, services);
  const svcChains = serviceNatChains(services);
  const jumps = jumpRules(cfg);
  const out: string[] = [];
  for (const table of IPTABLES_TABLES) {
    const wanted = new Set([...fixed[table], ...(table === "nat" ? svcChains.keys() : [])]);
    const stale = saved[table].chains.filter((c) => !wanted.has(c));
    out.push(`*${table}`);
    for (const c of [...wanted, ...stale]) out.push(`:${c} - [0:0]`);
    for (const j of saved[table].jumps) out.push(j.replace(/^-A /, "-D "));
    for (const c of stale) out.push(`-X ${c}`);
    out.push(...stat[table], ...shared[table]);
    if (table === "nat") for (const rules of svcChains.values()) out.push(...rules);
    // Each -I goes first: insert in reverse so they end up in jumpRules' order, ahead of everyone else's.
    for (const j of jumps.filter((x) => x.table === table).reverse()) out.push(`-I ${j.chain} 1 ${j.spec}`);
    out.push("COMMIT");
  }
  return `${out.join("\n")}\n`;
}

/** What an incremental restore changes. */
export interface IncrementalRestore {
  readonly text: string;
  /** Per-Service chains refilled or deleted. */
  readonly changes: number;
}

/**
 * The incremental restore from `old` (in the kernel) to `next` (both every
 * Service's rules): shared chains rebuilt, changed Service chains refilled,
 * unused ones flushed and deleted.
 */
export function incrementalRestore(cfg: IptablesConfig, old: ReadonlyMap<string, IptablesServiceRules>, next: ReadonlyMap<string, IptablesServiceRules>): IncrementalRestore {
  const f = fixedChains(cfg.prefix);
  const shared = sharedRules(cfg, f, next);
  const before = serviceNatChains(old);
  const after = serviceNatChains(next);
  const changed = [...after].filter(([c, rules]) => !sameRules(before.get(c), rules));
  const removed = [...before.keys()].filter((c) => !after.has(c));
  const out = ["*filter", ...[f.filter.services, f.filter.externalServices, f.filter.proxyFirewall].map((c) => `:${c} - [0:0]`), ...shared.filter, "COMMIT"];
  out.push("*nat", ...[f.nat.services, f.nat.nodePorts, ...changed.map(([c]) => c), ...removed].map((c) => `:${c} - [0:0]`));
  for (const c of removed) out.push(`-X ${c}`);
  out.push(...shared.nat);
  for (const [, rules] of changed) out.push(...rules);
  out.push("COMMIT");
  return { text: `${out.join("\n")}\n`, changes: changed.length + removed.length };
}

function sameRules(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((r, i) => r === b[i]);
}

/** The restore removing everything of ours that `saved` shows (cleanup); undefined when there is nothing. */
export function cleanupRestore(saved: Record<IptablesTable, SavedOurs>): string | undefined {
  const out: string[] = [];
  for (const table of IPTABLES_TABLES) {
    const s = saved[table];
    if (s.chains.length === 0 && s.jumps.length === 0) continue;
    out.push(`*${table}`, ...s.chains.map((c) => `:${c} - [0:0]`), ...s.jumps.map((j) => j.replace(/^-A /, "-D ")), ...s.chains.map((c) => `-X ${c}`), "COMMIT");
  }
  return out.length === 0 ? undefined : `${out.join("\n")}\n`;
}
