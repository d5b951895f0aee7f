import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Node, Pod, Service } from "kubernetes-types/core/v1.js";
import type { ReplicaSet } from "kubernetes-types/apps/v1.js";
import { CycleState } from "../../framework/cycle-state.js";
import { listersFromObjects } from "../../framework/listers.js";
import { Code } from "../../framework/status.js";
import type { NodeScore } from "../../framework/types.js";
import { handleFor } from "../../testing/framework-helpers.js";
import { makeNode, makePod } from "../../testing/wrappers.js";
import type { PodTopologySpreadArgs } from "./args.js";
import { PodTopologySpread } from "./pod-topology-spread.js";

const fooExists = { matchExpressions: [{ key: "foo", operator: "Exists" }] };

function podsOn(counts: Record<string, number>, labels: Record<string, string> = { foo: "" }): Pod[] {
  const out: Pod[] = [];
  for (const [node, n] of Object.entries(counts)) for (let i = 0; i < n; i++) out.push(makePod(`${node}-${i}`).node(node).labels(labels).obj());
  return out;
}

/** PreScore over `filtered` (default: every node), Score and NormalizeScore; "skip" when PreScore skips. */
function scores(
  pod: Pod,
  pods: Pod[],
  nodes: Node[],
  opts: { filtered?: string[]; args?: PodTopologySpreadArgs; services?: Service[]; replicaSets?: ReplicaSet[] } = {},
): Record<string, number> | "skip" {
  const h = handleFor(pods, nodes, { listers: listersFromObjects({ services: opts.services, replicaSets: opts.replicaSets }) });
  const pl = new PodTopologySpread(opts.args ?? { defaultingType: "List" }, h);
  const names = opts.filtered ?? nodes.map((n) => n.metadata!.name!);
  const infos = names.map((n) => h.snapshot.get(n)!);
  const state = new CycleState();
  const pre = pl.preScore(state, pod, infos);
  if (pre?.code === Code.Skip) return "skip";
  assert.equal(pre, null, pre?.message());
  const list: NodeScore[] = infos.map((ni) => ({ name: ni.name, score: pl.score(state, pod, ni) as number }));
  assert.equal(pl.normalizeScore(state, pod, list), null);
  return Object.fromEntries(list.map((s) => [s.name, s.score]));
}

const byNode = (names: string[], key = "node") => names.map((n) => makeNode(n).labels({ [key]: n }).obj());

