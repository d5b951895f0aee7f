import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import type { Node, Pod, Taint, Toleration } from "kubernetes-types/core/v1.js";
import { FakeTimers } from "../../client/timers.js";
import { settle } from "../common/testing.js";
import { rfc3339 } from "../common/time.js";
import { FakeCluster, FakeRecorder, newNode, newPod } from "./fixtures.js";
import { TaintEvictionController } from "./taint-eviction.js";

const T0 = Date.UTC(2026, 0, 1, 12);
const stops: AbortController[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s.abort();
});

const UNREACHABLE: Taint = { key: "node.kubernetes.io/unreachable", effect: "NoExecute" };
const tolerate = (seconds?: number): Toleration => ({
  key: "node.kubernetes.io/unreachable",
  operator: "Exists",
  effect: "NoExecute",
  ...(seconds !== undefined ? { tolerationSeconds: seconds } : {}),
});

async function harness(nodes: Node[], pods: Pod[]) {
  const stop = new AbortController();
  stops.push(stop);
  const cluster = new FakeCluster();
  for (const n of nodes) cluster.nodes.set(n);
  for (const p of pods) cluster.pods.set(p);
  const inf = await cluster.informers(stop.signal);
  const timers = new FakeTimers(T0);
  const recorder = new FakeRecorder();
  const tc = new TaintEvictionController({ nodes: inf.nodes, pods: inf.pods, api: cluster, recorder, timers });
  /** Waits for deletions in flight to finish. */
  const flush = async () => {
    for (let i = 0; i < 20; i++) {
      await settle();
      if (tc.evictions.runningCount === 0) return;
    }
  };
  const taint = async (name: string, taints: Taint[]) => {
    const cur = cluster.nodes.get(name)!;
    cluster.nodes.set({ ...cur, spec: { ...cur.spec, taints } });
    await settle();
    tc.handleNodeUpdate(name);
    await flush();
  };
  const advance = async (ms: number) => {
    timers.advance(ms);
    await flush();
  };
  return { cluster, tc, timers, recorder, taint, advance, flush };
}

