import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Node, Pod } from "kubernetes-types/core/v1.js";
import { CycleState } from "../../framework/cycle-state.js";
import { Snapshot } from "../../framework/snapshot.js";
import { Code } from "../../framework/status.js";
import { runScore } from "../../testing/framework-helpers.js";
import { makeNode, makePod } from "../../testing/wrappers.js";
import type { NodeResourcesFitArgs, ResourceSpec } from "./args.js";
import { Fit, fits } from "./fit.js";

const node = (name: string, q: Record<string, string>): Node => makeNode(name).capacity(q).obj();

function filter(pod: Pod, existing: Pod[], n: Node, args?: NodeResourcesFitArgs): { code: number; reasons: string[] } {
  const snap = Snapshot.fromObjects(
    existing.map((p) => ({ ...p, spec: { ...p.spec!, nodeName: n.metadata!.name } })),
    [n],
  );
  const pl = args ? new Fit(args) : new Fit();
  const state = new CycleState();
  pl.preFilter(state, pod);
  const s = pl.filter(state, pod, snap.get(n.metadata!.name!)!);
  return { code: s ? s.code : Code.Success, reasons: s ? s.reasons() : [] };
}

describe("NodeResourcesFit Filter", () => {
  const n = node("n", { cpu: "10", memory: "20Gi", pods: "3", "ephemeral-storage": "10Gi", "example.com/gpu": "2", "hugepages-2Mi": "4Mi" });
  const existing = [makePod("e1").req({ cpu: "8", memory: "16Gi" }).obj()];
  const cases: { name: string; pod: Pod; existing?: Pod[]; args?: NodeResourcesFitArgs; want: string[] }[] = [
    { name: "no resources requested always fits", pod: makePod("p").req({}).obj(), want: [] },
    { name: "fits", pod: makePod("p").req({ cpu: "2", memory: "4Gi" }).obj(), want: [] },
    { name: "too much cpu and memory", pod: makePod("p").req({ cpu: "3", memory: "5Gi" }).obj(), want: ["Insufficient cpu", "Insufficient memory"] },
    { name: "an init container needing too much cpu", pod: makePod("p").req({ cpu: "1" }).initReq({ cpu: "3" }).obj(), want: ["Insufficient cpu"] },
    { name: "a sidecar adds to the containers", pod: makePod("p").req({ cpu: "1500m" }).initReq({ cpu: "1" }, true).obj(), want: ["Insufficient cpu"] },
    { name: "overhead counts", pod: makePod("p").req({ cpu: "1" }).overhead({ cpu: "1500m" }).obj(), want: ["Insufficient cpu"] },
    { name: "ephemeral storage", pod: makePod("p").req({ "ephemeral-storage": "11Gi" }).obj(), want: ["Insufficient ephemeral-storage"] },
    { name: "extended resource", pod: makePod("p").req({ "example.com/gpu": "3" }).obj(), want: ["Insufficient example.com/gpu"] },
    { name: "extended resource the node lacks", pod: makePod("p").req({ "example.com/fpga": "1" }).obj(), want: ["Insufficient example.com/fpga"] },
    { name: "hugepages", pod: makePod("p").req({ "hugepages-2Mi": "6Mi" }).obj(), want: ["Insufficient hugepages-2Mi"] },
    {
      name: "ignored extended resource",
      pod: makePod("p").req({ "example.com/fpga": "1" }).obj(),
      args: { ignoredResources: ["example.com/fpga"], scoringStrategy: { type: "LeastAllocated", resources: [{ name: "cpu", weight: 1 }] } },
      want: [],
    },
    {
      name: "ignored resource group",
      pod: makePod("p").req({ "example.com/fpga": "1" }).obj(),
      args: { ignoredResourceGroups: ["example.com"], scoringStrategy: { type: "LeastAllocated", resources: [{ name: "cpu", weight: 1 }] } },
      want: [],
    },
    {
      name: "too many pods, even requesting nothing",
      pod: makePod("p").obj(),
      existing: [makePod("a").obj(), makePod("b").obj(), makePod("c").obj()],
      want: ["Too many pods"],
    },
    {
      name: "too many pods and too much cpu: every reason is kept",
      pod: makePod("p").req({ cpu: "11" }).obj(),
      existing: [makePod("a").obj(), makePod("b").obj(), makePod("c").obj()],
      want: ["Too many pods", "Insufficient cpu"],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = filter(c.pod, c.existing ?? existing, n, c.args);
      assert.deepEqual(got.reasons, c.want);
      assert.equal(got.code, c.want.length === 0 ? Code.Success : Code.Unschedulable);
    });
  }

  it("fits() reports what the node lacks (the admission pre-check)", () => {
    const snap = Snapshot.fromObjects([], [node("n", { cpu: "1" })]);
    assert.deepEqual(
      fits(makePod("p").req({ cpu: "2" }).obj(), snap.get("n")!).map((r) => [r.reason, r.requested, r.used, r.capacity]),
      [["Insufficient cpu", 2000, 0, 1000]],
    );
  });
});

