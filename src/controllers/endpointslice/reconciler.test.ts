import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Node, Pod, Service } from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";
import { forbidden } from "../../machinery/status-error.js";
import { Reconciler } from "./reconciler.js";
import { CONTROLLER_NAME, MANAGED_BY_LABEL, SERVICE_NAME_LABEL } from "./slices.js";
import { EndpointSliceTracker } from "./tracker.js";

const svc: Service = {
  metadata: { name: "web", namespace: "ns", uid: "svc-uid", labels: { tier: "front" } },
  spec: { selector: { app: "web" }, clusterIP: "10.43.0.9", ipFamilies: ["IPv4"], ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }] },
};

function pod(i: number, opts: { ready?: boolean; port?: number; node?: string } = {}): Pod {
  return {
    metadata: { name: `p${i}`, namespace: "ns", uid: `uid-${i}`, labels: { app: "web" } },
    spec: { nodeName: opts.node ?? "n1", containers: [{ name: "c", ports: [{ name: "http", containerPort: opts.port ?? 8080 }] }] },
    status: { podIP: `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`, conditions: [{ type: "Ready", status: opts.ready === false ? "False" : "True" }] },
  };
}

/** An in-memory API for slices, counting writes. */
class World {
  readonly slices = new Map<string, EndpointSlice>();
  writes: string[] = [];
  private seq = 0;
  private rv = 100;
  createError?: Error;
  readonly tracker = new EndpointSliceTracker();
  readonly reconciler: Reconciler;

  constructor(nodes: Record<string, Node> = {}) {
    this.reconciler = new Reconciler({
      writer: {
        create: async (ns, s) => {
          if (this.createError) throw this.createError;
          const name = `${s.metadata!.generateName}${String(++this.seq).padStart(5, "0")}`;
          const stored: EndpointSlice = structuredClone({ ...s, metadata: { ...s.metadata, name, namespace: ns, uid: `slice-${this.seq}`, resourceVersion: String(++this.rv) } });
          this.slices.set(name, stored);
          this.writes.push(`create ${name}`);
          return stored;
        },
        update: async (_ns, s) => {
          const name = s.metadata!.name!;
          const old = this.slices.get(name);
          if (!old) throw new Error(`update of missing ${name}`);
          const stored: EndpointSlice = structuredClone({ ...s, metadata: { ...s.metadata, uid: old.metadata!.uid, resourceVersion: String(++this.rv) } });
          this.slices.set(name, stored);
          this.writes.push(`update ${name}`);
          return stored;
        },
        delete: async (_ns, name) => {
          this.slices.delete(name);
          this.writes.push(`delete ${name}`);
        },
      },
      node: (name) => nodes[name],
      tracker: this.tracker,
    });
  }

  async sync(pods: Pod[], service: Service = svc): Promise<string[]> {
    this.writes = [];
    await this.reconciler.reconcile(service, pods, [...this.slices.values()], 0);
    return this.writes;
  }

  sizes(): number[] {
    return [...this.slices.values()].map((s) => s.endpoints?.length ?? 0).sort((a, b) => b - a);
  }

  all(): string[] {
    return [...this.slices.values()].flatMap((s) => (s.endpoints ?? []).map((e) => e.targetRef!.name!)).sort();
  }
}

const pods = (n: number, from = 0) => Array.from({ length: n }, (_, i) => pod(from + i));

