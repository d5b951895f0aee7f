import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { StatefulSet } from "kubernetes-types/apps/v1.js";
import { silentLogger } from "../../machinery/log.js";
import { RealControllerHistory } from "../history/controller-history.js";
import { CONTROLLER_REVISION_HASH_LABEL } from "../history/history.js";
import { FakeRevisionStore } from "../history/testing.js";
import { StatefulSetControl } from "./control.js";
import { POD_INDEX_LABEL, STATEFUL_SET_POD_NAME_LABEL } from "./identity.js";
import { STATEFUL_SET_REVISION_LABEL } from "./kinds.js";
import { StatefulPodControl } from "./pod-control.js";
import { StatefulSetStatusUpdater } from "./status-updater.js";
import { FakeObjects, FakeRecorder, FakeSetApi, newStatefulSet } from "./testing.js";

function harness(set: StatefulSet) {
  const objects = new FakeObjects();
  const recorder = new FakeRecorder();
  const api = new FakeSetApi(set);
  const revisions = new FakeRevisionStore();
  const noSleep = async () => {};
  const control = new StatefulSetControl({
    podControl: new StatefulPodControl({ objects, recorder, sleep: noSleep }),
    statusUpdater: new StatefulSetStatusUpdater(api, (ns, n) => api.sets.get(`${ns}/${n}`), noSleep),
    history: new RealControllerHistory(revisions.api, revisions),
    clock: { now: () => objects.nowMs },
    logger: silentLogger,
  });
  const name = set.metadata!.name!;
  const current = () => api.set("default", name);
  const sync = () => control.updateStatefulSet(current(), objects.list());
  const names = () => objects.list().map((p) => p.metadata!.name!);
  /** Syncs, then makes every pod Running and Ready, until nothing changes. */
  const settle = async (max = 20) => {
    for (let i = 0; i < max; i++) {
      const before = JSON.stringify([...objects.pods.values()]) + JSON.stringify(current().status);
      await sync();
      for (const p of objects.list()) if (p.status?.phase !== "Running" && !p.metadata?.deletionTimestamp) objects.setRunningReady(p.metadata!.name!);
      if (JSON.stringify([...objects.pods.values()]) + JSON.stringify(current().status) === before) return;
    }
    throw new Error("did not settle");
  };
  return { objects, recorder, api, revisions, control, sync, settle, current, names };
}

