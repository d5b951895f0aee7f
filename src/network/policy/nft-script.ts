/**
 * nft scripts for the policy table `inet skiff_policy_<suffix>`: the full
 * (re)build on start and after a failure, and the incremental transaction
 * between two compiled rule sets (set element adds/deletes for pod churn,
 * a flush and refill of only the chains whose rules changed). Each script
 * goes to `nft -f -` as one atomic transaction.
 *
 * The base chains are fixed:
 * - `forward_from_pods` (forward hook): replies pass; traffic from an
 *   egress-isolated local pod goes through `pod_egress`.
 * - `forward_to_pods` (forward hook): replies pass; traffic to an
 *   ingress-isolated local pod goes through `pod_ingress`.
 * - `input_from_pods` (input hook): an egress-isolated pod reaching the
 *   node itself is checked too, as upstream CNIs do.
 * Egress and ingress are separate base chains so a policy chain can end
 * its check with a plain `accept`: an accept ends only its own base chain,
 * and the packet still meets the other check, while a reject anywhere is
 * final. Traffic the node itself sends to its pods (kubelet probes) takes
 * the output hook and is never checked, as the API reference requires.
 * Bridged pod-to-pod traffic reaches the forward hook only with
 * `net.bridge.bridge-nf-call-iptables=1` (node-routes.ts sets it), where
 * the proxy's DNAT has already happened, so policies see the backend pod.
 */
import type { NftSetSpec, PolicyRuleset } from "./compile.js";
import { EGRESS_DISPATCH_CHAIN, EGRESS_ISOLATED_SET, INGRESS_DISPATCH_CHAIN, INGRESS_ISOLATED_SET } from "./compile.js";

/** The policy table's name for a suffix (a bridge name works: nft identifiers allow no `-`). */
export function policyTableName(suffix: string): string {
  return `skiff_policy_${suffix.replace(/[^A-Za-z0-9_]/g, "_")}`;
}

/** A rule set with nothing in it (what a fresh table holds before the first diff). */
export const EMPTY_RULESET: PolicyRuleset = { sets: new Map(), chains: new Map() };

/** The script deleting the table; harmless when it is not there. */
export function deleteTableScript(table: string): string {
  return `add table inet ${table}\ndelete table inet ${table}\n`;
}

/** The script replacing whatever table is there with exactly `rs`. */
export function fullScript(table: string, rs: PolicyRuleset): string {
  const t = `inet ${table}`;
  const base = [
    `add chain ${t} forward_from_pods { type filter hook forward priority filter; policy accept; }`,
    `add chain ${t} forward_to_pods { type filter hook forward priority filter; policy accept; }`,
    `add chain ${t} input_from_pods { type filter hook input priority filter; policy accept; }`,
    `add rule ${t} forward_from_pods ct state established,related accept`,
    `add rule ${t} forward_from_pods ip saddr @${EGRESS_ISOLATED_SET} jump ${EGRESS_DISPATCH_CHAIN}`,
    `add rule ${t} forward_to_pods ct state established,related accept`,
    `add rule ${t} forward_to_pods ip daddr @${INGRESS_ISOLATED_SET} jump ${INGRESS_DISPATCH_CHAIN}`,
    `add rule ${t} input_from_pods ct state established,related accept`,
    `add rule ${t} input_from_pods ip saddr @${EGRESS_ISOLATED_SET} jump ${EGRESS_DISPATCH_CHAIN}`,
  ];
  return `${deleteTableScript(table)}add table inet ${table}\n${diffScript(table, EMPTY_RULESET, rs)}${base.join("\n")}\n`;
}

/**
 * The transaction turning `from` (what the table holds) into `to`; "" when
 * nothing changed. Order matters inside it: chains that change are
 * flushed before chains and sets they referenced are deleted, and sets
 * and chains exist before rules name them.
 */
export function diffScript(table: string, from: PolicyRuleset, to: PolicyRuleset): string {
  const t = `inet ${table}`;
  const out: string[] = [];
  const changed = [...to.chains].filter(([name, rules]) => {
    const old = from.chains.get(name);
    return old !== undefined && !sameList(old, rules);
  });
  const removedChains = [...from.chains.keys()].filter((name) => !to.chains.has(name));
  const addedChains = [...to.chains.keys()].filter((name) => !from.chains.has(name));
  for (const [name] of changed) out.push(`flush chain ${t} ${name}`);
  for (const name of removedChains) out.push(`flush chain ${t} ${name}`);
  for (const name of removedChains) out.push(`delete chain ${t} ${name}`);
  for (const [name, old] of from.sets) {
    const want = to.sets.get(name);
    if (want === undefined || !sameKind(old, want)) out.push(`delete set ${t} ${name}`);
  }
  for (const [name, want] of to.sets) {
    const old = from.sets.get(name);
    if (old === undefined || !sameKind(old, want)) {
      out.push(`add set ${t} ${name} { type ${want.type};${want.interval ? " flags interval;" : ""} }`);
      if (want.elements.length > 0) out.push(`add element ${t} ${name} { ${want.elements.join(", ")} }`);
      continue;
    }
    const had = new Set(old.elements);
    const wanted = new Set(want.elements);
    const gone = old.elements.filter((e) => !wanted.has(e));
    const fresh = want.elements.filter((e) => !had.has(e));
    // Deletes first: a merged range may replace the ranges it overlaps.
    if (gone.length > 0) out.push(`delete element ${t} ${name} { ${gone.join(", ")} }`);
    if (fresh.length > 0) out.push(`add element ${t} ${name} { ${fresh.join(", ")} }`);
  }
  for (const name of addedChains) out.push(`add chain ${t} ${name}`);
  for (const name of addedChains) for (const rule of to.chains.get(name) ?? []) out.push(`add rule ${t} ${name} ${rule}`);
  for (const [name, rules] of changed) for (const rule of rules) out.push(`add rule ${t} ${name} ${rule}`);
  return out.length === 0 ? "" : `${out.join("\n")}\n`;
}

function sameKind(a: NftSetSpec, b: NftSetSpec): boolean {
  return a.type === b.type && a.interval === b.interval;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
