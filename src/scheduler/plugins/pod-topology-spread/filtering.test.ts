import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Node, Pod } from "kubernetes-types/core/v1.js";
import { CycleState } from "../../framework/cycle-state.js";
import { PodInfo } from "../../framework/pod-info.js";
import { Code, type Status } from "../../framework/status.js";
import { handleFor } from "../../testing/framework-helpers.js";
import { makeNode, makePod } from "../../testing/wrappers.js";
import { ErrReasonConstraintsNotMatch as NotMatch, ErrReasonNodeLabelNotMatch as MissingLabel } from "./filtering.js";
import { PodTopologySpread } from "./pod-topology-spread.js";

const fooExists = { matchExpressions: [{ key: "foo", operator: "Exists" }] };
const X = [Code.Unschedulable, NotMatch] as const;
const L = [Code.UnschedulableAndUnresolvable, MissingLabel] as const;
type Want = readonly [Code, string] | null;

function nodes4(): Node[] {
  return [
    makeNode("node-a").labels({ zone: "zone1", node: "node-a" }).obj(),
    makeNode("node-b").labels({ zone: "zone1", node: "node-b" }).obj(),
    makeNode("node-x").labels({ zone: "zone2", node: "node-x" }).obj(),
    makeNode("node-y").labels({ zone: "zone2", node: "node-y" }).obj(),
  ];
}

/** Pods named `<node>-<i>` with label foo on each node, by count: "node-a": 2 → a-0, a-1. */
function podsOn(counts: Record<string, number>, labels: Record<string, string> = { foo: "" }): Pod[] {
  const out: Pod[] = [];
  for (const [node, n] of Object.entries(counts)) for (let i = 0; i < n; i++) out.push(makePod(`${node}-${i}`).node(node).labels(labels).obj());
  return out;
}

function runFilter(pod: Pod, pods: Pod[], nodes: Node[]): Status | null | Map<string, Status | null> {
  const h = handleFor(pods, nodes);
  const pl = new PodTopologySpread({ defaultingType: "List" }, h);
  const state = new CycleState();
  const pre = pl.preFilter(state, pod);
  if (pre.status) return pre.status;
  return new Map(nodes.map((n) => [n.metadata!.name!, pl.filter(state, pod, h.snapshot.get(n.metadata!.name!)!)]));
}

function check(got: Status | null | undefined, want: Want, node: string): void {
  if (want === null) assert.equal(got, null, `${node}: ${got?.message()}`);
  else {
    assert.ok(got, `${node}: expected ${want[1]}`);
    assert.equal(got.code, want[0], node);
    assert.deepEqual(got.reasons(), [want[1]], node);
  }
}

