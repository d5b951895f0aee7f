/**
 * Routes to the other nodes' pods, as flannel does, chosen per peer:
 * - host-gw when the peer's InternalIP is on-link (its route has no
 *   gateway): `ip route replace <podCIDR> via <InternalIP>`;
 * - VXLAN otherwise (when the node runs a VXLAN device, vxlan.ts): a
 *   permanent neighbour, a forwarding entry and an onlink route through the
 *   device to the VTEP the peer published in its flannel annotations. This
 *   node publishes its own VTEP the same way once its podCIDR is known.
 * Everything is kept in step with the Nodes through a watch and removed
 * when a Node goes, switches mode or changes its range or address. The
 * routes are more specific than the cluster CIDR's `unreachable` route
 * (node-routes.ts), so only ranges that belong to a node are reachable.
 * Nodes sharing this node's IP (several nodes in one network namespace) are
 * skipped: their pod bridges are local already; so are nodes with a
 * loopback IP (simulated nodes).
 * Routes stay when the agent stops (pods keep talking across nodes while
 * it restarts); a restarted agent adopts the host-gw routes it finds once
 * its watch has listed and removes those no Node wants any more; the VXLAN
 * entries are compared with the device's on every pass.
 */
import type { Node } from "kubernetes-types/core/v1.js";
import { SharedInformer } from "../../client/informer.js";
import type { ListerWatcher } from "../../client/resource-client.js";
import type { Timers } from "../../client/timers.js";
import { cidrContains, formatCidr, tryParseCidr } from "../../machinery/cidr.js";
import type { Logger } from "../../machinery/log.js";
import { listRoutes } from "./host-net.js";
import { deleteNodeRoute, replaceNodeRoute } from "./node-routes.js";
import { entryKey, peerEntries, peerVtep, type VxlanDataplane, type VxlanEntry, vtepAnnotations } from "./vxlan.js";

/** The VXLAN side of {@link NodeRouteSync}. */
export interface NodeRouteSyncVxlan {
  readonly dataplane: VxlanDataplane;
  /** Merges annotations into this node's own Node (a node may patch itself). */
  publish(annotations: Record<string, string>): Promise<void>;
}

/** Options of {@link NodeRouteSync}. */
export interface NodeRouteSyncOptions {
  readonly nodes: ListerWatcher<Node>;
  /** This node: no route to itself. */
  readonly nodeName: string;
  /** This node's IP: other nodes with the same IP share its network namespace and get no route. */
  readonly nodeIP: string;
  /** Only podCIDRs inside it are routed. */
  readonly clusterCidr: string;
  readonly logger: Logger;
  readonly timers: Timers;
  /** Failed routes are retried on this period (and on every Node event); on-link checks are redone. Default 30 s. */
  readonly retryPeriodMs?: number;
  /** Replaces the routing table calls (tests). */
  readonly routes?: NodeRouteTable;
  /** Reach peers that are not on-link over VXLAN; without it every peer is host-gw. */
  readonly vxlan?: NodeRouteSyncVxlan;
}

/** The routing table as the sync sees it. */
export interface NodeRouteTable {
  replace(cidr: string, via: string): Promise<string | undefined>;
  remove(cidr: string, via: string): Promise<string | undefined>;
  /** Routes with a gateway now in the table (to adopt after a restart). */
  list(): Promise<NodeRoute[]>;
}

/** The kernel's main table; routes through `skipDev` (the VXLAN device, whose entries are kept apart) are not host-gw's. */
function systemRouteTable(skipDev: string | undefined): NodeRouteTable {
  return {
    replace: replaceNodeRoute,
    remove: deleteNodeRoute,
    async list() {
      return (await listRoutes()).flatMap((r) => (r.gateway !== undefined && r.dst.includes("/") && r.dev !== skipDev ? [{ cidr: r.dst, via: r.gateway }] : []));
    },
  };
}

/** A route to one node's pods. */
export interface NodeRoute {
  readonly cidr: string;
  readonly via: string;
}

/**
 * The route another node's pods need, or undefined when it needs none
 * (itself, a node sharing its IP, a loopback IP, no podCIDR or IP yet, a
 * podCIDR outside the cluster CIDR).
 */
