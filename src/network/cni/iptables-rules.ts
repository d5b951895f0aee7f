/**
 * Finding and removing the iptables rules the plugins made for one network:
 * the bridge plugin's ipMasq chains (`CNI-<hash>`, jumped to from nat
 * POSTROUTING with the comment `name: "<net>" id: "<sandbox>"`) and
 * portmap's per-sandbox chains (`CNI-DN-<hash>`, jumped to from
 * CNI-HOSTPORT-DNAT with `dnat name: "<net>" id: "<sandbox>"`). Only those
 * rules and chains are touched, one by one, never a whole table: on Debian
 * iptables is the nftables backend and other tables (kube-proxy's, a real
 * cluster's) live beside these.
 */
import { describeFailure, runCommand } from "./exec.js";

/** One `-A CHAIN …` line of `iptables-save`. */
export interface SavedRule {
  readonly chain: string;
  /** The rule's arguments after `-A CHAIN`, unquoted. */
  readonly args: readonly string[];
  readonly comment?: string;
  /** The `-j` target. */
  readonly target?: string;
}

/** The chains and rules of one table in `iptables-save` output. */
export interface SavedTable {
  readonly chains: readonly string[];
  readonly rules: readonly SavedRule[];
}

/** Splits an iptables-save line into words, honouring double quotes and backslash escapes. */
export function splitSaveLine(line: string): string[] {
  const words: string[] = [];
  let cur = "";
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === "\\" && i + 1 < line.length) cur += line[++i];
      else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') {
      quoted = true;
      inWord = true;
    } else if (c === " " || c === "\t") {
      if (inWord) words.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

/** Parses the `*table` section of `iptables-save -t TABLE` output. */
export function parseSavedTable(text: string): SavedTable {
  const chains: string[] = [];
  const rules: SavedRule[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.startsWith(":")) {
      chains.push(line.slice(1).split(" ")[0]!);
    } else if (line.startsWith("-A ")) {
      const words = splitSaveLine(line);
      const chain = words[1]!;
      const args = words.slice(2);
      const ci = args.indexOf("--comment");
      const ji = args.indexOf("-j");
      rules.push({
        chain,
        args,
        ...(ci >= 0 && args[ci + 1] !== undefined ? { comment: args[ci + 1] } : {}),
        ...(ji >= 0 && args[ji + 1] !== undefined ? { target: args[ji + 1] } : {}),
      });
    }
  }
  return { chains, rules };
}

/** The comment the plugins tag a sandbox's rules with (Go's `%q` of the names). */
function ownedBy(comment: string | undefined, networkName: string, sandboxId: string | undefined): boolean {
  if (comment === undefined) return false;
  const m = /^(?:dnat )?name: (".*") id: (".*")$/.exec(comment);
  if (m === null) return false;
  try {
    return JSON.parse(m[1]!) === networkName && (sandboxId === undefined || JSON.parse(m[2]!) === sandboxId);
  } catch {
    return false;
  }
}

/**
 * The rules in `table` that the plugins made for `networkName` (and for
 * `sandboxId`, when given), and the per-sandbox chains they jump to.
 */
export function ownedRules(table: SavedTable, networkName: string, sandboxId?: string): { rules: SavedRule[]; chains: string[] } {
  const rules = table.rules.filter((r) => ownedBy(r.comment, networkName, sandboxId));
  const chains = new Set<string>();
  for (const r of rules) {
    // Portmap's CNI-HOSTPORT-* chains are shared by every network; only per-sandbox chains go here.
    const t = r.target ?? "";
    if (t.startsWith("CNI-") && !t.startsWith("CNI-HOSTPORT-") && table.chains.includes(t)) chains.add(t);
  }
  return { rules, chains: [...chains] };
}

/** The chains portmap shares among all networks, with the jumps into them from built-in chains. */
const PORTMAP_SHARED = ["CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-SETMARK", "CNI-HOSTPORT-MASQ", "CNI-HOSTPORT-SNAT"];

async function iptables(args: readonly string[]): Promise<string | undefined> {
  const o = await runCommand("iptables", ["-w", ...args]);
  return o.code === 0 ? undefined : describeFailure("iptables", ["-w", ...args], o);
}

/** `iptables-save -t nat` parsed; an empty table when there is no nat table (or no iptables). */
export async function readNatTable(): Promise<SavedTable | string> {
  const o = await runCommand("iptables-save", ["-t", "nat"]);
  if (o.code !== 0) {
    if (o.error !== undefined && /ENOENT/.test(o.error)) return { chains: [], rules: [] };
    return describeFailure("iptables-save", ["-t", "nat"], o);
  }
  return parseSavedTable(o.stdout);
}

/**
 * Removes the nat rules and chains the plugins made for `networkName`
 * (only `sandboxId`'s when given). With `pruneSharedPortmap`, portmap's
 * shared CNI-HOSTPORT-* chains go too once no network has a port mapping
 * left in them. Resolves with the errors met (empty: all gone).
 */
export async function removeOwnedRules(networkName: string, opts: { sandboxId?: string; pruneSharedPortmap?: boolean } = {}): Promise<string[]> {
  const table = await readNatTable();
  if (typeof table === "string") return [table];
  const errors: string[] = [];
  const owned = ownedRules(table, networkName, opts.sandboxId);
  for (const r of owned.rules) {
    const err = await iptables(["-t", "nat", "-D", r.chain, ...r.args]);
    if (err !== undefined) errors.push(err);
  }
  for (const c of owned.chains) {
    for (const args of [["-t", "nat", "-F", c], ["-t", "nat", "-X", c]]) {
      const err = await iptables(args);
      if (err !== undefined) errors.push(err);
    }
  }
  if (opts.pruneSharedPortmap) errors.push(...(await pruneSharedPortmapChains()));
  return errors;
}

/** Removes portmap's shared chains when CNI-HOSTPORT-DNAT holds no sandbox's mapping any more. */
async function pruneSharedPortmapChains(): Promise<string[]> {
  const table = await readNatTable();
  if (typeof table === "string") return [table];
  const present = PORTMAP_SHARED.filter((c) => table.chains.includes(c));
  if (present.length === 0) return [];
  // Another network (another agent, another runtime) still publishes ports through them: leave them.
  if (table.rules.some((r) => r.chain === "CNI-HOSTPORT-DNAT")) return [];
  const errors: string[] = [];
  for (const r of table.rules) {
    if (r.target !== undefined && present.includes(r.target) && !present.includes(r.chain)) {
      const err = await iptables(["-t", "nat", "-D", r.chain, ...r.args]);
      if (err !== undefined) errors.push(err);
    }
  }
  for (const c of present) {
    const err = await iptables(["-t", "nat", "-F", c]);
    if (err !== undefined) errors.push(err);
  }
  for (const c of present) {
    const err = await iptables(["-t", "nat", "-X", c]);
    if (err !== undefined) errors.push(err);
  }
  return errors;
}
