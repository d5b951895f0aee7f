/**
 * A small nftables table of skiff's own that rejects whatever is still
 * addressed to the service CIDR after the proxy's DNAT (a ClusterIP no
 * Service owns), both from the host (output) and from pods (forward). The
 * service route to an empty bridge already keeps such packets on the
 * machine; the reject makes a connect fail at once instead of waiting out
 * neighbour resolution on a bridge with no ports. Matching the destination
 * address, not the output device, is deliberate: in the output hook the
 * device is the one routed before DNAT, so a device match would also
 * reject connections the proxy had already redirected.
 */
import { describeFailure, runCommand } from "./exec.js";

/** The nft table name for a service bridge (nft identifiers allow no `-`). */
export function guardTableName(serviceBridge: string): string {
  return `skiff_guard_${serviceBridge.replace(/[^A-Za-z0-9_]/g, "_")}`;
}

/** The nft script (re)creating the guard table atomically. */
export function guardScript(table: string, serviceCidr: string): string {
  // Priority 10: after every dstnat hook (-100) in the same hook, whether the proxy uses nft or iptables.
  const rule = `ip daddr ${serviceCidr} reject with icmp type admin-prohibited`;
  return [
    `table ip ${table} {}`,
    `delete table ip ${table}`,
    `table ip ${table} {`,
    `  chain output { type filter hook output priority 10; policy accept; ${rule} comment "unallocated ClusterIP"; }`,
    `  chain forward { type filter hook forward priority 10; policy accept; ${rule} comment "unallocated ClusterIP"; }`,
    "}",
    "",
  ].join("\n");
}

/** Installs (or refreshes) the guard table. */
export async function ensureServiceGuard(table: string, serviceCidr: string): Promise<string | undefined> {
  const o = await runCommand("nft", ["-f", "-"], { input: guardScript(table, serviceCidr) });
  return o.code === 0 ? undefined : describeFailure("nft", ["-f", "-"], o);
}

/** Removes the guard table; succeeds when it is not there. */
export async function deleteServiceGuard(table: string): Promise<string | undefined> {
  const list = await runCommand("nft", ["list", "table", "ip", table]);
  if (list.code !== 0) return undefined;
  const o = await runCommand("nft", ["delete", "table", "ip", table]);
  return o.code === 0 ? undefined : describeFailure("nft", ["delete", "table", "ip", table], o);
}
