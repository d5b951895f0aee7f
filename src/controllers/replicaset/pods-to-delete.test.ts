import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { newPod, newReplicaSet } from "./fixtures.js";
import { getPodsRankedByRelatedPodsOnSameNode, getPodsToDelete } from "./pods-to-delete.js";

const NOW = Date.UTC(2024, 0, 1, 12);

describe("getPodsToDelete (upstream TestGetPodsToDelete)", () => {
  const rs = newReplicaSet(1, { name: "foo" });
  const unscheduledPending = newPod("unscheduled-pending-pod", rs, "Pending", true);
  const scheduledPending = newPod("scheduled-pending-pod", rs, "Pending", true);
  scheduledPending.spec!.nodeName = "fake-node";
  const scheduledRunningNotReady = newPod("scheduled-running-not-ready-pod", rs, "Running", true);
  scheduledRunningNotReady.spec!.nodeName = "fake-node";
  scheduledRunningNotReady.status!.conditions = [{ type: "Ready", status: "False" }];
  const readyOnNode1 = newPod("scheduled-running-ready-pod-on-node-1", rs, "Running", true);
  readyOnNode1.spec!.nodeName = "fake-node-1";
  readyOnNode1.status!.conditions = [{ type: "Ready", status: "True" }];
  const readyOnNode2 = newPod("scheduled-running-ready-pod-on-node-2", rs, "Running", true);
  readyOnNode2.spec!.nodeName = "fake-node-2";
  readyOnNode2.status!.conditions = [{ type: "Ready", status: "True" }];

  const cases: { name: string; pods: Pod[]; related?: Pod[]; diff: number; want: Pod[] }[] = [
    { name: "len(pods) = 0 (i.e., diff = 0 too)", pods: [], diff: 0, want: [] },
    { name: "diff = len(pods)", pods: [scheduledRunningNotReady, readyOnNode1], diff: 2, want: [scheduledRunningNotReady, readyOnNode1] },
    { name: "diff < len(pods)", pods: [readyOnNode1, scheduledRunningNotReady], diff: 1, want: [scheduledRunningNotReady] },
    {
      name: "various pod phases and conditions, diff = len(pods)",
      pods: [readyOnNode1, readyOnNode1, readyOnNode2, scheduledRunningNotReady, scheduledPending, unscheduledPending],
      diff: 6,
      want: [readyOnNode1, readyOnNode1, readyOnNode2, scheduledRunningNotReady, scheduledPending, unscheduledPending],
    },
    {
      name: "various pod phases and conditions, diff = len(pods), relatedPods empty",
      pods: [readyOnNode1, readyOnNode1, readyOnNode2, scheduledRunningNotReady, scheduledPending, unscheduledPending],
      related: [],
      diff: 6,
      want: [readyOnNode1, readyOnNode1, readyOnNode2, scheduledRunningNotReady, scheduledPending, unscheduledPending],
    },
    { name: "scheduled vs unscheduled, diff < len(pods)", pods: [scheduledPending, unscheduledPending], diff: 1, want: [unscheduledPending] },
    {
      name: "ready vs not-ready, diff < len(pods)",
      pods: [readyOnNode1, scheduledRunningNotReady, scheduledRunningNotReady],
      diff: 2,
      want: [scheduledRunningNotReady, scheduledRunningNotReady],
    },
    {
      name: "ready and colocated with another ready pod vs not colocated, diff < len(pods)",
      pods: [readyOnNode1, readyOnNode2],
      related: [readyOnNode1, readyOnNode2, readyOnNode2],
      diff: 1,
      want: [readyOnNode2],
    },
    { name: "pending vs running, diff < len(pods)", pods: [scheduledPending, scheduledRunningNotReady], diff: 1, want: [scheduledPending] },
    {
      name: "various pod phases and conditions, diff < len(pods)",
      pods: [readyOnNode1, readyOnNode2, scheduledRunningNotReady, scheduledPending, unscheduledPending],
      diff: 3,
      want: [unscheduledPending, scheduledPending, scheduledRunningNotReady],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const input = [...c.pods];
      const got = getPodsToDelete(c.pods, c.related ?? c.pods, c.diff, NOW);
      assert.deepEqual(
        got.map((p) => p.metadata?.name),
        c.want.map((p) => p.metadata?.name),
      );
      assert.deepEqual(c.pods, input, "the input is not reordered");
    });
  }

  it("ranks pods by active related pods on their node (unscheduled ones together)", () => {
    const inactive = newPod("done", rs, "Succeeded", true);
    inactive.spec!.nodeName = "fake-node-1";
    const ranked = getPodsRankedByRelatedPodsOnSameNode([readyOnNode1, unscheduledPending], [readyOnNode1, inactive, unscheduledPending, unscheduledPending]);
    assert.deepEqual(
      ranked.map((r) => r.rank),
      [1, 2],
    );
  });

  it("prefers the pod with the lower pod-deletion-cost among equally ready pods", () => {
    const cheap = newPod("cheap", rs, "Running", true);
    cheap.metadata!.annotations = { "controller.kubernetes.io/pod-deletion-cost": "-5" };
    const dear = newPod("dear", rs, "Running", true);
    assert.deepEqual(
      getPodsToDelete([dear, cheap], [dear, cheap], 1, NOW).map((p) => p.metadata?.name),
      ["cheap"],
    );
  });
});
