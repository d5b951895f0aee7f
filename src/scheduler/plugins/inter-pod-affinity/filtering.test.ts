import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Namespace, Node, Pod, PodAffinityTerm } from "kubernetes-types/core/v1.js";
import { CycleState } from "../../framework/cycle-state.js";
import { listersFromObjects } from "../../framework/listers.js";
import { PodInfo } from "../../framework/pod-info.js";
import { Code, type Status } from "../../framework/status.js";
import { handleFor } from "../../testing/framework-helpers.js";
import { makeNode, makePod } from "../../testing/wrappers.js";
import {
  ErrReasonAffinityRulesNotMatch as Aff,
  ErrReasonAntiAffinityRulesNotMatch as Anti,
  ErrReasonExistingAntiAffinityRulesNotMatch as Existing,
} from "./filtering.js";
import { InterPodAffinity } from "./inter-pod-affinity.js";

const In = (key: string, values: string[], topologyKey: string, extra: Partial<PodAffinityTerm> = {}): PodAffinityTerm => ({
  labelSelector: { matchExpressions: [{ key, operator: "In", values }] },
  topologyKey,
  ...extra,
});
const NotIn = (key: string, values: string[], topologyKey: string): PodAffinityTerm => ({
  labelSelector: { matchExpressions: [{ key, operator: "NotIn", values }] },
  topologyKey,
});
const Exists = (key: string, topologyKey: string): PodAffinityTerm => ({ labelSelector: { matchExpressions: [{ key, operator: "Exists" }] }, topologyKey });

/** createPodWithAffinityTerms. */
function podWith(name: string, nodeName: string, labels: Record<string, string>, affinity: PodAffinityTerm[] = [], anti: PodAffinityTerm[] = [], ns = "default"): Pod {
  const w = makePod(name).namespace(ns).labels(labels);
  if (nodeName) w.node(nodeName);
  for (const t of affinity) w.podAffinity("required", t);
  for (const t of anti) w.podAntiAffinity("required", t);
  return w.obj();
}

type Want = [Code, string] | null;

/** PreFilter then Filter on every node; Skip means every node passes. */
function runFilter(pod: Pod, pods: Pod[], nodes: Node[], namespaces: Namespace[] = []): Map<string, Status | null> {
  const h = handleFor(pods, nodes, { listers: listersFromObjects({ namespaces }) });
  const pl = new InterPodAffinity({}, h);
  const state = new CycleState();
  const pre = pl.preFilter(state, pod);
  const out = new Map<string, Status | null>();
  for (const n of nodes) {
    const name = n.metadata!.name!;
    if (pre.status?.isSkip()) out.set(name, null);
    else if (pre.status) out.set(name, pre.status);
    else out.set(name, pl.filter(state, pod, h.snapshot.get(name)!));
  }
  return out;
}

function check(got: Status | null | undefined, want: Want): void {
  if (want === null) assert.equal(got, null);
  else {
    assert.ok(got, `expected ${want[1]}`);
    assert.equal(got.code, want[0]);
    assert.deepEqual(got.reasons(), [want[1]]);
  }
}

const podLabel = { service: "securityscan" };
const podLabel2 = { security: "S1" };
const node1 = makeNode("machine1").labels({ region: "r1", zone: "z11" }).obj();

