import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import type { ReplicaSet } from "kubernetes-types/apps/v1.js";
import type { Pod, ReplicationController } from "kubernetes-types/core/v1.js";
import type { KubeObject } from "../../client/resource-client.js";
import { objectKey } from "../../client/store.js";
import { FakeTimers } from "../../client/timers.js";
import { notFound } from "../../machinery/status-error.js";
import { SLOW_START_INITIAL_BATCH_SIZE } from "../common/slow-start.js";
import { FakeListerWatcher, FakePodControl, runningInformer, settle } from "../common/testing.js";
import { rfc3339 } from "../common/time.js";
import { ReplicaSetController } from "./controller.js";
import { newPod, newReplicaSet } from "./fixtures.js";
import { REPLICA_SET_KIND, REPLICATION_CONTROLLER_KIND, type ReplicaSetKind, replicaSetToReplicationController } from "./kind.js";
import type { ReplicaSetApi } from "./status.js";

const NOW = Date.UTC(2024, 0, 1, 12);
const stops: AbortController[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s.abort();
});

interface Harness<T extends KubeObject> {
  controller: ReplicaSetController<T>;
  podControl: FakePodControl;
  pods: FakeListerWatcher<Pod>;
  owners: FakeListerWatcher<T>;
  statusWrites: T[];
  timers: FakeTimers;
  /** Empties the queue (keys queued by the informers' initial adds). */
  drain(): Promise<string[]>;
}

async function harness<T extends KubeObject = ReplicaSet>(
  owners: T[],
  pods: Pod[],
  opts: { kind?: ReplicaSetKind<T>; burstReplicas?: number; freshOwner?: (key: string) => T } = {},
): Promise<Harness<T>> {
  const stop = new AbortController();
  stops.push(stop);
  const kind = opts.kind ?? (REPLICA_SET_KIND as unknown as ReplicaSetKind<T>);
  const podSource = new FakeListerWatcher<Pod>(pods);
  const ownerSource = new FakeListerWatcher<T>(owners);
  const podInformer = await runningInformer(podSource, stop.signal);
  const ownerInformer = await runningInformer(ownerSource, stop.signal);
  const podControl = new FakePodControl();
  const statusWrites: T[] = [];
  const api: ReplicaSetApi = {
    async get(ns, name) {
      const key = `${ns}/${name}`;
      const obj = opts.freshOwner?.(key) ?? ownerSource.get(key);
      if (!obj) throw notFound({ group: "apps", resource: "replicasets" }, name);
      return kind.toReplicaSet(obj);
    },
    async updateStatus(rs) {
      const obj = kind.fromReplicaSet(rs);
      statusWrites.push(obj);
      return kind.toReplicaSet(ownerSource.set(obj));
    },
  };
  const timers = new FakeTimers(NOW);
  const controller = new ReplicaSetController<T>({ kind, podInformer, ownerInformer, api, podControl, timers, burstReplicas: opts.burstReplicas });
  const drain = async () => {
    const keys: string[] = [];
    while (controller.queue.len() > 0) {
      const k = (await controller.queue.get())!;
      controller.queue.done(k);
      keys.push(k);
    }
    return keys;
  };
  await drain();
  return { controller, podControl, pods: podSource, owners: ownerSource, statusWrites, timers, drain };
}

const KEY = "default/foobar";
const labelMap = { foo: "bar" };