describe("StatefulSet control: OrderedReady", () => {
  it("creates pods one at a time in ordinal order, each after its predecessor is Running and Ready, claims first", async () => {
    const h = harness(newStatefulSet("web", 3));
    await h.sync();
    assert.deepEqual(h.names(), ["web-0"]);
    assert.deepEqual(h.objects.actions, ["create pvc default/data-web-0", "create pod default/web-0"]);
    assert.deepEqual(h.recorder.notes(), ["create Claim data-web-0 Pod web-0 in StatefulSet web success", "create Pod web-0 in StatefulSet web successful"]);
    assert.deepEqual(
      h.recorder.events.map((e) => e.reason),
      ["SuccessfulCreate", "SuccessfulCreate"],
    );
    // web-0 is Pending: nothing more happens.
    await h.sync();
    assert.deepEqual(h.names(), ["web-0"]);
    h.objects.setRunningReady("web-0");
    await h.sync();
    assert.deepEqual(h.names(), ["web-0", "web-1"]);
    h.objects.setRunningReady("web-1");
    await h.sync();
    assert.deepEqual(h.names(), ["web-0", "web-1", "web-2"]);
    h.objects.setRunningReady("web-2");
    await h.sync();
    const st = h.current().status!;
    assert.equal(st.replicas, 3);
    assert.equal(st.readyReplicas, 3);
    assert.equal(st.availableReplicas, 3);
    assert.equal(st.currentReplicas, 3);
    assert.equal(st.updatedReplicas, 3);
    assert.equal(st.observedGeneration, 1);
    assert.equal(st.collisionCount, 0);
    assert.ok(st.currentRevision?.startsWith("web-"));
    assert.equal(st.currentRevision, st.updateRevision);
  });

  it("gives each pod its identity: name, labels, hostname, subdomain, claim volume, controllerRef, revision", async () => {
    const h = harness(newStatefulSet("web", 1));
    await h.sync();
    const pod = h.objects.getPod("default", "web-0")!;
    const revision = h.current().status!.updateRevision!;
    assert.equal(pod.metadata?.generateName, "web-");
    assert.deepEqual(pod.metadata?.labels, { app: "web", [STATEFUL_SET_POD_NAME_LABEL]: "web-0", [POD_INDEX_LABEL]: "0", [STATEFUL_SET_REVISION_LABEL]: revision });
    assert.equal(pod.spec?.hostname, "web-0");
    assert.equal(pod.spec?.subdomain, "governing");
    assert.deepEqual(pod.spec?.volumes, [{ name: "data", persistentVolumeClaim: { claimName: "data-web-0" } }]);
    assert.deepEqual(pod.metadata?.ownerReferences, [
      { apiVersion: "apps/v1", kind: "StatefulSet", name: "web", uid: h.current().metadata!.uid, controller: true, blockOwnerDeletion: true },
    ]);
    const claim = h.objects.getClaim("default", "data-web-0")!;
    assert.deepEqual(claim.metadata?.labels, { app: "web" });
    assert.equal(claim.metadata?.ownerReferences, undefined, "Retain/Retain: no owners");
    assert.deepEqual(claim.spec?.resources?.requests, { storage: "1Gi" });
  });

  it("starts at spec.ordinals.start", async () => {
    const set = newStatefulSet("web", 2, { claims: false });
    set.spec!.ordinals = { start: 5 };
    const h = harness(set);
    await h.settle();
    assert.deepEqual(h.names(), ["web-5", "web-6"]);
    assert.equal(h.objects.getPod("default", "web-5")?.metadata?.labels?.[POD_INDEX_LABEL], "5");
  });

  it("scales down from the highest ordinal, one pod at a time, waiting for each to go", async () => {
    const h = harness(newStatefulSet("web", 3, { claims: false }));
    await h.settle();
    h.api.edit("default", "web", (s) => {
      s.spec!.replicas = 1;
    });
    await h.sync();
    assert.deepEqual(h.names(), ["web-0", "web-1"]);
    assert.deepEqual(h.recorder.notes("SuccessfulDelete"), ["delete Pod web-2 in StatefulSet web successful"]);
    await h.sync();
    assert.deepEqual(h.names(), ["web-0"]);
    // The status counts the pods the sync started with; the next one sees the deletion.
    await h.sync();
    const st = h.current().status!;
    assert.equal(st.replicas, 1);
    assert.equal(st.observedGeneration, 2);
  });

  it("does not scale down past an unhealthy pod", async () => {
    const h = harness(newStatefulSet("web", 3, { claims: false }));
    await h.settle();
    h.api.edit("default", "web", (s) => {
      s.spec!.replicas = 1;
    });
    h.objects.setPhase("web-0", "Pending");
    await h.sync();
    assert.deepEqual(h.names(), ["web-0", "web-1", "web-2"]);
  });

  it("replaces a Failed pod", async () => {
    const h = harness(newStatefulSet("web", 2, { claims: false }));
    await h.settle();
    h.objects.setPhase("web-1", "Failed");
    await h.sync();
    assert.deepEqual(h.names(), ["web-0"]);
    await h.sync();
    assert.deepEqual(h.names(), ["web-0", "web-1"]);
    assert.equal(h.objects.getPod("default", "web-1")?.status?.phase, "Pending");
  });

  it("repairs a pod whose identity label was removed", async () => {
    const h = harness(newStatefulSet("web", 1, { claims: false }));
    await h.settle();
    const pod = h.objects.getPod("default", "web-0")!;
    const labels = { ...pod.metadata!.labels };
    delete labels[STATEFUL_SET_POD_NAME_LABEL];
    h.objects.pods.set("default/web-0", { ...pod, metadata: { ...pod.metadata, labels } });
    await h.sync();
    assert.equal(h.objects.getPod("default", "web-0")?.metadata?.labels?.[STATEFUL_SET_POD_NAME_LABEL], "web-0");
    assert.deepEqual(h.recorder.notes("SuccessfulUpdate"), ["update Pod web-0 in StatefulSet web successful"]);
  });

  it("reports a failed create as FailedCreate and rejects", async () => {
    const h = harness(newStatefulSet("web", 1, { claims: false }));
    h.objects.createPodError = new Error("quota exceeded");
    await assert.rejects(h.sync(), /quota exceeded/);
    assert.deepEqual(h.recorder.events.map((e) => `${e.type} ${e.reason} ${e.note}`), ["Warning FailedCreate create Pod web-0 in StatefulSet web failed error: quota exceeded"]);
  });
});