// upstream TestRequiredAffinitySingleNode
describe("InterPodAffinity Filter, single node", () => {
  const cases: { name: string; pod: Pod; pods?: Pod[]; want: Want }[] = [
    { name: "A pod that has no required pod affinity scheduling rules can schedule onto a node with no existing pods", pod: makePod("p").obj(), want: null },
    {
      name: "satisfies with requiredDuringSchedulingIgnoredDuringExecution in PodAffinity using In operator that matches the existing pod",
      pod: podWith("p", "", podLabel2, [In("service", ["securityscan", "value2"], "region")]),
      pods: [podWith("e", "machine1", podLabel)],
      want: null,
    },
    {
      name: "satisfies the pod with requiredDuringSchedulingIgnoredDuringExecution in PodAffinity using not in operator in labelSelector that matches the existing pod",
      pod: podWith("p", "", podLabel2, [NotIn("service", ["securityscan3", "value3"], "region")]),
      pods: [podWith("e", "machine1", podLabel)],
      want: null,
    },
    {
      name: "Does not satisfy the PodAffinity with labelSelector because of diff Namespace",
      pod: podWith("p", "", podLabel2, [In("service", ["securityscan", "value2"], "region", { namespaces: ["DiffNameSpace"] })]),
      pods: [podWith("e", "machine1", podLabel, [], [], "ns")],
      want: [Code.UnschedulableAndUnresolvable, Aff],
    },
    {
      name: "Doesn't satisfy the PodAffinity because of unmatching labelSelector with the existing pod",
      pod: podWith("p", "", podLabel, [In("service", ["antivirusscan", "value2"], "region")]),
      pods: [podWith("e", "machine1", podLabel)],
      want: [Code.UnschedulableAndUnresolvable, Aff],
    },
    {
      name: "satisfies the PodAffinity with different label Operators in multiple RequiredDuringSchedulingIgnoredDuringExecution",
      pod: podWith("p", "", podLabel2, [
        {
          labelSelector: {
            matchExpressions: [
              { key: "service", operator: "Exists" },
              { key: "wrongkey", operator: "DoesNotExist" },
            ],
          },
          topologyKey: "region",
        },
        {
          labelSelector: {
            matchExpressions: [
              { key: "service", operator: "In", values: ["securityscan"] },
              { key: "service", operator: "NotIn", values: ["WrongValue"] },
            ],
          },
          topologyKey: "region",
        },
      ]),
      pods: [podWith("e", "machine1", podLabel)],
      want: null,
    },
    {
      name: "The labelSelector requirements(items of matchExpressions) are ANDed, the pod cannot schedule onto the node because one of the matchExpression item don't match.",
      pod: podWith("p", "", podLabel2, [
        {
          labelSelector: {
            matchExpressions: [
              { key: "service", operator: "Exists" },
              { key: "wrongkey", operator: "DoesNotExist" },
            ],
          },
          topologyKey: "region",
        },
        {
          labelSelector: {
            matchExpressions: [
              { key: "service", operator: "In", values: ["securityscan2"] },
              { key: "service", operator: "NotIn", values: ["WrongValue"] },
            ],
          },
          topologyKey: "region",
        },
      ]),
      pods: [podWith("e", "machine1", podLabel)],
      want: [Code.UnschedulableAndUnresolvable, Aff],
    },
    {
      name: "satisfies the PodAffinity and PodAntiAffinity with the existing pod",
      pod: podWith("p", "", podLabel2, [In("service", ["securityscan", "value2"], "region")], [In("service", ["antivirusscan", "value2"], "node")]),
      pods: [podWith("e", "machine1", podLabel)],
      want: null,
    },
    {
      name: "satisfies the PodAffinity and PodAntiAffinity and PodAntiAffinity symmetry with the existing pod",
      pod: podWith("p", "", podLabel2, [In("service", ["securityscan", "value2"], "region")], [In("service", ["antivirusscan", "value2"], "node")]),
      pods: [podWith("e", "machine1", podLabel, [], [In("service", ["antivirusscan", "value2"], "node")])],
      want: null,
    },
    {
      name: "satisfies the PodAffinity but doesn't satisfy the PodAntiAffinity with the existing pod",
      pod: podWith("p", "", podLabel2, [In("service", ["securityscan", "value2"], "region")], [In("service", ["securityscan", "value2"], "zone")]),
      pods: [podWith("e", "machine1", podLabel)],
      want: [Code.Unschedulable, Anti],
    },
    {
      name: "satisfies the PodAffinity and PodAntiAffinity but doesn't satisfy PodAntiAffinity symmetry with the existing pod",
      pod: podWith("p", "", podLabel, [In("service", ["securityscan", "value2"], "region")], [In("service", ["antivirusscan", "value2"], "node")]),
      pods: [podWith("e", "machine1", podLabel, [], [In("service", ["securityscan", "value2"], "zone")])],
      want: [Code.Unschedulable, Existing],
    },
    {
      name: "pod matches its own Label in PodAffinity and that matches the existing pod Labels",
      pod: podWith("p", "", podLabel, [NotIn("service", ["securityscan", "value2"], "region")]),
      pods: [podWith("e", "machine2", podLabel)],
      want: [Code.UnschedulableAndUnresolvable, Aff],
    },
    {
      name: "verify that PodAntiAffinity from existing pod is respected when pod has no AntiAffinity constraints. doesn't satisfy PodAntiAffinity symmetry with the existing pod",
      pod: podWith("p", "", podLabel),
      pods: [podWith("e", "machine1", podLabel, [], [In("service", ["securityscan", "value2"], "zone")])],
      want: [Code.Unschedulable, Existing],
    },
    {
      name: "verify that PodAntiAffinity from existing pod is respected when pod has no AntiAffinity constraints. satisfy PodAntiAffinity symmetry with the existing pod",
      pod: podWith("p", "", podLabel),
      pods: [podWith("e", "machine1", podLabel, [], [NotIn("service", ["securityscan", "value2"], "zone")])],
      want: null,
    },
    {
      name: "satisfies the PodAntiAffinity with existing pod but doesn't satisfy PodAntiAffinity symmetry with incoming pod",
      pod: podWith("p", "", podLabel, [], [Exists("service", "region"), Exists("security", "region")]),
      pods: [podWith("e", "machine1", podLabel2, [], [Exists("security", "zone")])],
      want: [Code.Unschedulable, Anti],
    },
    {
      name: "PodAntiAffinity symmetry check a1: incoming pod and existing pod partially match each other on AffinityTerms",
      pod: podWith("p", "", podLabel, [], [Exists("service", "zone"), Exists("security", "zone")]),
      pods: [podWith("e", "machine1", podLabel2, [], [Exists("security", "zone")])],
      want: [Code.Unschedulable, Anti],
    },
    {
      name: "PodAntiAffinity symmetry check a2: the existing pod's terms partially match the incoming pod",
      pod: podWith("p", "", podLabel, [], [Exists("foo", "zone")]),
      pods: [podWith("e", "machine1", podLabel2, [], [Exists("service", "zone"), Exists("security", "zone")])],
      want: [Code.Unschedulable, Existing],
    },
    {
      name: "PodAntiAffinity symmetry check b1: incoming pod and existing pod partially match each other on AffinityTerms",
      pod: podWith("p", "", { abc: "", xyz: "" }, [], [Exists("abc", "zone"), Exists("def", "zone")]),
      pods: [podWith("e", "machine1", { def: "", xyz: "" }, [], [Exists("abc", "zone"), Exists("def", "zone")])],
      want: [Code.Unschedulable, Anti],
    },
    {
      name: "affinity with an empty namespaceSelector matches pods of every namespace",
      pod: podWith("p", "", podLabel2, [In("service", ["securityscan"], "region", { namespaceSelector: {} })]),
      pods: [podWith("e", "machine1", podLabel, [], [], "other")],
      want: null,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      check(runFilter(c.pod, c.pods ?? [], [node1]).get("machine1"), c.want);
    });
  }
});