describe("TaintEvictionController", () => {
  it("deletes at once a pod that does not tolerate a NoExecute taint, marking it DisruptionTarget first", async () => {
    const h = await harness([newNode("n1", T0), newNode("n2", T0)], [newPod("victim", "n1", T0), newPod("bystander", "n2", T0)]);
    await h.taint("n1", [UNREACHABLE]);
    assert.deepEqual(h.cluster.writes, ["patchPodStatus default/victim", "deletePod default/victim"]);
    assert.deepEqual(h.cluster.deletions, [{ key: "default/victim" }], "a normal deletion, with the pod's own grace period");
    assert.deepEqual(h.recorder.notes("TaintManagerEviction"), ["Marking for deletion Pod default/victim"]);
    assert.equal(h.recorder.events[0]?.regarding.kind, "Pod");
  });

  it("puts the DisruptionTarget condition on the pod", async () => {
    const h = await harness([newNode("n1", T0)], [newPod("victim", "n1", T0)]);
    // Keep the pod around to look at it: make the deletion fail once it was patched.
    const patched: Pod[] = [];
    const orig = h.cluster.patchPodStatus.bind(h.cluster);
    h.cluster.patchPodStatus = async (ns, name, uid, status) => {
      const p = await orig(ns, name, uid, status);
      patched.push(p);
      return p;
    };
    await h.taint("n1", [UNREACHABLE]);
    const cond = patched[0]?.status?.conditions?.find((c) => c.type === "DisruptionTarget");
    assert.deepEqual(cond, {
      type: "DisruptionTarget",
      status: "True",
      reason: "DeletionByTaintManager",
      message: "Taint manager: deleting due to NoExecute taint",
      lastTransitionTime: rfc3339(T0),
    });
  });

  it("deletes a pod when its tolerationSeconds run out, not before", async () => {
    const h = await harness([newNode("n1", T0)], [newPod("p", "n1", T0, { tolerations: [tolerate(2)] })]);
    await h.taint("n1", [UNREACHABLE]);
    assert.deepEqual(h.cluster.deletions, []);
    await h.advance(1_999);
    assert.deepEqual(h.cluster.deletions, []);
    await h.advance(1);
    assert.deepEqual(h.cluster.deletions, [{ key: "default/p" }]);
  });

  it("uses the shortest tolerationSeconds of the tolerations it needs", async () => {
    const notReady: Taint = { key: "node.kubernetes.io/not-ready", effect: "NoExecute" };
    const tols: Toleration[] = [tolerate(300), { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 5 }];
    const h = await harness([newNode("n1", T0)], [newPod("p", "n1", T0, { tolerations: tols })]);
    await h.taint("n1", [UNREACHABLE, notReady]);
    await h.advance(4_999);
    assert.deepEqual(h.cluster.deletions, []);
    await h.advance(1);
    assert.deepEqual(h.cluster.deletions, [{ key: "default/p" }]);
  });

  it("never deletes a pod that tolerates the taint forever", async () => {
    const h = await harness([newNode("n1", T0)], [newPod("p", "n1", T0, { tolerations: [tolerate()] })]);
    await h.taint("n1", [UNREACHABLE]);
    await h.advance(3_600_000);
    assert.deepEqual(h.cluster.deletions, []);
  });

  it("cancels a scheduled deletion when the taint goes away", async () => {
    const h = await harness([newNode("n1", T0)], [newPod("p", "n1", T0, { tolerations: [tolerate(10)] })]);
    await h.taint("n1", [UNREACHABLE]);
    await h.advance(5_000);
    await h.taint("n1", []);
    assert.deepEqual(h.recorder.notes("TaintManagerEviction"), ["Cancelling deletion of Pod default/p"]);
    await h.advance(60_000);
    assert.deepEqual(h.cluster.deletions, []);
  });

  it("counts the toleration from the first taint, not from later updates", async () => {
    const h = await harness([newNode("n1", T0)], [newPod("p", "n1", T0, { tolerations: [tolerate(10)] })]);
    await h.taint("n1", [UNREACHABLE]);
    await h.advance(6_000);
    // Another NoExecute change on the node re-evaluates the pod; the deadline stays.
    await h.taint("n1", [{ ...UNREACHABLE, timeAdded: rfc3339(h.timers.now()) }]);
    await h.advance(4_000);
    assert.deepEqual(h.cluster.deletions, [{ key: "default/p" }]);
  });

  it("evicts a pod bound to a node that is already tainted", async () => {
    const h = await harness([newNode("n1", T0, { taints: [UNREACHABLE] })], []);
    h.tc.handleNodeUpdate("n1");
    h.cluster.pods.set(newPod("late", "n1", T0));
    await settle();
    h.tc.handlePodUpdate("n1|default/late");
    await h.flush();
    assert.deepEqual(h.cluster.deletions, [{ key: "default/late" }]);
  });

  it("ignores NoSchedule taints", async () => {
    const h = await harness([newNode("n1", T0)], [newPod("p", "n1", T0)]);
    await h.taint("n1", [{ key: "node.kubernetes.io/unreachable", effect: "NoSchedule" }]);
    assert.deepEqual(h.cluster.deletions, []);
  });

  it("queues only changes that matter", async () => {
    const h = await harness([newNode("n1", T0)], [newPod("p", "n1", T0)]);
    // Empty the queues of the initial adds.
    for (const q of [h.tc.nodeQueue, h.tc.podQueue]) {
      while (q.len() > 0) q.done((await q.get())!);
    }
    const queued = () => [h.tc.nodeQueue.len(), h.tc.podQueue.len()];
    const before = queued();
    assert.deepEqual(before, [0, 0]);
    const node = h.cluster.nodes.get("n1")!;
    h.tc.nodeUpdated(node, { ...node, metadata: { ...node.metadata, labels: { changed: "yes" } } });
    const pod = h.cluster.pods.get("default/p")!;
    h.tc.podUpdated(pod, { ...pod, status: { phase: "Failed" } });
    assert.deepEqual(queued(), before, "label and status changes are not queued");
    h.tc.nodeUpdated(node, { ...node, spec: { taints: [UNREACHABLE] } });
    h.tc.podUpdated(pod, { ...pod, spec: { ...pod.spec!, tolerations: [tolerate(1)] } });
    assert.deepEqual(queued(), [1, 1]);
  });
});
