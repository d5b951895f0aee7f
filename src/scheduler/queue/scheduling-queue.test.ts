import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { FakeClock } from "../../machinery/clock.js";
import { defaultSchedulerConfig } from "../config/defaults.js";
import { ActionType, AssignedPodAdd, AssignedPodDelete, EventResource, NodeAdd, NodeAllocatableChange, NodeLabelChange, WildCardEvent } from "../framework/events.js";
import type { Framework } from "../framework/framework.js";
import { PodInfo, type QueuedPodInfo } from "../framework/pod-info.js";
import { NominatingMode } from "../framework/types.js";
import { newInTreeRegistry } from "../plugins/registry.js";
import { buildProfiles } from "../profile.js";
import { makePod } from "../testing/wrappers.js";
import { KeyedHeap } from "./heap.js";
import { PriorityQueue } from "./scheduling-queue.js";

function setup(clock = new FakeClock()): { q: PriorityQueue; clock: FakeClock; fwk: Framework } {
  const registry = newInTreeRegistry();
  const r = buildProfiles(defaultSchedulerConfig(registry), registry, { skipUnregisteredPlugins: true });
  if (!r.ok) throw new Error(r.error);
  const q = PriorityQueue.forFrameworks(r.frameworks.values(), { clock });
  const fwk = r.frameworks.get("default-scheduler")!;
  fwk.setPodNominator(q);
  return { q, clock, fwk };
}

/** Pops a pod and fails it as if `plugins` rejected it in that cycle. */
function failAttempt(q: PriorityQueue, plugins: string[]): QueuedPodInfo {
  const p = q.tryPop()!;
  for (const pl of plugins) p.unschedulablePlugins.add(pl);
  return p;
}

const name = (p: QueuedPodInfo | undefined) => p?.pod.metadata?.name;

describe("KeyedHeap", () => {
  it("keeps order through adds, updates and deletes", () => {
    const h = new KeyedHeap<{ k: string; v: number }>(
      (x) => x.k,
      (a, b) => a.v < b.v,
    );
    for (const [k, v] of [["a", 5], ["b", 3], ["c", 8], ["d", 1], ["e", 4]] as const) h.addOrUpdate({ k, v });
    h.addOrUpdate({ k: "c", v: 0 });
    assert.ok(h.delete("d"));
    assert.ok(!h.delete("zz"));
    const out: string[] = [];
    for (let x = h.pop(); x; x = h.pop()) out.push(x.k);
    assert.deepEqual(out, ["c", "b", "e", "a"]);
  });
});

