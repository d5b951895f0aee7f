import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import type { Lease } from "kubernetes-types/coordination/v1.js";
import type { Node, Pod, Taint } from "kubernetes-types/core/v1.js";
import { FakeTimers } from "../../client/timers.js";
import { settle } from "../common/testing.js";
import { rfc3339 } from "../common/time.js";
import { NodeLifecycleController } from "./controller.js";
import { condition, FakeCluster, FakeRecorder, newLease, newNode, newPod } from "./fixtures.js";
import { type NodeLifecycleSettings, resolveNodeLifecycleSettings } from "./settings.js";

const T0 = Date.UTC(2026, 0, 1, 12);
const stops: AbortController[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s.abort();
});

async function harness(nodes: Node[], pods: Pod[] = [], leases: Lease[] = [], settings: Partial<NodeLifecycleSettings> = {}) {
  const stop = new AbortController();
  stops.push(stop);
  const cluster = new FakeCluster();
  for (const n of nodes) cluster.nodes.set(n);
  for (const p of pods) cluster.pods.set(p);
  for (const l of leases) cluster.leases.set(l);
  const inf = await cluster.informers(stop.signal);
  const timers = new FakeTimers(T0);
  const recorder = new FakeRecorder();
  const controller = new NodeLifecycleController({ ...inf, api: cluster, recorder, timers, settings });
  const node = (name: string) => cluster.nodes.get(name)!;
  /** One monitor pass, then lets the informers catch up. */
  const monitor = async () => {
    await controller.monitorNodeHealth();
    await settle();
  };
  const taintPass = async () => {
    await controller.doNoExecuteTaintingPass();
    await settle();
  };
  const noSchedulePass = async (name: string) => {
    await controller.processNodeUpdate(name);
    await settle();
  };
  /** What a kubelet does when it posts status: a new heartbeat on every condition. */
  const heartbeat = async (name: string, ready: "True" | "False" = "True") => {
    const cur = node(name);
    const at = timers.now();
    const conditions = (cur.status?.conditions ?? []).map((c) => {
      const status = c.type === "Ready" ? ready : "False";
      return { ...condition(c.type, status, at), lastTransitionTime: c.status === status ? c.lastTransitionTime : rfc3339(at) };
    });
    cluster.nodes.set({ ...cur, status: { ...cur.status, conditions } });
    await settle();
  };
  const renew = async (name: string) => {
    cluster.leases.set(newLease(name, timers.now()));
    await settle();
  };
  return { cluster, controller, timers, recorder, node, monitor, taintPass, noSchedulePass, heartbeat, renew };
}

const ready = (n: Node) => n.status?.conditions?.find((c) => c.type === "Ready");
const taintKeys = (n: Node) => (n.spec?.taints ?? []).map((t: Taint) => `${t.key}:${t.effect}`).sort();

