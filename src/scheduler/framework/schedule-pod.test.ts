import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { defaultSchedulerConfig } from "../config/defaults.js";
import { newInTreeRegistry } from "../plugins/registry.js";
import { buildProfiles } from "../profile.js";
import { makeNode, makePod } from "../testing/wrappers.js";
import { Cache } from "./cache.js";
import { CycleState } from "./cycle-state.js";
import type { Framework, NodePluginScores } from "./framework.js";
import { PodInfo } from "./pod-info.js";
import { numFeasibleNodesToFind, selectHost } from "./schedule-pod.js";
import { Snapshot } from "./snapshot.js";
import { Code } from "./status.js";

function defaultFramework(cache?: Cache, snapshot = new Snapshot()): Framework {
  const registry = newInTreeRegistry();
  const r = buildProfiles(defaultSchedulerConfig(registry), registry, { skipUnregisteredPlugins: true, cache, snapshot, rng: () => 0.999 });
  if (!r.ok) throw new Error(r.error);
  return r.frameworks.get("default-scheduler")!;
}

describe("numFeasibleNodesToFind", () => {
  // upstream TestNumFeasibleNodesToFind, plus the 5000-node target.
  it("uses the profile's, then the global, then the adaptive percentage", () => {
    const cases: { name: string; profile?: number; global?: number; nodes: number; want: number }[] = [
      { name: "not set, few nodes", nodes: 10, want: 10 },
      { name: "profile set, few nodes", profile: 40, nodes: 10, want: 10 },
      { name: "not set, 1000 nodes: 50 - 1000/125 = 42%", nodes: 1000, want: 420 },
      { name: "profile 40%, 1000 nodes", profile: 40, nodes: 1000, want: 400 },
      { name: "global 100% and profile 40%", global: 100, profile: 40, nodes: 1000, want: 400 },
      { name: "global 40%", global: 40, nodes: 1000, want: 400 },
      { name: "not set, 6000 nodes: at least 5%", nodes: 6000, want: 300 },
      { name: "profile 40%, 6000 nodes", profile: 40, nodes: 6000, want: 2400 },
      { name: "not set, 5000 nodes: 10%", nodes: 5000, want: 500 },
      { name: "never fewer than 100", profile: 1, nodes: 1000, want: 100 },
      { name: "exactly 100 nodes", nodes: 100, want: 100 },
    ];
    for (const c of cases) assert.equal(numFeasibleNodesToFind(c.profile, c.global ?? 0, c.nodes), c.want, c.name);
  });
});

describe("selectHost", () => {
  it("picks the highest score, breaking ties uniformly", () => {
    const scores = (xs: [string, number][]): NodePluginScores[] => xs.map(([name, totalScore]) => ({ name, scores: [], totalScore }));
    assert.equal(selectHost(scores([["a", 1], ["b", 3], ["c", 2]])), "b");
    const tied = scores([["a", 5], ["b", 5], ["c", 5], ["d", 1]]);
    const seen = new Set<string>();
    for (const r of [0, 0.4, 0.7, 0.99]) seen.add(selectHost(tied, () => r) as string);
    assert.ok(seen.size > 1, "ties are not always resolved the same way");
    assert.ok(!seen.has("d"));
    assert.equal(typeof selectHost([]), "object", "an empty list is an error status");
  });
});