describe("StatefulSet control: Parallel", () => {
  it("creates and deletes all pods at once", async () => {
    const set = newStatefulSet("web", 3);
    set.spec!.podManagementPolicy = "Parallel";
    const h = harness(set);
    await h.sync();
    assert.deepEqual(h.names(), ["web-0", "web-1", "web-2"]);
    assert.deepEqual([...h.objects.claims.keys()].sort(), ["default/data-web-0", "default/data-web-1", "default/data-web-2"]);
    h.api.edit("default", "web", (s) => {
      s.spec!.replicas = 0;
    });
    await h.sync();
    assert.deepEqual(h.names(), []);
    // Retain: the claims stay.
    assert.equal(h.objects.claims.size, 3);
  });
});

describe("StatefulSet control: revisions and updates", () => {
  const image = (h: ReturnType<typeof harness>, name: string) => h.objects.getPod("default", name)?.spec?.containers[0]?.image;

  it("records the template as revision 1 with the hash label and the set's annotations", async () => {
    const set = newStatefulSet("web", 1, { claims: false });
    set.metadata!.annotations = { "kubernetes.io/change-cause": "first" };
    const h = harness(set);
    await h.sync();
    const all = h.revisions.all();
    assert.equal(all.length, 1);
    const cr = all[0]!;
    assert.equal(cr.revision, 1);
    assert.equal(cr.metadata?.name, `web-${cr.metadata?.labels?.[CONTROLLER_REVISION_HASH_LABEL]}`);
    assert.equal(cr.metadata?.labels?.app, "web");
    assert.deepEqual(cr.metadata?.annotations, { "kubernetes.io/change-cause": "first" });
    assert.equal((cr.data as { spec: { template: { $patch: string } } }).spec.template.$patch, "replace");
    assert.equal(cr.metadata?.ownerReferences?.[0]?.kind, "StatefulSet");
    assert.equal(h.current().status?.currentRevision, cr.metadata?.name);
  });

  it("rolls a new template out from the highest ordinal down, then makes the update revision current", async () => {
    const h = harness(newStatefulSet("web", 3, { claims: false }));
    await h.settle();
    const rev1 = h.current().status!.currentRevision!;
    h.api.edit("default", "web", (s) => {
      s.spec!.template.spec!.containers[0]!.image = "nginx:1.28";
    });
    await h.sync();
    assert.deepEqual(h.names(), ["web-0", "web-1"], "web-2 deleted first");
    const st = h.current().status!;
    assert.equal(st.currentRevision, rev1);
    assert.notEqual(st.updateRevision, rev1);
    assert.equal(st.currentReplicas, 2);
    await h.settle();
    assert.deepEqual(h.names(), ["web-0", "web-1", "web-2"]);
    for (const n of h.names()) assert.equal(image(h, n), "nginx:1.28");
    const done = h.current().status!;
    assert.equal(done.currentRevision, done.updateRevision);
    assert.equal(done.updatedReplicas, 3);
    assert.equal(done.currentReplicas, 3);
    assert.deepEqual(h.revisions.all().map((r) => r.revision).sort(), [1, 2]);
  });

  it("updates only the ordinals at or above the partition", async () => {
    const h = harness(newStatefulSet("web", 3, { claims: false }));
    await h.settle();
    h.api.edit("default", "web", (s) => {
      s.spec!.updateStrategy = { type: "RollingUpdate", rollingUpdate: { partition: 2 } };
      s.spec!.template.spec!.containers[0]!.image = "nginx:1.28";
    });
    await h.settle();
    assert.deepEqual(h.names().map((n) => image(h, n)), ["nginx:1.27", "nginx:1.27", "nginx:1.28"]);
    const st = h.current().status!;
    assert.notEqual(st.currentRevision, st.updateRevision);
    assert.equal(st.updatedReplicas, 1);
    assert.equal(st.currentReplicas, 2);
    // A deleted pod below the partition comes back at the current revision.
    await h.objects.deletePod(h.objects.getPod("default", "web-0")!);
    await h.settle();
    assert.equal(image(h, "web-0"), "nginx:1.27");
  });

  it("deletes up to maxUnavailable pods at once", async () => {
    const h = harness(newStatefulSet("web", 4, { claims: false }));
    await h.settle();
    h.api.edit("default", "web", (s) => {
      s.spec!.updateStrategy = { type: "RollingUpdate", rollingUpdate: { partition: 0, maxUnavailable: 2 } };
      s.spec!.template.spec!.containers[0]!.image = "nginx:1.28";
    });
    await h.sync();
    assert.deepEqual(h.names(), ["web-0", "web-1"]);
  });

  it("OnDelete replaces nothing until the user deletes a pod", async () => {
    const h = harness(newStatefulSet("web", 2, { claims: false }));
    await h.settle();
    h.api.edit("default", "web", (s) => {
      s.spec!.updateStrategy = { type: "OnDelete" };
      s.spec!.template.spec!.containers[0]!.image = "nginx:1.28";
    });
    await h.settle();
    assert.deepEqual(h.names().map((n) => image(h, n)), ["nginx:1.27", "nginx:1.27"]);
    await h.objects.deletePod(h.objects.getPod("default", "web-1")!);
    await h.settle();
    assert.deepEqual(h.names().map((n) => image(h, n)), ["nginx:1.27", "nginx:1.28"]);
  });

  it("rolls back to an earlier template by renumbering its revision, not creating a new one", async () => {
    const h = harness(newStatefulSet("web", 1, { claims: false }));
    await h.settle();
    const first = h.current().status!.currentRevision!;
    h.api.edit("default", "web", (s) => {
      s.spec!.template.spec!.containers[0]!.image = "nginx:1.28";
    });
    await h.settle();
    h.api.edit("default", "web", (s) => {
      s.spec!.template.spec!.containers[0]!.image = "nginx:1.27";
    });
    await h.settle();
    const revs = h.revisions.all();
    assert.equal(revs.length, 2);
    assert.equal(revs.find((r) => r.metadata?.name === first)?.revision, 3);
    assert.equal(h.current().status?.currentRevision, first);
    assert.equal(image(h, "web-0"), "nginx:1.27");
  });

  it("keeps at most revisionHistoryLimit revisions no pod uses", async () => {
    const set = newStatefulSet("web", 1, { claims: false });
    set.spec!.revisionHistoryLimit = 1;
    const h = harness(set);
    await h.settle();
    for (const tag of ["a", "b", "c"]) {
      h.api.edit("default", "web", (s) => {
        s.spec!.template.spec!.containers[0]!.image = `nginx:${tag}`;
      });
      await h.settle();
    }
    // The current one plus one historic revision.
    assert.deepEqual(h.revisions.all().map((r) => r.revision).sort(), [3, 4]);
  });
});

