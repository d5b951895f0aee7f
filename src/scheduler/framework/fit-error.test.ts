import assert from "node:assert/strict";
import { test } from "node:test";
import { makePod } from "../testing/wrappers.js";
import { FitError, newDiagnosis } from "./fit-error.js";
import { Code, Status } from "./status.js";

const unsched = (msg: string) => Status.of(Code.Unschedulable, msg);

// The cases of upstream's TestFitError_Error (framework/types_test.go), plus skiff's own.
test("FitError messages read as upstream's", () => {
  const cases: { name: string; numAllNodes: number; statuses: [string, Status][]; preFilterMsg?: string; postFilterMsg?: string; want: string }[] = [
    {
      name: "nodes failed Prefilter plugin",
      numAllNodes: 3,
      preFilterMsg: "Node(s) failed PreFilter plugin FalsePreFilter",
      statuses: [
        ["node1", unsched("Node(s) failed PreFilter plugin FalsePreFilter")],
        ["node2", unsched("Node(s) failed PreFilter plugin FalsePreFilter")],
        ["node3", unsched("Node(s) failed PreFilter plugin FalsePreFilter")],
      ],
      want: "0/3 nodes are available: Node(s) failed PreFilter plugin FalsePreFilter.",
    },
    {
      name: "nodes failed one Filter plugin with an empty PostFilterMsg",
      numAllNodes: 3,
      statuses: [
        ["node1", unsched("Node(s) failed Filter plugin FalseFilter-1")],
        ["node2", unsched("Node(s) failed Filter plugin FalseFilter-1")],
        ["node3", unsched("Node(s) failed Filter plugin FalseFilter-1")],
      ],
      want: "0/3 nodes are available: 3 Node(s) failed Filter plugin FalseFilter-1.",
    },
    {
      name: "nodes failed one Filter plugin with a non-empty PostFilterMsg",
      numAllNodes: 3,
      statuses: [
        ["node1", unsched("Node(s) failed Filter plugin FalseFilter-1")],
        ["node2", unsched("Node(s) failed Filter plugin FalseFilter-1")],
        ["node3", unsched("Node(s) failed Filter plugin FalseFilter-1")],
      ],
      postFilterMsg: "Error running PostFilter plugin FailedPostFilter",
      want: "0/3 nodes are available: 3 Node(s) failed Filter plugin FalseFilter-1. Error running PostFilter plugin FailedPostFilter.",
    },
    {
      name: "nodes failed two Filter plugins with an empty PostFilterMsg",
      numAllNodes: 3,
      statuses: [
        ["node1", unsched("Node(s) failed Filter plugin FalseFilter-1")],
        ["node2", unsched("Node(s) failed Filter plugin FalseFilter-1")],
        ["node3", unsched("Node(s) failed Filter plugin FalseFilter-2")],
      ],
      want: "0/3 nodes are available: 1 Node(s) failed Filter plugin FalseFilter-2, 2 Node(s) failed Filter plugin FalseFilter-1.",
    },
    {
      name: "nodes failed two Filter plugins with a non-empty PostFilterMsg",
      numAllNodes: 3,
      statuses: [
        ["node1", unsched("Node(s) failed Filter plugin FalseFilter-1")],
        ["node2", unsched("Node(s) failed Filter plugin FalseFilter-1")],
        ["node3", unsched("Node(s) failed Filter plugin FalseFilter-2")],
      ],
      postFilterMsg: "Error running PostFilter plugin FailedPostFilter",
      want: "0/3 nodes are available: 1 Node(s) failed Filter plugin FalseFilter-2, 2 Node(s) failed Filter plugin FalseFilter-1. Error running PostFilter plugin FailedPostFilter.",
    },
    {
      name: "failed to Permit on node",
      numAllNodes: 1,
      statuses: [["node1", unsched("Node failed Permit plugin Permit-1")]],
      want: "0/1 nodes are available: 1 Node failed Permit plugin Permit-1.",
    },
    {
      name: "failed to Reserve on node",
      numAllNodes: 1,
      statuses: [["node1", unsched("Node failed Reserve plugin Reserve-1")]],
      want: "0/1 nodes are available: 1 Node failed Reserve plugin Reserve-1.",
    },
    {
      name: "the design's example: a taint and memory",
      numAllNodes: 3,
      statuses: [
        ["cp", Status.of(Code.UnschedulableAndUnresolvable, "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }")],
        ["w1", unsched("Insufficient memory")],
        ["w2", unsched("Insufficient memory")],
      ],
      want: "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient memory.",
    },
    {
      name: "every reason of a node counts, and the histogram sorts as strings (10 before 2)",
      numAllNodes: 12,
      statuses: [
        ...Array.from({ length: 10 }, (_, i): [string, Status] => [`a${i}`, Status.of(Code.Unschedulable, "Insufficient cpu", "Insufficient memory")]),
        ["b0", unsched("Too many pods")],
        ["b1", unsched("Too many pods")],
      ],
      want: "0/12 nodes are available: 10 Insufficient cpu, 10 Insufficient memory, 2 Too many pods.",
    },
    {
      name: "with a preemption message (v1.30 FailedScheduling seen in the wild)",
      numAllNodes: 3,
      statuses: [
        ["n1", unsched("node(s) didn't have free ports for the requested pod ports")],
        ["n2", Status.of(Code.UnschedulableAndUnresolvable, "node is filtered out by the prefilter result")],
        ["n3", Status.of(Code.UnschedulableAndUnresolvable, "node is filtered out by the prefilter result")],
      ],
      postFilterMsg: "preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.",
      want: "0/3 nodes are available: 1 node(s) didn't have free ports for the requested pod ports, 2 node is filtered out by the prefilter result. preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling..",
    },
    { name: "no statuses at all", numAllNodes: 0, statuses: [], want: "0/0 nodes are available:" },
  ];
  for (const c of cases) {
    const d = newDiagnosis();
    for (const [n, s] of c.statuses) d.nodeToStatusMap.set(n, s);
    d.preFilterMsg = c.preFilterMsg ?? "";
    d.postFilterMsg = c.postFilterMsg ?? "";
    assert.equal(new FitError(makePod("p").obj(), c.numAllNodes, d).message, c.want, c.name);
  }
});

test("Status: reasons, error first, rejection codes", () => {
  const s = Status.of(Code.Unschedulable, "a", "b").withPlugin("P");
  assert.equal(s.message(), "a, b");
  assert.equal(s.plugin, "P");
  assert.ok(s.isRejected());
  assert.equal(s.asError()?.message, "a, b");
  const e = Status.of(Code.UnschedulableAndUnresolvable).withError("no nodes available to schedule pods");
  assert.deepEqual(e.reasons(), ["no nodes available to schedule pods"]);
  assert.ok(Status.of(Code.Pending).isRejected());
  assert.ok(!Status.of(Code.Wait).isRejected());
  assert.equal(Status.of(Code.Skip).asError(), undefined);
  assert.ok(Status.of(Code.Success).equal(null));
});