describe("schedulePod", () => {
  it("reports the upstream FailedScheduling text when nothing fits", () => {
    const cache = new Cache();
    cache.addNode(makeNode("cp").capacity({ cpu: "4", memory: "8Gi" }).taints([{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }]).obj());
    cache.addNode(makeNode("w1").capacity({ cpu: "4", memory: "1Gi" }).obj());
    cache.addNode(makeNode("w2").capacity({ cpu: "4", memory: "1Gi" }).obj());
    const fwk = defaultFramework(cache);
    const out = fwk.schedulePod(new CycleState(), makePod("big").req({ memory: "2Gi" }).obj());
    assert.equal(out.kind, "unschedulable");
    if (out.kind !== "unschedulable") return;
    assert.equal(out.fitError.message, "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient memory.");
    assert.deepEqual([...out.fitError.diagnosis.unschedulablePlugins].sort(), ["NodeResourcesFit", "TaintToleration"]);
  });

  it("returns 'no nodes available to schedule pods' for an empty cluster", () => {
    const fwk = defaultFramework(new Cache());
    const out = fwk.schedulePod(new CycleState(), makePod("p").obj());
    assert.equal(out.kind, "error");
    if (out.kind !== "error") return;
    assert.equal(out.status.code, Code.UnschedulableAndUnresolvable);
    assert.equal(out.status.message(), "no nodes available to schedule pods");
  });

  it("scores the feasible nodes and picks the best", () => {
    const cache = new Cache();
    cache.addNode(makeNode("small").capacity({ cpu: "2", memory: "4Gi" }).obj());
    cache.addNode(makeNode("large").capacity({ cpu: "16", memory: "64Gi" }).obj());
    cache.addNode(makeNode("tainted").capacity({ cpu: "32", memory: "128Gi" }).taints([{ key: "k", value: "v", effect: "PreferNoSchedule" }]).obj());
    const fwk = defaultFramework(cache);
    const out = fwk.schedulePod(new CycleState(), makePod("p").req({ cpu: "1", memory: "1Gi" }).obj());
    assert.equal(out.kind, "scheduled");
    if (out.kind !== "scheduled") return;
    // LeastAllocated prefers "tainted", but TaintToleration (weight 3) outweighs it.
    assert.equal(out.result.suggestedHost, "large");
    assert.deepEqual([out.result.evaluatedNodes, out.result.feasibleNodes], [3, 3]);
  });

  it("a PreFilter rejection is the whole message", () => {
    const cache = new Cache();
    cache.addNode(makeNode("n1").obj());
    cache.addNode(makeNode("n2").obj());
    const fwk = defaultFramework(cache);
    const pod = makePod("p").nodeAffinityTerm([], [{ key: "metadata.name", operator: "In", values: ["a"] }]).obj();
    pod.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms[0]!.matchFields!.push({ key: "metadata.name", operator: "In", values: ["b"] });
    const out = fwk.schedulePod(new CycleState(), pod);
    assert.equal(out.kind, "unschedulable");
    if (out.kind !== "unschedulable") return;
    assert.equal(out.fitError.message, "0/2 nodes are available: pod affinity terms conflict.");
  });

  it("nodes outside the PreFilter result are counted as filtered out", () => {
    const cache = new Cache();
    for (const n of ["n1", "n2", "n3"]) cache.addNode(makeNode(n).capacity({ cpu: "1" }).obj());
    const fwk = defaultFramework(cache);
    const pod = makePod("p").req({ cpu: "2" }).nodeAffinityTerm([], [{ key: "metadata.name", operator: "In", values: ["n2"] }]).obj();
    const out = fwk.schedulePod(new CycleState(), pod);
    assert.equal(out.kind, "unschedulable");
    if (out.kind !== "unschedulable") return;
    assert.equal(out.fitError.message, "0/3 nodes are available: 1 Insufficient cpu, 2 node is filtered out by the prefilter result.");
  });

  it("searches only percentageOfNodesToScore of a large cluster, rotating the start", () => {
    const cache = new Cache();
    for (let i = 0; i < 1000; i++) cache.addNode(makeNode(`n${String(i).padStart(4, "0")}`).capacity({ cpu: "8", memory: "16Gi" }).obj());
    const fwk = defaultFramework(cache);
    const out = fwk.schedulePod(new CycleState(), makePod("p").req({ cpu: "1" }).obj());
    assert.equal(out.kind, "scheduled");
    if (out.kind !== "scheduled") return;
    assert.deepEqual([out.result.feasibleNodes, out.result.evaluatedNodes], [420, 420]);
    assert.equal(fwk.nextStartNodeIndex, 420);
    fwk.schedulePod(new CycleState(), makePod("q").req({ cpu: "1" }).obj());
    assert.equal(fwk.nextStartNodeIndex, 840);
    fwk.schedulePod(new CycleState(), makePod("r").req({ cpu: "1" }).obj());
    assert.equal(fwk.nextStartNodeIndex, 260, "wraps around");
  });

  it("counts nominated pods of equal or higher priority on their node", () => {
    const cache = new Cache();
    cache.addNode(makeNode("n1").capacity({ cpu: "2" }).obj());
    const fwk = defaultFramework(cache);
    const nominated = makePod("nominated").priority(10).req({ cpu: "2" }).nominatedNodeName("n1").obj();
    const pods = new Map<string, PodInfo[]>();
    fwk.setPodNominator({
      addNominatedPod: () => {},
      deleteNominatedPodIfExists: () => {},
      updateNominatedPod: () => {},
      nominatedPodsForNode: (n) => pods.get(n) ?? [],
      hasNominatedPods: () => pods.size > 0,
    });
    pods.set("n1", [new PodInfo(nominated)]);
    const low = fwk.schedulePod(new CycleState(), makePod("low").priority(5).req({ cpu: "1" }).obj());
    assert.equal(low.kind, "unschedulable");
    const high = fwk.schedulePod(new CycleState(), makePod("high").priority(20).req({ cpu: "1" }).obj());
    assert.equal(high.kind, "scheduled");
  });
});