export function desiredNodeRoute(node: Node, self: { nodeName: string; nodeIP: string; clusterCidr: string }): NodeRoute | undefined {
  if (node.metadata?.name === self.nodeName) return undefined;
  const cidr = node.spec?.podCIDR;
  const via = node.status?.addresses?.find((a) => a.type === "InternalIP")?.address;
  // A loopback InternalIP (simulated nodes, nodes of one test machine) is no next hop to anywhere.
  if (!cidr || !via || via === self.nodeIP || via.startsWith("127.")) return undefined;
  const dst = tryParseCidr(cidr);
  const cluster = tryParseCidr(self.clusterCidr);
  if (typeof dst === "string" || typeof cluster === "string" || !cidrContains(cluster, dst)) return undefined;
  return { cidr: formatCidr(dst), via };
}

/** How this node reaches one peer's pods. */
export type PeerMode = "host-gw" | "vxlan";

/** Keeps this node's routes to the other nodes' podCIDRs. */
export class NodeRouteSync {
  readonly #o: NodeRouteSyncOptions;
  readonly #log: Logger;
  /** host-gw routes in place, by node name. */
  readonly #installed = new Map<string, NodeRoute>();
  /** Every Node the watch knows, by name (this one included). */
  readonly #nodes = new Map<string, Node>();
  /** The mode each peer is reached in now, by node name (diagnostics, tests). */
  readonly #modes = new Map<string, PeerMode>();
  /** On-link answers by peer IP, cleared every retry period (the network may change under us). */
  readonly #onLink = new Map<string, boolean>();
  /** This node's VTEP once its device is up: the podCIDR it was made for and its MAC. */
  #vtep: { podCidr: string; mac: string } | undefined;
  /** Why a peer got no route, by node name, so the reason is logged once per change. */
  readonly #waiting = new Map<string, string>();
  #tail: Promise<void> = Promise.resolve();
  #failed = false;
  #synced = false;
  #adopted = false;
  readonly #table: NodeRouteTable;

  constructor(o: NodeRouteSyncOptions) {
    this.#o = o;
    this.#table = o.routes ?? systemRouteTable(o.vxlan?.dataplane.device);
    this.#log = o.logger.with({ component: "node-routes" });
  }

  /** Watches the Nodes and keeps the routes until `signal` aborts (the routes stay). */
  async run(signal: AbortSignal): Promise<void> {
    const informer = new SharedInformer<Node>({ source: this.#o.nodes, name: "nodes-routes", logger: this.#o.logger, timers: this.#o.timers });
    const set = (node: Node) => {
      this.#nodes.set(node.metadata?.name ?? "", node);
      this.#kick();
    };
    informer.addEventHandler({
      onAdd: set,
      onUpdate: (_old, node) => set(node),
      onDelete: (node) => {
        this.#nodes.delete(node.metadata?.name ?? "");
        this.#kick();
      },
    });
    const period = this.#o.retryPeriodMs ?? 30_000;
    let cancel = () => {};
    const tick = () => {
      this.#onLink.clear();
      // Re-checks the device too: someone may have deleted it.
      this.#vtep = undefined;
      if (this.#failed || this.#o.vxlan !== undefined) this.#kick();
      cancel = this.#o.timers.after(period, tick);
    };
    cancel = this.#o.timers.after(period, tick);
    const running = informer.run(signal);
    // Before the first list every Node looks gone: nothing is removed until it is in.
    void informer.waitForSync(signal).then((synced) => {
      if (!synced) return;
      this.#synced = true;
      this.#kick();
    });
    try {
      await running;
    } finally {
      cancel();
      await this.#tail;
    }
  }

  /** The host-gw routes in place now, by node name (diagnostics, tests). */
  installed(): ReadonlyMap<string, NodeRoute> {
    return this.#installed;
  }

  /** How each peer with a route is reached, by node name (diagnostics, tests). */
  modes(): ReadonlyMap<string, PeerMode> {
    return this.#modes;
  }

  /** Reconciles once more after whatever reconcile is running (one at a time, so `ip` calls never race). */
  #kick(): void {
    this.#tail = this.#tail.then(() => this.#reconcile()).catch((err: Error) => {
      this.#failed = true;
      this.#log.error("node route reconcile failed", { err: err.message });
    });
  }

