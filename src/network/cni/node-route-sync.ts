/**
 * Routes to the other nodes' pods (what flannel's host-gw backend does):
 * for every other Node with a `spec.podCIDR` and an `InternalIP`, the route
 * `ip route replace <podCIDR> via <InternalIP>`, kept in step with the
 * Nodes through a watch and removed when a Node goes or its range or
 * address changes. The routes are more specific than the cluster CIDR's
 * `unreachable` route (node-routes.ts), so only ranges that belong to a
 * node are reachable. Nodes sharing this node's IP (several nodes in one
 * network namespace) are skipped: their pod bridges are local already;
 * so are nodes with a loopback IP (simulated nodes).
 * Routes stay when the agent stops (pods keep talking across nodes while
 * it restarts); a restarted agent adopts the routes it finds once its
 * watch has listed, and removes those no Node wants any more.
 */
import type { Node } from "kubernetes-types/core/v1.js";
import { SharedInformer } from "../../client/informer.js";
import type { ListerWatcher } from "../../client/resource-client.js";
import type { Timers } from "../../client/timers.js";
import { cidrContains, formatCidr, tryParseCidr } from "../../machinery/cidr.js";
import type { Logger } from "../../machinery/log.js";
import { listRoutes } from "./host-net.js";
import { deleteNodeRoute, replaceNodeRoute } from "./node-routes.js";

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
  /** Failed routes are retried on this period (and on every Node event). Default 30 s. */
  readonly retryPeriodMs?: number;
  /** Replaces the routing table calls (tests). */
  readonly routes?: NodeRouteTable;
}

/** The routing table as the sync sees it. */
export interface NodeRouteTable {
  replace(cidr: string, via: string): Promise<string | undefined>;
  remove(cidr: string, via: string): Promise<string | undefined>;
  /** Routes with a gateway now in the table (to adopt after a restart). */
  list(): Promise<NodeRoute[]>;
}

const systemRouteTable: NodeRouteTable = {
  replace: replaceNodeRoute,
  remove: deleteNodeRoute,
  async list() {
    return (await listRoutes()).flatMap((r) => (r.gateway !== undefined && r.dst.includes("/") ? [{ cidr: r.dst, via: r.gateway }] : []));
  },
};

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

/** Keeps this node's routes to the other nodes' podCIDRs. */
export class NodeRouteSync {
  readonly #o: NodeRouteSyncOptions;
  readonly #log: Logger;
  /** Routes in place, by node name. */
  readonly #installed = new Map<string, NodeRoute>();
  /** Routes wanted, by node name. */
  readonly #wanted = new Map<string, NodeRoute>();
  #tail: Promise<void> = Promise.resolve();
  #failed = false;
  readonly #table: NodeRouteTable;

  constructor(o: NodeRouteSyncOptions) {
    this.#o = o;
    this.#table = o.routes ?? systemRouteTable;
    this.#log = o.logger.with({ component: "node-routes" });
  }

  /** Watches the Nodes and keeps the routes until `signal` aborts (the routes stay). */
  async run(signal: AbortSignal): Promise<void> {
    const informer = new SharedInformer<Node>({ source: this.#o.nodes, name: "nodes-routes", logger: this.#o.logger, timers: this.#o.timers });
    const self = { nodeName: this.#o.nodeName, nodeIP: this.#o.nodeIP, clusterCidr: this.#o.clusterCidr };
    const set = (node: Node) => {
      const name = node.metadata?.name ?? "";
      const route = desiredNodeRoute(node, self);
      if (route === undefined) this.#wanted.delete(name);
      else this.#wanted.set(name, route);
      this.#kick();
    };
    informer.addEventHandler({
      onAdd: set,
      onUpdate: (_old, node) => set(node),
      onDelete: (node) => {
        this.#wanted.delete(node.metadata?.name ?? "");
        this.#kick();
      },
    });
    const period = this.#o.retryPeriodMs ?? 30_000;
    let cancel = () => {};
    const tick = () => {
      if (this.#failed) this.#kick();
      cancel = this.#o.timers.after(period, tick);
    };
    cancel = this.#o.timers.after(period, tick);
    const running = informer.run(signal);
    // Before the first list every Node looks gone: adopt only once it is in.
    void informer.waitForSync(signal).then((synced) => {
      if (synced) this.#tail = this.#tail.then(() => this.#adopt()).then(() => this.#reconcile());
    });
    try {
      await running;
    } finally {
      cancel();
      await this.#tail;
    }
  }

  /** Takes over the node routes an earlier agent left in the cluster CIDR, so unwanted ones are removed. */
  async #adopt(): Promise<void> {
    const cluster = tryParseCidr(this.#o.clusterCidr);
    if (typeof cluster === "string") return;
    const installedVia = new Set([...this.#installed.values()].map((r) => `${r.cidr} ${r.via}`));
    for (const r of await this.#table.list()) {
      const dst = tryParseCidr(r.cidr);
      if (typeof dst === "string" || !cidrContains(cluster, dst) || installedVia.has(`${r.cidr} ${r.via}`)) continue;
      const owner = [...this.#wanted].find(([, w]) => w.cidr === r.cidr && w.via === r.via)?.[0];
      // Wanted ones count as installed; the rest get a name no Node has, so the reconcile removes them.
      this.#installed.set(owner ?? ` stale ${r.cidr} via ${r.via}`, r);
    }
  }

  /** The routes in place now, by node name (diagnostics, tests). */
  installed(): ReadonlyMap<string, NodeRoute> {
    return this.#installed;
  }

  /** Reconciles once more after whatever reconcile is running (one at a time, so `ip` calls never race). */
  #kick(): void {
    this.#tail = this.#tail.then(() => this.#reconcile());
  }

  async #reconcile(): Promise<void> {
    const replace = (c: string, v: string) => this.#table.replace(c, v);
    const remove = (c: string, v: string) => this.#table.remove(c, v);
    let failed = false;
    for (const [name, have] of [...this.#installed]) {
      const want = this.#wanted.get(name);
      if (want !== undefined && want.cidr === have.cidr && want.via === have.via) continue;
      const err = await remove(have.cidr, have.via);
      if (err !== undefined) {
        failed = true;
        this.#log.warn("cannot remove the route to a node's pods", { node: name, podCIDR: have.cidr, via: have.via, err });
        continue;
      }
      this.#installed.delete(name);
      this.#log.info("removed the route to a node's pods", { node: name, podCIDR: have.cidr, via: have.via });
    }
    for (const [name, want] of this.#wanted) {
      if (this.#installed.has(name)) continue;
      const err = await replace(want.cidr, want.via);
      if (err !== undefined) {
        failed = true;
        this.#log.warn("cannot route to a node's pods", { node: name, podCIDR: want.cidr, via: want.via, err });
        continue;
      }
      this.#installed.set(name, want);
      this.#log.info("routed a node's pods via its InternalIP", { node: name, podCIDR: want.cidr, via: want.via });
    }
    this.#failed = failed;
  }
}