describe("NodeLifecycleController health monitoring", () => {
  it("keeps a node whose Lease is renewed healthy, and makes a silent one Unknown after the grace period", async () => {
    const h = await harness([newNode("n1", T0)], [newPod("p1", "n1", T0)], [newLease("n1", T0)]);
    await h.monitor();
    assert.deepEqual(h.recorder.notes("RegisteredNode"), ["Node n1 event: Registered Node n1 in Controller"]);
    // The Lease alone (no status writes) is heartbeat enough, well past the grace period.
    for (let i = 0; i < 4; i++) {
      h.timers.advance(30_000);
      await h.renew("n1");
      await h.monitor();
    }
    assert.deepEqual(h.cluster.writes, []);
    assert.equal(ready(h.node("n1"))?.status, "True");

    // Silence: 50 s is still within the grace period, just past it is not.
    h.timers.advance(50_000);
    await h.monitor();
    assert.deepEqual(h.cluster.writes, []);
    h.timers.advance(1_000);
    await h.monitor();
    const n = h.node("n1");
    for (const type of ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"]) {
      const c = n.status?.conditions?.find((x) => x.type === type);
      assert.equal(c?.status, "Unknown", type);
      assert.equal(c?.reason, "NodeStatusUnknown");
      assert.equal(c?.message, "Kubelet stopped posting node status.");
      assert.equal(c?.lastTransitionTime, rfc3339(h.timers.now()));
      // The heartbeat stays the kubelet's last one.
      assert.equal(c?.lastHeartbeatTime, rfc3339(T0));
    }
    assert.deepEqual(h.recorder.notes("NodeNotReady"), ["Node n1 status is now: NodeNotReady", "Node is not ready"]);
    const podEvent = h.recorder.events.find((e) => e.regarding.kind === "Pod");
    assert.equal(podEvent?.type, "Warning");
    const pod = h.cluster.pods.get("default/p1")!;
    assert.equal(pod.status?.conditions?.find((c) => c.type === "Ready")?.status, "False");
    assert.deepEqual(h.cluster.writes, ["updateNodeStatus n1", "updatePodStatus default/p1"]);

    // Still silent: nothing more is written, and the event is not repeated.
    h.timers.advance(5_000);
    await h.monitor();
    assert.deepEqual(h.cluster.writes, ["updateNodeStatus n1", "updatePodStatus default/p1"]);
    assert.equal(h.recorder.notes("NodeNotReady").length, 2);
  });

  it("gives a node that never posted status the startup grace period, then marks its conditions never updated", async () => {
    const h = await harness([newNode("fresh", T0, { ready: null })]);
    h.timers.advance(55_000);
    await h.monitor();
    assert.deepEqual(h.cluster.writes, [], "55 s is within the 60 s startup grace period");
    h.timers.advance(6_000);
    await h.monitor();
    const conds = h.node("fresh").status?.conditions ?? [];
    assert.deepEqual(
      conds.map((c) => `${c.type}=${c.status}/${c.reason}`),
      ["Ready=Unknown/NodeStatusNeverUpdated", "MemoryPressure=Unknown/NodeStatusNeverUpdated", "DiskPressure=Unknown/NodeStatusNeverUpdated", "PIDPressure=Unknown/NodeStatusNeverUpdated"],
    );
    assert.equal(conds[0]?.message, "Kubelet never posted node status.");
    assert.equal(conds[0]?.lastHeartbeatTime, rfc3339(T0));
  });

  it("retries a status write that lost a race with the kubelet", async () => {
    const h = await harness([newNode("n1", T0)]);
    await h.monitor();
    h.timers.advance(60_000);
    h.cluster.failNextNodeStatus = true;
    // The retry sleeps 20 ms on the controller's clock.
    const pass = h.controller.monitorNodeHealth();
    for (let i = 0; i < 10 && h.cluster.writes.length === 0; i++) {
      await settle();
      h.timers.advance(20);
    }
    await pass;
    assert.deepEqual(h.cluster.writes, ["updateNodeStatus n1"]);
    assert.equal(ready(h.node("n1"))?.status, "Unknown");
  });

  it("forgets a deleted node", async () => {
    const h = await harness([newNode("n1", T0), newNode("n2", T0)]);
    await h.monitor();
    assert.ok(h.controller.healthOf("n2"));
    h.cluster.nodes.remove("n2");
    await settle();
    await h.monitor();
    assert.deepEqual(h.recorder.notes("RemovingNode"), ["Node n2 event: Removing Node n2 from Controller"]);
    assert.equal(h.controller.healthOf("n2"), undefined);
  });

  it("honours a shorter grace period from its settings", async () => {
    const h = await harness([newNode("n1", T0)], [], [], { nodeMonitorGracePeriodMs: 4_000 });
    await h.monitor();
    h.timers.advance(4_001);
    await h.monitor();
    assert.equal(ready(h.node("n1"))?.status, "Unknown");
  });

  it("rejects settings out of range, naming the flag", () => {
    assert.throws(() => resolveNodeLifecycleSettings({ nodeMonitorGracePeriodMs: 0 }), /--node-monitor-grace-period must be greater than 0, not 0/);
    assert.throws(() => resolveNodeLifecycleSettings({ unhealthyZoneThreshold: 1.5 }), /--unhealthy-zone-threshold must be between 0 and 1/);
    assert.equal(resolveNodeLifecycleSettings({ nodeMonitorGracePeriodMs: undefined }).nodeMonitorGracePeriodMs, 50_000);
  });
});

