/**
 * PodDisruptionBudget status, after upstream's disruption_test.go: the
 * figures and condition for integer and percentage budgets, controllers'
 * scale, recently evicted pods, failing safe, and not writing when
 * nothing changed.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Deployment, ReplicaSet, StatefulSet } from "kubernetes-types/apps/v1.js";
import type { Pod, ReplicationController } from "kubernetes-types/core/v1.js";
import type { PodDisruptionBudget } from "kubernetes-types/policy/v1.js";
import type { SharedInformer } from "../../client/informer.js";
import type { KubeObject } from "../../client/resource-client.js";
import { rfc3339 } from "../common/time.js";
import { type PodControllerFinder, podControllerFinders } from "./finders.js";
import { countHealthyPods, DisruptionSyncer } from "./sync.js";

const NOW = Date.parse("2024-06-01T12:00:00Z");

function pod(name: string, o: { ready?: boolean; owner?: { kind: string; name: string; uid: string; apiVersion?: string }; deleting?: boolean; labels?: Record<string, string> } = {}): Pod {
  return {
    metadata: {
      name,
      namespace: "ns",
      uid: `uid-${name}`,
      labels: o.labels ?? { app: "web" },
      ...(o.owner ? { ownerReferences: [{ apiVersion: o.owner.apiVersion ?? "apps/v1", kind: o.owner.kind, name: o.owner.name, uid: o.owner.uid, controller: true }] } : {}),
      ...(o.deleting ? { deletionTimestamp: "2024-06-01T11:59:00Z" } : {}),
    },
    spec: { containers: [{ name: "c", image: "i" }] },
    status: { phase: "Running", conditions: [{ type: "Ready", status: o.ready === false ? "False" : "True" }] },
  };
}

function pdb(spec: PodDisruptionBudget["spec"], status?: PodDisruptionBudget["status"]): PodDisruptionBudget {
  return { metadata: { name: "budget", namespace: "ns", uid: "uid-pdb", generation: 1 }, spec: { selector: { matchLabels: { app: "web" } }, ...spec }, ...(status ? { status } : {}) };
}

function setup(pods: Pod[], finders: PodControllerFinder[] = []) {
  const writes: PodDisruptionBudget[] = [];
  const events: string[] = [];
  const syncer = new DisruptionSyncer({
    podsIn: (ns) => pods.filter((p) => p.metadata?.namespace === ns),
    finders,
    updateStatus: async (p) => {
      writes.push(p);
      return p;
    },
    event: (r, type, reason, note) => events.push(`${r.kind}/${r.name} ${type} ${reason}: ${note}`),
    now: () => NOW,
  });
  return { syncer, writes, events };
}

/** A finder for one controller of `scale`. */
const fixedFinder =
  (uid: string, scale: number): PodControllerFinder =>
  async (ref) =>
    ref.uid === uid ? { uid, scale } : undefined;