// upstream TestRequiredAffinityMultipleNodes
describe("InterPodAffinity Filter, multiple nodes", () => {
  const cases: { name: string; pod: Pod; pods: Pod[]; nodes: Node[]; want: Want[] }[] = [
    {
      name: "A pod can be scheduled onto all the nodes that have the same topology key & label value with one of them has an existing pod that matches the affinity rules",
      pod: podWith("p", "", {}, [In("foo", ["bar"], "region")]),
      pods: [podWith("e", "nodeA", { foo: "bar" })],
      nodes: [makeNode("nodeA").labels({ region: "r1", hostname: "h1" }).obj(), makeNode("nodeB").labels({ region: "r1", hostname: "h2" }).obj()],
      want: [null, null],
    },
    {
      name: "The affinity rule is to schedule all of the pods of this collection to the same zone. The first pod of the collection should not be blocked from being scheduled onto any node, even there's no existing pod that matches the rule anywhere.",
      pod: podWith("p", "", { foo: "bar" }, [In("foo", ["bar"], "zone")]),
      pods: [],
      nodes: [makeNode("nodeA").labels({ zone: "az1", hostname: "h1" }).obj(), makeNode("nodeB").labels({ zone: "az2", hostname: "h2" }).obj()],
      want: [null, null],
    },
    {
      name: "The first pod of the collection must not land on a node missing the topology key",
      pod: podWith("p", "", { foo: "bar" }, [In("foo", ["bar"], "zone")]),
      pods: [],
      nodes: [makeNode("nodeA").labels({ zone: "az1" }).obj(), makeNode("nodeB").labels({ region: "r1" }).obj()],
      want: [null, [Code.UnschedulableAndUnresolvable, Aff]],
    },
    {
      name: "A pod cannot be scheduled onto the nodes that have the same topology key & label value with any node with an existing pod that matches the anti-affinity rules",
      pod: podWith("p", "", {}, [], [In("foo", ["abc"], "region")]),
      pods: [podWith("e", "nodeA", { foo: "abc" })],
      nodes: [makeNode("nodeA").labels({ region: "r1", hostname: "nodeA" }).obj(), makeNode("nodeB").labels({ region: "r1", hostname: "nodeB" }).obj()],
      want: [
        [Code.Unschedulable, Anti],
        [Code.Unschedulable, Anti],
      ],
    },
    {
      name: "This test ensures that anti-affinity matches a pod when any term of the anti-affinity rule matches a pod.",
      pod: podWith("p", "", {}, [], [In("foo", ["abc"], "region"), In("service", ["securityscan"], "zone")]),
      pods: [podWith("e", "nodeA", { foo: "abc", service: "securityscan" })],
      nodes: [makeNode("nodeA").labels({ region: "r1", zone: "z1", hostname: "nodeA" }).obj(), makeNode("nodeB").labels({ region: "r1", zone: "z2", hostname: "nodeB" }).obj()],
      want: [
        [Code.Unschedulable, Anti],
        [Code.Unschedulable, Anti],
      ],
    },
    {
      name: "Test existing pod's anti-affinity: incoming pod wouldn't considered as a fit as it violates each existingPod's terms on all nodes",
      pod: podWith("p", "", { foo: "bar", bar: "foo" }),
      pods: [
        podWith("e1", "nodeA", {}, [], [Exists("foo", "zone")]),
        podWith("e2", "nodeB", {}, [], [Exists("bar", "region")]),
      ],
      nodes: [makeNode("nodeA").labels({ region: "r1", zone: "z1", hostname: "nodeA" }).obj(), makeNode("nodeB").labels({ region: "r1", zone: "z2", hostname: "nodeB" }).obj()],
      want: [
        [Code.Unschedulable, Existing],
        [Code.Unschedulable, Existing],
      ],
    },
    {
      name: "Test incoming pod's anti-affinity: incoming pod wouldn't considered as a fit as it at least violates one anti-affinity rule of existingPod",
      pod: podWith("p", "", {}, [], [Exists("foo", "zone"), Exists("bar", "region")]),
      pods: [podWith("e1", "nodeA", { foo: "bar", bar: "foo" })],
      nodes: [makeNode("nodeA").labels({ region: "r1", zone: "z1", hostname: "nodeA" }).obj(), makeNode("nodeB").labels({ region: "r1", zone: "z2", hostname: "nodeB" }).obj()],
      want: [
        [Code.Unschedulable, Anti],
        [Code.Unschedulable, Anti],
      ],
    },
    {
      name: "Test existing pod's anti-affinity: only when labelSelector and topologyKey both match, it's counted as a single term match - case 2",
      pod: podWith("p", "", { foo: "", bar: "" }),
      pods: [podWith("e1", "nodeA", {}, [], [Exists("foo", "zone"), Exists("bar", "zone")])],
      nodes: [makeNode("nodeA").labels({ region: "r1", zone: "z1", hostname: "nodeA" }).obj(), makeNode("nodeB").labels({ region: "r1", zone: "z2", hostname: "nodeB" }).obj()],
      want: [[Code.Unschedulable, Existing], null],
    },
    {
      name: "existing pod's anti-affinity with a namespaceSelector matches the incoming pod's namespace by its labels",
      pod: podWith("p", "", { foo: "" }, [], [], "team-a"),
      pods: [podWith("e1", "nodeA", {}, [], [{ labelSelector: { matchExpressions: [{ key: "foo", operator: "Exists" }] }, topologyKey: "zone", namespaceSelector: { matchLabels: { team: "a" } } }])],
      nodes: [makeNode("nodeA").labels({ zone: "z1" }).obj(), makeNode("nodeB").labels({ zone: "z2" }).obj()],
      want: [[Code.Unschedulable, Existing], null],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = runFilter(c.pod, c.pods, c.nodes, [{ metadata: { name: "team-a", labels: { team: "a" } } }]);
      c.nodes.forEach((n, i) => {
        check(got.get(n.metadata!.name!), c.want[i]!);
      });
    });
  }

  it("unrolls the incoming pod's namespaceSelector into namespaces from the lister", () => {
    const pod = podWith("p", "", {}, [], [{ labelSelector: { matchLabels: { app: "db" } }, topologyKey: "zone", namespaceSelector: { matchLabels: { team: "a" } } }]);
    const nodes = [makeNode("nodeA").labels({ zone: "z1" }).obj(), makeNode("nodeB").labels({ zone: "z2" }).obj()];
    const ns: Namespace[] = [
      { metadata: { name: "team-a", labels: { team: "a" } } },
      { metadata: { name: "team-b", labels: { team: "b" } } },
    ];
    const inA = runFilter(pod, [podWith("db", "nodeA", { app: "db" }, [], [], "team-a")], nodes, ns);
    check(inA.get("nodeA"), [Code.Unschedulable, Anti]);
    check(inA.get("nodeB"), null);
    const inB = runFilter(pod, [podWith("db", "nodeA", { app: "db" }, [], [], "team-b")], nodes, ns);
    check(inB.get("nodeA"), null);
  });
});

