import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import type { Deployment, ReplicaSet } from "kubernetes-types/apps/v1.js";
import type { Pod } from "kubernetes-types/core/v1.js";
import { FakeTimers } from "../../client/timers.js";
import { FakeListerWatcher, runningInformer, settle } from "../common/testing.js";
import { DeploymentController, MAX_RETRIES } from "./controller.js";
import { RECREATE } from "./fenceposts.js";
import { FakeDeploymentApi, FakeRecorder, NOW, newDeployment, ownedRS, rs } from "./fixtures.js";

const stops: AbortController[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s.abort();
});

interface Harness {
  controller: DeploymentController;
  deployments: FakeListerWatcher<Deployment>;
  replicaSets: FakeListerWatcher<ReplicaSet>;
  pods: FakeListerWatcher<Pod>;
  api: FakeDeploymentApi;
  /** Empties the queue, returning the keys it held. */
  drain(): Promise<string[]>;
}

async function harness(deployments: Deployment[], replicaSets: ReplicaSet[] = [], pods: Pod[] = []): Promise<Harness> {
  const stop = new AbortController();
  stops.push(stop);
  const dSource = new FakeListerWatcher<Deployment>(deployments);
  const rsSource = new FakeListerWatcher<ReplicaSet>(replicaSets);
  const podSource = new FakeListerWatcher<Pod>(pods);
  const api = new FakeDeploymentApi();
  const controller = new DeploymentController({
    deploymentInformer: await runningInformer(dSource, stop.signal),
    replicaSetInformer: await runningInformer(rsSource, stop.signal),
    podInformer: await runningInformer(podSource, stop.signal),
    api,
    recorder: new FakeRecorder(),
    timers: new FakeTimers(NOW),
  });
  const drain = async () => {
    const keys: string[] = [];
    while (controller.queue.len() > 0) {
      const k = (await controller.queue.get())!;
      controller.queue.done(k);
      keys.push(k);
    }
    return keys.sort();
  };
  await drain();
  return { controller, deployments: dSource, replicaSets: rsSource, pods: podSource, api, drain };
}

function podOf(owner: ReplicaSet, name: string): Pod {
  return {
    metadata: {
      name,
      namespace: "default",
      uid: `pod-${name}`,
      labels: { ...(owner.spec?.selector.matchLabels ?? {}) },
      ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: owner.metadata!.name!, uid: owner.metadata!.uid!, controller: true }],
    },
  };
}

describe("DeploymentController handlers", () => {
  it("queues a Deployment on add, update and delete", async () => {
    const d = newDeployment("web", 1);
    const h = await harness([]);
    h.deployments.set(d);
    await settle();
    assert.deepEqual(await h.drain(), ["default/web"]);
    h.deployments.set({ ...d, spec: { ...d.spec!, replicas: 2 } });
    await settle();
    assert.deepEqual(await h.drain(), ["default/web"]);
    h.deployments.remove("default/web");
    await settle();
    assert.deepEqual(await h.drain(), ["default/web"]);
  });

  it("maps a ReplicaSet event to the Deployment its controllerRef names, checking the uid", async () => {
    const d = newDeployment("web", 1);
    const other = newDeployment("other", 1, { selector: { app: "other" } });
    const h = await harness([d, other]);
    const mine = ownedRS(d, "web-1", 1);
    h.replicaSets.set(mine);
    await settle();
    assert.deepEqual(await h.drain(), ["default/web"]);
    h.replicaSets.set({ ...mine, status: { replicas: 1 } });
    await settle();
    assert.deepEqual(await h.drain(), ["default/web"], "status changes wake the owner");
    const stale = ownedRS(d, "stale", 1);
    stale.metadata!.ownerReferences![0]!.uid = "someone-else";
    h.replicaSets.set(stale);
    await settle();
    assert.deepEqual(await h.drain(), [], "a controllerRef to a same-named but different Deployment");
    h.replicaSets.remove("default/web-1");
    await settle();
    assert.deepEqual(await h.drain(), ["default/web"]);
  });

  it("wakes every Deployment that could adopt an orphan ReplicaSet", async () => {
    const a = newDeployment("a", 1, { selector: { app: "web" } });
    const b = newDeployment("b", 1, { selector: { app: "web" } });
    const c = newDeployment("c", 1, { selector: { app: "db" } });
    const h = await harness([a, b, c]);
    const orphan = rs("orphan", 1, { app: "web" }, undefined);
    orphan.metadata!.labels = { app: "web" };
    h.replicaSets.set(orphan);
    await settle();
    assert.deepEqual(await h.drain(), ["default/a", "default/b"]);
    // Relabelled: now c may adopt it.
    h.replicaSets.set({ ...orphan, metadata: { ...orphan.metadata, labels: { app: "db" } } });
    await settle();
    assert.deepEqual(await h.drain(), ["default/c"]);
  });

  it("wakes the old owner too when a ReplicaSet's controllerRef changes", async () => {
    const a = newDeployment("a", 1);
    const b = newDeployment("b", 1);
    const r = ownedRS(a, "r", 1);
    const h = await harness([a, b], [r]);
    await h.drain();
    h.replicaSets.set({ ...r, metadata: { ...r.metadata, ownerReferences: [{ ...r.metadata!.ownerReferences![0]!, name: "b", uid: b.metadata!.uid! }] } });
    await settle();
    assert.deepEqual(await h.drain(), ["default/a", "default/b"]);
  });

  it("wakes a Recreate Deployment when its last pod is deleted, and only then", async () => {
    const d = newDeployment("web", 2);
    d.spec!.strategy = { type: RECREATE };
    const r = ownedRS(d, "web-1", 0);
    const h = await harness([d], [r], [podOf(r, "p1"), podOf(r, "p2")]);
    await h.drain();
    h.pods.remove("default/p1");
    await settle();
    assert.deepEqual(await h.drain(), [], "one pod left");
    h.pods.remove("default/p2");
    await settle();
    assert.deepEqual(await h.drain(), ["default/web"]);
  });

  it("ignores pod deletions of RollingUpdate Deployments", async () => {
    const d = newDeployment("web", 1);
    const r = ownedRS(d, "web-1", 1);
    const h = await harness([d], [r], [podOf(r, "p1")]);
    await h.drain();
    h.pods.remove("default/p1");
    await settle();
    assert.deepEqual(await h.drain(), []);
  });
});

describe("DeploymentController work queue", () => {
  it("requeues a failing key with backoff and drops it after 15 retries", async () => {
    const d = newDeployment("web", 1);
    const h = await harness([d]);
    h.api.fail = () => new Error("API down");
    const q = h.controller.queue;
    q.add("default/web");
    for (let i = 0; i < MAX_RETRIES; i++) {
      assert.equal(await h.controller.processNextWorkItem(), true);
      assert.equal(q.numRequeues("default/web"), i + 1);
      // Move the rate-limited add along.
      q.add("default/web");
    }
    assert.equal(await h.controller.processNextWorkItem(), true);
    assert.equal(q.numRequeues("default/web"), 0, "forgotten after the last retry");
  });

  it("forgets a key once it syncs", async () => {
    const d = newDeployment("web", 1);
    const h = await harness([d]);
    const q = h.controller.queue;
    q.add("default/web");
    await h.controller.processNextWorkItem();
    assert.equal(q.numRequeues("default/web"), 0);
    assert.ok(h.api.actions.some((a) => a.verb === "create" && a.resource === "replicasets"));
  });
});
