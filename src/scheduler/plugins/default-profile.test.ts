/**
 * The default profile with every in-tree plugin skiff has, scheduling
 * through the cache, the queue, PostFilter, Reserve, PreBind — the way the
 * wiring drives it, minus the API.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Node, PersistentVolume, PersistentVolumeClaim, Pod, Service } from "kubernetes-types/core/v1.js";
import type { StorageClass } from "kubernetes-types/storage/v1.js";
import { defaultSchedulerConfig } from "../config/defaults.js";
import { Cache } from "../framework/cache.js";
import { CycleState } from "../framework/cycle-state.js";
import type { Framework } from "../framework/framework.js";
import { listersFromObjects } from "../framework/listers.js";
import type { ClusterListers, PluginClient, PostFilterResult } from "../framework/types.js";
import { buildProfiles } from "../profile.js";
import { PriorityQueue } from "../queue/scheduling-queue.js";
import { makeNode, makePod } from "../testing/wrappers.js";
import { newInTreeRegistry } from "./registry.js";

interface Outcome {
  node?: string;
  message?: string;
  postFilter?: PostFilterResult | null;
}

/** A default-profile scheduler over an in-memory cluster. */
class Sim {
  readonly cache = new Cache();
  readonly fwk: Framework;
  readonly queue: PriorityQueue;
  readonly pods: Pod[] = [];

  constructor(nodes: Node[], extra: Parameters<typeof listersFromObjects>[0] = {}, client?: PluginClient, live: Partial<ClusterListers> = {}) {
    for (const n of nodes) this.cache.addNode(n);
    const registry = newInTreeRegistry();
    const pods = this.pods;
    const base = listersFromObjects({ nodes, ...extra });
    // The pod lister sees every pod the test created, as an informer would.
    const listers: ClusterListers = {
      ...base,
      ...live,
      pods: { get: (ns, name) => pods.find((p) => p.metadata?.namespace === ns && p.metadata?.name === name), list: (ns) => pods.filter((p) => ns === undefined || p.metadata?.namespace === ns) },
    };
    const built = buildProfiles(defaultSchedulerConfig(registry), registry, { skipUnregisteredPlugins: true, cache: this.cache, listers, client, rng: () => 0 });
    if (!built.ok) throw new Error(built.error);
    this.fwk = built.frameworks.get("default-scheduler")!;
    this.queue = PriorityQueue.forFrameworks([this.fwk]);
    this.fwk.setPodNominator(this.queue);
  }

  /** Adds an already running pod. */
  running(pod: Pod): void {
    this.pods.push(pod);
    this.cache.addPod(pod);
  }

  /** One scheduling attempt for each pod, in order; bound pods join the cache. */
  async schedule(...pods: Pod[]): Promise<Outcome[]> {
    const out: Outcome[] = [];
    for (const pod of pods) {
      this.pods.push(pod);
      const state = new CycleState();
      const r = this.fwk.schedulePod(state, pod);
      if (r.kind === "error") assert.fail(r.status.message());
      if (r.kind === "unschedulable") {
        const pf = this.fwk.runPostFilterPlugins(state, pod, r.fitError.diagnosis.nodeToStatusMap);
        if (pf.status && !pf.status.isSuccess()) r.fitError.diagnosis.postFilterMsg = pf.status.message();
        out.push({ message: r.fitError.message, postFilter: pf.result });
        continue;
      }
      const host = r.result.suggestedHost;
      const assumed: Pod = { ...pod, spec: { ...pod.spec!, nodeName: host } };
      assert.equal(this.cache.assumePod(assumed), undefined);
      const reserve = this.fwk.runReservePluginsReserve(state, assumed, host);
      assert.equal(reserve, null, reserve?.message());
      const preBind = await this.fwk.runPreBindPlugins(state, assumed, host);
      assert.equal(preBind, null, preBind?.message());
      this.cache.finishBinding(assumed);
      this.cache.addPod(assumed);
      out.push({ node: host });
    }
    return out;
  }
}

const zoneNodes = (n: number) =>
  Array.from({ length: n }, (_, i) =>
    makeNode(`node-${i}`)
      .labels({ "topology.kubernetes.io/zone": `zone-${i % 3}` })
      .capacity({ cpu: "4", memory: "16Gi" })
      .obj(),
  );