// upstream TestSingleConstraint / TestMultipleConstraints (their shapes)
describe("PodTopologySpread Filter", () => {
  const cases: { name: string; pod: Pod; pods?: Pod[]; nodes?: Node[]; want: Want[] }[] = [
    {
      name: "no existing pods",
      pod: makePod("p").labels({ foo: "" }).spreadConstraint(1, "zone", "DoNotSchedule", fooExists).obj(),
      want: [null, null, null, null],
    },
    {
      name: "no existing pods, incoming pod doesn't match itself",
      pod: makePod("p").labels({ bar: "" }).spreadConstraint(1, "zone", "DoNotSchedule", fooExists).obj(),
      want: [null, null, null, null],
    },
    {
      name: "existing pods in a different namespace do not count",
      pod: makePod("p").labels({ foo: "" }).spreadConstraint(1, "zone", "DoNotSchedule", fooExists).obj(),
      pods: [
        makePod("a1").namespace("ns1").node("node-a").labels({ foo: "" }).obj(),
        makePod("b1").namespace("ns2").node("node-b").labels({ foo: "" }).obj(),
        makePod("x1").node("node-x").labels({ foo: "" }).obj(),
        makePod("y1").node("node-y").labels({ foo: "" }).obj(),
      ],
      want: [null, null, X, X],
    },
    {
      name: "pods spread across zones as 3/3, all nodes fit",
      pod: makePod("p").labels({ foo: "" }).spreadConstraint(1, "zone", "DoNotSchedule", fooExists).obj(),
      pods: podsOn({ "node-a": 2, "node-b": 1, "node-x": 2, "node-y": 1 }),
      want: [null, null, null, null],
    },
    {
      name: "pods spread across zones as 1/2 due to absence of label 'zone' on node-b",
      pod: makePod("p").labels({ foo: "" }).spreadConstraint(1, "zone", "DoNotSchedule", fooExists).obj(),
      pods: podsOn({ "node-a": 1, "node-b": 1, "node-x": 1, "node-y": 1 }),
      nodes: [
        makeNode("node-a").labels({ zone: "zone1", node: "node-a" }).obj(),
        makeNode("node-b").labels({ zon: "zone1", node: "node-b" }).obj(),
        makeNode("node-x").labels({ zone: "zone2", node: "node-x" }).obj(),
        makeNode("node-y").labels({ zone: "zone2", node: "node-y" }).obj(),
      ],
      want: [null, L, X, X],
    },
    {
      name: "pod cannot be scheduled as all nodes don't have label 'rack'",
      pod: makePod("p").labels({ foo: "" }).spreadConstraint(1, "rack", "DoNotSchedule", fooExists).obj(),
      want: [L, L, L, L],
    },
    {
      name: "pods spread across nodes as 2/1/0/3, only node-x fits",
      pod: makePod("p").labels({ foo: "" }).spreadConstraint(1, "node", "DoNotSchedule", fooExists).obj(),
      pods: podsOn({ "node-a": 2, "node-b": 1, "node-y": 3 }),
      want: [X, X, null, X],
    },
    {
      name: "pods spread across nodes as 2/1/0/3, maxSkew is 2, node-b and node-x fit",
      pod: makePod("p").labels({ foo: "" }).spreadConstraint(2, "node", "DoNotSchedule", fooExists).obj(),
      pods: podsOn({ "node-a": 2, "node-b": 1, "node-y": 3 }),
      want: [X, null, null, X],
    },
    {
      name: "pods spread across nodes as 2/1/0/3, but pod doesn't match itself",
      pod: makePod("p").labels({ bar: "" }).spreadConstraint(1, "node", "DoNotSchedule", fooExists).obj(),
      pods: podsOn({ "node-a": 2, "node-b": 1, "node-y": 3 }),
      want: [X, null, null, X],
    },
    {
      name: "terminating pods are not counted",
      pod: makePod("p").labels({ foo: "" }).spreadConstraint(1, "node", "DoNotSchedule", fooExists).obj(),
      pods: [...podsOn({ "node-a": 1, "node-b": 1, "node-y": 1 }), makePod("x-term").node("node-x").labels({ foo: "" }).terminating().obj()],
      want: [X, X, null, X],
    },
    {
      name: "pods spread across zone as 2/1, maxSkew is 2, minDomains is 3 (two domains count the global minimum as 0)",
      pod: makePod("p").labels({ foo: "" }).spreadConstraint(2, "zone", "DoNotSchedule", fooExists, { minDomains: 3 }).obj(),
      pods: podsOn({ "node-a": 1, "node-b": 1, "node-x": 1 }),
      want: [X, X, null, null],
    },
    {
      name: "pods spread across zone as 2/1, maxSkew is 2, minDomains is 2 (enough domains)",
      pod: makePod("p").labels({ foo: "" }).spreadConstraint(2, "zone", "DoNotSchedule", fooExists, { minDomains: 2 }).obj(),
      pods: podsOn({ "node-a": 1, "node-b": 1, "node-x": 1 }),
      want: [null, null, null, null],
    },
    {
      name: "two Constraints on zone and node, spreads = [3/3, 2/1/0/3]",
      pod: makePod("p").labels({ foo: "" }).spreadConstraint(1, "zone", "DoNotSchedule", fooExists).spreadConstraint(1, "node", "DoNotSchedule", fooExists).obj(),
      pods: podsOn({ "node-a": 2, "node-b": 1, "node-y": 3 }),
      want: [X, X, null, X],
    },
    {
      name: "two Constraints on zone and node, spreads = [3/4, 2/1/0/4], no node fits",
      pod: makePod("p").labels({ foo: "" }).spreadConstraint(1, "zone", "DoNotSchedule", fooExists).spreadConstraint(1, "node", "DoNotSchedule", fooExists).obj(),
      pods: podsOn({ "node-a": 2, "node-b": 1, "node-y": 4 }),
      want: [X, X, X, X],
    },
    {
      name: "matchLabelKeys narrows the selector to the incoming pod's values",
      pod: makePod("p").labels({ foo: "", version: "v2" }).spreadConstraint(1, "zone", "DoNotSchedule", fooExists, { matchLabelKeys: ["version"] }).obj(),
      pods: [makePod("a1").node("node-a").labels({ foo: "", version: "v1" }).obj(), makePod("x1").node("node-x").labels({ foo: "", version: "v2" }).obj()],
      want: [null, null, X, X],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const nodes = c.nodes ?? nodes4();
      const got = runFilter(c.pod, c.pods ?? [], nodes);
      if (!(got instanceof Map)) assert.fail(`PreFilter returned ${got?.message()}`);
      nodes.forEach((n, i) => {
        check(got.get(n.metadata!.name!), c.want[i]!, n.metadata!.name!);
      });
    });
  }

  describe("node inclusion policies", () => {
    const nodes = [
      makeNode("node-a").labels({ zone: "zone1", env: "prod" }).obj(),
      makeNode("node-b").labels({ zone: "zone1", env: "prod" }).obj(),
      makeNode("node-x").labels({ zone: "zone2" }).obj(),
      makeNode("node-y").labels({ zone: "zone2", env: "prod" }).obj(),
    ];
    const pods = [makePod("x1").node("node-x").labels({ foo: "" }).obj()];
    it("nodeAffinityPolicy Honor (default): pods on nodes the pod cannot use do not count", () => {
      const pod = makePod("p").labels({ foo: "" }).nodeSelector({ env: "prod" }).spreadConstraint(1, "zone", "DoNotSchedule", fooExists).obj();
      const got = runFilter(pod, pods, nodes) as Map<string, Status | null>;
      for (const n of ["node-a", "node-b", "node-x", "node-y"]) check(got.get(n), null, n);
    });
    it("nodeAffinityPolicy Ignore: they count", () => {
      const pod = makePod("p").labels({ foo: "" }).nodeSelector({ env: "prod" }).spreadConstraint(1, "zone", "DoNotSchedule", fooExists, { nodeAffinityPolicy: "Ignore" }).obj();
      const got = runFilter(pod, pods, nodes) as Map<string, Status | null>;
      check(got.get("node-a"), null, "node-a");
      check(got.get("node-y"), X, "node-y");
    });
    it("nodeTaintsPolicy Honor: pods on nodes with untolerated taints do not count", () => {
      const tainted = nodes.map((n) => (n.metadata!.name === "node-x" ? makeNode("node-x").labels({ zone: "zone2" }).taints([{ key: "k", value: "v", effect: "NoSchedule" }]).obj() : n));
      const ignore = makePod("p").labels({ foo: "" }).spreadConstraint(1, "zone", "DoNotSchedule", fooExists).obj();
      check((runFilter(ignore, pods, tainted) as Map<string, Status | null>).get("node-y"), X, "node-y (Ignore)");
      const honor = makePod("p").labels({ foo: "" }).spreadConstraint(1, "zone", "DoNotSchedule", fooExists, { nodeTaintsPolicy: "Honor" }).obj();
      check((runFilter(honor, pods, tainted) as Map<string, Status | null>).get("node-y"), null, "node-y (Honor)");
    });
  });

  it("skips pods without DoNotSchedule constraints", () => {
    const pod = makePod("p").spreadConstraint(1, "zone", "ScheduleAnyway", fooExists).obj();
    assert.equal((runFilter(pod, [], nodes4()) as Status).code, Code.Skip);
    assert.equal((runFilter(makePod("q").obj(), [], nodes4()) as Status).code, Code.Skip);
  });

  it("Filter without PreFilter is an error", () => {
    const h = handleFor([], nodes4());
    const s = new PodTopologySpread({}, h).filter(new CycleState(), makePod("p").obj(), h.snapshot.get("node-a")!);
    assert.equal(s?.code, Code.Error);
    assert.equal(s?.message(), 'reading "PreFilterPodTopologySpread" from cycleState: not found');
  });
});

