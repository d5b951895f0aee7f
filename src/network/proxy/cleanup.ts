/**
 * Removes the proxy's rules (`skiff agent --cleanup`, uninstall), as
 * upstream's `kube-proxy --cleanup` removes those of every mode: the
 * nftables table and the iptables chains (with their jumps from the
 * built-in chains) of this node. Idempotent: the `table …{}` first makes
 * the delete succeed when the table is not there, and the iptables part
 * only removes what `iptables-save` shows.
 */
import { savedOurs } from "./iptables-backend.js";
import { iptablesChainPrefix } from "./iptables-names.js";
import { type IptablesRunner, systemIptables } from "./iptables-runner.js";
import { cleanupRestore } from "./iptables-script.js";
import { proxyTableName } from "./names.js";
import { type NftRunner, systemNft } from "../nft-runner.js";

/** Which tools cleanup uses; both default to this machine's. */
export interface CleanupRunners {
  readonly nft?: NftRunner;
  readonly iptables?: IptablesRunner;
}

/**
 * Deletes the proxy table and chains for `suffix` (the node's bridge name);
 * resolves with an error message or undefined. A missing `nft` or
 * `iptables-save` binary means there is nothing of that kind to remove.
 */
export async function cleanupServiceProxy(suffix: string, runners: NftRunner | CleanupRunners = {}): Promise<string | undefined> {
  const r: CleanupRunners = typeof runners === "function" ? { nft: runners } : runners;
  const errors = [await cleanupNftProxy(suffix, r.nft ?? systemNft), await cleanupIptablesProxy(suffix, r.iptables ?? systemIptables)];
  const found = errors.filter((e) => e !== undefined);
  return found.length === 0 ? undefined : found.join("; ");
}

/** Deletes the nftables mode's table for `suffix`; a missing `nft` means there is none. */
export async function cleanupNftProxy(suffix: string, nft: NftRunner): Promise<string | undefined> {
  const t = proxyTableName(suffix);
  const err = await nft(`table ip ${t} {}\ndelete table ip ${t}\n`);
  return err !== undefined && !missingBinary(err) ? err : undefined;
}

/** Deletes the iptables mode's chains and jump rules for `suffix`; a missing `iptables-save` means there are none. */
export async function cleanupIptablesProxy(suffix: string, iptables: IptablesRunner): Promise<string | undefined> {
  const saved = await savedOurs(iptables, iptablesChainPrefix(suffix));
  if (typeof saved === "string") return missingBinary(saved) ? undefined : saved;
  const script = cleanupRestore(saved);
  return script === undefined ? undefined : iptables.restore(script);
}

function missingBinary(err: string): boolean {
  return /ENOENT|not found/i.test(err);
}
