/**
 * Conntrack cleanup for UDP Services, as upstream's
 * pkg/proxy/conntrack/cleanup.go: UDP has no connection to end, so a
 * conntrack entry DNATed to an endpoint that is gone would keep sending a
 * client's datagrams into the void until it times out. After each applied
 * sync the proxy deletes entries NATed to removed endpoints, and entries of
 * Service IPs and NodePorts that just got their first endpoint (datagrams
 * rejected before may have left entries without NAT).
 */
import { type CommandOutcome, describeFailure, runCommand } from "../cni/exec.js";
import { endpointString } from "./endpoints.js";
import type { ServicePortModel } from "./model.js";
import { servicePortNameString } from "./names.js";

/** A UDP Service port as the cleanup needs it. */
export interface UdpPortState {
  /** The port's name, `ns/name:port`. */
  readonly name: string;
  /** ClusterIP, external IPs and load-balancer IPs. */
  readonly serviceIPs: readonly string[];
  readonly nodePort: number;
  /** `ip:port` of the endpoints traffic is sent to. */
  readonly endpoints: readonly string[];
}

/** The UDP ports among a Service's port models. */
export function udpPorts(models: readonly ServicePortModel[]): UdpPortState[] {
  return models
    .filter((m) => m.name.protocol === "udp")
    .map((m) => ({
      name: servicePortNameString(m.name),
      serviceIPs: [m.clusterIP, ...m.externalIPs, ...m.loadBalancerIPs],
      nodePort: m.nodePort,
      endpoints: m.reachableEndpoints.map(endpointString),
    }));
}

/** Runs `conntrack ARGS…` (inside the node's network namespace). */
export type ConntrackRunner = (args: readonly string[]) => Promise<CommandOutcome>;

/** The `conntrack` binary of this network namespace. */
export const systemConntrack: ConntrackRunner = (args) => runCommand("conntrack", args, { timeoutMs: 30_000 });

/** What conntrack prints when nothing matched: not a failure (upstream's NoConnectionToDelete). */
const NO_CONNECTION_TO_DELETE = "0 flow entries have been deleted";

/** The `conntrack -D …` argument lists for a Service whose UDP ports changed from `old` to `next`. */
export function conntrackCleanups(old: readonly UdpPortState[], next: readonly UdpPortState[]): string[][] {
  const out: string[][] = [];
  const nextByName = new Map(next.map((p) => [p.name, p]));
  const oldByName = new Map(old.map((p) => [p.name, p]));
  const ipOf = (ep: string) => ep.slice(0, ep.lastIndexOf(":"));
  for (const o of old) {
    const n = nextByName.get(o.name);
    if (n === undefined) {
      // The port (or whole Service) is gone: its ClusterIP entries go with it (upstream's DeletedUDPClusterIPs).
      out.push(["-D", "--orig-dst", o.serviceIPs[0] as string, "-p", "udp"]);
      continue;
    }
    const still = new Set(n.endpoints);
    for (const ep of o.endpoints) {
      if (still.has(ep)) continue;
      const ip = ipOf(ep);
      if (n.nodePort !== 0) out.push(["-D", "-p", "udp", "--dport", String(n.nodePort), "--dst-nat", ip]);
      for (const svcIP of n.serviceIPs) out.push(["-D", "--orig-dst", svcIP, "--dst-nat", ip, "-p", "udp"]);
    }
  }
  for (const n of next) {
    const o = oldByName.get(n.name);
    const newlyActive = n.endpoints.length > 0 && (o === undefined || o.endpoints.length === 0);
    if (!newlyActive) continue;
    for (const svcIP of n.serviceIPs) out.push(["-D", "--orig-dst", svcIP, "-p", "udp"]);
    if (n.nodePort !== 0) out.push(["-D", "-p", "udp", "--dport", String(n.nodePort)]);
  }
  return out;
}

/** Runs the cleanups; returns the failures (a run that matched nothing is no failure). */
export async function runConntrackCleanups(run: ConntrackRunner, cleanups: readonly string[][]): Promise<string[]> {
  const errors: string[] = [];
  for (const args of cleanups) {
    const o = await run(args);
    if (o.code === 0) continue;
    if (`${o.stderr}${o.stdout}`.includes(NO_CONNECTION_TO_DELETE)) continue;
    errors.push(describeFailure("conntrack", args, o));
  }
  return errors;
}
