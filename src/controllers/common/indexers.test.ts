import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { CONTROLLER_UID_INDEX, addControllerUIDIndexer, addPodControllerUIDIndexer, filterPodsByOwner, orphanPodIndexKey, POD_CONTROLLER_UID_INDEX } from "./indexers.js";
import { FakeListerWatcher, runningInformer, settle } from "./testing.js";

const stops: AbortController[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s.abort();
});

function pod(name: string, namespace: string, ownerUid?: string): Pod {
  return {
    metadata: {
      name,
      namespace,
      uid: `${namespace}-${name}`,
      ...(ownerUid ? { ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "rs", uid: ownerUid, controller: true }] } : {}),
    },
    spec: { containers: [] },
  };
}

const names = (pods: Pod[]) => pods.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`).sort();

describe("pod controller-uid index", () => {
  it("answers an owner's pods and its namespace's orphans, and follows adoption", async () => {
    const stop = new AbortController();
    stops.push(stop);
    const source = new FakeListerWatcher<Pod>([pod("mine", "a", "rs-uid"), pod("theirs", "a", "other-uid"), pod("orphan", "a"), pod("far-orphan", "b")]);
    const informer = await runningInformer(source, stop.signal);
    addPodControllerUIDIndexer(informer);
    addPodControllerUIDIndexer(informer); // a second controller asking is fine
    const owner = { name: "rs", namespace: "a", uid: "rs-uid" };
    assert.deepEqual(names(filterPodsByOwner(informer, owner)), ["a/mine", "a/orphan"]);
    assert.deepEqual(names(informer.byIndex(POD_CONTROLLER_UID_INDEX, orphanPodIndexKey("b"))), ["b/far-orphan"]);
    // Adopted: filed under the owner's uid, no longer among the orphans.
    source.set(pod("orphan", "a", "rs-uid"));
    await settle();
    assert.deepEqual(names(informer.byIndex(POD_CONTROLLER_UID_INDEX, orphanPodIndexKey("a"))), []);
    assert.deepEqual(names(filterPodsByOwner(informer, owner)), ["a/mine", "a/orphan"]);
  });

  it("indexes owners by their controller's uid, leaving orphans out", async () => {
    const stop = new AbortController();
    stops.push(stop);
    const informer = await runningInformer(new FakeListerWatcher<Pod>([pod("x", "a", "deploy-uid"), pod("y", "a")]), stop.signal);
    addControllerUIDIndexer(informer);
    assert.deepEqual(names(informer.byIndex(CONTROLLER_UID_INDEX, "deploy-uid")), ["a/x"]);
    assert.deepEqual(informer.byIndex(CONTROLLER_UID_INDEX, ""), []);
  });
});