// upstream TestPreFilterStateAddPod / TestPreFilterStateRemovePod (their shape)
describe("PodTopologySpread AddPod/RemovePod", () => {
  it("removing a pod on a node lowers its domain's count and the critical path", () => {
    const pods = podsOn({ "node-a": 1, "node-x": 2 });
    const h = handleFor(pods, nodes4());
    const pl = new PodTopologySpread({}, h);
    const pod = makePod("p").labels({ foo: "" }).spreadConstraint(1, "zone", "DoNotSchedule", fooExists).obj();
    const state = new CycleState();
    pl.preFilter(state, pod);
    const x = h.snapshot.get("node-x")!;
    assert.equal(pl.filter(state, pod, x)?.code, Code.Unschedulable);
    const copy = state.clone();
    const victim = pods.find((p) => p.spec!.nodeName === "node-x")!;
    assert.equal(pl.removePod(copy, pod, new PodInfo(victim), x), null);
    assert.equal(pl.filter(copy, pod, x), null);
    assert.equal(pl.filter(state, pod, x)?.code, Code.Unschedulable, "the original state is unchanged");
    assert.equal(pl.addPod(copy, pod, new PodInfo(victim), x), null);
    assert.equal(pl.filter(copy, pod, x)?.code, Code.Unschedulable);
  });

  it("pods of another namespace do not change the counts", () => {
    const h = handleFor([], nodes4());
    const pl = new PodTopologySpread({}, h);
    const pod = makePod("p").labels({ foo: "" }).spreadConstraint(1, "zone", "DoNotSchedule", fooExists).obj();
    const state = new CycleState();
    pl.preFilter(state, pod);
    const a = h.snapshot.get("node-a")!;
    pl.addPod(state, pod, new PodInfo(makePod("o").namespace("other").labels({ foo: "" }).node("node-a").obj()), a);
    assert.equal(pl.filter(state, pod, h.snapshot.get("node-a")!), null);
    pl.addPod(state, pod, new PodInfo(makePod("n").labels({ foo: "" }).node("node-a").obj()), a);
    assert.equal(pl.filter(state, pod, h.snapshot.get("node-a")!)?.code, Code.Unschedulable);
  });
});