  /** Takes over the node routes an earlier agent left in the cluster CIDR, so unwanted ones are removed. */
  async #adopt(wanted: ReadonlyMap<string, NodeRoute>): Promise<void> {
    const cluster = tryParseCidr(this.#o.clusterCidr);
    if (typeof cluster === "string") return;
    const installedVia = new Set([...this.#installed.values()].map((r) => `${r.cidr} ${r.via}`));
    for (const r of await this.#table.list()) {
      const dst = tryParseCidr(r.cidr);
      if (typeof dst === "string" || !cidrContains(cluster, dst) || installedVia.has(`${r.cidr} ${r.via}`)) continue;
      const owner = [...wanted].find(([, w]) => w.cidr === r.cidr && w.via === r.via)?.[0];
      // Wanted ones count as installed; the rest get a name no Node has, so the reconcile removes them.
      this.#installed.set(owner ?? ` stale ${r.cidr} via ${r.via}`, r);
    }
  }

  /** Makes sure this node's VXLAN device is up and published; resolves with whether VXLAN peers can be served. */
  async #ensureVtep(): Promise<boolean> {
    const vx = this.#o.vxlan;
    const self = this.#nodes.get(this.#o.nodeName);
    const podCidr = self?.spec?.podCIDR;
    if (vx === undefined || self === undefined || !podCidr) return false;
    if (this.#vtep?.podCidr !== podCidr) {
      const dev = await vx.dataplane.ensureDevice(podCidr);
      if (typeof dev === "string") {
        if (this.#waiting.get(this.#o.nodeName) !== dev) this.#log.warn("cannot set up the VXLAN device; peers off this network stay unreachable", { device: vx.dataplane.device, err: dev });
        this.#waiting.set(this.#o.nodeName, dev);
        this.#failed = true;
        return false;
      }
      if (this.#vtep?.mac !== dev.mac) this.#log.info("VXLAN device ready", { device: vx.dataplane.device, vtepMAC: dev.mac, podCIDR: podCidr });
      this.#waiting.delete(this.#o.nodeName);
      this.#vtep = { podCidr, mac: dev.mac };
    }
    const want = vtepAnnotations(this.#vtep.mac, this.#o.nodeIP);
    const have = self.metadata?.annotations ?? {};
    if (Object.entries(want).some(([k, v]) => have[k] !== v)) {
      try {
        await vx.publish(want);
        this.#log.info("published this node's VTEP in its annotations", { vtepMAC: this.#vtep.mac, publicIP: this.#o.nodeIP });
      } catch (err) {
        this.#failed = true;
        this.#log.warn("cannot publish this node's VTEP; other nodes cannot reach its pods over VXLAN", { err: (err as Error).message });
      }
    }
    return true;
  }

  /** Notes once per change why a peer has no route. */
  #wait(name: string, why: string): void {
    if (this.#waiting.get(name) === why) return;
    this.#waiting.set(name, why);
    this.#log.info("no route to a node's pods yet", { node: name, reason: why });
  }

  async #isOnLink(ip: string): Promise<boolean> {
    const vx = this.#o.vxlan;
    if (vx === undefined) return true;
    let known = this.#onLink.get(ip);
    if (known === undefined) {
      known = await vx.dataplane.onLink(ip);
      this.#onLink.set(ip, known);
    }
    return known;
  }

  async #reconcile(): Promise<void> {
    if (!this.#synced) return;
    let failed = false;
    const vx = this.#o.vxlan;
    const vxlanReady = await this.#ensureVtep();
    if (vx !== undefined && this.#waiting.has(this.#o.nodeName)) failed = true;
    const self = { nodeName: this.#o.nodeName, nodeIP: this.#o.nodeIP, clusterCidr: this.#o.clusterCidr };
    const hostGw = new Map<string, NodeRoute>();
    const tunnel = new Map<string, VxlanEntry[]>();
    const modes = new Map<string, PeerMode>();
    for (const [name, node] of this.#nodes) {
      const route = desiredNodeRoute(node, self);
      if (route === undefined) continue;
      // Without a VXLAN device (or without VXLAN at all) host-gw is the one way; the kernel refuses it when the peer is not on-link.
      if (!vxlanReady || (await this.#isOnLink(route.via))) {
        hostGw.set(name, route);
        modes.set(name, "host-gw");
        this.#waiting.delete(name);
        continue;
      }
      const vtep = peerVtep(node);
      if (typeof vtep === "string") {
        this.#wait(name, `${route.via} is not on-link and the node has published no VTEP (${vtep})`);
        continue;
      }
      this.#waiting.delete(name);
      tunnel.set(name, peerEntries(tryParseCidr(route.cidr) as { base: number; prefix: number }, vtep));
      modes.set(name, "vxlan");
    }
    for (const name of this.#waiting.keys()) if (name !== this.#o.nodeName && !this.#nodes.has(name)) this.#waiting.delete(name);

    if (!this.#adopted) {
      await this.#adopt(hostGw);
      this.#adopted = true;
    }
    for (const [name, have] of [...this.#installed]) {
      const want = hostGw.get(name);
      if (want !== undefined && want.cidr === have.cidr && want.via === have.via) continue;
      const err = await this.#table.remove(have.cidr, have.via);
      if (err !== undefined) {
        failed = true;
        this.#log.warn("cannot remove the route to a node's pods", { node: name, podCIDR: have.cidr, via: have.via, err });
        continue;
      }
      this.#installed.delete(name);
      this.#log.info("removed the route to a node's pods", { node: name, podCIDR: have.cidr, via: have.via });
    }
    if (vx !== undefined && vxlanReady) {
      if (!(await this.#syncTunnel(vx.dataplane, tunnel))) failed = true;
    }
    for (const [name, want] of hostGw) {
      if (this.#installed.has(name)) continue;
      const err = await this.#table.replace(want.cidr, want.via);
      if (err !== undefined) {
        failed = true;
        this.#log.warn("cannot route to a node's pods", { node: name, podCIDR: want.cidr, via: want.via, err });
        continue;
      }
      this.#installed.set(name, want);
      this.#log.info("routed a node's pods via its InternalIP", { node: name, podCIDR: want.cidr, via: want.via, mode: "host-gw" });
    }
    this.#modes.clear();
    for (const [name, mode] of modes) if (mode === "vxlan" || this.#installed.has(name)) this.#modes.set(name, mode);
    this.#failed = failed;
  }

  /** Makes the device's peer entries exactly `tunnel`'s: stale ones out first (routes before what they use), then the missing ones. */
  async #syncTunnel(dp: VxlanDataplane, tunnel: ReadonlyMap<string, VxlanEntry[]>): Promise<boolean> {
    let ok = true;
    const want = new Map<string, { node: string; entry: VxlanEntry }>();
    for (const [node, entries] of tunnel) for (const entry of entries) want.set(entryKey(entry), { node, entry });
    const have = await dp.list();
    const haveKeys = new Set(have.map(entryKey));
    const order = { route: 0, neigh: 1, fdb: 2 } as const;
    for (const e of [...have].sort((a, b) => order[a.kind] - order[b.kind])) {
      if (want.has(entryKey(e))) continue;
      const err = await dp.remove(e);
      if (err !== undefined) {
        ok = false;
        this.#log.warn("cannot remove a VXLAN entry", { device: dp.device, entry: entryKey(e), err });
      } else {
        this.#log.info("removed a VXLAN entry no node needs", { device: dp.device, entry: entryKey(e) });
      }
    }
    const added = new Set<string>();
    for (const [key, { node, entry }] of want) {
      if (haveKeys.has(key)) continue;
      const err = await dp.add(entry);
      if (err !== undefined) {
        ok = false;
        this.#log.warn("cannot add a VXLAN entry for a node's pods", { node, device: dp.device, entry: key, err });
        continue;
      }
      added.add(node);
    }
    for (const node of added) {
      const route = tunnel.get(node)?.find((e) => e.kind === "route");
      const fdb = tunnel.get(node)?.find((e) => e.kind === "fdb");
      this.#log.info("routed a node's pods over VXLAN", { node, podCIDR: route?.kind === "route" ? route.cidr : "", vtep: fdb?.kind === "fdb" ? `${fdb.mac} at ${fdb.dst}` : "", mode: "vxlan" });
    }
    return ok;
  }
}
