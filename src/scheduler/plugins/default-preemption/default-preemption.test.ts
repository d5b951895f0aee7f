import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Node, Pod } from "kubernetes-types/core/v1.js";
import type { PodDisruptionBudget } from "kubernetes-types/policy/v1.js";
import { CycleState } from "../../framework/cycle-state.js";
import { Framework } from "../../framework/framework.js";
import { listersFromObjects } from "../../framework/listers.js";
import { PodInfo } from "../../framework/pod-info.js";
import { Snapshot } from "../../framework/snapshot.js";
import { Code, type Status } from "../../framework/status.js";
import { FakeTimers } from "../../framework/timers.js";
import type { PodNominator, PostFilterResult } from "../../framework/types.js";
import { NominatingMode } from "../../framework/types.js";
import { WaitingPodImpl, WaitingPodsMap } from "../../framework/waiting-pods.js";
import { newInTreeRegistry } from "../registry.js";
import { makeNode, makePod } from "../../testing/wrappers.js";
import { pickOneNodeForPreemption, type Victims } from "./candidates.js";
import { DefaultPreemption } from "./default-preemption.js";

// In the default profile's order.
const plugins = ["TaintToleration", "NodeAffinity", "NodeResourcesFit", "PodTopologySpread", "InterPodAffinity", "DefaultPreemption"];

interface World {
  nodes: Node[];
  pods: Pod[];
  pdbs?: PodDisruptionBudget[];
  nominated?: PodInfo[];
  waitingPods?: WaitingPodsMap;
  args?: Record<string, unknown>;
}

/** A framework over these filter plugins and DefaultPreemption (dry runs start at the first node). */
function frameworkFor(w: World, preemptor: Pod): Framework {
  const registry = newInTreeRegistry();
  const reg = registry.get("DefaultPreemption")!;
  registry.set("DefaultPreemption", { ...reg, factory: (args, h) => new DefaultPreemption((args ?? {}) as object, h, () => 0) });
  const nominator: PodNominator = {
    addNominatedPod: () => {},
    deleteNominatedPodIfExists: () => {},
    updateNominatedPod: () => {},
    nominatedPodsForNode: (n) => (w.nominated ?? []).filter((pi) => pi.pod.status?.nominatedNodeName === n),
    hasNominatedPods: () => (w.nominated ?? []).length > 0,
  };
  const r = Framework.create(
    registry,
    {
      schedulerName: "default-scheduler",
      plugins: {
        queueSort: { enabled: [{ name: "PrioritySort" }] },
        bind: { enabled: [{ name: "DefaultBinder" }] },
        multiPoint: { enabled: plugins.map((name) => ({ name })) },
      },
      pluginConfig: w.args ? [{ name: "DefaultPreemption", args: w.args }] : [],
    },
    {
      snapshot: Snapshot.fromObjects(w.pods, w.nodes),
      listers: listersFromObjects({ pods: [...w.pods, preemptor], podDisruptionBudgets: w.pdbs }),
      nominator,
      waitingPods: w.waitingPods,
    },
  );
  if (!r.ok) throw new Error(r.error);
  return r.framework;
}

/** Schedules the pod (it must not fit), runs PostFilter, and returns the result and the FailedScheduling message. */
function preempt(w: World, pod: Pod): { result: PostFilterResult | null; status: Status | null; message: string } {
  const fwk = frameworkFor(w, pod);
  const state = new CycleState();
  const out = fwk.schedulePod(state, pod);
  if (out.kind !== "unschedulable") assert.fail(`expected the pod not to fit, got ${out.kind}`);
  const pf = fwk.runPostFilterPlugins(state, pod, out.fitError.diagnosis.nodeToStatusMap);
  if (pf.status && !pf.status.isSuccess()) out.fitError.diagnosis.postFilterMsg = pf.status.message();
  return { result: pf.result, status: pf.status, message: out.fitError.message };
}

const node = (name: string, cpu = "2") => makeNode(name).capacity({ cpu, memory: "8Gi" }).obj();
const low = (name: string, nodeName: string, priority = 1, cpu = "1") =>
  makePod(name).priority(priority).node(nodeName).req({ cpu }).startTime("2026-01-01T00:00:00Z").obj();
const high = (name = "p", cpu = "1", priority = 10) => makePod(name).priority(priority).req({ cpu }).obj();
const names = (pods: readonly Pod[] | undefined) => (pods ?? []).map((p) => p.metadata?.name);

