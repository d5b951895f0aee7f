import assert from "node:assert/strict";
import { test } from "node:test";
import type { Toleration } from "kubernetes-types/core/v1.js";
import { CycleState } from "../../framework/cycle-state.js";
import { NodeInfo } from "../../framework/node-info.js";
import { Code } from "../../framework/status.js";
import { makeNode, makePod } from "../../testing/wrappers.js";
import { NodeUnschedulable } from "./node-unschedulable.js";

// upstream TestNodeUnschedulable
test("NodeUnschedulable Filter", () => {
  const cases: { name: string; unschedulable: boolean; tolerations: Toleration[]; want?: string }[] = [
    { name: "Does not schedule pod to unschedulable node (node.Spec.Unschedulable==true)", unschedulable: true, tolerations: [], want: "node(s) were unschedulable" },
    { name: "Schedule pod to normal node", unschedulable: false, tolerations: [] },
    { name: "Schedule pod with toleration to unschedulable node (node.Spec.Unschedulable==true)", unschedulable: true, tolerations: [{ key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" }] },
    { name: "an Exists toleration of every key tolerates it too", unschedulable: true, tolerations: [{ operator: "Exists" }] },
    { name: "a NoExecute toleration does not", unschedulable: true, tolerations: [{ key: "node.kubernetes.io/unschedulable", effect: "NoExecute" }], want: "node(s) were unschedulable" },
  ];
  for (const c of cases) {
    const ni = new NodeInfo();
    ni.setNode(makeNode("n").unschedulable(c.unschedulable).obj());
    const w = makePod("p");
    for (const t of c.tolerations) w.toleration(t);
    const s = new NodeUnschedulable().filter(new CycleState(), w.obj(), ni);
    if (!c.want) assert.equal(s, null, c.name);
    else {
      assert.equal(s?.code, Code.UnschedulableAndUnresolvable, c.name);
      assert.equal(s?.message(), c.want, c.name);
    }
  }
  const ghost = new NodeInfo();
  assert.equal(new NodeUnschedulable().filter(new CycleState(), makePod("p").obj(), ghost)?.message(), "node(s) had unknown conditions");
});
