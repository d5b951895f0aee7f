import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Taint, Toleration } from "kubernetes-types/core/v1.js";
import { CycleState } from "../../framework/cycle-state.js";
import { NodeInfo } from "../../framework/node-info.js";
import { Code } from "../../framework/status.js";
import { runScore } from "../../testing/framework-helpers.js";
import { makeNode, makePod } from "../../testing/wrappers.js";
import { TaintToleration } from "./taint-toleration.js";

function nodeWith(name: string, taints: Taint[]): NodeInfo {
  const ni = new NodeInfo();
  ni.setNode(makeNode(name).taints(taints).obj());
  return ni;
}

function podWith(tolerations: Toleration[]) {
  const w = makePod("p");
  for (const t of tolerations) w.toleration(t);
  return w.obj();
}

// upstream TestTaintTolerationFilter
describe("TaintToleration Filter", () => {
  const cases: { name: string; tolerations: Toleration[]; taints: Taint[]; want?: string }[] = [
    {
      name: "A pod having no tolerations can't be scheduled onto a node with nonempty taints",
      tolerations: [],
      taints: [{ key: "dedicated", value: "user1", effect: "NoSchedule" }],
      want: "node(s) had untolerated taint {dedicated: user1}",
    },
    {
      name: "A pod which can be scheduled on a dedicated node assigned to user1 with effect NoSchedule",
      tolerations: [{ key: "dedicated", value: "user1", effect: "NoSchedule" }],
      taints: [{ key: "dedicated", value: "user1", effect: "NoSchedule" }],
    },
    {
      name: "A pod which can't be scheduled on a dedicated node assigned to user2 with effect NoSchedule",
      tolerations: [{ key: "dedicated", operator: "Equal", value: "user2", effect: "NoSchedule" }],
      taints: [{ key: "dedicated", value: "user1", effect: "NoSchedule" }],
      want: "node(s) had untolerated taint {dedicated: user1}",
    },
    {
      name: "A pod can be scheduled onto the node, with a toleration uses operator Exists that tolerates the taints on the node",
      tolerations: [{ key: "foo", operator: "Exists", effect: "NoSchedule" }],
      taints: [{ key: "foo", value: "bar", effect: "NoSchedule" }],
    },
    {
      name: "A pod has multiple tolerations, node has multiple taints, all the taints are tolerated, pod can be scheduled onto the node",
      tolerations: [
        { key: "dedicated", operator: "Equal", value: "user2", effect: "NoSchedule" },
        { key: "foo", operator: "Exists", effect: "NoSchedule" },
      ],
      taints: [
        { key: "dedicated", value: "user2", effect: "NoSchedule" },
        { key: "foo", value: "bar", effect: "NoSchedule" },
      ],
    },
    {
      name: "A pod has a toleration that keys and values match the taint on the node, but (non-empty) effect doesn't match, can't be scheduled onto the node",
      tolerations: [{ key: "foo", operator: "Equal", value: "bar", effect: "PreferNoSchedule" }],
      taints: [{ key: "foo", value: "bar", effect: "NoSchedule" }],
      want: "node(s) had untolerated taint {foo: bar}",
    },
    {
      name: "The pod has a toleration that keys and values match the taint on the node, the effect of toleration is empty, and the effect of taint is NoSchedule. Pod can be scheduled onto the node",
      tolerations: [{ key: "foo", operator: "Equal", value: "bar" }],
      taints: [{ key: "foo", value: "bar", effect: "NoSchedule" }],
    },
    {
      name: "The pod has a toleration that key and value don't match the taint on the node, but the effect of taint on node is PreferNoSchedule. Pod can be scheduled onto the node",
      tolerations: [{ key: "dedicated", operator: "Equal", value: "user2", effect: "NoSchedule" }],
      taints: [{ key: "dedicated", value: "user1", effect: "PreferNoSchedule" }],
    },
    {
      name: "The pod has no toleration, but the effect of taint on node is PreferNoSchedule. Pod can be scheduled onto the node",
      tolerations: [],
      taints: [{ key: "dedicated", value: "user1", effect: "PreferNoSchedule" }],
    },
    {
      name: "NoExecute taints are filtered too; a valueless taint prints with an empty value",
      tolerations: [],
      taints: [{ key: "node-role.kubernetes.io/control-plane", effect: "NoExecute" }],
      want: "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }",
    },
    {
      name: "An empty-key Exists toleration tolerates everything",
      tolerations: [{ operator: "Exists" }],
      taints: [{ key: "a", value: "b", effect: "NoExecute" }],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const s = new TaintToleration().filter(new CycleState(), podWith(c.tolerations), nodeWith("n", c.taints));
      if (c.want === undefined) assert.equal(s, null);
      else {
        assert.equal(s?.code, Code.UnschedulableAndUnresolvable);
        assert.equal(s?.message(), c.want);
      }
    });
  }
});