// upstream TestPostFilter (its cases, through the framework)
describe("DefaultPreemption PostFilter", () => {
  it("pod with higher priority can be made schedulable", () => {
    const r = preempt({ nodes: [node("node1")], pods: [low("p1", "node1", 1, "2")] }, high());
    assert.equal(r.status, null);
    assert.deepEqual(r.result?.nominatingInfo, { nominatedNodeName: "node1", nominatingMode: NominatingMode.Override });
    const plan = r.result?.preemption;
    assert.equal(plan?.nodeName, "node1");
    assert.deepEqual(names(plan?.victims), ["p1"]);
    assert.deepEqual(names(plan?.podsToDelete), ["p1"]);
    assert.deepEqual(plan?.disruptionCondition, {
      type: "DisruptionTarget",
      status: "True",
      reason: "PreemptionByScheduler",
      message: ": preempting to accommodate a higher priority pod",
    });
    assert.deepEqual(plan?.nominatedPodsToClear, []);
  });

  it("pod with tied priority is still unschedulable", () => {
    const r = preempt({ nodes: [node("node1")], pods: [low("p1", "node1", 10, "2")] }, high());
    assert.equal(r.status?.code, Code.Unschedulable);
    assert.equal(r.status?.message(), "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.");
    assert.deepEqual(r.result?.nominatingInfo, { nominatedNodeName: "", nominatingMode: NominatingMode.Override });
    assert.equal(r.message, "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod..");
  });

  it("preemption should respect filteredNodesStatuses (UnschedulableAndUnresolvable nodes are not helped)", () => {
    const pod = makePod("p").priority(10).req({ cpu: "1" }).nodeSelector({ disk: "ssd" }).obj();
    const r = preempt({ nodes: [node("node1")], pods: [low("p1", "node1", 1, "2")] }, pod);
    assert.equal(r.status?.message(), "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.");
  });

  it("no candidate nodes found with mixed reasons: unresolvable nodes and nodes without lower-priority pods", () => {
    const nodes = [makeNode("node1").capacity({ cpu: "2" }).labels({ disk: "hdd" }).obj(), node("node2"), node("node3")];
    for (const n of nodes.slice(1)) n.metadata!.labels = { ...n.metadata!.labels, disk: "ssd" };
    const pod = makePod("p").priority(10).req({ cpu: "1" }).nodeSelector({ disk: "ssd" }).obj();
    const r = preempt({ nodes, pods: [low("p2", "node2", 10, "2"), low("p3", "node3", 20, "2")] }, pod);
    assert.equal(r.status?.message(), "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.");
    assert.equal(
      r.message,
      "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod..",
    );
  });

  it("no candidate nodes found with mixed reasons, no lower priority pod and no enough CPU resource", () => {
    const r = preempt({ nodes: [node("node1"), node("node2", "1")], pods: [low("p1", "node1", 10, "2"), low("p2", "node2", 1, "1")] }, high("p", "2"));
    assert.equal(r.status?.message(), "preemption: 0/2 nodes are available: 1 Insufficient cpu, 1 No preemption victims found for incoming pod.");
  });

  it("pod with preemptionPolicy Never is not eligible", () => {
    const pod = makePod("p").priority(10).req({ cpu: "1" }).preemptionPolicy("Never").obj();
    const r = preempt({ nodes: [node("node1")], pods: [low("p1", "node1", 1, "2")] }, pod);
    assert.equal(r.status?.message(), "preemption: not eligible due to preemptionPolicy=Never.");
    assert.equal(r.result, null);
  });

  it("pod is not eligible while a victim is still terminating on its nominated node", () => {
    const victim = makePod("p1")
      .priority(1)
      .node("node1")
      .req({ cpu: "2" })
      .terminating()
      .condition({ type: "DisruptionTarget", status: "True", reason: "PreemptionByScheduler" })
      .obj();
    const pod = makePod("p").priority(10).req({ cpu: "1" }).nominatedNodeName("node1").obj();
    const r = preempt({ nodes: [node("node1")], pods: [victim] }, pod);
    assert.equal(r.status?.message(), "preemption: not eligible due to a terminating pod on the nominated node.");
    // A pod terminating for another reason does not block preemption.
    const deleted = makePod("p1").priority(1).node("node1").req({ cpu: "2" }).terminating().obj();
    assert.equal(preempt({ nodes: [node("node1")], pods: [deleted] }, pod).status, null);
  });

  it("reprieves as many victims as possible, the most important first", () => {
    const pods = [low("v1", "node1", 1), low("v2", "node1", 3), low("v3", "node1", 2)];
    const r = preempt({ nodes: [node("node1", "3")], pods }, high("p", "1"));
    assert.deepEqual(names(r.result?.preemption?.victims), ["v1"]);
  });

  it("picks the node whose highest-priority victim is lowest", () => {
    const pods = [low("a", "node1", 5, "2"), low("b", "node2", 3, "2")];
    const r = preempt({ nodes: [node("node1"), node("node2")], pods }, high());
    assert.equal(r.result?.nominatingInfo?.nominatedNodeName, "node2");
  });

  it("prefers a node whose victims violate no PodDisruptionBudget", () => {
    const a = makePod("a").priority(1).node("node1").req({ cpu: "2" }).labels({ app: "db" }).obj();
    const b = makePod("b").priority(5).node("node2").req({ cpu: "2" }).labels({ app: "web" }).obj();
    const pdb: PodDisruptionBudget = {
      metadata: { name: "db", namespace: "default" },
      spec: { selector: { matchLabels: { app: "db" } } },
      status: { disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1, expectedPods: 1 },
    };
    const r = preempt({ nodes: [node("node1"), node("node2")], pods: [a, b], pdbs: [pdb] }, high());
    assert.equal(r.result?.nominatingInfo?.nominatedNodeName, "node2");
    // Without the budget the lower-priority victim's node wins.
    assert.equal(preempt({ nodes: [node("node1"), node("node2")], pods: [a, b] }, high()).result?.nominatingInfo?.nominatedNodeName, "node1");
  });

  it("rejects victims waiting at Permit instead of deleting them, and clears lower-priority nominations", async () => {
    const waitingPods = new WaitingPodsMap();
    const v = low("v", "node1", 1, "2");
    const wp = new WaitingPodImpl(v, new Map([["SomePermit", 60_000]]), new FakeTimers());
    waitingPods.add(v.metadata!.uid!, wp);
    const nominatedLow = new PodInfo(makePod("n-low").priority(5).nominatedNodeName("node1").obj());
    const nominatedHigh = new PodInfo(makePod("n-high").priority(50).req({ cpu: "1" }).nominatedNodeName("node2").obj());
    const r = preempt({ nodes: [node("node1"), node("node2", "1")], pods: [v, low("x", "node2", 100, "1")], waitingPods, nominated: [nominatedLow, nominatedHigh] }, high());
    const plan = r.result?.preemption;
    assert.deepEqual(names(plan?.victims), ["v"]);
    assert.deepEqual(names(plan?.podsToDelete), []);
    assert.deepEqual(names(plan?.nominatedPodsToClear), ["n-low"]);
    const s = await wp.done;
    assert.equal(s?.message(), "preempted");
    assert.equal(s?.plugin, "DefaultPreemption");
  });

  it("removing a victim lifts the preemptor's required anti-affinity (InterPodAffinity RemovePod)", () => {
    const db = makePod("db").priority(1).node("node1").labels({ app: "db" }).obj();
    const pod = makePod("p").priority(10).podAntiAffinityIn("app", "kubernetes.io/hostname", ["db"]).obj();
    const r = preempt({ nodes: [node("node1")], pods: [db] }, pod);
    assert.equal(r.message, "0/1 nodes are available: 1 node(s) didn't match pod anti-affinity rules.");
    assert.deepEqual(names(r.result?.preemption?.victims), ["db"]);
  });

  it("removing victims resolves a topology spread failure, reprieving what spread allows (PodTopologySpread AddPod/RemovePod)", () => {
    const nodes = [node("node-a"), node("node-b")];
    const pods = [
      makePod("a1").priority(1).node("node-a").labels({ foo: "" }).startTime("2026-01-01T00:00:00Z").obj(),
      makePod("a2").priority(2).node("node-a").labels({ foo: "" }).startTime("2026-01-01T00:00:00Z").obj(),
      makePod("b-full").priority(100).node("node-b").req({ cpu: "2" }).obj(),
    ];
    const pod = makePod("p").priority(10).labels({ foo: "" }).req({ cpu: "1" }).spreadConstraint(2, "kubernetes.io/hostname", "DoNotSchedule", { matchExpressions: [{ key: "foo", operator: "Exists" }] }).obj();
    const r = preempt({ nodes, pods }, pod);
    assert.equal(r.result?.nominatingInfo?.nominatedNodeName, "node-a");
    assert.deepEqual(names(r.result?.preemption?.victims), ["a1"]);
  });

  it("the pod must be in the pod lister", () => {
    const w = { nodes: [node("node1")], pods: [low("p1", "node1", 1, "2")] };
    const fwk = frameworkFor(w, makePod("other").obj());
    const state = new CycleState();
    const pod = high();
    const out = fwk.schedulePod(state, pod);
    assert.equal(out.kind, "unschedulable");
    if (out.kind !== "unschedulable") return;
    const pf = fwk.runPostFilterPlugins(state, pod, out.fitError.diagnosis.nodeToStatusMap);
    assert.equal(pf.status?.code, Code.Error);
    assert.equal(pf.status?.message(), 'preemption: pod "p" not found');
  });
});

