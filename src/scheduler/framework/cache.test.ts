import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeClock } from "../../machinery/clock.js";
import { makeNode, makePod } from "../testing/wrappers.js";
import { Cache } from "./cache.js";
import { Snapshot } from "./snapshot.js";

const names = (s: Snapshot) => s.nodeInfoList.map((n) => n.name);

describe("Cache", () => {
  it("updates the snapshot incrementally, re-copying only changed nodes", () => {
    const cache = new Cache();
    for (let i = 0; i < 5; i++) cache.addNode(makeNode(`n${i}`).capacity({ cpu: "4" }).obj());
    const snap = new Snapshot();
    assert.equal(cache.updateSnapshot(snap), undefined);
    assert.deepEqual(names(snap).sort(), ["n0", "n1", "n2", "n3", "n4"]);
    const before = new Map(snap.nodeInfoList.map((n) => [n.name, n]));
    const generations = new Map(snap.nodeInfoList.map((n) => [n.name, n.generation]));

    // Assume a pod on n2: only n2 changes.
    const pod = makePod("p").req({ cpu: "1" }).node("n2").obj();
    assert.equal(cache.assumePod(pod), undefined);
    assert.equal(cache.updateSnapshot(snap), undefined);
    for (const ni of snap.nodeInfoList) {
      // Identity is kept (lists hold these objects); only n2's content moved on.
      assert.equal(ni, before.get(ni.name));
      if (ni.name === "n2") assert.notEqual(ni.generation, generations.get("n2"));
      else assert.equal(ni.generation, generations.get(ni.name));
    }
    assert.equal(snap.get("n2")!.requested.milliCPU, 1000);

    // The snapshot is a copy: changing the cache does not change it until the next update.
    cache.forgetPod(pod);
    assert.equal(snap.get("n2")!.requested.milliCPU, 1000);
    cache.updateSnapshot(snap);
    assert.equal(snap.get("n2")!.requested.milliCPU, 0);
  });

  it("keeps the lists of nodes with affinity pods and used PVCs current", () => {
    const cache = new Cache();
    cache.addNode(makeNode("a").obj());
    cache.addNode(makeNode("b").obj());
    const snap = new Snapshot();
    cache.updateSnapshot(snap);
    assert.equal(snap.havePodsWithAffinityList().length, 0);
    const pod = makePod("p").node("b").pvc("claim").obj();
    pod.spec!.affinity = { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: "zone", labelSelector: {} }] } };
    cache.addPod(pod);
    cache.updateSnapshot(snap);
    assert.deepEqual(snap.havePodsWithAffinityList().map((n) => n.name), ["b"]);
    assert.ok(snap.isPVCUsedByPods("default/claim"));
    cache.removePod(pod);
    cache.updateSnapshot(snap);
    assert.equal(snap.havePodsWithAffinityList().length, 0);
    assert.ok(!snap.isPVCUsedByPods("default/claim"));
  });

  it("removes deleted nodes from the snapshot, keeping a ghost while pods remain", () => {
    const cache = new Cache();
    const n1 = makeNode("n1").obj();
    cache.addNode(n1);
    cache.addNode(makeNode("n2").obj());
    const pod = makePod("p").node("n1").obj();
    cache.addPod(pod);
    const snap = new Snapshot();
    cache.updateSnapshot(snap);
    assert.equal(snap.numNodes(), 2);
    assert.equal(cache.removeNode(n1), undefined);
    assert.equal(cache.updateSnapshot(snap), undefined);
    assert.deepEqual(names(snap), ["n2"]);
    assert.equal(snap.get("n1"), undefined);
    assert.equal(cache.nodeCount(), 2, "ghost n1 kept for its pod");
    cache.removePod(pod);
    assert.equal(cache.nodeCount(), 1);
    // A re-added node comes back.
    cache.addNode(n1);
    cache.updateSnapshot(snap);
    assert.deepEqual(names(snap).sort(), ["n1", "n2"]);
  });

  it("lists nodes round-robin across zones", () => {
    const cache = new Cache();
    const zone = (n: string, z: string) => makeNode(n).labels({ "topology.kubernetes.io/zone": z }).obj();
    for (const [n, z] of [["a1", "a"], ["a2", "a"], ["a3", "a"], ["b1", "b"], ["c1", "c"], ["c2", "c"]] as const) cache.addNode(zone(n, z));
    const snap = new Snapshot();
    cache.updateSnapshot(snap);
    assert.deepEqual(names(snap), ["a1", "b1", "c1", "a2", "c2", "a3"]);
  });

  it("follows the assumed pod life cycle", () => {
    const clock = new FakeClock();
    const cache = new Cache({ ttlMs: 30_000, clock });
    cache.addNode(makeNode("n1").obj());
    cache.addNode(makeNode("n2").obj());
    const pod = makePod("p").node("n1").obj();
    assert.equal(cache.assumePod(pod), undefined);
    assert.match(cache.assumePod(pod) ?? "", /is in the cache, so can't be assumed/);
    assert.ok(cache.isAssumedPod(pod));
    assert.match(cache.updatePod(pod, pod) ?? "", /should not be updated/);
    // Not expired while binding runs.
    clock.advance(60_000);
    assert.deepEqual(cache.cleanupAssumedPods(), []);
    cache.finishBinding(pod);
    clock.advance(10_000);
    assert.deepEqual(cache.cleanupAssumedPods(), []);
    clock.advance(30_000);
    assert.deepEqual(cache.cleanupAssumedPods(), [pod]);
    assert.equal(cache.podCount(), 0);
    // The informer's add confirms an assumed pod, even on another node.
    cache.assumePod(pod);
    const bound = makePod("p").node("n2").obj();
    assert.equal(cache.addPod(bound), undefined);
    assert.ok(!cache.isAssumedPod(bound));
    assert.equal(cache.dump().nodes.get("n2")!.pods.length, 1);
    assert.equal(cache.dump().nodes.get("n1")!.pods.length, 0);
    assert.match(cache.addPod(bound) ?? "", /was already in added state/);
    assert.match(cache.forgetPod(bound) ?? "", /wasn't assumed so cannot be forgotten/);
    const relabeled = { ...bound, metadata: { ...bound.metadata, labels: { a: "b" } } };
    assert.equal(cache.updatePod(bound, relabeled), undefined);
    assert.equal(cache.getPod(bound), relabeled);
    assert.equal(cache.removePod(relabeled), undefined);
    assert.match(cache.removePod(relabeled) ?? "", /is not found in scheduler cache/);
  });

  it("tracks images across nodes", () => {
    const cache = new Cache();
    cache.addNode(makeNode("n1").images({ "nginx:1": 100 }).obj());
    cache.addNode(makeNode("n2").images({ "nginx:1": 100, "redis:7": 50 }).obj());
    const snap = new Snapshot();
    cache.updateSnapshot(snap);
    assert.equal(snap.get("n1")!.imageStates.get("nginx:1")!.numNodes, 2);
    assert.equal(snap.get("n2")!.imageStates.get("redis:7")!.numNodes, 1);
    cache.removeNode(makeNode("n2").images({ "nginx:1": 100, "redis:7": 50 }).obj());
    assert.equal(snap.get("n1")!.imageStates.get("nginx:1")!.numNodes, 1);
  });
});