describe("PodTopologySpreadArgs", () => {
  it("defaults to System and validates as upstream", async () => {
    const { podTopologySpreadRegistration: r } = await import("./pod-topology-spread.js");
    assert.deepEqual(r.defaultArgs!({}), { defaultingType: "System" });
    assert.deepEqual(r.defaultArgs!({ defaultConstraints: [{ maxSkew: 1, topologyKey: "zone", whenUnsatisfiable: "DoNotSchedule" }] }).defaultingType, "List");
    assert.deepEqual(
      r.validateArgs!("args", {
        defaultingType: "List",
        defaultConstraints: [
          { maxSkew: 0, topologyKey: "zone", whenUnsatisfiable: "DoNotSchedule" },
          { maxSkew: 1, topologyKey: "zone", whenUnsatisfiable: "DoNotSchedule", labelSelector: {} },
          { maxSkew: 1, topologyKey: "", whenUnsatisfiable: "Sometimes" },
        ],
      }),
      [
        "args.defaultConstraints[0].maxSkew: Invalid value: 0: not in valid range (0, inf)",
        "args.defaultConstraints[1].labelSelector: Forbidden: constraint must not define a selector, as they deduced for each pod",
        'args.defaultConstraints[1]: Duplicate value: "{zone, DoNotSchedule}"',
        "args.defaultConstraints[2].topologyKey: Required value: can not be empty",
        'args.defaultConstraints[2].whenUnsatisfiable: Unsupported value: "Sometimes": supported values: "DoNotSchedule", "ScheduleAnyway"',
      ],
    );
    assert.deepEqual(r.validateArgs!("args", { defaultingType: "System", defaultConstraints: [{ maxSkew: 1, topologyKey: "zone", whenUnsatisfiable: "DoNotSchedule" }] })[0], 'args.defaultingType: Invalid value: "System": when .defaultConstraints are not empty');
  });
});