describe("Reconciler", () => {
  it("packs endpoints into slices of at most 100", async () => {
    const cases: { n: number; want: number[] }[] = [
      { n: 1, want: [1] },
      { n: 100, want: [100] },
      { n: 101, want: [100, 1] },
      { n: 250, want: [100, 100, 50] },
    ];
    for (const c of cases) {
      const w = new World();
      await w.sync(pods(c.n));
      assert.deepEqual(w.sizes(), c.want, `${c.n} endpoints`);
      assert.equal(w.all().length, c.n);
    }
  });

  it("writes slices as upstream shapes them", async () => {
    const w = new World({ n1: { metadata: { name: "n1", labels: { "topology.kubernetes.io/zone": "z1" } } } });
    await w.sync([pod(1), pod(2, { ready: false })]);
    const [s] = [...w.slices.values()];
    assert.equal(s!.metadata?.generateName, "web-");
    assert.deepEqual(s!.metadata?.labels, { tier: "front", [SERVICE_NAME_LABEL]: "web", [MANAGED_BY_LABEL]: CONTROLLER_NAME });
    assert.deepEqual(s!.metadata?.ownerReferences, [{ apiVersion: "v1", kind: "Service", name: "web", uid: "svc-uid", controller: true, blockOwnerDeletion: true }]);
    assert.equal(s!.addressType, "IPv4");
    assert.deepEqual(s!.ports, [{ name: "http", port: 8080, protocol: "TCP" }]);
    assert.deepEqual(s!.endpoints?.[0], {
      addresses: ["10.0.0.2"],
      conditions: { ready: true, serving: true, terminating: false },
      targetRef: { kind: "Pod", namespace: "ns", name: "p1", uid: "uid-1" },
      nodeName: "n1",
      zone: "z1",
    });
    assert.deepEqual(s!.endpoints?.[1]?.conditions, { ready: false, serving: false, terminating: false });
  });

  it("changes as little as possible", async () => {
    const w = new World();
    await w.sync(pods(250));
    assert.deepEqual(await w.sync(pods(250)), [], "no change, no write");

    // One pod turns unready: its slice alone is updated in place.
    const unready = pods(250);
    unready[42] = pod(42, { ready: false });
    assert.equal((await w.sync(unready)).filter((x) => x.startsWith("update")).length, 1);
    assert.equal(w.slices.size, 3);

    // One pod goes: one update; a new pod then fills the gap without a new slice.
    const fewer = unready.filter((_, i) => i !== 7);
    assert.deepEqual((await w.sync(fewer)).map((x) => x.split(" ")[0]), ["update"]);
    const more = [...fewer, pod(999)];
    const writes = await w.sync(more);
    assert.equal(writes.length, 1, `one write, got ${writes.join(", ")}`);
    assert.deepEqual(w.sizes(), [100, 100, 50], "the gap is refilled");
  });

  it("keeps one placeholder slice for a Service without endpoints and reuses it", async () => {
    const w = new World();
    assert.deepEqual(await w.sync([]), ["create web-00001"]);
    const placeholder = w.slices.get("web-00001")!;
    assert.deepEqual(placeholder.endpoints, []);
    assert.deepEqual(placeholder.ports, []);
    assert.deepEqual(await w.sync([]), [], "the placeholder stays");
    assert.deepEqual(await w.sync([pod(1)]), ["update web-00001"], "the first endpoint goes into the placeholder");
    assert.deepEqual(await w.sync([]), ["update web-00001"], "and back to a placeholder");
    assert.deepEqual(w.slices.get("web-00001")!.endpoints, []);
  });

  it("groups pods by the ports their named targetPort resolves to", async () => {
    const w = new World();
    await w.sync([pod(1), pod(2, { port: 9090 }), pod(3)]);
    const byPort = [...w.slices.values()].map((s) => `${s.ports?.[0]?.port}:${(s.endpoints ?? []).length}`).sort();
    assert.deepEqual(byPort, ["8080:2", "9090:1"]);
    // The 9090 pod switches port: its slice is reused for nothing and removed.
    await w.sync([pod(1), pod(2), pod(3)]);
    assert.deepEqual([...w.slices.values()].map((s) => `${s.ports?.[0]?.port}:${(s.endpoints ?? []).length}`), ["8080:3"]);
  });

  it("follows the Service's labels", async () => {
    const w = new World();
    await w.sync([pod(1)]);
    const relabelled: Service = { ...svc, metadata: { ...svc.metadata, labels: { tier: "back" } } };
    assert.deepEqual((await w.sync([pod(1)], relabelled)).map((x) => x.split(" ")[0]), ["update"]);
    assert.equal([...w.slices.values()][0]!.metadata?.labels?.tier, "back");
  });

  it("replaces slices of an earlier Service of the same name", async () => {
    const w = new World();
    await w.sync([pod(1)]);
    const reborn: Service = { ...svc, metadata: { ...svc.metadata, uid: "new-uid" } };
    const writes = await w.sync([pod(1)], reborn);
    assert.deepEqual(writes.map((x) => x.split(" ")[0]).sort(), ["create", "delete"]);
    assert.equal([...w.slices.values()][0]!.metadata?.ownerReferences?.[0]?.uid, "new-uid");
  });

  it("marks terminating pods and drops pods without an IP", async () => {
    const w = new World();
    const going = pod(1);
    going.metadata = { ...going.metadata, deletionTimestamp: "2024-01-01T00:00:00Z" };
    const noIP = pod(2);
    delete noIP.status!.podIP;
    await w.sync([going, noIP]);
    const eps = [...w.slices.values()].flatMap((s) => s.endpoints ?? []);
    assert.equal(eps.length, 1);
    assert.deepEqual(eps[0]!.conditions, { ready: false, serving: true, terminating: true });
  });

  it("stops quietly when the namespace is terminating", async () => {
    const w = new World();
    w.createError = forbidden('endpointslices.discovery.k8s.io "" is forbidden: unable to create new content in namespace ns because it is being terminated');
    await w.sync([pod(1)]);
    w.createError = new Error("boom");
    await assert.rejects(w.sync([pod(1)]), /failed to create EndpointSlice for Service ns\/web: boom/);
  });
});

describe("EndpointSliceTracker", () => {
  const slice = (uid: string, rv: string): EndpointSlice => ({
    metadata: { name: uid, namespace: "ns", uid, resourceVersion: rv, labels: { [SERVICE_NAME_LABEL]: "web" } },
    addressType: "IPv4",
    endpoints: [],
  });
  it("tells its own writes from others' and a stale cache from a current one", () => {
    const t = new EndpointSliceTracker();
    assert.equal(t.shouldSync(slice("a", "5")), true, "unknown slice");
    t.update(slice("a", "5"));
    assert.equal(t.shouldSync(slice("a", "5")), false, "echo of our write");
    assert.equal(t.shouldSync(slice("a", "4")), false, "older event");
    assert.equal(t.shouldSync(slice("a", "6")), true, "someone else's change");
    assert.equal(t.staleSlices("ns", "web", [slice("a", "4")]), true, "cache behind our write");
    assert.equal(t.staleSlices("ns", "web", []), true, "cache missing our slice");
    assert.equal(t.staleSlices("ns", "web", [slice("a", "5")]), false);
    t.expectDeletion(slice("a", "5"));
    assert.equal(t.staleSlices("ns", "web", [slice("a", "5")]), true, "still there after our delete");
    assert.equal(t.staleSlices("ns", "web", []), false);
    assert.equal(t.handleDeletion(slice("a", "5")), true, "our deletion");
    t.update(slice("b", "7"));
    assert.equal(t.handleDeletion(slice("b", "7")), false, "someone else's deletion");
    assert.equal(t.has(slice("b", "7")), false);
  });
});
