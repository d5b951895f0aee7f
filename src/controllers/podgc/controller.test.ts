import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import type { Node, Pod } from "kubernetes-types/core/v1.js";
import { FakeTimers } from "../../client/timers.js";
import { settle } from "../common/testing.js";
import { rfc3339 } from "../common/time.js";
import { FakeCluster, newNode, newPod } from "../nodelifecycle/fixtures.js";
import { PodGCController, QUARANTINE_MS } from "./controller.js";

const T0 = Date.UTC(2026, 0, 1, 12);
const HOUR = 3_600_000;
const stops: AbortController[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s.abort();
});

async function harness(nodes: Node[], pods: Pod[], threshold = 12_500) {
  const stop = new AbortController();
  stops.push(stop);
  const cluster = new FakeCluster();
  for (const n of nodes) cluster.nodes.set(n);
  for (const p of pods) cluster.pods.set(p);
  const inf = await cluster.informers(stop.signal);
  const timers = new FakeTimers(T0);
  const gc = new PodGCController({ pods: inf.pods, nodes: inf.nodes, api: cluster, terminatedPodThreshold: threshold, timers });
  const run = async () => {
    await gc.gc();
    await settle();
  };
  const deleted = () => cluster.deletions.map((d) => d.key.replace("default/", "")).sort();
  const patched = () => cluster.writes.filter((w) => w.startsWith("patchPodStatus")).map((w) => w.replace("patchPodStatus default/", "")).sort();
  return { cluster, gc, timers, run, deleted, patched };
}

/** Pods created an hour apart, in order. */
function pods(specs: { name: string; phase: string; node?: string; reason?: string }[]): Pod[] {
  return specs.map((s, i) => newPod(s.name, s.node ?? "node", T0 + (i + 1) * HOUR, { phase: s.phase, ...(s.reason ? { reason: s.reason } : {}) }));
}

const terminating = (p: Pod): Pod => ({ ...p, metadata: { ...p.metadata, deletionTimestamp: rfc3339(T0), deletionGracePeriodSeconds: 30 } });

describe("PodGCController terminated pods (TestGCTerminated)", () => {
  const cases: { name: string; pods: { name: string; phase: string; reason?: string }[]; threshold: number; deleted: string[] }[] = [
    { name: "threshold 0 turns it off", pods: [{ name: "a", phase: "Failed" }, { name: "b", phase: "Succeeded" }], threshold: 0, deleted: [] },
    {
      name: "oldest beyond the threshold",
      pods: [
        { name: "a", phase: "Failed" },
        { name: "b", phase: "Succeeded" },
        { name: "c", phase: "Failed" },
      ],
      threshold: 1,
      deleted: ["a", "b"],
    },
    {
      name: "running pods neither count nor go",
      pods: [
        { name: "a", phase: "Running" },
        { name: "b", phase: "Succeeded" },
        { name: "c", phase: "Failed" },
      ],
      threshold: 1,
      deleted: ["b"],
    },
    { name: "within the threshold", pods: [{ name: "a", phase: "Failed" }, { name: "b", phase: "Succeeded" }], threshold: 5, deleted: [] },
    {
      name: "evicted pods first",
      pods: [
        { name: "a", phase: "Failed" },
        { name: "b", phase: "Succeeded" },
        { name: "c", phase: "Failed", reason: "Evicted" },
      ],
      threshold: 1,
      deleted: ["a", "c"],
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const h = await harness([newNode("node", T0)], pods(c.pods), c.threshold);
      await h.run();
      assert.deepEqual(h.deleted(), c.deleted);
      // Already terminal: deleted without a status patch, with grace period 0.
      assert.deepEqual(h.patched(), []);
      for (const d of h.cluster.deletions) assert.equal(d.gracePeriodSeconds, 0);
    });
  }
});