describe("PriorityQueue", () => {
  it("pops by priority, then by arrival", async () => {
    const { q, clock } = setup();
    q.add(makePod("low").priority(1).obj());
    clock.advance(1);
    q.add(makePod("high").priority(100).obj());
    clock.advance(1);
    q.add(makePod("low-later").priority(1).obj());
    q.add(makePod("mid").priority(50).obj());
    const order: (string | undefined)[] = [];
    for (let i = 0; i < 4; i++) order.push(name(await q.pop()));
    assert.deepEqual(order, ["high", "mid", "low", "low-later"]);
    assert.equal(q.schedulingCycle(), 4);
  });

  it("pop waits for a pod, and close releases waiters", async () => {
    const { q } = setup();
    const waiting = q.pop();
    q.add(makePod("p").obj());
    const got = await waiting;
    assert.equal(name(got), "p");
    assert.equal(got!.attempts, 1);
    const pending = q.pop();
    q.close();
    assert.equal(await pending, undefined);
    const ac = new AbortController();
    const { q: q2 } = setup();
    const aborted = q2.pop(ac.signal);
    ac.abort();
    assert.equal(await aborted, undefined);
  });

  it("puts a failed pod in unschedulablePods, or in backoffQ when a move request came during its cycle", () => {
    const { q } = setup();
    q.add(makePod("a").obj());
    q.add(makePod("b").obj());
    const cycle = q.schedulingCycle();
    const a = failAttempt(q, ["NodeResourcesFit"]);
    assert.equal(q.addUnschedulableIfNotPresent(a, q.schedulingCycle()), undefined);
    assert.equal(q.whereIs(a.pod), "Unschedulable");
    assert.match(q.addUnschedulableIfNotPresent(a, q.schedulingCycle()) ?? "", /already present in unschedulable queue/);

    const b = failAttempt(q, ["NodeResourcesFit"]);
    const bCycle = q.schedulingCycle();
    // An event arrives while b is being scheduled; it may have helped b.
    q.moveAllToActiveOrBackoffQueue(NodeAdd);
    q.addUnschedulableIfNotPresent(b, bCycle);
    assert.equal(q.whereIs(b.pod), "Backoff");
    assert.ok(cycle < bCycle);

    // No rejecting plugin (an error): retried after backoff.
    q.add(makePod("c").obj());
    const c = failAttempt(q, []);
    q.addUnschedulableIfNotPresent(c, q.schedulingCycle());
    assert.equal(q.whereIs(c.pod), "Backoff");
  });

  it("moves only pods whose rejecting plugins registered the event", () => {
    const { q } = setup();
    const cases: { pod: string; plugins: string[] }[] = [
      { pod: "fit", plugins: ["NodeResourcesFit"] },
      { pod: "name", plugins: ["NodeName"] },
      { pod: "ports", plugins: ["NodePorts"] },
      { pod: "unsched", plugins: ["NodeUnschedulable"] },
    ];
    const pods = new Map<string, Pod>();
    for (const c of cases) {
      const pod = makePod(c.pod).obj();
      pods.set(c.pod, pod);
      q.add(pod);
      const p = failAttempt(q, c.plugins);
      q.addUnschedulableIfNotPresent(p, q.schedulingCycle());
    }
    const where = () => Object.fromEntries([...pods].map(([n, p]) => [n, q.whereIs(p)]));
    // A deleted pod frees resources and ports, not node names.
    q.moveAllToActiveOrBackoffQueue(AssignedPodDelete);
    assert.deepEqual(where(), { fit: "Backoff", name: "Unschedulable", ports: "Backoff", unsched: "Unschedulable" });
    // A label change matters to NodeName (Node Add|Update), not to NodeUnschedulable (Add|UpdateNodeTaint).
    q.moveAllToActiveOrBackoffQueue(NodeLabelChange);
    assert.deepEqual(where(), { fit: "Backoff", name: "Backoff", ports: "Backoff", unsched: "Unschedulable" });
    // preCheck can veto a move; a wildcard event moves every pod.
    q.moveAllToActiveOrBackoffQueue(WildCardEvent, (pod) => pod.metadata?.name !== "unsched");
    assert.equal(q.whereIs(pods.get("unsched")!), "Unschedulable");
    q.moveAllToActiveOrBackoffQueue(WildCardEvent);
    assert.equal(q.whereIs(pods.get("unsched")!), "Backoff");
  });

  it("backs off 1s doubling per attempt up to 10s", () => {
    const { q, clock } = setup();
    const pod = makePod("p").obj();
    q.add(pod);
    const waits: number[] = [];
    for (let attempt = 1; attempt <= 6; attempt++) {
      const p = q.tryPop()!;
      assert.equal(p.attempts, attempt);
      q.addUnschedulableIfNotPresent(p, -1 /* an old cycle: treat as moved */);
      assert.equal(q.whereIs(pod), "Backoff");
      let waited = 0;
      while (q.whereIs(pod) !== "Active") {
        clock.advance(500);
        waited += 500;
        q.flushBackoffQCompleted();
      }
      waits.push(waited);
    }
    assert.deepEqual(waits, [1000, 2000, 4000, 8000, 10000, 10000]);
  });

  it("retries pods left in unschedulablePods for more than 5 minutes", () => {
    const { q, clock } = setup();
    const pod = makePod("p").obj();
    q.add(pod);
    q.addUnschedulableIfNotPresent(failAttempt(q, ["NodeName"]), q.schedulingCycle());
    clock.advance(4 * 60_000);
    q.flushUnschedulablePodsLeftover();
    assert.equal(q.whereIs(pod), "Unschedulable");
    clock.advance(61_000);
    q.flushUnschedulablePodsLeftover();
    assert.equal(q.whereIs(pod), "Active");
  });

  it("keeps gated pods in unschedulablePods until their gates are removed", () => {
    const { q } = setup();
    const gated = makePod("g").schedulingGates(["example.com/wait"]).obj();
    q.add(gated);
    assert.equal(q.whereIs(gated), "Unschedulable");
    const info = q.get(gated)!;
    assert.ok(info.gated);
    assert.deepEqual([...info.unschedulablePlugins], ["SchedulingGates"]);
    // No cluster event ungates it; only its own update does.
    q.moveAllToActiveOrBackoffQueue(NodeAdd);
    assert.equal(q.whereIs(gated), "Unschedulable");
    const relabeled = { ...gated, metadata: { ...gated.metadata, labels: { x: "y" } } };
    q.update(gated, relabeled);
    assert.equal(q.whereIs(gated), "Unschedulable");
    const ungated = { ...relabeled, spec: { ...relabeled.spec!, schedulingGates: [] } };
    q.update(relabeled, ungated);
    assert.equal(q.whereIs(gated), "Active");
    assert.ok(!q.get(gated)!.gated);
  });

  it("updates pods in place, moves changed unschedulable pods, and deletes", () => {
    const { q, clock } = setup();
    const pod = makePod("p").obj();
    q.add(pod);
    q.addUnschedulableIfNotPresent(failAttempt(q, ["NodeAffinity"]), q.schedulingCycle());
    // A status-only update changes nothing.
    const statusOnly = { ...pod, status: { phase: "Pending" } };
    q.update(pod, statusOnly);
    assert.equal(q.whereIs(pod), "Unschedulable");
    clock.advance(2000);
    const changed = { ...statusOnly, spec: { ...statusOnly.spec!, nodeSelector: { a: "b" } } };
    q.update(statusOnly, changed);
    assert.equal(q.whereIs(pod), "Active");
    assert.equal(q.get(pod)!.pod, changed);
    q.delete(changed);
    assert.equal(q.whereIs(pod), undefined);
    // Updating an unknown pod adds it.
    q.update(undefined, makePod("new").obj());
    assert.equal(q.lengths().active, 1);
    assert.match(q.pendingPods().summary, /^activeQ:1; backoffQ:0; unschedulablePods:0$/);
  });

  it("requeues pods whose required affinity matches a newly assigned pod", () => {
    const wantsWeb = makePod("wants-web").obj();
    wantsWeb.spec!.affinity = {
      podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: { app: "web" } } }] },
    };
    const other = makePod("other").obj();
    const web = makePod("web").labels({ app: "web" }).node("n1").obj();
    // A queue with only InterPodAffinity's Pod/Add interest.
    const q = new PriorityQueue({
      less: () => false,
      clock: new FakeClock(),
      profiles: new Map([
        ["default-scheduler", { preEnqueuePlugins: [], queueingHintMap: new Map([["Pod/1", { event: { resource: EventResource.Pod, actionType: ActionType.Add }, plugins: ["InterPodAffinity"] }]]) }],
      ]),
    });
    for (const p of [wantsWeb, other]) {
      q.add(p);
      q.addUnschedulableIfNotPresent(failAttempt(q, ["InterPodAffinity"]), q.schedulingCycle());
    }
    q.assignedPodAdded(web, AssignedPodAdd);
    assert.equal(q.whereIs(wantsWeb), "Backoff", "moved out, still backing off");
    assert.equal(q.whereIs(other), "Unschedulable");

    // The default profile's InterPodAffinity registers pod events itself; a node allocatable change does not concern it.
    const { q: q2 } = setup();
    q2.add(wantsWeb);
    q2.addUnschedulableIfNotPresent(failAttempt(q2, ["InterPodAffinity"]), q2.schedulingCycle());
    q2.moveAllToActiveOrBackoffQueue(NodeAllocatableChange);
    assert.equal(q2.whereIs(wantsWeb), "Unschedulable");
    q2.assignedPodAdded(web, AssignedPodAdd);
    assert.equal(q2.whereIs(wantsWeb), "Backoff");
  });

  it("tracks nominated pods and keeps an in-memory nomination across unrelated updates", () => {
    const { q } = setup();
    const nominated = makePod("n").nominatedNodeName("node1").obj();
    q.add(nominated);
    assert.deepEqual(
      q.nominatedPodsForNode("node1").map((p) => p.pod.metadata?.name),
      ["n"],
    );
    const plain = makePod("m").obj();
    q.add(plain);
    q.addNominatedPod(new PodInfo(plain), { nominatingMode: NominatingMode.Override, nominatedNodeName: "node2" });
    const updated = { ...plain, metadata: { ...plain.metadata, labels: { a: "b" } } };
    q.update(plain, updated);
    assert.equal(q.nominatedPodsForNode("node2")[0]?.pod, updated);
    q.delete(updated);
    assert.deepEqual(q.nominatedPodsForNode("node2"), []);
  });
});