// upstream TestPodTopologySpreadScore (their shapes; expected values worked out with upstream's formulas)
describe("PodTopologySpread Score", () => {
  it("one constraint on node, no existing pods", () => {
    const pod = makePod("p").labels({ foo: "" }).spreadConstraint(1, "node", "ScheduleAnyway", fooExists).obj();
    assert.deepEqual(scores(pod, [], byNode(["node-a", "node-b"])), { "node-a": 100, "node-b": 100 });
  });

  it("one constraint on node, only one node is candidate", () => {
    const pod = makePod("p").labels({ foo: "" }).spreadConstraint(1, "node", "ScheduleAnyway", fooExists).obj();
    assert.deepEqual(scores(pod, podsOn({ "node-a": 2, "node-b": 1 }), byNode(["node-a", "node-b"]), { filtered: ["node-a"] }), { "node-a": 100 });
  });

  it("one constraint on node, all nodes have the same number of matching pods", () => {
    const pod = makePod("p").labels({ foo: "" }).spreadConstraint(1, "node", "ScheduleAnyway", fooExists).obj();
    assert.deepEqual(scores(pod, podsOn({ "node-a": 1, "node-b": 1 }), byNode(["node-a", "node-b"])), { "node-a": 100, "node-b": 100 });
  });

  it("one constraint on node, all 4 nodes are candidates (2/1/0/3)", () => {
    const pod = makePod("p").labels({ foo: "" }).spreadConstraint(1, "node", "ScheduleAnyway", fooExists).obj();
    const want = { "node-a": 20, "node-b": 60, "node-c": 100, "node-d": 0 };
    assert.deepEqual(scores(pod, podsOn({ "node-a": 2, "node-b": 1, "node-d": 3 }), byNode(["node-a", "node-b", "node-c", "node-d"])), want);
  });

  it("one constraint on the hostname label: counted per node in Score, same result", () => {
    const pod = makePod("p").labels({ foo: "" }).spreadConstraint(1, "kubernetes.io/hostname", "ScheduleAnyway", fooExists).obj();
    const nodes = ["node-a", "node-b", "node-c", "node-d"].map((n) => makeNode(n).obj());
    assert.deepEqual(scores(pod, podsOn({ "node-a": 2, "node-b": 1, "node-d": 3 }), nodes), { "node-a": 20, "node-b": 60, "node-c": 100, "node-d": 0 });
  });

  it("a larger maxSkew tolerates differences (scores move closer)", () => {
    const pod = makePod("p").labels({ foo: "" }).spreadConstraint(3, "node", "ScheduleAnyway", fooExists).obj();
    // raw: 2*ln6+2 = 5.58→6, ln6+2 = 3.79→4, 2, 3*ln6+2 = 7.38→7; max 7, min 2.
    assert.deepEqual(scores(pod, podsOn({ "node-a": 2, "node-b": 1, "node-d": 3 }), byNode(["node-a", "node-b", "node-c", "node-d"])), {
      "node-a": 42,
      "node-b": 71,
      "node-c": 100,
      "node-d": 28,
    });
  });

  it("two Constraints on zone and node, spreads = [2/2, 2/0/0/2]", () => {
    const pod = makePod("p").labels({ foo: "" }).spreadConstraint(1, "zone", "ScheduleAnyway", fooExists).spreadConstraint(1, "node", "ScheduleAnyway", fooExists).obj();
    const nodes = [
      makeNode("node-a").labels({ zone: "zone1", node: "node-a" }).obj(),
      makeNode("node-b").labels({ zone: "zone1", node: "node-b" }).obj(),
      makeNode("node-x").labels({ zone: "zone2", node: "node-x" }).obj(),
      makeNode("node-y").labels({ zone: "zone2", node: "node-y" }).obj(),
    ];
    // zone weight ln4, node weight ln6: a,y: 2ln4+2ln6 = 6.35→6; b,x: 2ln4 = 2.77→3.
    assert.deepEqual(scores(pod, podsOn({ "node-a": 2, "node-y": 2 }), nodes), { "node-a": 50, "node-b": 100, "node-x": 100, "node-y": 50 });
  });

  it("nodes missing a topology key of custom constraints are ignored (score 0)", () => {
    const pod = makePod("p").labels({ foo: "" }).spreadConstraint(1, "zone", "ScheduleAnyway", fooExists).obj();
    const nodes = [makeNode("node-a").labels({ zone: "zone1" }).obj(), makeNode("node-b").labels({ zone: "zone2" }).obj(), makeNode("node-c").obj()];
    assert.deepEqual(scores(pod, podsOn({ "node-a": 1 }), nodes), { "node-a": 0, "node-b": 100, "node-c": 0 });
  });

  it("skips pods without ScheduleAnyway constraints and without Services or controllers", () => {
    assert.equal(scores(makePod("p").spreadConstraint(1, "zone", "DoNotSchedule", fooExists).obj(), [], byNode(["node-a"])), "skip");
    assert.equal(scores(makePod("p").labels({ app: "web" }).obj(), [], byNode(["node-a"]), { args: {} }), "skip");
  });

  describe("system default constraints", () => {
    const nodes = [
      makeNode("node-a").labels({ "topology.kubernetes.io/zone": "zone1" }).obj(),
      makeNode("node-b").labels({ "topology.kubernetes.io/zone": "zone2" }).obj(),
      makeNode("node-c").obj(),
    ];
    const svc: Service = { metadata: { name: "web", namespace: "default" }, spec: { selector: { app: "web" } } };
    const existing = [makePod("w1").node("node-a").labels({ app: "web" }).obj(), makePod("w2").node("node-a").labels({ app: "web" }).obj()];

    it("spread the pods of a Service by hostname and zone; nodes without a zone are still scored", () => {
      const got = scores(makePod("p").labels({ app: "web" }).obj(), existing, nodes, { args: {}, services: [svc] });
      assert.ok(got !== "skip");
      assert.ok(got["node-a"]! < got["node-b"]!, JSON.stringify(got));
      assert.ok(got["node-c"]! > 0, JSON.stringify(got));
    });

    it("take the selector of the owning ReplicaSet", () => {
      const rs: ReplicaSet = { metadata: { name: "rs", namespace: "default" }, spec: { selector: { matchLabels: { app: "web" } }, template: {} } };
      const pod = makePod("p").labels({ app: "web" }).ownerReference("ReplicaSet", "rs").obj();
      const got = scores(pod, existing, nodes, { args: {}, replicaSets: [rs] });
      assert.ok(got !== "skip" && got["node-a"]! < got["node-b"]!, JSON.stringify(got));
    });

    it("do not apply to a pod with its own constraints", () => {
      const pod = makePod("p").labels({ app: "web" }).spreadConstraint(1, "zone", "DoNotSchedule", fooExists).obj();
      assert.equal(scores(pod, existing, nodes, { args: {}, services: [svc] }), "skip");
    });
  });
});