describe("PodGCController orphaned pods (TestGCOrphaned)", () => {
  it("deletes pods of a missing node only after the quarantine, marking running ones Failed with DisruptionTarget", async () => {
    const h = await harness(
      [newNode("existing", T0)],
      pods([
        { name: "a", phase: "Failed", node: "deleted" },
        { name: "b", phase: "Failed", node: "existing" },
        { name: "c", phase: "Succeeded", node: "deleted" },
        { name: "d", phase: "Running", node: "deleted" },
      ]),
    );
    await h.run();
    assert.deepEqual(h.deleted(), [], "quarantine not finished");
    h.timers.advance(QUARANTINE_MS / 2);
    await h.run();
    assert.deepEqual(h.deleted(), [], "still in quarantine");
    h.timers.advance(QUARANTINE_MS / 2);
    await h.run();
    assert.deepEqual(h.deleted(), ["a", "c", "d"]);
    assert.deepEqual(h.patched(), ["d"]);
  });

  it("keeps pods of a node that appears during the quarantine", async () => {
    const h = await harness([], pods([{ name: "a", phase: "Running", node: "late" }]));
    await h.run();
    h.cluster.nodes.set(newNode("late", T0));
    await settle();
    h.timers.advance(2 * QUARANTINE_MS);
    await h.run();
    assert.deepEqual(h.deleted(), []);
  });

  it("asks the API server before deleting: a node the cache lacks but the server has keeps its pods", async () => {
    const h = await harness([], pods([{ name: "a", phase: "Running", node: "uncached" }]));
    h.cluster.getNode = async (name) => newNode(name, T0);
    await h.run();
    h.timers.advance(2 * QUARANTINE_MS);
    await h.run();
    assert.deepEqual(h.deleted(), []);
  });

  it("sets phase Failed and DisruptionTarget (DeletionByPodGC) before deleting", async () => {
    const h = await harness([], pods([{ name: "a", phase: "Running", node: "gone" }]));
    const statuses: Pod["status"][] = [];
    const orig = h.cluster.patchPodStatus.bind(h.cluster);
    h.cluster.patchPodStatus = async (ns, name, uid, status) => {
      statuses.push(status);
      return orig(ns, name, uid, status);
    };
    await h.run();
    h.timers.advance(QUARANTINE_MS);
    await h.run();
    assert.deepEqual(statuses, [
      {
        phase: "Failed",
        conditions: [{ type: "DisruptionTarget", status: "True", reason: "DeletionByPodGC", message: "PodGC: node no longer exists", lastTransitionTime: rfc3339(h.timers.now()) }],
      },
    ]);
    assert.deepEqual(h.deleted(), ["a"]);
  });
});

describe("PodGCController terminating pods", () => {
  it("deletes unscheduled terminating pods in any phase, and leaves scheduled ones (TestGCUnscheduledTerminating)", async () => {
    const [a, b, c] = pods([
      { name: "a", phase: "Failed", node: "" },
      { name: "b", phase: "Succeeded", node: "" },
      { name: "c", phase: "Running", node: "" },
    ]);
    const [d, e] = pods([
      { name: "d", phase: "Pending", node: "" },
      { name: "e", phase: "Running", node: "node" },
    ]);
    const h = await harness([newNode("node", T0)], [terminating(a!), terminating(b!), terminating(c!), d!, terminating(e!)], 0);
    await h.run();
    assert.deepEqual(h.deleted(), ["a", "b", "c"]);
    assert.deepEqual(h.patched(), ["c"]);
  });

  it("deletes terminating pods of a NotReady node tainted out-of-service, only then (TestGCTerminating)", async () => {
    const outOfService = { key: "node.kubernetes.io/out-of-service", value: "nodeshutdown", effect: "NoExecute" };
    const nodes = [
      newNode("down-oos", T0, { ready: "False", taints: [outOfService] }),
      newNode("down", T0, { ready: "Unknown" }),
      newNode("up-oos", T0, { taints: [outOfService] }),
    ];
    const [a, b, c, d] = pods([
      { name: "a", phase: "Running", node: "down-oos" },
      { name: "b", phase: "Running", node: "down" },
      { name: "c", phase: "Running", node: "up-oos" },
      { name: "d", phase: "Running", node: "down-oos" },
    ]);
    const h = await harness(nodes, [terminating(a!), terminating(b!), terminating(c!), d!], 0);
    await h.run();
    assert.deepEqual(h.deleted(), ["a"]);
    assert.deepEqual(h.patched(), ["a"]);
  });
});
