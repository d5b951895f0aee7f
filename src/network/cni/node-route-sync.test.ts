import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Node } from "kubernetes-types/core/v1.js";
import type { KubeList, ListerWatcher } from "../../client/resource-client.js";
import { systemTimers } from "../../client/timers.js";
import type { WatchEvent } from "../../client/watch.js";
import { silentLogger } from "../../machinery/log.js";
import { desiredNodeRoute, type NodeRoute, NodeRouteSync, type NodeRouteTable } from "./node-route-sync.js";
import { BACKEND_DATA_ANNOTATION, BACKEND_TYPE_ANNOTATION, entryKey, PUBLIC_IP_ANNOTATION, type VxlanDataplane, type VxlanEntry, vtepAnnotations } from "./vxlan.js";

const SELF = { nodeName: "a", nodeIP: "192.0.2.1", clusterCidr: "10.42.0.0/16" };

let rv = 0;
function node(name: string, podCIDR?: string, ip?: string): Node {
  return {
    metadata: { name, resourceVersion: String(++rv) },
    spec: podCIDR ? { podCIDR } : {},
    status: ip ? { addresses: [{ type: "Hostname", address: name }, { type: "InternalIP", address: ip }] } : {},
  };
}

/** Nodes listed once, then watch events the test pushes. */
class FakeNodes implements ListerWatcher<Node> {
  readonly #queue: WatchEvent<Node>[] = [];
  #wake: (() => void) | undefined;
  constructor(readonly initial: Node[]) {}
  async list(): Promise<KubeList<Node>> {
    return { metadata: { resourceVersion: String(rv) }, items: this.initial };
  }
  push(e: WatchEvent<Node>): void {
    this.#queue.push(e);
    this.#wake?.();
  }
  async *watch(_opts: unknown, signal?: AbortSignal): AsyncIterable<WatchEvent<Node>> {
    signal?.addEventListener("abort", () => this.#wake?.(), { once: true });
    while (!signal?.aborted) {
      while (this.#queue.length > 0) yield this.#queue.shift()!;
      await new Promise<void>((r) => (this.#wake = r));
    }
  }
}

/** A routing table in memory. */
class FakeTable implements NodeRouteTable {
  readonly routes = new Set<string>();
  failVia = new Set<string>();
  readonly attempts: string[] = [];
  async replace(cidr: string, via: string): Promise<string | undefined> {
    this.attempts.push(`${cidr} via ${via}`);
    if (this.failVia.has(via)) return "Nexthop has invalid gateway";
    for (const r of this.routes) if (r.startsWith(`${cidr} `)) this.routes.delete(r);
    this.routes.add(`${cidr} via ${via}`);
    return undefined;
  }
  async remove(cidr: string, via: string): Promise<string | undefined> {
    this.routes.delete(`${cidr} via ${via}`);
    return undefined;
  }
  async list(): Promise<NodeRoute[]> {
    return [...this.routes].map((r) => {
      const [cidr, , via] = r.split(" ");
      return { cidr: cidr!, via: via! };
    });
  }
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(check(), what);
}

describe("desiredNodeRoute", () => {
  it("routes another node's podCIDR via its InternalIP", () => {
    assert.deepEqual(desiredNodeRoute(node("b", "10.42.1.0/24", "192.0.2.2"), SELF), { cidr: "10.42.1.0/24", via: "192.0.2.2" });
  });

  it("needs no route to itself, to a node sharing its IP or on loopback, without a podCIDR or IP yet, or outside the cluster CIDR", () => {
    assert.equal(desiredNodeRoute(node("a", "10.42.0.0/24", "192.0.2.1"), SELF), undefined);
    assert.equal(desiredNodeRoute(node("b", "10.42.1.0/24", "192.0.2.1"), SELF), undefined);
    assert.equal(desiredNodeRoute(node("b", undefined, "192.0.2.2"), SELF), undefined);
    assert.equal(desiredNodeRoute(node("b", "10.42.1.0/24"), SELF), undefined);
    assert.equal(desiredNodeRoute(node("b", "10.99.1.0/24", "192.0.2.2"), SELF), undefined);
    assert.equal(desiredNodeRoute(node("sim-0", "10.42.5.0/24", "127.1.0.1"), SELF), undefined);
  });
});

describe("NodeRouteSync", () => {
  it("follows the Nodes: adds, moves and removes routes, drops stale ones left by an earlier agent, keeps the rest of the table", async () => {
    const table = new FakeTable();
    table.routes.add("10.42.9.0/24 via 192.0.2.9"); // a node deleted while no agent ran
    table.routes.add("10.42.1.0/24 via 192.0.2.2"); // still wanted: adopted, kept
    table.routes.add("198.51.100.0/24 via 192.0.2.254"); // not the cluster's: never touched
    const nodes = new FakeNodes([node("a", "10.42.0.0/24", "192.0.2.1"), node("b", "10.42.1.0/24", "192.0.2.2"), node("c")]);
    const sync = new NodeRouteSync({ ...SELF, nodes, logger: silentLogger, timers: systemTimers, routes: table, retryPeriodMs: 60_000 });
    const ac = new AbortController();
    const running = sync.run(ac.signal);
    try {
      await until("the stale route goes", () => !table.routes.has("10.42.9.0/24 via 192.0.2.9"));
      assert.deepEqual([...table.routes].sort(), ["10.42.1.0/24 via 192.0.2.2", "198.51.100.0/24 via 192.0.2.254"]);

      nodes.push({ type: "MODIFIED", object: node("c", "10.42.2.0/24", "192.0.2.3") });
      await until("node c's route", () => table.routes.has("10.42.2.0/24 via 192.0.2.3"));

      nodes.push({ type: "MODIFIED", object: node("c", "10.42.2.0/24", "192.0.2.33") });
      await until("node c's route follows its new address", () => table.routes.has("10.42.2.0/24 via 192.0.2.33") && !table.routes.has("10.42.2.0/24 via 192.0.2.3"));

      nodes.push({ type: "DELETED", object: node("b", "10.42.1.0/24", "192.0.2.2") });
      await until("node b's route goes with it", () => !table.routes.has("10.42.1.0/24 via 192.0.2.2"));
      assert.deepEqual([...sync.installed().keys()], ["c"]);
    } finally {
      ac.abort();
      await running.catch(() => undefined);
    }
    assert.ok(table.routes.has("10.42.2.0/24 via 192.0.2.33"), "routes stay when the agent stops");
  });

  it("retries a route the kernel refused on its next event", async () => {
    const table = new FakeTable();
    table.failVia.add("192.0.2.2");
    const nodes = new FakeNodes([node("b", "10.42.1.0/24", "192.0.2.2")]);
    const sync = new NodeRouteSync({ ...SELF, nodes, logger: silentLogger, timers: systemTimers, routes: table, retryPeriodMs: 60_000 });
    const ac = new AbortController();
    const running = sync.run(ac.signal);
    try {
      await until("the refused route is known to have failed", () => table.attempts.includes("10.42.1.0/24 via 192.0.2.2"));
      assert.equal(table.routes.size, 0);
      table.failVia.clear();
      nodes.push({ type: "MODIFIED", object: node("d", "10.42.4.0/24", "192.0.2.4") });
      await until("both routes once the kernel takes them", () => table.routes.has("10.42.1.0/24 via 192.0.2.2") && table.routes.has("10.42.4.0/24 via 192.0.2.4"));
    } finally {
      ac.abort();
      await running.catch(() => undefined);
    }
  });
});

/** A VXLAN device in memory: which peer IPs are on-link, and the entries on it. */
class FakeVxlan implements VxlanDataplane {
  readonly device = "skiff0.1";
  readonly entries = new Map<string, VxlanEntry>();
  readonly onLinkIPs = new Set<string>();
  readonly ensured: string[] = [];
  failDevice: string | undefined;
  async ensureDevice(podCidr: string): Promise<{ mac: string } | string> {
    this.ensured.push(podCidr);
    return this.failDevice ?? { mac: "0a:00:00:00:00:01" };
  }
  async onLink(ip: string): Promise<boolean> {
    return this.onLinkIPs.has(ip);
  }
  async list(): Promise<VxlanEntry[]> {
    return [...this.entries.values()];
  }
  async add(e: VxlanEntry): Promise<string | undefined> {
    this.entries.set(entryKey(e), e);
    return undefined;
  }
  async remove(e: VxlanEntry): Promise<string | undefined> {
    this.entries.delete(entryKey(e));
    return undefined;
  }
  keys(): string[] {
    return [...this.entries.keys()].sort();
  }
}

function withVtep(n: Node, mac: string, publicIP: string): Node {
  return { ...n, metadata: { ...n.metadata, annotations: vtepAnnotations(mac, publicIP) } };
}

describe("NodeRouteSync with VXLAN", () => {
  it("publishes its VTEP, reaches on-link peers by host-gw and the others over VXLAN, and follows mode switches and deletions", async () => {
    const table = new FakeTable();
    const vx = new FakeVxlan();
    vx.onLinkIPs.add("192.0.2.2");
    // Left on the device by an earlier agent for a node that is gone.
    await vx.add({ kind: "route", cidr: "10.42.9.0/24", gateway: "10.42.9.0" });
    const published: Record<string, string>[] = [];
    const nodes = new FakeNodes([
      node("a", "10.42.0.0/24", "192.0.2.1"),
      node("b", "10.42.1.0/24", "192.0.2.2"),
      withVtep(node("c", "10.42.2.0/24", "198.51.100.3"), "0a:00:00:00:00:03", "198.51.100.3"),
      node("d", "10.42.3.0/24", "198.51.100.4"),
    ]);
    const sync = new NodeRouteSync({
      ...SELF,
      nodes,
      logger: silentLogger,
      timers: systemTimers,
      routes: table,
      retryPeriodMs: 60_000,
      vxlan: { dataplane: vx, publish: async (a) => void published.push(a) },
    });
    const ac = new AbortController();
    const running = sync.run(ac.signal);
    try {
      await until("c over VXLAN", () => vx.entries.has("route 10.42.2.0/24 via 10.42.2.0"));
      assert.deepEqual(vx.ensured, ["10.42.0.0/24"], "the device is made for this node's podCIDR");
      assert.deepEqual(published[0], {
        [BACKEND_TYPE_ANNOTATION]: "vxlan",
        [BACKEND_DATA_ANNOTATION]: '{"VNI":1,"VtepMAC":"0a:00:00:00:00:01"}',
        [PUBLIC_IP_ANNOTATION]: "192.0.2.1",
      });
      assert.deepEqual(vx.keys(), ["fdb 0a:00:00:00:00:03 dst 198.51.100.3", "neigh 10.42.2.0 lladdr 0a:00:00:00:00:03", "route 10.42.2.0/24 via 10.42.2.0"]);
      assert.deepEqual([...table.routes], ["10.42.1.0/24 via 192.0.2.2"], "b is on-link: host-gw; d has no VTEP yet: no route");
      assert.deepEqual(Object.fromEntries(sync.modes()), { b: "host-gw", c: "vxlan" });

      nodes.push({ type: "MODIFIED", object: withVtep(node("d", "10.42.3.0/24", "198.51.100.4"), "0A:00:00:00:00:04", "198.51.100.40") });
      await until("d over VXLAN once it publishes", () => vx.entries.has("fdb 0a:00:00:00:00:04 dst 198.51.100.40"));

      // c moves onto this node's network: its VXLAN entries go, a host-gw route comes.
      vx.onLinkIPs.add("192.0.2.3");
      nodes.push({ type: "MODIFIED", object: withVtep(node("c", "10.42.2.0/24", "192.0.2.3"), "0a:00:00:00:00:03", "192.0.2.3") });
      await until("c switches to host-gw", () => table.routes.has("10.42.2.0/24 via 192.0.2.3") && !vx.keys().some((k) => k.includes(":03") || k.includes("10.42.2.")));

      nodes.push({ type: "DELETED", object: node("d", "10.42.3.0/24", "198.51.100.4") });
      await until("d's entries go with it", () => vx.entries.size === 0);
      assert.deepEqual(Object.fromEntries(sync.modes()), { b: "host-gw", c: "host-gw" });
    } finally {
      ac.abort();
      await running.catch(() => undefined);
    }
  });

  it("falls back to host-gw for every peer while the device cannot be made", async () => {
    const table = new FakeTable();
    const vx = new FakeVxlan();
    vx.failDevice = "A VXLAN device with the specified VNI already exists.";
    const published: Record<string, string>[] = [];
    const nodes = new FakeNodes([node("a", "10.42.0.0/24", "192.0.2.1"), withVtep(node("c", "10.42.2.0/24", "198.51.100.3"), "0a:00:00:00:00:03", "198.51.100.3")]);
    const sync = new NodeRouteSync({ ...SELF, nodes, logger: silentLogger, timers: systemTimers, routes: table, retryPeriodMs: 60_000, vxlan: { dataplane: vx, publish: async (a) => void published.push(a) } });
    const ac = new AbortController();
    const running = sync.run(ac.signal);
    try {
      await until("host-gw tried", () => table.routes.has("10.42.2.0/24 via 198.51.100.3"));
      assert.equal(vx.entries.size, 0);
      assert.deepEqual(published, [], "no VTEP to publish");
    } finally {
      ac.abort();
      await running.catch(() => undefined);
    }
  });
});
