/**
 * A PodNetwork test double for the runc runtime's tests: each sandbox gets
 * a network namespace (`ip netns add`) with loopback up and one address
 * from a private range on it, so pods have distinct IPs without any CNI
 * plugin, bridge or route. Nothing leaves the namespace.
 */
import { existsSync } from "node:fs";
import { fail, ok, type RuntimeCondition, type RuntimeResult } from "../../types.js";
import type { PodNetwork, PodNetworkAttachment, PodNetworkRequest } from "../../../network/cni/types.js";
import { describeFailure, runCommand } from "../run-command.js";

/** Options of a {@link NetnsTestNetwork}. */
export interface NetnsTestNetworkOptions {
  /** Namespace name prefix, unique per test run (e.g. `skiff-t1a2b3-`), so cleanup finds exactly these. */
  readonly prefix: string;
  /** The first three octets of the addresses handed out (e.g. "10.250.7"). */
  readonly subnet24?: string;
}

/** See the module comment. */
export class NetnsTestNetwork implements PodNetwork {
  private next = 2;
  private podCidr: string | undefined;

  constructor(private readonly opts: NetnsTestNetworkOptions) {}

  /** The namespace name of a sandbox. */
  nameOf(sandboxId: string): string {
    return `${this.opts.prefix}${sandboxId.slice(0, 12)}`;
  }

  async setUp(req: PodNetworkRequest): Promise<RuntimeResult<PodNetworkAttachment>> {
    const name = this.nameOf(req.sandboxId);
    const existing = await this.attachment(req.sandboxId);
    if (existing) return ok(existing);
    const ip = `${this.opts.subnet24 ?? "10.250.0"}.${this.next++}`;
    if (this.next > 254) this.next = 2;
    // One shell for the three steps: a process start is the expensive part here.
    const script = 'ip netns add "$1" && ip -n "$1" link set lo up && ip -n "$1" addr add "$2/32" dev lo';
    const r = await runCommand("/bin/sh", ["-c", script, "sh", name, ip]);
    if (r.code !== 0) {
      await this.tearDown(req.sandboxId);
      return fail("Unknown", describeFailure(`setting up network namespace ${name}`, r));
    }
    return ok({ netnsPath: `/run/netns/${name}`, ips: [ip] });
  }

  async tearDown(sandboxId: string): Promise<RuntimeResult<void>> {
    const name = this.nameOf(sandboxId);
    if (!existsSync(`/run/netns/${name}`)) return ok(undefined);
    const r = await runCommand("ip", ["netns", "del", name]);
    return r.code === 0 ? ok(undefined) : fail("Unknown", describeFailure(`ip netns del ${name}`, r));
  }

  async attachment(sandboxId: string): Promise<PodNetworkAttachment | undefined> {
    const name = this.nameOf(sandboxId);
    if (!existsSync(`/run/netns/${name}`)) return undefined;
    const r = await runCommand("ip", ["-n", name, "-4", "-o", "addr", "show", "dev", "lo"]);
    const ips = [...r.stdout.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\//g)].map((m) => m[1]!).filter((ip) => !ip.startsWith("127."));
    return { netnsPath: `/run/netns/${name}`, ips };
  }

  async setPodCidr(cidr: string): Promise<RuntimeResult<void>> {
    this.podCidr = cidr;
    return ok(undefined);
  }

  condition(): RuntimeCondition {
    return { type: "NetworkReady", status: true, ...(this.podCidr ? { message: `pod CIDR ${this.podCidr}` } : {}) };
  }
}
