/**
 * Removes the proxy's table (`skiff agent --cleanup`, uninstall), as
 * upstream's `kube-proxy --cleanup` removes its rules. Idempotent: the
 * `table …{}` first makes the delete succeed when the table is not there.
 */
import { proxyTableName } from "./names.js";
import { type NftRunner, systemNft } from "./nft-runner.js";

/** Deletes the proxy table for `suffix` (the node's bridge name); resolves with an error message or undefined. */
export function cleanupServiceProxy(suffix: string, nft: NftRunner = systemNft): Promise<string | undefined> {
  const t = proxyTableName(suffix);
  return nft(`table ip ${t} {}\ndelete table ip ${t}\n`);
}