// upstream TestTaintTolerationScore
describe("TaintToleration Score", () => {
  const pns = (key: string, value: string): Taint => ({ key, value, effect: "PreferNoSchedule" });
  const cases: { name: string; tolerations: Toleration[]; nodes: [string, Taint[]][]; want: [string, number][] }[] = [
    {
      name: "node with taints tolerated by the pod, gets a higher score than those node with intolerable taints",
      tolerations: [{ key: "foo", operator: "Equal", value: "bar", effect: "PreferNoSchedule" }],
      nodes: [
        ["nodeA", [pns("foo", "bar")]],
        ["nodeB", [pns("foo", "blah")]],
      ],
      want: [
        ["nodeA", 100],
        ["nodeB", 0],
      ],
    },
    {
      name: "the nodes that all of their taints are tolerated by the pod, get the same score, no matter how many tolerable taints a node has",
      tolerations: [
        { key: "cpu-type", operator: "Equal", value: "arm64", effect: "PreferNoSchedule" },
        { key: "disk-type", operator: "Equal", value: "ssd", effect: "PreferNoSchedule" },
      ],
      nodes: [
        ["nodeA", []],
        ["nodeB", [pns("cpu-type", "arm64")]],
        ["nodeC", [pns("cpu-type", "arm64"), pns("disk-type", "ssd")]],
      ],
      want: [
        ["nodeA", 100],
        ["nodeB", 100],
        ["nodeC", 100],
      ],
    },
    {
      name: "the more intolerable taints a node has, the lower score it gets.",
      tolerations: [{ key: "foo", operator: "Equal", value: "bar", effect: "PreferNoSchedule" }],
      nodes: [
        ["nodeA", []],
        ["nodeB", [pns("cpu-type", "arm64")]],
        ["nodeC", [pns("cpu-type", "arm64"), pns("disk-type", "ssd")]],
      ],
      want: [
        ["nodeA", 100],
        ["nodeB", 50],
        ["nodeC", 0],
      ],
    },
    {
      name: "only taints and tolerations that have effect PreferNoSchedule are checked by prioritizeNodes function",
      tolerations: [
        { key: "cpu-type", operator: "Equal", value: "arm64", effect: "NoSchedule" },
        { key: "disk-type", operator: "Equal", value: "ssd", effect: "NoSchedule" },
      ],
      nodes: [
        ["nodeA", []],
        ["nodeB", [{ key: "cpu-type", value: "arm64", effect: "NoSchedule" }]],
        ["nodeC", [pns("cpu-type", "arm64"), pns("disk-type", "ssd")]],
      ],
      want: [
        ["nodeA", 100],
        ["nodeB", 100],
        ["nodeC", 0],
      ],
    },
    {
      name: "Default behaviour No taints and tolerations",
      tolerations: [],
      nodes: [
        ["nodeA", []],
        ["nodeB", [pns("cpu-type", "arm64")]],
      ],
      want: [
        ["nodeA", 100],
        ["nodeB", 0],
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const scores = runScore(new TaintToleration(), podWith(c.tolerations), c.nodes.map(([n, t]) => nodeWith(n, t)));
      assert.ok(Array.isArray(scores));
      assert.deepEqual(
        scores.map((s) => [s.name, s.score]),
        c.want,
      );
    });
  }
});