describe("StatefulSet control: persistentVolumeClaimRetentionPolicy", () => {
  it("whenDeleted Delete: claims are owned by the set", async () => {
    const set = newStatefulSet("web", 1);
    set.spec!.persistentVolumeClaimRetentionPolicy = { whenDeleted: "Delete", whenScaled: "Retain" };
    const h = harness(set);
    await h.settle();
    const refs = h.objects.getClaim("default", "data-web-0")?.metadata?.ownerReferences;
    assert.deepEqual(refs, [{ apiVersion: "apps/v1", kind: "StatefulSet", name: "web", uid: set.metadata!.uid, controller: true, blockOwnerDeletion: true }]);
  });

  it("whenScaled Delete: a scaled-down pod's claim is owned by the pod before it goes", async () => {
    const set = newStatefulSet("web", 2);
    set.spec!.persistentVolumeClaimRetentionPolicy = { whenDeleted: "Retain", whenScaled: "Delete" };
    const h = harness(set);
    await h.settle();
    assert.equal(h.objects.getClaim("default", "data-web-1")?.metadata?.ownerReferences, undefined);
    const podUid = h.objects.getPod("default", "web-1")!.metadata!.uid;
    h.api.edit("default", "web", (s) => {
      s.spec!.replicas = 1;
    });
    await h.sync();
    assert.deepEqual(h.names(), ["web-0"]);
    const refs = h.objects.getClaim("default", "data-web-1")?.metadata?.ownerReferences;
    assert.deepEqual(refs, [{ apiVersion: "v1", kind: "Pod", name: "web-1", uid: podUid, controller: true, blockOwnerDeletion: true }]);
    assert.equal(h.objects.getClaim("default", "data-web-0")?.metadata?.ownerReferences, undefined);
  });
});