describe("InterPodAffinity PreFilter", () => {
  it("skips pods without required terms when no existing pod has required anti-affinity", () => {
    const h = handleFor([podWith("e", "n1", { a: "b" }, [Exists("x", "zone")])], [makeNode("n1").obj()]);
    const pl = new InterPodAffinity({}, h);
    assert.equal(pl.preFilter(new CycleState(), makePod("p").obj()).status?.code, Code.Skip);
    // Preferred terms alone do not need Filter either.
    const preferred = makePod("q").podAffinityExists("a", "zone", "preferred").obj();
    assert.equal(pl.preFilter(new CycleState(), preferred).status?.code, Code.Skip);
  });

  it("rejects a pod whose terms do not parse", () => {
    const h = handleFor([], [makeNode("n1").obj()]);
    const pod = makePod("p").podAffinity("required", { labelSelector: { matchExpressions: [{ key: "a", operator: "Bogus" }] }, topologyKey: "zone" }).obj();
    const s = new InterPodAffinity({}, h).preFilter(new CycleState(), pod).status;
    assert.equal(s?.code, Code.UnschedulableAndUnresolvable);
    assert.match(s!.message(), /^parsing pod: requiredAffinityTerms: /);
  });

  // upstream TestPreFilterDisabled
  it("Filter without PreFilter is an error", () => {
    const h = handleFor([], [makeNode("n1").obj()]);
    const s = new InterPodAffinity({}, h).filter(new CycleState(), makePod("p").obj(), h.snapshot.get("n1")!);
    assert.equal(s?.code, Code.Error);
    assert.equal(s?.message(), 'error reading "PreFilterInterPodAffinity" from cycleState: not found');
  });
});