// upstream TestSelectBestCandidate / pickOneNodeForPreemption (their criteria)
describe("pickOneNodeForPreemption", () => {
  const pod = (name: string, priority: number, start = "2026-01-01T00:00:00Z") => makePod(name).priority(priority).startTime(start).obj();
  const v = (numPDBViolations: number, ...pods: Pod[]): Victims => ({ pods, numPDBViolations });
  const cases: { name: string; victims: [string, Victims][]; want: string }[] = [
    { name: "no node", victims: [], want: "" },
    {
      name: "a node with the fewest PDB violations",
      victims: [
        ["node1", v(1, pod("a", 1))],
        ["node2", v(0, pod("b", 100))],
      ],
      want: "node2",
    },
    {
      name: "a node with the lowest highest-priority victim",
      victims: [
        ["node1", v(0, pod("a", 5))],
        ["node2", v(0, pod("b", 3), pod("c", 3))],
      ],
      want: "node2",
    },
    {
      name: "ties broken by the smallest sum of priorities",
      victims: [
        ["node1", v(0, pod("a", 3), pod("b", 2))],
        ["node2", v(0, pod("c", 3), pod("d", 1))],
      ],
      want: "node2",
    },
    {
      name: "negative priorities: fewer pods win the sum",
      victims: [
        ["node1", v(0, pod("a", -5), pod("b", -5))],
        ["node2", v(0, pod("c", -5))],
      ],
      want: "node2",
    },
    {
      name: "ties broken by the fewest victims",
      victims: [
        ["node1", v(0, pod("a", 3), pod("b", 0), pod("x", 0))],
        ["node2", v(0, pod("c", 3), pod("d", 0))],
      ],
      want: "node2",
    },
    {
      name: "ties broken by the latest start time of the highest-priority victims",
      victims: [
        ["node1", v(0, pod("a", 3, "2026-01-01T00:00:00Z"))],
        ["node2", v(0, pod("b", 3, "2026-01-02T00:00:00Z"))],
      ],
      want: "node2",
    },
    {
      name: "then the first node",
      victims: [
        ["node1", v(0, pod("a", 3))],
        ["node2", v(0, pod("b", 3))],
      ],
      want: "node1",
    },
  ];
  for (const c of cases) it(c.name, () => assert.equal(pickOneNodeForPreemption(new Map(c.victims), Date.UTC(2026, 1, 1)), c.want));
});

