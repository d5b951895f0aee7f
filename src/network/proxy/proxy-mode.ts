/**
 * Picks the proxy mode as `--proxy-mode` asks: `nftables` or `iptables`
 * exactly when given (a failure then shows in the proxy's own logs, as
 * kube-proxy fails in the mode it was told), and when not given nftables
 * if this machine can run it, else iptables with a warning — the issue's
 * "nftables with iptables as a fallback" (`nft` missing, or a kernel
 * without nf_tables).
 */
import { InvalidArgumentError } from "commander";
import { runCommand } from "../cni/exec.js";
import type { Logger } from "../../machinery/log.js";
import type { ProxyMode } from "./service-proxy.js";

export const PROXY_MODES: readonly ProxyMode[] = ["nftables", "iptables"];

/** Parses a `--proxy-mode` value; throws with the accepted values otherwise. */
export function parseProxyMode(value: string): ProxyMode {
  if ((PROXY_MODES as readonly string[]).includes(value)) return value as ProxyMode;
  throw new Error(`invalid --proxy-mode "${value}": must be one of ${PROXY_MODES.join(", ")}`);
}

/** Checks that nftables works here; undefined when it does, else why not. */
export type NftProbe = () => Promise<string | undefined>;

/** `nft list tables`: fails when the binary is missing or the kernel has no nf_tables. */
export const systemNftProbe: NftProbe = async () => {
  const o = await runCommand("nft", ["list", "tables"], { timeoutMs: 20_000 });
  if (o.code === 0) return undefined;
  return (o.error ?? o.stderr.trim()) || `nft exited with ${o.code}`;
};

/** The mode to run: `requested` when set, else nftables when {@link NftProbe} passes, else iptables (logged). */
export async function chooseProxyMode(requested: ProxyMode | undefined, logger: Logger, probe: NftProbe = systemNftProbe): Promise<ProxyMode> {
  if (requested !== undefined) return requested;
  const why = await probe();
  if (why === undefined) return "nftables";
  logger.warn("nftables is not usable here; the service proxy falls back to iptables mode", { reason: why });
  return "iptables";
}

/** commander's parser for `--proxy-mode` (its InvalidArgumentError prints the flag and the message). */
export function proxyModeOption(value: string): ProxyMode {
  try {
    return parseProxyMode(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}
