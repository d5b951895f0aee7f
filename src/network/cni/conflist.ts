/**
 * The network configuration skiff hands the standard plugins: a CNI 1.0.0
 * conflist chaining `bridge` (with `host-local` IPAM on the node's podCIDR)
 * and `portmap`, plus the separate `loopback` network every sandbox gets
 * (as containerd does). Also the per-plugin config libcni builds from a
 * conflist (name, cniVersion, prevResult, runtimeConfig injected).
 */
import type { PortMapping } from "../../runtime/types.js";
import type { PodNetworkRequest } from "./types.js";

/** The CNI spec version skiff speaks (conflist semantics: prevResult threading, CHECK). */
export const CNI_VERSION = "1.0.0";

/** One plugin entry of a conflist. */
export interface CniPluginConf {
  readonly type: string;
  /** Runtime capabilities the plugin accepts through `runtimeConfig` (portmap: `portMappings`). */
  readonly capabilities?: Readonly<Record<string, boolean>>;
  readonly [key: string]: unknown;
}

/** A network configuration list. */
export interface CniConfList {
  readonly cniVersion: string;
  readonly name: string;
  readonly plugins: readonly CniPluginConf[];
}

/** A port mapping in the `portMappings` capability's shape. */
export interface CniPortMapping {
  readonly hostPort: number;
  readonly containerPort: number;
  readonly protocol: "tcp" | "udp" | "sctp";
  readonly hostIP?: string;
}

/** What the bridge/portmap conflist is made from. */
export interface PodConfListParams {
  readonly networkName: string;
  readonly bridgeName: string;
  /** The node's podCIDR: the host-local range. */
  readonly podCidr: string;
  /** host-local's dataDir (its IP reservations). */
  readonly ipamDataDir: string;
  readonly mtu?: number;
  readonly hairpin: boolean;
  readonly ipMasq: boolean;
}

/** The conflist for a pod's `eth0`. */
export function podConfList(p: PodConfListParams): CniConfList {
  const bridge: Record<string, unknown> = {
    type: "bridge",
    bridge: p.bridgeName,
    isGateway: true,
    ipMasq: p.ipMasq,
    hairpinMode: p.hairpin,
    ipam: {
      type: "host-local",
      ranges: [[{ subnet: p.podCidr }]],
      routes: [{ dst: "0.0.0.0/0" }],
      dataDir: p.ipamDataDir,
    },
  };
  if (p.mtu !== undefined) bridge.mtu = p.mtu;
  return {
    cniVersion: CNI_VERSION,
    name: p.networkName,
    plugins: [bridge as CniPluginConf, { type: "portmap", capabilities: { portMappings: true }, snat: true }],
  };
}

/** The loopback network (CNI_IFNAME=lo), run before the pod's conflist. */
export function loopbackConfList(): CniConfList {
  return { cniVersion: CNI_VERSION, name: "cni-loopback", plugins: [{ type: "loopback" }] };
}

/** Runtime data for capabilities, by capability name (`portMappings`). */
export type CapabilityArgs = Readonly<Record<string, unknown>>;

/**
 * The config one plugin of `list` receives, as libcni's buildOneConfig:
 * the list's `name` and `cniVersion`, `prevResult` when there is one, and
 * `runtimeConfig` holding only the capabilities the plugin declares.
 */
export function pluginConfig(list: CniConfList, plugin: CniPluginConf, prevResult: unknown, caps: CapabilityArgs): Record<string, unknown> {
  const conf: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
  if (prevResult !== undefined) conf.prevResult = prevResult;
  const runtimeConfig: Record<string, unknown> = {};
  for (const [cap, wanted] of Object.entries(plugin.capabilities ?? {})) {
    if (wanted && caps[cap] !== undefined) runtimeConfig[cap] = caps[cap];
  }
  if (Object.keys(runtimeConfig).length > 0) conf.runtimeConfig = runtimeConfig;
  return conf;
}

/**
 * CRI port mappings in the portmap plugin's shape. Mappings without a host
 * port publish nothing (containerd skips them too).
 */
export function cniPortMappings(pms: readonly PortMapping[]): CniPortMapping[] {
  const out: CniPortMapping[] = [];
  for (const pm of pms) {
    if (pm.hostPort <= 0) continue;
    const m: CniPortMapping = { hostPort: pm.hostPort, containerPort: pm.containerPort, protocol: pm.protocol.toLowerCase() as CniPortMapping["protocol"] };
    out.push(pm.hostIp !== undefined && pm.hostIp !== "" ? { ...m, hostIP: pm.hostIp } : m);
  }
  return out;
}

/** Why a port mapping cannot be published, or undefined when it can. */
export function invalidPortMapping(pm: PortMapping): string | undefined {
  if (!["TCP", "UDP", "SCTP"].includes(pm.protocol)) return `unsupported protocol ${JSON.stringify(pm.protocol)}: supported values: "SCTP", "TCP", "UDP"`;
  if (pm.hostPort > 65535 || pm.hostPort < 0 || !Number.isInteger(pm.hostPort)) return `invalid hostPort ${pm.hostPort}: must be between 1 and 65535, inclusive`;
  if (pm.hostPort > 0 && (pm.containerPort < 1 || pm.containerPort > 65535 || !Number.isInteger(pm.containerPort))) {
    return `invalid containerPort ${pm.containerPort}: must be between 1 and 65535, inclusive`;
  }
  if (pm.hostIp !== undefined && pm.hostIp !== "" && pm.hostIp.includes(":")) return `hostIP ${pm.hostIp} is IPv6, which skiff's pod network does not support`;
  return undefined;
}

/** CNI_ARGS for a pod, as the kubelet's CRI runtimes pass them. */
export function podCniArgs(req: Pick<PodNetworkRequest, "podNamespace" | "podName" | "podUid" | "sandboxId">): string {
  // IgnoreUnknown: plugins that parse CNI_ARGS strictly (host-local) would otherwise refuse the K8S_ keys.
  return [
    "IgnoreUnknown=1",
    `K8S_POD_NAMESPACE=${req.podNamespace}`,
    `K8S_POD_NAME=${req.podName}`,
    `K8S_POD_INFRA_CONTAINER_ID=${req.sandboxId}`,
    `K8S_POD_UID=${req.podUid}`,
  ].join(";");
}
