/**
 * Flannel's VXLAN backend, for nodes whose peers are not on a directly
 * connected network (host-gw needs the peer's node IP on-link):
 * - one VXLAN device per node (VNI 1, UDP 8472, `nolearning`, local = the
 *   node IP, MTU = the underlying link's − 50 for the VXLAN header), holding
 *   the first address of the node's podCIDR as /32 (flannel's `x.y.z.0/32`);
 * - the node publishes the device's MAC and its public IP in flannel's Node
 *   annotations, which is how its peers learn where its VTEP is;
 * - per peer: a permanent neighbour `<peer .0> → <peer MAC>`, a forwarding
 *   entry `<peer MAC> → <peer IP>` and the route `<peer podCIDR> via <peer .0>
 *   dev <vxlan> onlink`. Nothing is learnt from traffic: the entries are the
 *   whole map, so a stale one is removed, never aged out.
 * Everything goes through iproute2 (`ip`, `bridge`); failures come back as
 * messages.
 */
import { createHash } from "node:crypto";
import type { Node } from "kubernetes-types/core/v1.js";
import { type Cidr, formatCidr, ipToNumber, numberToIp, tryParseCidr } from "../../machinery/cidr.js";
import { describeFailure, runCommand } from "./exec.js";
import { deleteLink, ip, ipJson } from "./host-net.js";

/** Flannel's VNI and UDP port (the Linux kernel's own default port is 8472 too). */
export const VXLAN_VNI = 1;
export const VXLAN_PORT = 8472;
/** The VXLAN header (50 bytes over IPv4) comes off the underlying MTU. */
export const VXLAN_OVERHEAD = 50;

/** Flannel's Node annotations (flannel's subnet/kube, with its default prefix). */
export const BACKEND_TYPE_ANNOTATION = "flannel.alpha.coreos.com/backend-type";
export const BACKEND_DATA_ANNOTATION = "flannel.alpha.coreos.com/backend-data";
export const PUBLIC_IP_ANNOTATION = "flannel.alpha.coreos.com/public-ip";

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/**
 * The VXLAN device of the node whose pod bridge is `bridge`: `<bridge>.1`
 * (flannel names its device `flannel.<VNI>`), so agents sharing a machine
 * differ; a bridge name too long for that gets a hashed name (link names
 * are at most 15 characters).
 */
export function vxlanDeviceName(bridge: string): string {
  const plain = `${bridge}.${VXLAN_VNI}`;
  if (plain.length <= 15) return plain;
  return `vx${createHash("sha256").update(bridge).digest("hex").slice(0, 11)}.${VXLAN_VNI}`;
}

/** The first address of a podCIDR (flannel's VTEP address and the peers' next hop); undefined when it is no IPv4 CIDR. */
export function vtepAddress(podCidr: string): string | undefined {
  const c = tryParseCidr(podCidr);
  return typeof c === "string" ? undefined : numberToIp(c.base);
}

/** The annotations a node publishes for its VTEP, as flannel writes them. */
export function vtepAnnotations(mac: string, publicIP: string): Record<string, string> {
  return {
    [BACKEND_TYPE_ANNOTATION]: "vxlan",
    [BACKEND_DATA_ANNOTATION]: JSON.stringify({ VNI: VXLAN_VNI, VtepMAC: mac }),
    [PUBLIC_IP_ANNOTATION]: publicIP,
  };
}

/** A peer's VTEP as its annotations give it. */
export interface PeerVtep {
  readonly mac: string;
  /** Where its VXLAN packets go: the public-ip annotation. */
  readonly publicIP: string;
}

/**
 * The VTEP a Node published, or why it has none usable (no vxlan backend
 * annotations yet, a different VNI, a malformed MAC or IP).
 */
