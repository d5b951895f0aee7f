import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { NodeSelectorRequirement, Pod, PreferredSchedulingTerm } from "kubernetes-types/core/v1.js";
import { CycleState } from "../../framework/cycle-state.js";
import { NodeInfo } from "../../framework/node-info.js";
import { Snapshot } from "../../framework/snapshot.js";
import { Code } from "../../framework/status.js";
import { runScore } from "../../testing/framework-helpers.js";
import { makeNode, makePod } from "../../testing/wrappers.js";
import { ErrReasonPod, errReasonConflict, errReasonEnforced, NodeAffinity, type NodeAffinityArgs } from "./node-affinity.js";

const expr = (key: string, operator: string, values?: string[]): NodeSelectorRequirement => ({ key, operator, values });

function nodeInfo(name: string, labels: Record<string, string>): NodeInfo {
  const ni = new NodeInfo();
  ni.setNode(makeNode(name).labels(labels).obj());
  return ni;
}

function run(pod: Pod, ni: NodeInfo, args?: NodeAffinityArgs): { pre?: string; filter?: string; code?: number } {
  const pl = new NodeAffinity(args);
  const state = new CycleState();
  const pre = pl.preFilter(state, pod);
  if (pre.status && !pre.status.isSkip()) return { pre: pre.status.message(), code: pre.status.code };
  const s = pl.filter(state, pod, ni);
  return s ? { filter: s.message(), code: s.code } : {};
}

// Cases from upstream's TestNodeAffinity.
describe("NodeAffinity Filter", () => {
  const withTerms = (...terms: NodeSelectorRequirement[][]) => {
    const w = makePod("p");
    for (const t of terms) w.nodeAffinityTerm(t);
    return w.obj();
  };
  const cases: { name: string; pod: Pod; labels: Record<string, string>; nodeName?: string; args?: NodeAffinityArgs; want?: string; pre?: string }[] = [
    { name: "no selector", pod: makePod("p").obj(), labels: {} },
    { name: "missing labels", pod: makePod("p").nodeSelector({ foo: "bar" }).obj(), labels: {}, want: ErrReasonPod },
    { name: "same labels", pod: makePod("p").nodeSelector({ foo: "bar" }).obj(), labels: { foo: "bar" } },
    { name: "node labels are superset", pod: makePod("p").nodeSelector({ foo: "bar" }).obj(), labels: { foo: "bar", baz: "blah" } },
    { name: "node labels are subset", pod: makePod("p").nodeSelector({ foo: "bar", baz: "blah" }).obj(), labels: { foo: "bar" }, want: ErrReasonPod },
    { name: "In that matches", pod: withTerms([expr("foo", "In", ["bar", "value2"])]), labels: { foo: "bar" } },
    { name: "Gt that matches", pod: withTerms([expr("kernel-version", "Gt", ["0204"])]), labels: { "kernel-version": "0206" } },
    { name: "Gt that does not match", pod: withTerms([expr("kernel-version", "Gt", ["0206"])]), labels: { "kernel-version": "0206" }, want: ErrReasonPod },
    { name: "Lt on a non-integer label", pod: withTerms([expr("kernel-version", "Lt", ["5"])]), labels: { "kernel-version": "v4" }, want: ErrReasonPod },
    { name: "NotIn that matches", pod: withTerms([expr("mem-type", "NotIn", ["DDR", "DDR2"])]), labels: { "mem-type": "DDR3" } },
    { name: "Exists that matches", pod: withTerms([expr("GPU", "Exists")]), labels: { GPU: "NVIDIA-GRID-K1" } },
    { name: "DoesNotExist", pod: withTerms([expr("GPU", "DoesNotExist")]), labels: { GPU: "x" }, want: ErrReasonPod },
    { name: "In that does not match", pod: withTerms([expr("foo", "In", ["value1", "value2"])]), labels: { foo: "bar" }, want: ErrReasonPod },
    { name: "an empty term matches nothing", pod: withTerms([]), labels: { foo: "bar" }, want: ErrReasonPod },
    {
      name: "expressions in a term are ANDed",
      pod: withTerms([expr("foo", "Exists"), expr("wrongkey", "DoesNotExist"), expr("foo", "In", ["bar"])]),
      labels: { foo: "bar" },
    },
    {
      name: "expressions in a term are ANDed (fails)",
      pod: withTerms([expr("foo", "Exists"), expr("foo", "NotIn", ["bar"])]),
      labels: { foo: "bar" },
      want: ErrReasonPod,
    },
    { name: "terms are ORed", pod: withTerms([expr("foo", "In", ["x"])], [expr("foo", "In", ["bar"])]), labels: { foo: "bar" } },
    { name: "an invalid operator never matches", pod: withTerms([expr("foo", "Foo", ["bar"])]), labels: { foo: "bar" }, want: ErrReasonPod },
    {
      name: "nodeSelector and affinity must both match",
      pod: makePod("p").nodeSelector({ foo: "bar" }).nodeAffinityTerm([expr("baz", "In", ["blah"])]).obj(),
      labels: { foo: "bar" },
      want: ErrReasonPod,
    },
    {
      name: "matchFields metadata.name on the right node",
      pod: makePod("p").nodeAffinityTerm([], [expr("metadata.name", "In", ["node1"])]).obj(),
      labels: {},
      nodeName: "node1",
    },
    {
      name: "matchFields metadata.name on another node",
      pod: makePod("p").nodeAffinityTerm([], [expr("metadata.name", "In", ["node1"])]).obj(),
      labels: {},
      nodeName: "node2",
      want: ErrReasonPod,
    },
    {
      name: "scheduler-enforced affinity",
      pod: makePod("p").obj(),
      labels: { zone: "bar" },
      args: { addedAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [expr("zone", "In", ["foo"])] }] } } },
      want: errReasonEnforced,
    },
    {
      name: "scheduler-enforced affinity met, pod's own not",
      pod: makePod("p").nodeSelector({ a: "b" }).obj(),
      labels: { zone: "foo" },
      args: { addedAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [expr("zone", "In", ["foo"])] }] } } },
      want: ErrReasonPod,
    },
    {
      name: "conflicting node names across ANDed field requirements",
      pod: makePod("p").nodeAffinityTerm([], [expr("metadata.name", "In", ["a"]), expr("metadata.name", "In", ["b"])]).obj(),
      labels: {},
      pre: errReasonConflict,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = run(c.pod, nodeInfo(c.nodeName ?? "node1", c.labels), c.args);
      if (c.pre) {
        assert.equal(got.pre, c.pre);
        assert.equal(got.code, Code.UnschedulableAndUnresolvable);
      } else if (c.want) {
        assert.equal(got.filter, c.want);
        assert.equal(got.code, Code.UnschedulableAndUnresolvable);
      } else {
        assert.deepEqual(got, {});
      }
    });
  }
});

