/**
 * How skiff talks to nftables (the service proxy, the policy enforcer): one script, one `nft -f -`, one
 * transaction. Injectable so tests run it inside a test network namespace
 * (`ip netns exec NS nft -f -`).
 */
import { describeFailure, runCommand } from "./cni/exec.js";

/** Applies an nft script atomically; resolves with an error message, or undefined on success. */
export type NftRunner = (script: string) => Promise<string | undefined>;

/** `nft -f -` in this process's network namespace. */
export const systemNft: NftRunner = async (script) => {
  const o = await runCommand("nft", ["-f", "-"], { input: script, timeoutMs: 60_000 });
  return o.code === 0 ? undefined : describeFailure("nft", ["-f", "-"], o);
};

/** `ip netns exec NS nft -f -` (tests, benchmarks). */
export function netnsNft(netns: string): NftRunner {
  return async (script) => {
    const args = ["netns", "exec", netns, "nft", "-f", "-"];
    const o = await runCommand("ip", args, { input: script, timeoutMs: 60_000 });
    return o.code === 0 ? undefined : describeFailure("ip", args, o);
  };
}
