import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Node, Pod } from "kubernetes-types/core/v1.js";
import { CycleState } from "../../framework/cycle-state.js";
import { Code } from "../../framework/status.js";
import type { NodeScore } from "../../framework/types.js";
import { handleFor } from "../../testing/framework-helpers.js";
import { makeNode, makePod } from "../../testing/wrappers.js";
import type { InterPodAffinityArgs } from "./args.js";
import { InterPodAffinity } from "./inter-pod-affinity.js";

/** PreScore, Score and NormalizeScore over every node; "skip" when PreScore skips. */
function scores(pod: Pod, pods: Pod[], nodes: Node[], args: InterPodAffinityArgs = {}): Record<string, number> | "skip" {
  const h = handleFor(pods, nodes);
  const pl = new InterPodAffinity(args, h);
  const state = new CycleState();
  const infos = nodes.map((n) => h.snapshot.get(n.metadata!.name!)!);
  const pre = pl.preScore(state, pod, infos);
  if (pre?.code === Code.Skip) return "skip";
  assert.equal(pre, null);
  const list: NodeScore[] = infos.map((ni) => {
    const s = pl.score(state, pod, ni);
    assert.equal(typeof s, "number");
    return { name: ni.name, score: s as number };
  });
  assert.equal(pl.normalizeScore(state, pod, list), null);
  return Object.fromEntries(list.map((s) => [s.name, s.score]));
}

const node = (name: string, labels: Record<string, string>) => makeNode(name).labels(labels).obj();

// upstream TestPreferredAffinity and TestPreferredAffinityWithHardPodAffinitySymmetricWeight (their shapes)
describe("InterPodAffinity Score", () => {
  const nodes3 = [node("node1", { region: "China" }), node("node2", { region: "India" }), node("node3", { az: "az1" })];

  it("all nodes have same score when the pod has no affinity and there are no pods with affinity", () => {
    assert.equal(scores(makePod("p").obj(), [makePod("e").node("node1").labels({ service: "s" }).obj()], nodes3), "skip");
  });

  it("Affinity: pod that matches topology key & pods in nodes will get high score comparing to others which doesn't match either pods in nodes or in topology key", () => {
    const pod = makePod("p").podAffinityIn("service", "region", ["securityscan", "value2"], "preferred", 5).obj();
    const pods = [makePod("e1").node("node1").labels({ service: "securityscan" }).obj(), makePod("e2").node("node2").labels({ security: "S1" }).obj()];
    assert.deepEqual(scores(pod, pods, nodes3), { node1: 100, node2: 0, node3: 0 });
  });

  it("Affinity: all nodes sharing the matching pod's topology value get the same high score", () => {
    const pod = makePod("p").podAffinityIn("service", "region", ["securityscan"], "preferred", 5).obj();
    const nodes = [node("node1", { region: "China" }), node("node2", { region: "China" }), node("node3", { region: "India" })];
    assert.deepEqual(scores(pod, [makePod("e1").node("node1").labels({ service: "securityscan" }).obj()], nodes), { node1: 100, node2: 100, node3: 0 });
  });

  it("Anti Affinity: nodes whose topology value holds matching pods score lowest", () => {
    const pod = makePod("p").podAntiAffinityIn("security", "zone", ["S1"], "preferred", 5).obj();
    const nodes = [node("node1", { zone: "z1" }), node("node2", { zone: "z2" })];
    assert.deepEqual(scores(pod, [makePod("e1").node("node1").labels({ security: "S1" }).obj()], nodes), { node1: 0, node2: 100 });
  });

  it("Affinity and Anti Affinity: weights add up per topology value", () => {
    const pod = makePod("p")
      .podAffinityIn("service", "region", ["web"], "preferred", 8)
      .podAntiAffinityIn("security", "zone", ["S1"], "preferred", 5)
      .obj();
    const nodes = [node("node1", { region: "r1", zone: "z1" }), node("node2", { region: "r1", zone: "z2" }), node("node3", { region: "r2", zone: "z3" })];
    const pods = [makePod("e1").node("node1").labels({ service: "web", security: "S1" }).obj()];
    // raw: node1 8-5=3, node2 8, node3 0 → min 0, max 8.
    assert.deepEqual(scores(pod, pods, nodes), { node1: 37, node2: 100, node3: 0 });
  });

  it("Affinity symmetry: an existing pod's preferred anti-affinity against the incoming pod lowers its node", () => {
    const pod = makePod("p").labels({ app: "web" }).obj();
    const pods = [makePod("e1").node("node1").podAntiAffinityIn("app", "kubernetes.io/hostname", ["web"], "preferred", 10).obj()];
    const nodes = [makeNode("node1").obj(), makeNode("node2").obj()];
    assert.deepEqual(scores(pod, pods, nodes), { node1: 0, node2: 100 });
  });

  it("Hard Affinity symmetry: an existing pod's required affinity to the incoming pod scores with hardPodAffinityWeight", () => {
    const pod = makePod("p").labels({ service: "S" }).obj();
    const pods = [makePod("e1").node("node1").podAffinityIn("service", "region", ["S"]).obj()];
    const nodes = [node("node1", { region: "r1" }), node("node2", { region: "r1" }), node("node3", { region: "r2" })];
    assert.deepEqual(scores(pod, pods, nodes), { node1: 100, node2: 100, node3: 0 });
    assert.equal(scores(pod, pods, nodes, { hardPodAffinityWeight: 0 }), "skip");
  });

  it("ignorePreferredTermsOfExistingPods skips pods without preferred terms", () => {
    const pod = makePod("p").labels({ app: "web" }).obj();
    const pods = [makePod("e1").node("node1").podAntiAffinityIn("app", "kubernetes.io/hostname", ["web"], "preferred", 10).obj()];
    assert.equal(scores(pod, pods, [makeNode("node1").obj(), makeNode("node2").obj()], { ignorePreferredTermsOfExistingPods: true }), "skip");
  });

  it("Score without PreScore is an error", () => {
    const h = handleFor([], [makeNode("n1").obj()]);
    const s = new InterPodAffinity({}, h).score(new CycleState(), makePod("p").obj(), h.snapshot.get("n1")!);
    assert.notEqual(typeof s, "number");
    assert.equal((s as { message(): string }).message(), 'failed to read "PreScoreInterPodAffinity" from cycleState: not found');
  });
});

describe("InterPodAffinityArgs", () => {
  it("defaults and validates hardPodAffinityWeight", async () => {
    const { interPodAffinityRegistration } = await import("./inter-pod-affinity.js");
    assert.deepEqual(interPodAffinityRegistration.defaultArgs!({}), { hardPodAffinityWeight: 1, ignorePreferredTermsOfExistingPods: false });
    assert.deepEqual(interPodAffinityRegistration.validateArgs!("profiles[0].pluginConfig[0].args", { hardPodAffinityWeight: 101 }), [
      "profiles[0].pluginConfig[0].args.hardPodAffinityWeight: Invalid value: 101: not in valid range [0-100]",
    ]);
  });
});