describe("NodeLifecycleController NoExecute taints", () => {
  it("taints an unreachable node, and removes the taints when it comes back", async () => {
    const h = await harness([newNode("n1", T0), newNode("n2", T0)]);
    await h.monitor();
    h.timers.advance(51_000);
    await h.heartbeat("n2");
    await h.monitor();
    assert.equal(ready(h.node("n1"))?.status, "Unknown");
    // Queued on the pass that observes Unknown.
    h.timers.advance(5_000);
    await h.heartbeat("n2");
    await h.monitor();
    assert.ok(h.controller.isQueuedForTainting(h.node("n1")));
    await h.taintPass();
    const noExec = h.node("n1").spec?.taints?.find((t) => t.effect === "NoExecute");
    assert.deepEqual(noExec, { key: "node.kubernetes.io/unreachable", effect: "NoExecute", timeAdded: rfc3339(h.timers.now()) });
    await h.noSchedulePass("n1");
    assert.deepEqual(taintKeys(h.node("n1")), ["node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/unreachable:NoSchedule"]);
    assert.deepEqual(taintKeys(h.node("n2")), []);

    // The kubelet is back.
    h.timers.advance(5_000);
    await h.heartbeat("n1");
    await h.heartbeat("n2");
    await h.monitor();
    await h.noSchedulePass("n1");
    assert.deepEqual(taintKeys(h.node("n1")), []);
    assert.ok(!h.controller.isQueuedForTainting(h.node("n1")));
  });

  it("taints a NotReady node not-ready, and swaps unreachable for not-ready at once", async () => {
    const h = await harness([newNode("n1", T0), newNode("n2", T0)]);
    await h.monitor();
    h.timers.advance(1_000);
    await h.heartbeat("n1", "False");
    await h.monitor();
    await h.taintPass();
    await h.noSchedulePass("n1");
    assert.deepEqual(taintKeys(h.node("n1")), ["node.kubernetes.io/not-ready:NoExecute", "node.kubernetes.io/not-ready:NoSchedule"]);

    // Silent long enough to become Unknown: the NoExecute taint follows on the next pass, without the queue.
    h.timers.advance(51_000);
    await h.heartbeat("n2");
    await h.monitor();
    h.timers.advance(5_000);
    await h.heartbeat("n2");
    await h.monitor();
    await h.noSchedulePass("n1");
    assert.deepEqual(taintKeys(h.node("n1")), ["node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/unreachable:NoSchedule"]);
  });

  it("taints nodes of a healthy zone at the node eviction rate (0.1/s, burst 1)", async () => {
    const z = { "topology.kubernetes.io/zone": "z1" };
    const h = await harness(["a", "b", "c", "d"].map((n) => newNode(n, T0, { labels: z })));
    await h.monitor();
    h.timers.advance(1_000);
    await h.heartbeat("a", "False");
    await h.heartbeat("b", "False");
    await h.monitor();
    const tainted = () => ["a", "b"].filter((n) => h.node(n).spec?.taints?.some((t) => t.effect === "NoExecute"));
    await h.taintPass();
    assert.equal(tainted().length, 1, "the burst of one");
    h.timers.advance(5_000);
    await h.taintPass();
    assert.equal(tainted().length, 1, "half a token");
    h.timers.advance(5_000);
    await h.taintPass();
    assert.deepEqual(tainted(), ["a", "b"]);
    assert.equal(h.controller.zoneState(":\u0000:z1"), "Normal");
  });

  it("stops tainting a small partially disrupted zone", async () => {
    const z = { "topology.kubernetes.io/zone": "z1" };
    const h = await harness(["a", "b", "c", "d"].map((n) => newNode(n, T0, { labels: z })));
    await h.monitor();
    h.timers.advance(1_000);
    for (const n of ["a", "b", "c"]) await h.heartbeat(n, "False");
    await h.monitor();
    const zone = ":\u0000:z1";
    assert.equal(h.controller.zoneState(zone), "PartialDisruption");
    assert.equal(h.controller.zoneEvictionQPS(zone), 0);
    await h.taintPass();
    assert.ok(["a", "b", "c"].every((n) => !h.node(n).spec?.taints?.some((t) => t.effect === "NoExecute")));
  });

  it("uses the secondary rate in a large partially disrupted zone", async () => {
    const names = Array.from({ length: 6 }, (_, i) => `n${i}`);
    const h = await harness(names.map((n) => newNode(n, T0)), [], [], { largeClusterSizeThreshold: 5 });
    await h.monitor();
    h.timers.advance(1_000);
    for (const n of names.slice(0, 4)) await h.heartbeat(n, "False");
    await h.monitor();
    assert.equal(h.controller.zoneState(""), "PartialDisruption");
    assert.equal(h.controller.zoneEvictionQPS(""), 0.01);
  });

  it("stops all tainting when every node is down, and resumes when one returns", async () => {
    const h = await harness([newNode("n1", T0), newNode("n2", T0)]);
    await h.monitor();
    assert.equal(h.controller.zoneState(""), "Normal");
    h.timers.advance(51_000);
    await h.monitor();
    assert.equal(h.controller.zoneState(""), "FullDisruption");
    assert.equal(h.controller.zoneEvictionQPS(""), 0);
    h.timers.advance(5_000);
    await h.monitor();
    await h.taintPass();
    assert.deepEqual(taintKeys(h.node("n1")), []);
    assert.deepEqual(taintKeys(h.node("n2")), []);

    h.timers.advance(5_000);
    await h.heartbeat("n1");
    await h.monitor();
    assert.equal(h.controller.zoneState(""), "Normal");
    assert.equal(h.controller.zoneEvictionQPS(""), 0.1);
    // Leaving disruption mode restarts every node's clock: n2 is not tainted until its own grace period ends.
    assert.equal(h.controller.healthOf("n2")?.probeTimestamp, h.timers.now());
  });
});

