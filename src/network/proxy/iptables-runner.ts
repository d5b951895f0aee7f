/**
 * How the iptables backend talks to the kernel: `iptables-restore
 * --noflush` (one transaction per sync), `iptables-save -t TABLE` (to find
 * our chains and jump rules on a full restore and at cleanup) and one
 * sysctl (route_localnet, for NodePorts on 127.0.0.1). Injectable so tests
 * run it inside a test network namespace. The binaries are whatever
 * `iptables-restore`/`iptables-save` are here (nf_tables or legacy).
 */
import { writeFile } from "node:fs/promises";
import { describeFailure, runCommand } from "../cni/exec.js";
import type { IptablesTable } from "./iptables-script.js";

/** The iptables operations the backend needs; each resolves with a value, never rejects. */
export interface IptablesRunner {
  /** Applies `input` with `iptables-restore --noflush`; an error message, or undefined on success. */
  restore(input: string): Promise<string | undefined>;
  /** `iptables-save -t table`. */
  save(table: IptablesTable): Promise<{ readonly text: string } | { readonly error: string }>;
  /** Sets `net.ipv4.…` sysctl `name` (dotted) to `value`; an error message, or undefined. */
  sysctl(name: string, value: string): Promise<string | undefined>;
}

const RESTORE_ARGS = ["-w", "5", "--noflush"];

function commandRunner(wrap: (cmd: string, args: string[]) => [string, string[]]): Omit<IptablesRunner, "sysctl"> {
  return {
    async restore(input) {
      const [cmd, args] = wrap("iptables-restore", RESTORE_ARGS);
      const o = await runCommand(cmd, args, { input, timeoutMs: 60_000 });
      return o.code === 0 ? undefined : describeFailure(cmd, args, o);
    },
    async save(table) {
      const [cmd, args] = wrap("iptables-save", ["-t", table]);
      const o = await runCommand(cmd, args, { timeoutMs: 60_000 });
      return o.code === 0 ? { text: o.stdout } : { error: describeFailure(cmd, args, o) };
    },
  };
}

/** The binaries in this process's network namespace. */
export const systemIptables: IptablesRunner = {
  ...commandRunner((cmd, args) => [cmd, args]),
  async sysctl(name, value) {
    try {
      await writeFile(`/proc/sys/${name.replace(/\./g, "/")}`, value);
      return undefined;
    } catch (err) {
      return `cannot set sysctl ${name}=${value}: ${(err as Error).message}`;
    }
  },
};

/** The same inside network namespace `netns` (`ip netns exec`; tests, benchmarks). */
export function netnsIptables(netns: string): IptablesRunner {
  const wrap = (cmd: string, args: string[]): [string, string[]] => ["ip", ["netns", "exec", netns, cmd, ...args]];
  return {
    ...commandRunner(wrap),
    async sysctl(name, value) {
      const [cmd, args] = wrap("sysctl", ["-qw", `${name}=${value}`]);
      const o = await runCommand(cmd, args, { timeoutMs: 20_000 });
      return o.code === 0 ? undefined : describeFailure(cmd, args, o);
    },
  };
}