function scores(args: NodeResourcesFitArgs, pod: Pod, nodes: Node[], existing: Pod[] = []): [string, number][] | string {
  const snap = Snapshot.fromObjects(existing, nodes);
  const r = runScore(new Fit(args), pod, snap.list());
  if (!Array.isArray(r)) return r.message();
  return r.map((s) => [s.name, s.score]);
}

const cpuMem: ResourceSpec[] = [
  { name: "cpu", weight: 1 },
  { name: "memory", weight: 1 },
];
const nodes4k10k = [node("node1", { cpu: "4000", memory: "10000" }), node("node2", { cpu: "6000", memory: "10000" })];
const twoContainers = makePod("p").req({ cpu: "1000", memory: "2000" }).req({ cpu: "2000", memory: "3000" }).obj();

// Cases from upstream's least_allocated_test.go, most_allocated_test.go and requested_to_capacity_ratio_test.go.
describe("NodeResourcesFit scoring strategies", () => {
  const least = (resources = cpuMem): NodeResourcesFitArgs => ({ scoringStrategy: { type: "LeastAllocated", resources } });
  const most = (resources = cpuMem): NodeResourcesFitArgs => ({ scoringStrategy: { type: "MostAllocated", resources } });
  const rtcr = (shape: { utilization: number; score: number }[], resources = cpuMem): NodeResourcesFitArgs => ({
    scoringStrategy: { type: "RequestedToCapacityRatio", resources, requestedToCapacityRatio: { shape } },
  });
  const leastShape = [
    { utilization: 0, score: 10 },
    { utilization: 100, score: 0 },
  ];
  const cases: { name: string; args: NodeResourcesFitArgs; pod: Pod; nodes: Node[]; existing?: Pod[]; want: [string, number][] | string }[] = [
    {
      name: "least: nothing scheduled, nothing requested",
      args: least(),
      pod: makePod("p").obj(),
      nodes: [node("node1", { cpu: "4000", memory: "10000" }), node("node2", { cpu: "4000", memory: "10000" })],
      want: [
        ["node1", 100],
        ["node2", 100],
      ],
    },
    {
      name: "least: nothing scheduled, resources requested, differently sized nodes",
      args: least(),
      pod: twoContainers,
      nodes: nodes4k10k,
      want: [
        ["node1", 37],
        ["node2", 50],
      ],
    },
    {
      name: "least: resources not set is an error",
      args: least([]),
      pod: twoContainers,
      nodes: nodes4k10k,
      want: "resources not found",
    },
    {
      name: "least: no resources requested, pods scheduled with resources",
      args: least(),
      pod: makePod("p").obj(),
      nodes: [node("node1", { cpu: "10000", memory: "20000" }), node("node2", { cpu: "10000", memory: "20000" })],
      existing: [
        makePod("a").node("node1").req({ cpu: "3000", memory: "0" }).obj(),
        makePod("b").node("node1").req({ cpu: "3000", memory: "0" }).obj(),
        makePod("c").node("node2").req({ cpu: "3000", memory: "0" }).obj(),
        makePod("d").node("node2").req({ cpu: "3000", memory: "5000" }).obj(),
      ],
      want: [
        ["node1", 70],
        ["node2", 57],
      ],
    },
    {
      name: "least: requested resources exceed node capacity",
      args: least(),
      pod: makePod("p").req({ cpu: "3000", memory: "0" }).obj(),
      nodes: [node("node1", { cpu: "4000", memory: "10000" }), node("node2", { cpu: "4000", memory: "10000" })],
      existing: [makePod("a").node("node1").req({ cpu: "3000", memory: "0" }).obj(), makePod("b").node("node2").req({ cpu: "3000", memory: "5000" }).obj()],
      want: [
        ["node1", 50],
        ["node2", 25],
      ],
    },
    {
      name: "least: different weights on cpu and memory",
      args: least([
        { name: "memory", weight: 2 },
        { name: "cpu", weight: 1 },
      ]),
      pod: twoContainers,
      nodes: nodes4k10k,
      want: [
        ["node1", 41],
        ["node2", 50],
      ],
    },
    {
      name: "least: an extended resource the pod does not request is bypassed",
      args: least([...cpuMem, { name: "intel.com/foo", weight: 1 }]),
      pod: twoContainers,
      nodes: [node("node1", { cpu: "6000", memory: "10000" }), node("node2", { cpu: "6000", memory: "10000", "intel.com/foo": "4" })],
      want: [
        ["node1", 50],
        ["node2", 50],
      ],
    },
    {
      name: "least: an extended resource the pod requests counts",
      args: least([...cpuMem, { name: "intel.com/foo", weight: 1 }]),
      pod: makePod("p").req({ cpu: "3000", memory: "5000", "intel.com/foo": "2" }).obj(),
      nodes: [node("node1", { cpu: "6000", memory: "10000", "intel.com/foo": "4" }), node("node2", { cpu: "6000", memory: "10000", "intel.com/foo": "10" })],
      want: [
        ["node1", 50],
        ["node2", 60],
      ],
    },
    {
      name: "most: nothing scheduled, resources requested, differently sized nodes",
      args: most(),
      pod: twoContainers,
      nodes: nodes4k10k,
      want: [
        ["node1", 62],
        ["node2", 50],
      ],
    },
    {
      name: "most: requests above capacity count as full",
      args: most(),
      pod: makePod("p").req({ cpu: "5000", memory: "9000" }).obj(),
      nodes: [node("node1", { cpu: "4000", memory: "10000" })],
      want: [["node1", 95]],
    },
    {
      name: "requestedToCapacityRatio: least-requested shape, nothing requested",
      args: rtcr(leastShape),
      pod: makePod("p").obj(),
      nodes: [node("node1", { cpu: "4000", memory: "10000" }), node("node2", { cpu: "4000", memory: "10000" })],
      want: [
        ["node1", 100],
        ["node2", 100],
      ],
    },
    {
      name: "requestedToCapacityRatio: least-requested shape, differently sized nodes (rounded)",
      args: rtcr(leastShape),
      pod: twoContainers,
      nodes: nodes4k10k,
      want: [
        ["node1", 38],
        ["node2", 50],
      ],
    },
    {
      name: "requestedToCapacityRatio: most-requested shape",
      args: rtcr([
        { utilization: 0, score: 0 },
        { utilization: 100, score: 10 },
      ]),
      pod: twoContainers,
      nodes: nodes4k10k,
      want: [
        ["node1", 63],
        ["node2", 50],
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(scores(c.args, c.pod, c.nodes, c.existing), c.want));
  }

  it("rejects invalid args at construction", () => {
    assert.throws(() => new Fit({ scoringStrategy: { type: "LeastAllocated", resources: [{ name: "memory", weight: -1 }] } }), /scoringStrategy\.resources\[0\]\.weight: Invalid value: -1/);
    assert.throws(() => new Fit({}), /scoring strategy not specified/);
  });
});