describe("NodeLifecycleController NoSchedule taints and pods", () => {
  it("keeps condition and unschedulable taints in step, leaving others alone", async () => {
    const foreign: Taint = { key: "example.com/dedicated", value: "db", effect: "NoSchedule" };
    const n = newNode("n1", T0, { taints: [foreign], unschedulable: true });
    const conditions = n.status!.conditions!.map((c) => (c.type === "MemoryPressure" ? { ...c, status: "True" } : c));
    const h = await harness([{ ...n, status: { conditions } }]);
    await h.noSchedulePass("n1");
    assert.deepEqual(taintKeys(h.node("n1")), ["example.com/dedicated:NoSchedule", "node.kubernetes.io/memory-pressure:NoSchedule", "node.kubernetes.io/unschedulable:NoSchedule"]);
    const added = h.node("n1").spec?.taints?.find((t) => t.key === "node.kubernetes.io/unschedulable");
    assert.equal(added?.timeAdded, rfc3339(T0));
    // Uncordoned, pressure gone.
    const cur = h.node("n1");
    h.cluster.nodes.set({
      ...cur,
      spec: { ...cur.spec, unschedulable: false },
      status: { conditions: cur.status!.conditions!.map((c) => (c.type === "MemoryPressure" ? { ...c, status: "False" } : c)) },
    });
    await settle();
    await h.noSchedulePass("n1");
    assert.deepEqual(taintKeys(h.node("n1")), ["example.com/dedicated:NoSchedule"]);
  });

  it("adds the beta OS label a node lacks", async () => {
    const n = newNode("n1", T0);
    delete n.metadata!.labels!["beta.kubernetes.io/os"];
    const h = await harness([n]);
    await h.noSchedulePass("n1");
    assert.equal(h.node("n1").metadata?.labels?.["beta.kubernetes.io/os"], "linux");
  });

  it("marks a pod bound to a NotReady node not ready", async () => {
    const h = await harness([newNode("n1", T0, { ready: "False" })]);
    await h.monitor();
    h.cluster.pods.set(newPod("late", "n1", T0));
    await settle();
    await h.controller.processPod("default/late");
    await settle();
    assert.equal(h.cluster.pods.get("default/late")?.status?.conditions?.find((c) => c.type === "Ready")?.status, "False");
    assert.deepEqual(h.recorder.notes("NodeNotReady"), ["Node is not ready"]);
  });
});