export function peerVtep(node: Node): PeerVtep | string {
  const a = node.metadata?.annotations ?? {};
  if (a[BACKEND_TYPE_ANNOTATION] !== "vxlan") return `no ${BACKEND_TYPE_ANNOTATION}: vxlan annotation`;
  let data: unknown;
  try {
    data = JSON.parse(a[BACKEND_DATA_ANNOTATION] ?? "");
  } catch {
    return `${BACKEND_DATA_ANNOTATION} is not JSON`;
  }
  const d = (data ?? {}) as { VNI?: unknown; VtepMAC?: unknown };
  if (d.VNI !== VXLAN_VNI) return `${BACKEND_DATA_ANNOTATION} has VNI ${JSON.stringify(d.VNI)}, not ${VXLAN_VNI}`;
  const mac = typeof d.VtepMAC === "string" ? d.VtepMAC.toLowerCase() : "";
  if (!MAC.test(mac)) return `${BACKEND_DATA_ANNOTATION} has no valid VtepMAC`;
  const publicIP = a[PUBLIC_IP_ANNOTATION] ?? "";
  if (ipToNumber(publicIP) === undefined) return `${PUBLIC_IP_ANNOTATION} ${JSON.stringify(publicIP)} is not an IPv4 address`;
  return { mac, publicIP };
}

/** One kernel entry a VXLAN peer needs. */
export type VxlanEntry =
  | { readonly kind: "neigh"; readonly ip: string; readonly mac: string }
  | { readonly kind: "fdb"; readonly mac: string; readonly dst: string }
  | { readonly kind: "route"; readonly cidr: string; readonly gateway: string };

/** A stable text for an entry (set membership, logs). */
export function entryKey(e: VxlanEntry): string {
  switch (e.kind) {
    case "neigh":
      return `neigh ${e.ip} lladdr ${e.mac}`;
    case "fdb":
      return `fdb ${e.mac} dst ${e.dst}`;
    case "route":
      return `route ${e.cidr} via ${e.gateway}`;
  }
}

/** The three entries that reach one peer's pods over VXLAN, in the order they are added. */
export function peerEntries(podCidr: Cidr, vtep: PeerVtep): VxlanEntry[] {
  const gateway = numberToIp(podCidr.base);
  return [
    { kind: "neigh", ip: gateway, mac: vtep.mac },
    { kind: "fdb", mac: vtep.mac, dst: vtep.publicIP },
    { kind: "route", cidr: formatCidr(podCidr), gateway },
  ];
}

/** The VXLAN device and its peers' entries, as the route sync drives them. */
export interface VxlanDataplane {
  /** The device's name. */
  readonly device: string;
  /** Makes (or keeps) the device for this node's podCIDR; resolves with its MAC, or an error message. */
  ensureDevice(podCidr: string): Promise<{ mac: string } | string>;
  /** Whether `ip` is reachable on-link (its route has no gateway): host-gw works then. */
  onLink(ip: string): Promise<boolean>;
  /** The peer entries on the device now. */
  list(): Promise<VxlanEntry[]>;
  add(e: VxlanEntry): Promise<string | undefined>;
  remove(e: VxlanEntry): Promise<string | undefined>;
}

interface LinkDetail {
  readonly ifname: string;
  readonly mtu?: number;
  readonly address?: string;
  readonly linkinfo?: {
    readonly info_kind?: string;
    readonly info_data?: { readonly id?: number; readonly local?: string; readonly port?: number; readonly learning?: boolean; readonly link?: string };
  };
  readonly addr_info?: readonly { readonly family: string; readonly local: string; readonly prefixlen: number }[];
}

async function linkDetail(name: string): Promise<LinkDetail | undefined> {
  return (await ipJson<LinkDetail[]>(["-d", "addr", "show", "dev", name]))?.[0];
}

async function bridgeCmd(args: readonly string[]): Promise<string | undefined> {
  const o = await runCommand("bridge", args);
  return o.code === 0 ? undefined : describeFailure("bridge", args, o);
}

const gone = (err: string | undefined) => (err !== undefined && /No such|not found|Cannot find|does not exist/i.test(err) ? undefined : err);