describe("NodeAffinity PreFilter", () => {
  const fieldTerm = (...names: string[][]) => {
    const w = makePod("p");
    for (const n of names) w.nodeAffinityTerm([], [expr("metadata.name", "In", n)]);
    return w.obj();
  };
  const cases: { name: string; pod: Pod; skip?: boolean; nodes?: string[] }[] = [
    { name: "nothing to check: Skip", pod: makePod("p").obj(), skip: true },
    { name: "a nodeSelector alone: all nodes", pod: makePod("p").nodeSelector({ a: "b" }).obj() },
    { name: "one term with node names", pod: fieldTerm(["n1", "n2"]), nodes: ["n1", "n2"] },
    { name: "terms are ORed: the union", pod: fieldTerm(["n1"], ["n2", "n3"]), nodes: ["n1", "n2", "n3"] },
    {
      name: "a term without node names allows all nodes",
      pod: makePod("p").nodeAffinityTerm([], [expr("metadata.name", "In", ["n1"])]).nodeAffinityTerm([expr("a", "Exists")]).obj(),
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const out = new NodeAffinity().preFilter(new CycleState(), c.pod);
      assert.equal(out.status?.isSkip() ?? false, !!c.skip);
      assert.deepEqual(out.result?.nodeNames ? [...out.result.nodeNames].sort() : undefined, c.nodes);
    });
  }
});

// upstream TestNodeAffinityPriority
describe("NodeAffinity Score", () => {
  const pref = (weight: number, ...e: NodeSelectorRequirement[]): PreferredSchedulingTerm => ({ weight, preference: { matchExpressions: e } });
  const affinity1 = [pref(2, expr("foo", "In", ["bar"]))];
  const affinity2 = [
    pref(2, expr("foo", "In", ["bar"])),
    pref(4, expr("key", "In", ["value"])),
    pref(5, expr("foo", "In", ["bar"]), expr("key", "In", ["value"]), expr("az", "In", ["az1"])),
  ];
  const label1 = { foo: "bar" };
  const label2 = { key: "value" };
  const label3 = { az: "az1" };
  const label5 = { foo: "bar", key: "value", az: "az1" };
  const podWith = (terms?: PreferredSchedulingTerm[]) => {
    const p = makePod("p").obj();
    if (terms) p.spec!.affinity = { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: terms } };
    return p;
  };
  const cases: { name: string; pod: Pod; nodes: [string, Record<string, string>][]; args?: NodeAffinityArgs; want: [string, number][] }[] = [
    {
      name: "all nodes are same priority as NodeAffinity is nil",
      pod: podWith(),
      nodes: [
        ["node1", label1],
        ["node2", label2],
        ["node3", label3],
      ],
      want: [
        ["node1", 0],
        ["node2", 0],
        ["node3", 0],
      ],
    },
    {
      name: "only node1 matches the preferred scheduling requirements of pod",
      pod: podWith(affinity1),
      nodes: [
        ["node1", label1],
        ["node2", label2],
        ["node3", label3],
      ],
      want: [
        ["node1", 100],
        ["node2", 0],
        ["node3", 0],
      ],
    },
    {
      name: "all nodes matches the preferred scheduling requirements of pod but with different priorities",
      pod: podWith(affinity2),
      nodes: [
        ["node1", label1],
        ["node5", label5],
        ["node2", label2],
      ],
      want: [
        ["node1", 18],
        ["node5", 100],
        ["node2", 36],
      ],
    },
    {
      name: "added affinity scores every pod",
      pod: podWith(),
      args: { addedAffinity: { preferredDuringSchedulingIgnoredDuringExecution: affinity1 } },
      nodes: [
        ["node1", label1],
        ["node2", label2],
      ],
      want: [
        ["node1", 100],
        ["node2", 0],
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const snap = Snapshot.fromObjects(
        [],
        c.nodes.map(([n, l]) => makeNode(n).labels(l).obj()),
      );
      const pl = new NodeAffinity(c.args);
      const r = runScore(pl, c.pod, snap.list());
      assert.ok(Array.isArray(r));
      assert.deepEqual(
        r.map((s) => [s.name, s.score]),
        c.want,
      );
    });
  }

  it("PreScore skips pods without preferences", () => {
    assert.equal(new NodeAffinity().preScore(new CycleState(), makePod("p").obj(), [nodeInfo("n", {})])?.code, Code.Skip);
  });
});
