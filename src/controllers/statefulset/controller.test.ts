import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import type { ControllerRevision, StatefulSet } from "kubernetes-types/apps/v1.js";
import type { PersistentVolumeClaim, Pod } from "kubernetes-types/core/v1.js";
import { FakeTimers } from "../../client/timers.js";
import { silentLogger } from "../../machinery/log.js";
import { FakeListerWatcher, FakePodControl, runningInformer, settle } from "../common/testing.js";
import { RealControllerHistory } from "../history/controller-history.js";
import { FakeRevisionStore } from "../history/testing.js";
import { StatefulSetController } from "./controller.js";
import { FakeObjects, FakeRecorder, FakeSetApi, newStatefulSet } from "./testing.js";

const stops: AbortController[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s.abort();
});

async function harness(set: StatefulSet, pods: Pod[], revisions: ControllerRevision[] = []) {
  const stop = new AbortController();
  stops.push(stop);
  const setSource = new FakeListerWatcher<StatefulSet>([set]);
  const podSource = new FakeListerWatcher<Pod>(pods);
  const [setInformer, podInformer, pvcInformer, revisionInformer] = await Promise.all([
    runningInformer(setSource, stop.signal),
    runningInformer(podSource, stop.signal),
    runningInformer(new FakeListerWatcher<PersistentVolumeClaim>([]), stop.signal),
    runningInformer(new FakeListerWatcher<ControllerRevision>([]), stop.signal),
  ]);
  const store = new FakeRevisionStore(revisions);
  const api = new FakeSetApi(set);
  const objects = new FakeObjects();
  const podPatcher = new FakePodControl();
  const timers = new FakeTimers(Date.UTC(2024, 0, 1, 12));
  const controller = new StatefulSetController({
    setInformer,
    podInformer,
    pvcInformer,
    revisionInformer,
    api,
    objects,
    history: new RealControllerHistory(store.api, store),
    podPatcher,
    recorder: new FakeRecorder(),
    logger: silentLogger,
    timers,
  });
  const drain = async () => {
    await settle();
    const keys: string[] = [];
    while (controller.queue.len() > 0) {
      const k = (await controller.queue.get())!;
      controller.queue.done(k);
      keys.push(k);
    }
    return keys;
  };
  await drain();
  return { controller, setSource, podSource, store, api, objects, podPatcher, timers, drain };
}

const owned = (set: StatefulSet) => [{ apiVersion: "apps/v1", kind: "StatefulSet", name: set.metadata!.name!, uid: set.metadata!.uid!, controller: true }];

describe("StatefulSetController", () => {
  it("adopts orphans named as its members, and releases its pods that stopped matching", async () => {
    const set = newStatefulSet("web", 1, { claims: false });
    const pods: Pod[] = [
      { metadata: { name: "web-0", namespace: "default", uid: "p0", labels: { app: "web" } }, spec: { containers: [] }, status: { phase: "Running" } },
      // Matches the selector but is not named as a member: left alone.
      { metadata: { name: "db-0", namespace: "default", uid: "p1", labels: { app: "web" } }, spec: { containers: [] }, status: { phase: "Running" } },
      { metadata: { name: "web-1", namespace: "default", uid: "p2", labels: { app: "other" }, ownerReferences: owned(set) }, spec: { containers: [] }, status: { phase: "Running" } },
    ];
    const h = await harness(set, pods);
    await h.controller.sync("default/web");
    const patched = h.podPatcher.patches.map((p) => `${p.name} ${JSON.stringify(p.patch)}`).sort();
    assert.equal(patched.length, 2);
    assert.match(patched[0]!, /^web-0 .*"controller":true/);
    assert.match(patched[1]!, /^web-1 .*"\$patch":"delete"/);
  });

  it("adopts orphaned ControllerRevisions the selector matches", async () => {
    const set = newStatefulSet("web", 0, { claims: false });
    const orphan: ControllerRevision = { metadata: { name: "web-old", namespace: "default", uid: "cr", labels: { app: "web" } }, data: {}, revision: 1 };
    const h = await harness(set, [], [orphan]);
    await h.controller.sync("default/web").catch(() => {});
    assert.equal(h.store.get("default", "web-old")?.metadata?.ownerReferences?.[0]?.uid, set.metadata!.uid);
  });

  it("does nothing for a set that is gone", async () => {
    const set = newStatefulSet("web", 1, { claims: false });
    const h = await harness(set, []);
    h.setSource.remove("default/web");
    await settle();
    await h.controller.sync("default/web");
    assert.equal(h.objects.actions.length, 0);
  });

  it("wakes the owner on pod changes, and any matching set for an orphan", async () => {
    const set = newStatefulSet("web", 1, { claims: false });
    const h = await harness(set, []);
    h.podSource.set({ metadata: { name: "web-0", namespace: "default", uid: "p0", labels: { app: "web" }, ownerReferences: owned(set) }, spec: { containers: [] } });
    assert.deepEqual(await h.drain(), ["default/web"]);
    h.podSource.set({ metadata: { name: "web-9", namespace: "default", uid: "p9", labels: { app: "web" } }, spec: { containers: [] } });
    assert.deepEqual(await h.drain(), ["default/web"]);
    h.podSource.set({ metadata: { name: "x-0", namespace: "default", uid: "px", labels: { app: "nothing" } }, spec: { containers: [] } });
    assert.deepEqual(await h.drain(), []);
  });

  it("looks again after minReadySeconds once a pod turns ready", async () => {
    const set = newStatefulSet("web", 1, { claims: false });
    set.spec!.minReadySeconds = 5;
    const pod: Pod = { metadata: { name: "web-0", namespace: "default", uid: "p0", labels: { app: "web" }, ownerReferences: owned(set) }, spec: { containers: [] }, status: { phase: "Running" } };
    const h = await harness(set, [pod]);
    h.podSource.set({ ...pod, status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] } });
    assert.deepEqual(await h.drain(), ["default/web"]);
    h.timers.advance(6000);
    assert.deepEqual(await h.drain(), ["default/web"]);
  });
});