describe("DefaultPreemptionArgs", () => {
  it("computes the number of candidates as upstream", () => {
    const h = frameworkFor({ nodes: [], pods: [] }, makePod("x").obj());
    const pl = new DefaultPreemption({}, h);
    assert.equal(pl.calculateNumCandidates(10), 10);
    assert.equal(pl.calculateNumCandidates(5000), 500);
    assert.equal(new DefaultPreemption({ minCandidateNodesPercentage: 0, minCandidateNodesAbsolute: 5 }, h).calculateNumCandidates(1000), 5);
  });

  it("defaults and validates as upstream", async () => {
    const { defaultPreemptionRegistration: r } = await import("./default-preemption.js");
    assert.deepEqual(r.defaultArgs!({}), { minCandidateNodesPercentage: 10, minCandidateNodesAbsolute: 100 });
    assert.deepEqual(r.validateArgs!("args", { minCandidateNodesPercentage: 0, minCandidateNodesAbsolute: 0 }), [
      "args.minCandidateNodesPercentage: Invalid value: 0: cannot be zero at the same time as minCandidateNodesAbsolute",
      "args.minCandidateNodesAbsolute: Invalid value: 0: cannot be zero at the same time as minCandidateNodesPercentage",
    ]);
    assert.deepEqual(r.validateArgs!("args", { minCandidateNodesPercentage: 101, minCandidateNodesAbsolute: -1 }), [
      "args.minCandidateNodesPercentage: Invalid value: 101: not in valid range [0, 100]",
      "args.minCandidateNodesAbsolute: Invalid value: -1: not in valid range [0, inf)",
    ]);
  });
});