describe("the default profile", () => {
  it("has every default plugin but the cloud volume limits and VolumeZone", () => {
    const sim = new Sim(zoneNodes(1));
    assert.deepEqual(sim.fwk.skippedPlugins, ["EBSLimits", "GCEPDLimits", "NodeVolumeLimits", "AzureDiskLimits", "VolumeZone"]);
    assert.deepEqual(
      sim.fwk.postFilterPlugins.map((p) => p.name),
      ["DefaultPreemption"],
    );
  });

  it("schedules plain pods", async () => {
    const sim = new Sim(zoneNodes(3));
    const out = await sim.schedule(...Array.from({ length: 6 }, (_, i) => makePod(`p${i}`).req({ cpu: "100m" }).obj()));
    assert.ok(out.every((o) => o.node));
  });

  it("keeps pods with required anti-affinity apart, and explains the one that cannot fit", async () => {
    const sim = new Sim(zoneNodes(3));
    const web = (i: number) => makePod(`web-${i}`).labels({ app: "web" }).podAntiAffinityIn("app", "kubernetes.io/hostname", ["web"]).obj();
    const out = await sim.schedule(web(0), web(1), web(2), web(3));
    assert.deepEqual(new Set(out.slice(0, 3).map((o) => o.node)).size, 3);
    assert.equal(
      out[3]!.message,
      "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod..",
    );
  });

  it("follows required pod affinity into the zone of the first pod", async () => {
    const sim = new Sim(zoneNodes(6));
    const [first] = await sim.schedule(makePod("db").labels({ app: "db" }).podAffinityIn("app", "topology.kubernetes.io/zone", ["db"]).obj());
    const zoneOf = (n: string) => `zone-${Number(n.split("-")[1]) % 3}`;
    const rest = await sim.schedule(...Array.from({ length: 4 }, (_, i) => makePod(`app-${i}`).podAffinityIn("app", "topology.kubernetes.io/zone", ["db"]).obj()));
    for (const o of rest) assert.equal(zoneOf(o.node!), zoneOf(first!.node!));
  });

  it("spreads pods over zones with a DoNotSchedule topology spread constraint", async () => {
    const sim = new Sim(zoneNodes(6));
    const sel = { matchLabels: { app: "spread" } };
    const out = await sim.schedule(
      ...Array.from({ length: 9 }, (_, i) => makePod(`s-${i}`).labels({ app: "spread" }).spreadConstraint(1, "topology.kubernetes.io/zone", "DoNotSchedule", sel).obj()),
    );
    const perZone = new Map<string, number>();
    for (const o of out) {
      const z = `zone-${Number(o.node!.split("-")[1]) % 3}`;
      perZone.set(z, (perZone.get(z) ?? 0) + 1);
    }
    assert.deepEqual([...perZone.values()], [3, 3, 3]);
  });

  it("spreads a Service's pods over nodes by the system default constraints", async () => {
    const svc: Service = { metadata: { name: "web", namespace: "default" }, spec: { selector: { app: "web" } } };
    const sim = new Sim(zoneNodes(3), { services: [svc] });
    const out = await sim.schedule(...Array.from({ length: 3 }, (_, i) => makePod(`web-${i}`).labels({ app: "web" }).obj()));
    assert.equal(new Set(out.map((o) => o.node)).size, 3);
  });

  it("preempts a lower-priority pod and reports the plan", async () => {
    const sim = new Sim([makeNode("node-0").capacity({ cpu: "2", memory: "4Gi" }).obj()]);
    sim.running(makePod("low").priority(1).node("node-0").req({ cpu: "2" }).obj());
    const [o] = await sim.schedule(makePod("high").priority(100).req({ cpu: "1" }).obj());
    assert.equal(o!.message, "0/1 nodes are available: 1 Insufficient cpu.");
    assert.equal(o!.postFilter?.nominatingInfo?.nominatedNodeName, "node-0");
    assert.deepEqual(
      o!.postFilter?.preemption?.podsToDelete.map((p) => p.metadata?.name),
      ["low"],
    );
  });

  it("keeps a pod with an unbound Immediate claim pending, with upstream's message", async () => {
    const sc: StorageClass = { metadata: { name: "fast" }, provisioner: "csi.example.com", volumeBindingMode: "Immediate" };
    const pvc: PersistentVolumeClaim = { metadata: { name: "data", namespace: "default" }, spec: { storageClassName: "fast" } };
    const sim = new Sim(zoneNodes(3), { storageClasses: [sc], persistentVolumeClaims: [pvc] });
    const [o] = await sim.schedule(makePod("app").pvc("data").obj());
    assert.equal(
      o!.message,
      "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling..",
    );
    const [missing] = await sim.schedule(makePod("other").pvc("nope").obj());
    assert.match(missing!.message!, /^0\/3 nodes are available: persistentvolumeclaim "nope" not found\. preemption: /);
  });

  it("binds a WaitForFirstConsumer claim to a PV on the chosen node", async () => {
    const sc: StorageClass = { metadata: { name: "local" }, provisioner: "kubernetes.io/no-provisioner", volumeBindingMode: "WaitForFirstConsumer" };
    let pv: PersistentVolume = {
      metadata: { name: "pv-1", resourceVersion: "1" },
      spec: {
        storageClassName: "local",
        capacity: { storage: "10Gi" },
        accessModes: ["ReadWriteOnce"],
        nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: ["node-2"] }] }] } },
      },
      status: { phase: "Available" },
    };
    let pvc: PersistentVolumeClaim = {
      metadata: { name: "data", namespace: "default", uid: "data-uid", resourceVersion: "1" },
      spec: { storageClassName: "local", accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
    };
    const writes: string[] = [];
    const client: PluginClient = {
      updatePersistentVolume: async (obj) => {
        writes.push(`pv ${obj.metadata?.name} -> ${obj.spec?.claimRef?.name}`);
        // The PV controller finishes the binding at once.
        pv = { ...obj, metadata: { ...obj.metadata, resourceVersion: "2" } };
        pvc = { ...pvc, metadata: { ...pvc.metadata, resourceVersion: "2", annotations: { "pv.kubernetes.io/bind-completed": "yes" } }, spec: { ...pvc.spec, volumeName: "pv-1" } };
        return pv;
      },
      updatePersistentVolumeClaim: async (obj) => obj,
    };
    // Live listers for the two objects the binding changes.
    const sim = new Sim(zoneNodes(3), { storageClasses: [sc] }, client, {
      persistentVolumes: { get: (n) => (n === "pv-1" ? pv : undefined), list: () => [pv] },
      persistentVolumeClaims: { get: (ns, n) => (ns === "default" && n === "data" ? pvc : undefined), list: () => [pvc] },
    });
    const [o] = await Promise.race([
      sim.schedule(makePod("app").pvc("data").obj()),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error("PreBind did not finish")), 5000)),
    ]);
    assert.equal(o!.node, "node-2");
    assert.deepEqual(writes, ["pv pv-1 -> data"]);
  });
});