/** The kernel's VXLAN device `device` with VTEP address `localIP` (this node's IP). */
export function systemVxlanDataplane(device: string, localIP: string): VxlanDataplane {
  return {
    device,
    async ensureDevice(podCidr) {
      const address = vtepAddress(podCidr);
      if (address === undefined) return `podCIDR ${JSON.stringify(podCidr)} is not an IPv4 CIDR`;
      const links = (await ipJson<LinkDetail[]>(["-d", "addr", "show"])) ?? [];
      const under = links.find((l) => (l.addr_info ?? []).some((a) => a.family === "inet" && a.local === localIP));
      if (under === undefined) return `no link holds the node IP ${localIP}: the VXLAN device has nothing to send through`;
      const mtu = (under.mtu ?? 1500) - VXLAN_OVERHEAD;
      const have = links.find((l) => l.ifname === device);
      const d = have?.linkinfo?.info_data;
      const fits = have?.linkinfo?.info_kind === "vxlan" && d?.id === VXLAN_VNI && d.local === localIP && d.port === VXLAN_PORT && d.learning === false && d.link === under.ifname;
      if (have !== undefined && !fits) {
        // Flannel does the same: a device with other parameters is replaced (its MAC changes; the annotations follow).
        const err = await deleteLink(device);
        if (err !== undefined) return err;
      }
      if (!fits) {
        const args = ["link", "add", device, "type", "vxlan", "id", String(VXLAN_VNI), "local", localIP, "dev", under.ifname, "dstport", String(VXLAN_PORT), "nolearning"];
        const err = await ip(args);
        if (err !== undefined) return err;
      }
      const mtuErr = await ip(["link", "set", device, "mtu", String(mtu), "up"]);
      if (mtuErr !== undefined) return mtuErr;
      const now = await linkDetail(device);
      // Only the VTEP address: a podCIDR that changed leaves no old address behind.
      for (const a of now?.addr_info ?? []) {
        if (a.family !== "inet" || (a.local === address && a.prefixlen === 32)) continue;
        const err = gone(await ip(["addr", "del", `${a.local}/${a.prefixlen}`, "dev", device]));
        if (err !== undefined) return err;
      }
      if (!(now?.addr_info ?? []).some((a) => a.family === "inet" && a.local === address && a.prefixlen === 32)) {
        const err = await ip(["addr", "add", `${address}/32`, "dev", device]);
        if (err !== undefined) return err;
      }
      const mac = now?.address;
      if (mac === undefined || !MAC.test(mac)) return `the VXLAN device ${device} has no MAC address`;
      return { mac };
    },
    async onLink(target) {
      const r = await ipJson<{ gateway?: string }[]>(["route", "get", target]);
      // No route at all is no on-link peer either; VXLAN then waits for one like any other packet.
      return r !== undefined && r.length > 0 && r[0]!.gateway === undefined;
    },
    async list() {
      const out: VxlanEntry[] = [];
      const neigh = (await ipJson<{ dst: string; lladdr?: string; state?: string[] }[]>(["-4", "neigh", "show", "dev", device])) ?? [];
      for (const n of neigh) if (n.lladdr !== undefined && (n.state ?? []).includes("PERMANENT")) out.push({ kind: "neigh", ip: n.dst, mac: n.lladdr });
      const fdb = await runCommand("bridge", ["-j", "fdb", "show", "dev", device]);
      if (fdb.code === 0 && fdb.stdout.trim() !== "") {
        for (const f of JSON.parse(fdb.stdout) as { mac: string; dst?: string }[]) {
          if (f.dst !== undefined && f.mac !== "00:00:00:00:00:00") out.push({ kind: "fdb", mac: f.mac, dst: f.dst });
        }
      }
      const routes = (await ipJson<{ dst: string; gateway?: string }[]>(["-4", "route", "show", "dev", device])) ?? [];
      for (const r of routes) if (r.gateway !== undefined && r.dst.includes("/")) out.push({ kind: "route", cidr: r.dst, gateway: r.gateway });
      return out;
    },
    async add(e) {
      switch (e.kind) {
        case "neigh":
          return ip(["neigh", "replace", e.ip, "lladdr", e.mac, "dev", device, "nud", "permanent"]);
        case "fdb":
          // flannel's AddFDB is a netlink NeighSet (create or replace): one destination per peer MAC.
          return bridgeCmd(["fdb", "replace", e.mac, "dev", device, "dst", e.dst, "self", "permanent"]);
        case "route":
          return ip(["route", "replace", e.cidr, "via", e.gateway, "dev", device, "onlink"]);
      }
    },
    async remove(e) {
      switch (e.kind) {
        case "neigh":
          return gone(await ip(["neigh", "del", e.ip, "dev", device]));
        case "fdb":
          return gone(await bridgeCmd(["fdb", "del", e.mac, "dev", device, "dst", e.dst, "self"]));
        case "route":
          return gone(await ip(["route", "del", e.cidr, "via", e.gateway, "dev", device]));
      }
    },
  };
}

/** Removes the VXLAN device (its neighbours, forwarding entries and routes go with it); succeeds when it is not there. */
export function deleteVxlanDevice(device: string): Promise<string | undefined> {
  return deleteLink(device);
}