describe("ReplicaSetController sync", () => {
  it("does nothing when the pods match spec.replicas (TestSyncReplicaSetDoesNothing)", async () => {
    const rs = newReplicaSet(2, labelMap);
    const h = await harness([rs], [newPod("pod0", rs, "Running", true), newPod("pod1", rs, "Running", true)]);
    await h.controller.syncer.syncReplicaSet(KEY);
    assert.equal(h.podControl.creates.length + h.podControl.deletes.length + h.podControl.patches.length, 0);
  });

  it("creates missing pods with a controllerRef, then waits for them (TestSyncReplicaSetDormancy)", async () => {
    const rs = newReplicaSet(2, labelMap);
    const h = await harness([rs], [newPod("pod0", rs, "Running", true)]);
    await h.controller.syncer.syncReplicaSet(KEY);
    assert.equal(h.podControl.creates.length, 1);
    assert.deepEqual(h.podControl.creates[0]?.controllerRef, {
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      name: "foobar",
      uid: rs.metadata?.uid,
      controller: true,
      blockOwnerDeletion: true,
    });
    assert.equal(h.podControl.creates[0]?.template, rs.spec?.template);

    // Expectations hold further creates back until the create is observed.
    h.podControl.clear();
    await h.controller.syncer.syncReplicaSet(KEY);
    assert.equal(h.podControl.creates.length, 0);

    // A failed create lowers expectations itself, so the next sync tries again.
    h.controller.expectations.creationObserved(KEY);
    h.podControl.err = new Error("fake Error");
    await assert.rejects(h.controller.syncer.syncReplicaSet(KEY), /fake Error/);
    assert.equal(h.podControl.creates.length, 1);
    h.podControl.clear();
    h.podControl.err = undefined;
    await h.controller.syncer.syncReplicaSet(KEY);
    assert.equal(h.podControl.creates.length, 1);
  });

  it("stops creating after the first failing batch and reports FailedCreate (TestSyncReplicaSetCreateFailures)", async () => {
    const h = await harness([newReplicaSet(100, labelMap)], []);
    h.podControl.createLimit = 10;
    await assert.rejects(h.controller.syncer.syncReplicaSet(KEY), /not creating pod, limit 10 already reached/);
    assert.equal(h.podControl.creates.length, 10);
    let expectedLimit = 0;
    for (let pass = 0; expectedLimit <= h.podControl.createLimit; pass++) expectedLimit += SLOW_START_INITIAL_BATCH_SIZE << pass;
    assert.ok(h.podControl.createCallCount <= expectedLimit, `${h.podControl.createCallCount} create calls`);
    // 100 expected, 15 attempted of which 10 succeeded: only those 10 are still awaited.
    assert.deepEqual(h.controller.expectations.getExpectations(KEY)?.getExpectations(), [10, 0]);
    const cond = (h.statusWrites.at(-1) as ReplicaSet).status?.conditions?.[0];
    assert.equal(cond?.type, "ReplicaFailure");
    assert.equal(cond?.reason, "FailedCreate");
    assert.match(cond?.message ?? "", /not creating pod, limit 10 already reached/);
  });

  it("creates at most burstReplicas per sync", async () => {
    const h = await harness([newReplicaSet(12, labelMap)], [], { burstReplicas: 5 });
    await h.controller.syncer.syncReplicaSet(KEY);
    assert.equal(h.podControl.creates.length, 5);
    assert.deepEqual(h.controller.expectations.getExpectations(KEY)?.getExpectations(), [5, 0]);
  });

  it("deletes the not-ready pods first on scale-down and expects exactly those deletions", async () => {
    const rs = newReplicaSet(1, labelMap);
    const ready = newPod("ready", rs, "Running", true);
    const pending = newPod("pending", rs, "Pending", true);
    const notReady = newPod("not-ready", rs, "Running", true);
    notReady.status!.conditions = [{ type: "Ready", status: "False" }];
    const h = await harness([rs], [pending, ready, notReady]);
    await h.controller.syncer.syncReplicaSet(KEY);
    assert.deepEqual([...h.podControl.deletes].sort(), ["default/not-ready", "default/pending"]);
    assert.deepEqual([...(h.controller.expectations.getUIDs(KEY) ?? [])].sort(), ["default/not-ready", "default/pending"]);
    // The deletions arrive through the informer and satisfy the expectations.
    h.pods.remove("default/pending");
    h.pods.remove("default/not-ready");
    await settle();
    assert.equal(h.controller.expectations.satisfiedExpectations(KEY), true);
  });

  it("adopts matching orphans with a patch and counts them (TestPatchPodFails' happy path)", async () => {
    const rs = newReplicaSet(2, labelMap);
    const h = await harness([rs], [newPod("pod1", rs, "Running", false), newPod("pod2", rs, "Running", false)]);
    await h.controller.syncer.syncReplicaSet(KEY);
    assert.deepEqual(
      h.podControl.patches.map((p) => p.name),
      ["pod1", "pod2"],
    );
    assert.equal(h.podControl.creates.length, 0, "adopted pods count toward replicas");
    assert.equal((h.statusWrites.at(-1) as ReplicaSet).status?.replicas, 2);
  });

  it("requeues with backoff when adoption fails (TestPatchPodFails)", async () => {
    const rs = newReplicaSet(2, labelMap);
    const h = await harness([rs], [newPod("pod1", rs, "Running", false), newPod("pod2", rs, "Running", false)]);
    h.podControl.err = new Error("fake Error");
    h.controller.queue.add(KEY);
    await h.controller.processNextWorkItem();
    assert.equal(h.podControl.patches.length, 2);
    assert.equal(h.podControl.creates.length, 0);
    assert.equal(h.controller.queue.len(), 0, "not at once");
    h.timers.advance(1000);
    assert.equal(await h.controller.queue.get(), KEY);
  });

  it("does not patch pods controlled by another controller (TestDoNotPatchPodWithOtherControlRef)", async () => {
    const rs = newReplicaSet(2, labelMap);
    const other = newPod("pod", rs, "Running", false);
    other.metadata!.ownerReferences = [{ uid: "other-uid", apiVersion: "apps/v1", kind: "ReplicaSet", name: "AnotherRS", controller: true }];
    const h = await harness([rs], [other]);
    await h.controller.syncer.syncReplicaSet(KEY);
    assert.equal(h.podControl.patches.length, 0);
    assert.equal(h.podControl.creates.length, 2);
  });

  it("neither adopts nor creates while being deleted (TestDoNotAdoptOrCreateIfBeingDeleted)", async () => {
    const base = newReplicaSet(2, labelMap);
    const rs: ReplicaSet = { ...base, metadata: { ...base.metadata, deletionTimestamp: rfc3339(NOW) } };
    const h = await harness([rs], [newPod("pod1", rs, "Running", false)]);
    await h.controller.syncer.syncReplicaSet(KEY);
    assert.equal(h.podControl.creates.length + h.podControl.patches.length, 0);
  });

  it("aborts adoption when a fresh read shows the owner being deleted (TestDoNotAdoptOrCreateIfBeingDeletedRace)", async () => {
    const rs = newReplicaSet(2, labelMap);
    const h = await harness([rs], [newPod("pod1", rs, "Running", false)], {
      freshOwner: () => ({ ...rs, metadata: { ...rs.metadata, deletionTimestamp: rfc3339(NOW) } }),
    });
    await assert.rejects(h.controller.syncer.syncReplicaSet(KEY), /can't adopt Pod default\/pod1 .*has just been deleted/);
    assert.equal(h.podControl.creates.length + h.podControl.patches.length, 0);
  });

  it("refuses adoption when the owner was replaced by a same-named one", async () => {
    const rs = newReplicaSet(2, labelMap);
    const h = await harness([rs], [newPod("pod1", rs, "Running", false)], { freshOwner: () => ({ ...rs, metadata: { ...rs.metadata, uid: "new-uid" } }) });
    await assert.rejects(h.controller.syncer.syncReplicaSet(KEY), /original ReplicaSet default\/foobar is gone: got uid new-uid, wanted rs-/);
  });

  it("releases owned pods that no longer match the selector", async () => {
    const rs = newReplicaSet(1, labelMap);
    const relabelled = newPod("relabelled", rs, "Running", true);
    relabelled.metadata!.labels = { foo: "other" };
    const h = await harness([rs], [newPod("kept", rs, "Running", true), relabelled]);
    await h.controller.syncer.syncReplicaSet(KEY);
    assert.deepEqual(
      h.podControl.patches.map((p) => [p.name, p.patch]),
      [["relabelled", { metadata: { uid: relabelled.metadata?.uid, ownerReferences: [{ $patch: "delete", uid: rs.metadata?.uid }] } }]],
    );
    assert.equal(h.podControl.deletes.length, 0, "the released pod no longer counts");
  });

  it("writes status (counts, observedGeneration) only when it changes", async () => {
    const rs = newReplicaSet(2, labelMap);
    const h = await harness([rs], [newPod("pod0", rs, "Running", true), newPod("pod1", rs, "Pending", true)]);
    await h.controller.syncer.syncReplicaSet(KEY);
    assert.deepEqual((h.statusWrites[0] as ReplicaSet).status, { replicas: 2, readyReplicas: 1, availableReplicas: 1, observedGeneration: 1 });
    await settle();
    await h.controller.syncer.syncReplicaSet(KEY);
    assert.equal(h.statusWrites.length, 1);
  });

  it("resyncs after minReadySeconds while ready pods are not yet available", async () => {
    const base = newReplicaSet(1, labelMap);
    const rs: ReplicaSet = { ...base, spec: { ...base.spec!, minReadySeconds: 10 } };
    const h = await harness([rs], [newPod("pod0", rs, "Running", true, rfc3339(NOW - 1000))]);
    await h.controller.syncer.syncReplicaSet(KEY);
    assert.equal((h.statusWrites[0] as ReplicaSet).status?.availableReplicas, undefined);
    await h.drain();
    h.timers.advance(9_999);
    assert.equal(h.controller.queue.len(), 0);
    h.timers.advance(1);
    assert.equal(h.controller.queue.len(), 1);
  });

  it("forgets expectations of an owner gone from the cache", async () => {
    const h = await harness([], []);
    h.controller.expectations.expectCreations(KEY, 3);
    await h.controller.syncer.syncReplicaSet(KEY);
    assert.equal(h.controller.expectations.getExpectations(KEY), undefined);
  });
});

describe("ReplicaSetController handlers", () => {
  it("observes creations of owned pods and wakes only the owner", async () => {
    const rs = newReplicaSet(2, labelMap);
    const other = newReplicaSet(2, { other: "x" }, "other");
    const h = await harness([rs, other], []);
    h.controller.expectations.expectCreations(KEY, 1);
    h.pods.set(newPod("pod0", rs, "Pending", true));
    await settle();
    assert.equal(h.controller.expectations.satisfiedExpectations(KEY), true);
    assert.deepEqual(await h.drain(), [KEY]);
  });

  it("wakes every owner whose selector matches an orphan, without observing a creation", async () => {
    const rs = newReplicaSet(2, labelMap);
    const also = newReplicaSet(2, labelMap, "also");
    const unrelated = newReplicaSet(2, { other: "x" }, "unrelated");
    const empty = newReplicaSet(2, {}, "empty");
    const h = await harness([rs, also, unrelated, empty], []);
    h.controller.expectations.expectCreations(KEY, 1);
    h.pods.set(newPod("orphan", rs, "Pending", false));
    await settle();
    assert.equal(h.controller.expectations.satisfiedExpectations(KEY), false);
    assert.deepEqual((await h.drain()).sort(), ["default/also", KEY], "an empty selector matches nothing");
  });

  it("ignores pods whose controllerRef names another kind or a replaced owner", async () => {
    const rs = newReplicaSet(2, labelMap);
    const h = await harness([rs], []);
    const byRC = newPod("rc-pod", rs, "Pending", true);
    byRC.metadata!.ownerReferences![0]!.kind = "ReplicationController";
    const stale = newPod("stale", rs, "Pending", true);
    stale.metadata!.ownerReferences![0]!.uid = "gone";
    h.pods.set(byRC);
    h.pods.set(stale);
    await settle();
    assert.deepEqual(await h.drain(), []);
  });

  it("counts a graceful deletion once, as the update or the delete (TestDeletionTimestamp)", async () => {
    const rs = newReplicaSet(1, labelMap);
    const pod = newPod("pod", rs, "Running", true);
    const second = newPod("second", rs, "Running", true);
    const h = await harness([rs], [pod, second]);
    h.controller.expectations.expectDeletions(KEY, ["default/pod", "default/second"]);
    h.pods.set({ ...pod, metadata: { ...pod.metadata, deletionTimestamp: rfc3339(NOW) } });
    await settle();
    assert.deepEqual(h.controller.expectations.getExpectations(KEY)?.getExpectations(), [0, 1]);
    assert.deepEqual(await h.drain(), [KEY]);
    h.pods.remove("default/pod");
    await settle();
    assert.deepEqual(h.controller.expectations.getExpectations(KEY)?.getExpectations(), [0, 1], "not counted twice");
    h.pods.remove("default/second");
    await settle();
    assert.equal(h.controller.expectations.satisfiedExpectations(KEY), true);
  });

  it("wakes the old owner when a pod's controllerRef goes, and matching owners when an orphan is relabelled", async () => {
    const rs = newReplicaSet(1, labelMap);
    const other = newReplicaSet(1, { app: "other" }, "other");
    const pod = newPod("pod", rs, "Running", true);
    const h = await harness([rs, other], [pod]);
    const orphaned = h.pods.set({ ...pod, metadata: { ...pod.metadata, ownerReferences: [] } });
    await settle();
    assert.deepEqual(await h.drain(), [KEY]);
    h.pods.set({ ...orphaned, metadata: { ...orphaned.metadata, labels: { app: "other" } } });
    await settle();
    assert.deepEqual(await h.drain(), ["default/other"]);
  });

  it("syncs an owner again minReadySeconds (+1 s) after one of its pods turned ready", async () => {
    const base = newReplicaSet(1, labelMap);
    const rs: ReplicaSet = { ...base, spec: { ...base.spec!, minReadySeconds: 5 } };
    const pod = newPod("pod", rs, "Pending", true);
    const h = await harness([rs], [pod]);
    h.pods.set({ ...pod, status: { phase: "Running", conditions: [{ type: "Ready", status: "True", lastTransitionTime: rfc3339(NOW) }] } });
    await settle();
    assert.deepEqual(await h.drain(), [KEY]);
    h.timers.advance(5_999);
    assert.equal(h.controller.queue.len(), 0);
    h.timers.advance(1);
    assert.equal(h.controller.queue.len(), 1);
  });

  it("drops expectations when the owner is deleted or replaced under the same name", async () => {
    const rs = newReplicaSet(1, labelMap);
    const h = await harness([rs], []);
    h.controller.expectations.expectCreations(KEY, 1);
    h.owners.set({ ...rs, metadata: { ...rs.metadata, uid: "replacement" } });
    await settle();
    assert.equal(h.controller.expectations.getExpectations(KEY), undefined);
    h.controller.expectations.expectCreations(KEY, 1);
    h.owners.remove(KEY);
    await settle();
    assert.equal(h.controller.expectations.getExpectations(KEY), undefined);
    assert.deepEqual(await h.drain(), [KEY]);
  });
});

describe("ReplicationController", () => {
  it("is synced as a ReplicaSet: pods owned by the RC, status written to the RC", async () => {
    const rc = replicaSetToReplicationController(newReplicaSet(2, labelMap));
    const h = await harness<ReplicationController>([rc], [], { kind: REPLICATION_CONTROLLER_KIND });
    await h.controller.syncer.syncReplicaSet(KEY);
    assert.equal(h.podControl.creates.length, 2);
    assert.equal(h.podControl.creates[0]?.controllerRef.kind, "ReplicationController");
    assert.equal(h.podControl.creates[0]?.controllerRef.apiVersion, "v1");
    assert.deepEqual(h.statusWrites[0]?.spec?.selector, labelMap);
    assert.equal(h.statusWrites[0]?.kind, "ReplicationController");
    assert.deepEqual(h.statusWrites[0]?.status, { replicas: 0, observedGeneration: 1 });
  });

  it("observes pods created for it through their RC controllerRef", async () => {
    const rs = newReplicaSet(2, labelMap);
    const rc = replicaSetToReplicationController(rs);
    const h = await harness<ReplicationController>([rc], [], { kind: REPLICATION_CONTROLLER_KIND });
    h.controller.expectations.expectCreations(KEY, 1);
    const pod = newPod("pod", rs, "Pending", true);
    pod.metadata!.ownerReferences![0]!.kind = "ReplicationController";
    pod.metadata!.ownerReferences![0]!.apiVersion = "v1";
    h.pods.set(pod);
    await settle();
    assert.equal(h.controller.expectations.satisfiedExpectations(KEY), true);
  });
});

describe("ReplicaSetController.run", () => {
  it("waits for the caches, then syncs queued owners with its workers until stopped", async () => {
    const rs = newReplicaSet(3, labelMap);
    const h = await harness([rs], []);
    h.controller.queue.add(objectKey(rs));
    const stop = new AbortController();
    const running = h.controller.run(stop.signal);
    for (let i = 0; i < 50 && h.podControl.creates.length < 3; i++) await settle();
    assert.equal(h.podControl.creates.length, 3);
    stop.abort();
    await running;
    assert.equal(h.controller.queue.isShuttingDown(), true);
  });
});