// upstream TestPreFilterStateAddRemovePod (the shape of it)
describe("InterPodAffinity AddPod/RemovePod", () => {
  const nodes = [makeNode("nodeA").labels({ zone: "z1" }).obj(), makeNode("nodeB").labels({ zone: "z2" }).obj()];

  it("removing a matching pod lifts the incoming pod's anti-affinity, and adding it back restores it", () => {
    const victim = podWith("victim", "nodeA", { app: "db" });
    const h = handleFor([victim], nodes);
    const pl = new InterPodAffinity({}, h);
    const pod = podWith("p", "", {}, [], [In("app", ["db"], "zone")]);
    const state = new CycleState();
    assert.equal(pl.preFilter(state, pod).status, undefined);
    const ni = h.snapshot.get("nodeA")!;
    assert.equal(pl.filter(state, pod, ni)?.code, Code.Unschedulable);
    const copy = state.clone();
    const nodeCopy = ni.snapshot();
    nodeCopy.removePod(victim);
    assert.equal(pl.removePod(copy, pod, new PodInfo(victim), nodeCopy), null);
    assert.equal(pl.filter(copy, pod, nodeCopy), null);
    // The original state is untouched by the clone's update.
    assert.equal(pl.filter(state, pod, ni)?.code, Code.Unschedulable);
    assert.equal(pl.addPod(copy, pod, new PodInfo(victim), nodeCopy), null);
    assert.equal(pl.filter(copy, pod, nodeCopy)?.code, Code.Unschedulable);
  });

  it("adding a pod with anti-affinity against the incoming pod blocks its zone", () => {
    const h = handleFor([], nodes);
    const pl = new InterPodAffinity({}, h);
    const pod = podWith("p", "", { app: "web" }, [], [In("app", ["none"], "zone")]);
    const state = new CycleState();
    pl.preFilter(state, pod);
    const nominated = podWith("n", "nodeB", {}, [], [In("app", ["web"], "zone")]);
    assert.equal(pl.addPod(state, pod, new PodInfo(nominated), h.snapshot.get("nodeB")!), null);
    assert.equal(pl.filter(state, pod, h.snapshot.get("nodeB")!)?.message(), Existing);
    assert.equal(pl.filter(state, pod, h.snapshot.get("nodeA")!), null);
  });
});