describe("disruption controller status", () => {
  it("minAvailable 2 of 3 ready pods: 1 disruption allowed, DisruptionAllowed True/SufficientPods", async () => {
    const s = setup([pod("a"), pod("b"), pod("c"), pod("other", { labels: { app: "db" } })]);
    await s.syncer.sync(pdb({ minAvailable: 2 }));
    assert.deepEqual(s.writes[0]?.status, {
      currentHealthy: 3,
      desiredHealthy: 2,
      expectedPods: 3,
      disruptionsAllowed: 1,
      observedGeneration: 1,
      conditions: [{ type: "DisruptionAllowed", status: "True", reason: "SufficientPods", message: "", observedGeneration: 1, lastTransitionTime: rfc3339(NOW) }],
    });
    assert.deepEqual(s.events, []);
  });

  it("not enough healthy pods: 0 allowed, False/InsufficientPods; unready and terminating pods are not healthy", async () => {
    const s = setup([pod("a"), pod("b", { ready: false }), pod("c", { deleting: true })]);
    await s.syncer.sync(pdb({ minAvailable: 2 }));
    const st = s.writes[0]!.status!;
    assert.deepEqual([st.currentHealthy, st.desiredHealthy, st.expectedPods, st.disruptionsAllowed], [1, 2, 3, 0]);
    assert.deepEqual(st.conditions?.map((c) => [c.status, c.reason]), [["False", "InsufficientPods"]]);
  });

  it("no pods: the NoPods event and nothing allowed", async () => {
    const s = setup([]);
    await s.syncer.sync(pdb({ maxUnavailable: 1 }));
    assert.deepEqual(s.events, ["PodDisruptionBudget/budget Normal NoPods: No matching pods found"]);
    assert.equal(s.writes[0]?.status?.disruptionsAllowed, 0);
    assert.equal(s.writes[0]?.status?.expectedPods, 0);
  });

  it("maxUnavailable 50% of a ReplicaSet of 4 (rounded up): 2 must stay healthy", async () => {
    const owner = { kind: "ReplicaSet", name: "rs", uid: "uid-rs" };
    const s = setup([pod("a", { owner }), pod("b", { owner }), pod("c", { owner, ready: false })], [fixedFinder("uid-rs", 4)]);
    await s.syncer.sync(pdb({ maxUnavailable: "50%" }));
    const st = s.writes[0]!.status!;
    assert.deepEqual([st.expectedPods, st.desiredHealthy, st.currentHealthy, st.disruptionsAllowed], [4, 2, 2, 0]);
  });

  it("minAvailable 50% of a Deployment of 5 found through its ReplicaSet: 3 must stay healthy", async () => {
    const rs: ReplicaSet = {
      metadata: { name: "web-1", namespace: "ns", uid: "uid-rs", ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: "web", uid: "uid-d", controller: true }] },
      spec: { replicas: 5, selector: {} },
    };
    const d: Deployment = { metadata: { name: "web", namespace: "ns", uid: "uid-d" }, spec: { replicas: 5, selector: {}, template: {} } };
    const lister = <T extends KubeObject>(objs: T[]) => ({ get: (k: string) => objs.find((o) => `${o.metadata?.namespace}/${o.metadata?.name}` === k) }) as unknown as SharedInformer<T>;
    const finders = podControllerFinders({ replicationControllers: lister<ReplicationController>([]), replicaSets: lister([rs]), deployments: lister([d]), statefulSets: lister<StatefulSet>([]) });
    const owner = { kind: "ReplicaSet", name: "web-1", uid: "uid-rs" };
    const s = setup([pod("a", { owner }), pod("b", { owner }), pod("c", { owner }), pod("d", { owner }), pod("e", { owner })], finders);
    await s.syncer.sync(pdb({ minAvailable: "50%" }));
    const st = s.writes[0]!.status!;
    assert.deepEqual([st.expectedPods, st.desiredHealthy, st.currentHealthy, st.disruptionsAllowed], [5, 3, 5, 2]);
  });

  it("pods without a controller under a percentage: the UnmanagedPods warning, still computed", async () => {
    const s = setup([pod("a"), pod("b")]);
    await s.syncer.sync(pdb({ minAvailable: "50%" }));
    assert.equal(s.events.length, 1);
    assert.match(s.events[0]!, /^PodDisruptionBudget\/budget Warning UnmanagedPods: Pods selected by this PodDisruptionBudget \(selector: &LabelSelector\{MatchLabels:map\[string\]string\{app: web,\}/);
    assert.equal(s.writes[0]?.status?.expectedPods, 0);
  });

  it("a controller nobody can find: fails safe with SyncFailed", async () => {
    const s = setup([pod("a", { owner: { kind: "Widget", name: "w", uid: "uid-w", apiVersion: "example.com/v1" } })]);
    await s.syncer.sync(pdb({ maxUnavailable: 1 }, { currentHealthy: 1, desiredHealthy: 0, expectedPods: 1, disruptionsAllowed: 1 }));
    assert.deepEqual(s.events, ['PodDisruptionBudget/budget Warning CalculateExpectedPodCountFailed: Failed to calculate the number of expected pods: found no controllers for pod "a"']);
    const st = s.writes[0]!.status!;
    assert.equal(st.disruptionsAllowed, 0);
    assert.deepEqual(st.conditions?.map((c) => [c.type, c.status, c.reason, c.message]), [["DisruptionAllowed", "False", "SyncFailed", 'found no controllers for pod "a"']]);
  });

  it("a percentage that is not one fails safe with intstr's message", async () => {
    const owner = { kind: "ReplicaSet", name: "rs", uid: "uid-rs" };
    const s = setup([pod("a", { owner })], [fixedFinder("uid-rs", 1)]);
    await s.syncer.sync(pdb({ maxUnavailable: "half" }));
    assert.equal(s.writes[0]?.status?.conditions?.[0]?.message, "invalid value for IntOrString: invalid type: string is not a percentage");
  });

  it("recently evicted pods are not healthy until 2 minutes pass; overdue ones are dropped with NotDeleted", async () => {
    const recent = rfc3339(NOW - 30_000);
    const overdue = rfc3339(NOW - 3 * 60_000);
    const s = setup([pod("a"), pod("b"), pod("c")]);
    const r = await s.syncer.sync(pdb({ minAvailable: 1 }, { currentHealthy: 3, desiredHealthy: 1, expectedPods: 3, disruptionsAllowed: 2, disruptedPods: { a: recent, b: overdue, gone: recent } }));
    const st = s.writes[0]!.status!;
    assert.deepEqual(st.disruptedPods, { a: recent });
    assert.equal(st.currentHealthy, 2);
    assert.equal(st.disruptionsAllowed, 1);
    assert.equal(r.recheckAfterMs, 90_000);
    assert.deepEqual(s.events, ["Pod/b Warning NotDeleted: Pod was expected by PDB ns/budget to be deleted but it wasn't"]);
    assert.equal(countHealthyPods([pod("a")], { a: recent }, NOW + 91_000), 1);
  });

  it("writes nothing when the status is current; the condition keeps its transition time", async () => {
    const s = setup([pod("a"), pod("b")]);
    await s.syncer.sync(pdb({ minAvailable: 1 }));
    const current = s.writes[0]!;
    await s.syncer.sync(current);
    assert.equal(s.writes.length, 1);
    // One ready pod less, still allowed: a new write, the condition's status unchanged so its time stays.
    const old = { ...current, status: { ...current.status!, conditions: [{ ...current.status!.conditions![0]!, lastTransitionTime: "2020-01-01T00:00:00Z" }] } };
    const s2 = setup([pod("a"), pod("b"), pod("c", { ready: false })]);
    await s2.syncer.sync(old);
    assert.deepEqual(s2.writes[0]!.status!.conditions?.map((c) => [c.status, c.reason, c.lastTransitionTime]), [["True", "SufficientPods", "2020-01-01T00:00:00Z"]]);
    assert.equal(s2.writes[0]!.status!.expectedPods, 3);
    // None allowed any more: the status flips, and so does its time.
    const s3 = setup([pod("a"), pod("b", { ready: false })]);
    await s3.syncer.sync(old);
    assert.deepEqual(s3.writes[0]!.status!.conditions?.map((c) => [c.status, c.reason, c.lastTransitionTime]), [["False", "InsufficientPods", rfc3339(NOW)]]);
  });

  it("a nil selector selects nothing; an empty one selects every pod of the namespace", async () => {
    const s = setup([pod("a"), pod("b", { labels: { app: "db" } })]);
    assert.equal(s.syncer.getPodsForPdb({ metadata: { namespace: "ns" }, spec: {} }).length, 0);
    assert.equal(s.syncer.getPodsForPdb({ metadata: { namespace: "ns" }, spec: { selector: {} } }).length, 2);
  });
});
