import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Node } from "kubernetes-types/core/v1.js";
import { buildQueueingHintMap } from "../queue/queueing-hints.js";
import { makeNode } from "../testing/wrappers.js";
import { ActionType, EventResource, matchClusterEvent, NodeAdd, nodeSchedulingPropertiesChange, NodeTaintChange } from "./events.js";

describe("cluster events", () => {
  it("matches registered events against incoming ones", () => {
    const cases: { name: string; registered: [string, number]; incoming: [string, number]; want: boolean }[] = [
      { name: "same", registered: ["Node", ActionType.Add], incoming: ["Node", ActionType.Add], want: true },
      { name: "Update covers a label update", registered: ["Node", ActionType.Update], incoming: ["Node", ActionType.UpdateNodeLabel], want: true },
      { name: "a taint update does not cover a label update", registered: ["Node", ActionType.UpdateNodeTaint], incoming: ["Node", ActionType.UpdateNodeLabel], want: false },
      { name: "other resource", registered: ["Pod", ActionType.Add], incoming: ["Node", ActionType.Add], want: false },
      { name: "wildcard resource", registered: ["*", ActionType.Delete], incoming: ["Pod", ActionType.Delete], want: true },
      { name: "wildcard event", registered: ["*", ActionType.All], incoming: ["storage.k8s.io/CSINode", ActionType.Add], want: true },
    ];
    for (const c of cases) {
      const r = { resource: c.registered[0], actionType: c.registered[1] };
      const e = { resource: c.incoming[0], actionType: c.incoming[1] };
      assert.equal(matchClusterEvent(r, e), c.want, c.name);
    }
  });

  it("names the scheduling-relevant changes of a node update", () => {
    const base = makeNode("n").capacity({ cpu: "1", memory: "1Gi" }).obj();
    const mod = (f: (n: Node) => void) => {
      const n = structuredClone(base);
      f(n);
      return n;
    };
    const labels = (n: Node) => nodeSchedulingPropertiesChange(n, base).map((e) => e.label);
    assert.deepEqual(labels(base), []);
    assert.deepEqual(
      labels(mod((n) => (n.status!.allocatable = { pods: "110", cpu: "1000m", memory: "1024Mi" }))),
      [],
      "allocatable compares semantically",
    );
    assert.deepEqual(labels(mod((n) => (n.status!.allocatable!.cpu = "2"))), ["NodeAllocatableChange"]);
    assert.deepEqual(labels(mod((n) => (n.metadata!.labels!.zone = "a"))), ["NodeLabelChange"]);
    assert.deepEqual(labels(mod((n) => (n.spec!.taints = [{ key: "k", effect: "NoSchedule" }]))), ["NodeTaintChange"]);
    assert.deepEqual(labels(mod((n) => (n.status!.conditions = [{ type: "Ready", status: "True" }]))), ["NodeConditionChange"]);
    assert.deepEqual(labels(mod((n) => (n.metadata!.annotations = { a: "b" }))), ["NodeAnnotationChange"]);
    // Only becoming schedulable counts.
    const cordoned = mod((n) => (n.spec!.unschedulable = true));
    assert.deepEqual(nodeSchedulingPropertiesChange(base, cordoned).map((e) => e.label), ["NodeSpecUnschedulableChange"]);
    assert.deepEqual(nodeSchedulingPropertiesChange(cordoned, base).map((e) => e.label), []);
  });

  it("adds node taint updates for plugins that registered node adds", () => {
    const map = buildQueueingHintMap([
      { name: "A", eventsToRegister: () => [{ event: { resource: EventResource.Node, actionType: ActionType.Add } }] },
      { name: "B", eventsToRegister: () => [{ event: { resource: EventResource.Node, actionType: ActionType.Add | ActionType.UpdateNodeTaint } }] },
      { name: "C", eventsToRegister: () => [] },
    ]);
    const who = (e: { resource: string; actionType: number }) =>
      [...map.values()].filter((x) => matchClusterEvent(x.event, e)).flatMap((x) => x.plugins).sort();
    assert.deepEqual(who(NodeAdd), ["A", "B"]);
    assert.deepEqual(who(NodeTaintChange), ["A", "B"]);
  });
});
