/**
 * The PV controller's state machines, after upstream's binder_test.go,
 * delete_test.go, recycle_test.go and provision_test.go: each case seeds
 * objects, runs one sync and checks the stored objects and events.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { harness, newClaim, newClass, newVolume } from "./testing.js";
import { accessModesAsString, findBestMatchForClaim } from "./volume-index.js";

const BIND_COMPLETED = "pv.kubernetes.io/bind-completed";
const BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller";
const SELECTED_NODE = "volume.kubernetes.io/selected-node";
const PROVISIONER = "volume.kubernetes.io/storage-provisioner";
const BETA_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner";
const PROVISIONED_BY = "pv.kubernetes.io/provisioned-by";

function podUsing(name: string, claim: string, nodeName?: string): Pod {
  return {
    metadata: { name, namespace: "default", uid: `uid-${name}` },
    spec: { containers: [{ name: "c", image: "i" }], volumes: [{ name: "v", persistentVolumeClaim: { claimName: claim } }], ...(nodeName ? { nodeName } : {}) },
    status: { phase: "Pending" },
  };
}

describe("PV controller: unbound claims (binder_test set 1)", () => {
  it("1-1 binds a claim to a matching available volume, both ways", async () => {
    const h = harness({ volumes: [newVolume("volume1-1", "1Gi")], claims: [newClaim("claim1-1", "1Gi")] });
    await h.ctrl.syncClaim(h.claim("claim1-1")!);
    const pv = h.volume("volume1-1")!;
    assert.equal(pv.spec?.claimRef?.name, "claim1-1");
    assert.equal(pv.spec?.claimRef?.uid, "uid-claim1-1");
    assert.equal(pv.metadata?.annotations?.[BOUND_BY_CONTROLLER], "yes");
    assert.equal(pv.status?.phase, "Bound");
    const pvc = h.claim("claim1-1")!;
    assert.equal(pvc.spec?.volumeName, "volume1-1");
    assert.equal(pvc.metadata?.annotations?.[BOUND_BY_CONTROLLER], "yes");
    assert.equal(pvc.metadata?.annotations?.[BIND_COMPLETED], "yes");
    assert.equal(pvc.status?.phase, "Bound");
    assert.deepEqual(pvc.status?.capacity, { storage: "1Gi" });
    assert.deepEqual(pvc.status?.accessModes, ["ReadWriteOnce"]);
    // Volume first, then claim, as upstream's bind().
    assert.deepEqual(h.api.writes, ["update pv volume1-1", "status pv volume1-1 Bound", "update pvc default/claim1-1", "status pvc default/claim1-1 Bound"]);
  });

  it("1-2 no volume and no class: Pending with FailedBinding", async () => {
    const h = harness({ volumes: [newVolume("small", "1Mi")], claims: [newClaim("claim1-2", "1Gi", { phase: "" })] });
    await h.ctrl.syncClaim(h.claim("claim1-2")!);
    assert.equal(h.claim("claim1-2")?.status?.phase, "Pending");
    assert.equal(h.volume("small")?.spec?.claimRef, undefined);
    assert.deepEqual(h.events, [{ kind: "PersistentVolumeClaim", name: "claim1-2", type: "Normal", reason: "FailedBinding", note: "no persistent volumes available for this claim and no storage class is set" }]);
  });

  it("1-3 picks the smallest volume that fits", async () => {
    const h = harness({ volumes: [newVolume("big", "10Gi"), newVolume("fits", "2Gi"), newVolume("tiny", "500Mi")], claims: [newClaim("c", "1Gi")] });
    await h.ctrl.syncClaim(h.claim("c")!);
    assert.equal(h.claim("c")?.spec?.volumeName, "fits");
  });

  it("prefers the volume with the fewest extra access modes over a smaller one", async () => {
    const h = harness({
      volumes: [newVolume("rwo-rwx", "1Gi", { accessModes: ["ReadWriteMany", "ReadWriteOnce"] }), newVolume("rwo", "10Gi")],
      claims: [newClaim("c", "1Gi")],
    });
    await h.ctrl.syncClaim(h.claim("c")!);
    assert.equal(h.claim("c")?.spec?.volumeName, "rwo");
  });

  it("skips volumes of another class, another volume mode, or not matching the selector", async () => {
    const h = harness({
      volumes: [
        newVolume("gold", "1Gi", { storageClassName: "gold" }),
        newVolume("block", "1Gi", { volumeMode: "Block" }),
        newVolume("unlabelled", "1Gi"),
        newVolume("pending", "1Gi", { labels: { tier: "db" }, phase: "Pending" }),
        newVolume("labelled", "5Gi", { labels: { tier: "db" } }),
      ],
      claims: [newClaim("c", "1Gi", { selector: { matchLabels: { tier: "db" } } })],
    });
    await h.ctrl.syncClaim(h.claim("c")!);
    assert.equal(h.claim("c")?.spec?.volumeName, "labelled");
  });

  it("an unparsable selector is an error naming the claim", async () => {
    const h = harness({ volumes: [newVolume("v", "1Gi")], claims: [newClaim("c", "1Gi", { selector: { matchExpressions: [{ key: "a", operator: "Bogus" }] } })] });
    await assert.rejects(h.ctrl.syncClaim(h.claim("c")!), /^Error: error finding PV for claim "default\/c": /);
  });

  it("binds a volume pre-bound to the claim even when it is not Available", async () => {
    const h = harness({
      volumes: [newVolume("pre", "1Gi", { claim: { name: "c" }, phase: "Pending" }), newVolume("other", "1Gi")],
      claims: [newClaim("c", "1Gi")],
    });
    await h.ctrl.syncClaim(h.claim("c")!);
    assert.equal(h.claim("c")?.spec?.volumeName, "pre");
    const pv = h.volume("pre")!;
    assert.equal(pv.spec?.claimRef?.uid, "uid-c");
    // The user bound it: the controller does not claim to have.
    assert.equal(pv.metadata?.annotations?.[BOUND_BY_CONTROLLER], undefined);
  });

  it("a claim of a default-less cluster with no class gets the default class assigned later", async () => {
    const h = harness({ claims: [newClaim("c", "1Gi")], classes: [newClass("local-path", "rancher.io/local-path", { isDefault: true, mode: "WaitForFirstConsumer" })] });
    await h.ctrl.syncClaim(h.claim("c")!);
    assert.equal(h.claim("c")?.spec?.storageClassName, "local-path");
    assert.deepEqual(h.events, []);
  });

  it("the newest default class wins, ties by name", async () => {
    const h = harness({
      claims: [newClaim("c", "1Gi")],
      classes: [
        newClass("b", "x.io/p", { isDefault: true, created: "2024-02-01T00:00:00Z" }),
        newClass("a", "x.io/p", { isDefault: true, created: "2024-02-01T00:00:00Z" }),
        newClass("old", "x.io/p", { isDefault: true, created: "2023-01-01T00:00:00Z" }),
      ],
    });
    await h.ctrl.syncClaim(h.claim("c")!);
    assert.equal(h.claim("c")?.spec?.storageClassName, "a");
  });
});

describe("PV controller: claims asking for a volume (binder_test set 2)", () => {
  it("2-1 the volume does not exist: Pending, retried later", async () => {
    const h = harness({ claims: [newClaim("c", "1Gi", { volumeName: "missing", phase: "" })] });
    await h.ctrl.syncClaim(h.claim("c")!);
    assert.equal(h.claim("c")?.status?.phase, "Pending");
    assert.deepEqual(h.events, []);
  });

  it("2-2 the volume is free: bound, not marked bound-by-controller on the claim", async () => {
    const h = harness({ volumes: [newVolume("v", "1Gi")], claims: [newClaim("c", "1Gi", { volumeName: "v" })] });
    await h.ctrl.syncClaim(h.claim("c")!);
    const pvc = h.claim("c")!;
    assert.equal(pvc.status?.phase, "Bound");
    assert.equal(pvc.metadata?.annotations?.[BOUND_BY_CONTROLLER], undefined);
    assert.equal(pvc.metadata?.annotations?.[BIND_COMPLETED], "yes");
    assert.equal(h.volume("v")?.metadata?.annotations?.[BOUND_BY_CONTROLLER], "yes");
  });

  it("2-x the requested volume is too small: VolumeMismatch, Pending", async () => {
    const h = harness({ volumes: [newVolume("v", "1Mi")], claims: [newClaim("c", "1Gi", { volumeName: "v" })] });
    await h.ctrl.syncClaim(h.claim("c")!);
    assert.equal(h.claim("c")?.status?.phase, "Pending");
    assert.deepEqual(h.events.map((e) => [e.type, e.reason, e.note]), [["Warning", "VolumeMismatch", 'Cannot bind to requested volume "v": requested PV is too small']]);
  });

  it("2-3 the volume is bound to another claim by a user: FailedBinding, Pending", async () => {
    const h = harness({ volumes: [newVolume("v", "1Gi", { claim: { name: "other", uid: "uid-other" }, phase: "Bound" })], claims: [newClaim("c", "1Gi", { volumeName: "v" })] });
    await h.ctrl.syncClaim(h.claim("c")!);
    assert.equal(h.claim("c")?.status?.phase, "Pending");
    assert.deepEqual(h.events.map((e) => [e.type, e.reason, e.note]), [["Warning", "FailedBinding", 'volume "v" already bound to a different claim.']]);
  });
});

describe("PV controller: bound claims (binder_test set 3)", () => {
  const bound = { volumeName: "v", phase: "Bound", annotations: { [BIND_COMPLETED]: "yes" } };

  it("3-1 the volume is gone: Lost with ClaimLost, once", async () => {
    const h = harness({ claims: [newClaim("c", "1Gi", bound)] });
    await h.ctrl.syncClaim(h.claim("c")!);
    assert.equal(h.claim("c")?.status?.phase, "Lost");
    await h.ctrl.syncClaim(h.claim("c")!);
    assert.deepEqual(h.events.map((e) => [e.type, e.reason, e.note]), [["Warning", "ClaimLost", "Bound claim has lost its PersistentVolume. Data on the volume is lost!"]]);
  });

  it("3-2 the claim lost its volumeName: Lost", async () => {
    const h = harness({ claims: [newClaim("c", "1Gi", { ...bound, volumeName: undefined })] });
    await h.ctrl.syncClaim(h.claim("c")!);
    assert.equal(h.claim("c")?.status?.phase, "Lost");
    assert.equal(h.events[0]?.note, "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!");
  });

  it("3-3 the volume came unbound: bound again", async () => {
    const h = harness({ volumes: [newVolume("v", "1Gi")], claims: [newClaim("c", "1Gi", bound)] });
    await h.ctrl.syncClaim(h.claim("c")!);
    assert.equal(h.volume("v")?.spec?.claimRef?.uid, "uid-c");
    assert.equal(h.volume("v")?.status?.phase, "Bound");
  });

  it("3-4 everything bound: no writes", async () => {
    const h = harness({
      volumes: [newVolume("v", "1Gi", { claim: { name: "c", uid: "uid-c" }, phase: "Bound", annotations: { [BOUND_BY_CONTROLLER]: "yes" } })],
      claims: [newClaim("c", "1Gi", { ...bound, phase: "Bound" })],
    });
    const claim = h.claim("c")!;
    h.api.pvcs.set("default/c", { ...claim, status: { phase: "Bound", accessModes: ["ReadWriteOnce"], capacity: { storage: "1Gi" } } });
    h.ctrl.storeClaimUpdate(h.claim("c")!);
    await h.ctrl.syncClaim(h.claim("c")!);
    assert.deepEqual(h.api.writes, []);
  });

  it("3-5 the volume belongs to another claim: Lost with ClaimMisbound", async () => {
    const h = harness({ volumes: [newVolume("v", "1Gi", { claim: { name: "other", uid: "uid-other" }, phase: "Bound" })], claims: [newClaim("c", "1Gi", bound)] });
    await h.ctrl.syncClaim(h.claim("c")!);
    assert.equal(h.claim("c")?.status?.phase, "Lost");
    assert.deepEqual(h.events.map((e) => e.reason), ["ClaimMisbound"]);
  });
});

describe("PV controller: volumes (binder_test set 4, delete_test, recycle_test)", () => {
  it("4-1 an unused volume is Available", async () => {
    const h = harness({ volumes: [newVolume("v", "1Gi", { phase: "Pending" })] });
    await h.ctrl.syncVolume(h.volume("v")!);
    assert.equal(h.volume("v")?.status?.phase, "Available");
  });

  it("4-2 a volume pre-bound to a claim (no UID) is Available until the claim binds", async () => {
    const h = harness({ volumes: [newVolume("v", "1Gi", { claim: { name: "c" }, phase: "Pending" })] });
    await h.ctrl.syncVolume(h.volume("v")!);
    assert.equal(h.volume("v")?.status?.phase, "Available");
  });

  it("4-3 a volume whose claim is gone is Released; Retain keeps it", async () => {
    const h = harness({ volumes: [newVolume("v", "1Gi", { claim: { name: "gone", uid: "uid-gone" }, phase: "Bound" })] });
    await h.ctrl.syncVolume(h.volume("v")!);
    await h.ctrl.operations.idle();
    assert.equal(h.volume("v")?.status?.phase, "Released");
    assert.equal(h.volume("v")?.spec?.claimRef?.name, "gone");
  });

  it("4-4 a volume bound to a pending claim queues the claim", async () => {
    const h = harness({ volumes: [newVolume("v", "1Gi", { claim: { name: "c", uid: "uid-c" }, phase: "Bound" })], claims: [newClaim("c", "1Gi")] });
    await h.ctrl.syncVolume(h.volume("v")!);
    assert.deepEqual(h.queuedClaims, ["default/c"]);
  });

  it("4-5 bound both ways: the volume is Bound", async () => {
    const h = harness({
      volumes: [newVolume("v", "1Gi", { claim: { name: "c", uid: "uid-c" }, phase: "Available" })],
      claims: [newClaim("c", "1Gi", { volumeName: "v", phase: "Bound", annotations: { [BIND_COMPLETED]: "yes" } })],
    });
    await h.ctrl.syncVolume(h.volume("v")!);
    assert.equal(h.volume("v")?.status?.phase, "Bound");
  });

  it("4-6 bound by the controller to a claim bound elsewhere: unbound and Available", async () => {
    const h = harness({
      volumes: [newVolume("v", "1Gi", { claim: { name: "c", uid: "uid-c" }, phase: "Bound", annotations: { [BOUND_BY_CONTROLLER]: "yes" } })],
      claims: [newClaim("c", "1Gi", { volumeName: "elsewhere", phase: "Bound", annotations: { [BIND_COMPLETED]: "yes" } })],
    });
    await h.ctrl.syncVolume(h.volume("v")!);
    const pv = h.volume("v")!;
    assert.equal(pv.spec?.claimRef, undefined);
    assert.equal(pv.metadata?.annotations, undefined);
    assert.equal(pv.status?.phase, "Available");
  });

  it("4-7 pre-bound by a user to a claim bound elsewhere: keeps the name, loses the UID", async () => {
    const h = harness({
      volumes: [newVolume("v", "1Gi", { claim: { name: "c", uid: "uid-c" }, phase: "Bound" })],
      claims: [newClaim("c", "1Gi", { volumeName: "elsewhere", phase: "Bound", annotations: { [BIND_COMPLETED]: "yes" } })],
    });
    await h.ctrl.syncVolume(h.volume("v")!);
    assert.equal(h.volume("v")?.spec?.claimRef?.name, "c");
    assert.equal(h.volume("v")?.spec?.claimRef?.uid, undefined);
  });

  it("a claim re-created under the same name does not hold the old claim's volume", async () => {
    const h = harness({
      volumes: [newVolume("v", "1Gi", { claim: { name: "c", uid: "uid-old" }, phase: "Bound" })],
      claims: [newClaim("c", "1Gi", { uid: "uid-new" })],
    });
    await h.ctrl.syncVolume(h.volume("v")!);
    assert.equal(h.volume("v")?.status?.phase, "Released");
  });

  it("Delete of an externally provisioned volume is left to its provisioner", async () => {
    const h = harness({
      volumes: [newVolume("v", "1Gi", { claim: { name: "gone", uid: "uid-gone" }, phase: "Bound", reclaimPolicy: "Delete", annotations: { [PROVISIONED_BY]: "rancher.io/local-path" } })],
    });
    await h.ctrl.syncVolume(h.volume("v")!);
    await h.ctrl.operations.idle();
    assert.equal(h.volume("v")?.status?.phase, "Released");
    assert.deepEqual(h.events, []);
  });

  it("Delete of a static local volume fails: no deleter, VolumeFailedDelete", async () => {
    const h = harness({ volumes: [newVolume("v", "1Gi", { claim: { name: "gone", uid: "uid-gone" }, phase: "Bound", reclaimPolicy: "Delete" })] });
    await h.ctrl.syncVolume(h.volume("v")!);
    await h.ctrl.operations.idle();
    assert.equal(h.volume("v")?.status?.phase, "Failed");
    assert.equal(h.volume("v")?.status?.message, 'error getting deleter volume plugin for volume "v": no volume plugin matched');
    assert.deepEqual(h.events.map((e) => [e.type, e.reason]), [["Warning", "VolumeFailedDelete"]]);
  });

  it("Delete of a hostPath volume under /tmp removes the directory and the PV", async () => {
    const h = harness({
      volumes: [newVolume("v", "1Gi", { claim: { name: "gone", uid: "uid-gone" }, phase: "Bound", reclaimPolicy: "Delete", source: { hostPath: { path: "/tmp/skiff-pv-x" } } })],
    });
    await h.ctrl.syncVolume(h.volume("v")!);
    await h.ctrl.operations.idle();
    assert.deepEqual(h.removed, ["/tmp/skiff-pv-x"]);
    assert.equal(h.volume("v"), undefined);
  });

  it("Delete of a hostPath volume outside /tmp fails with the hostPath deleter's message", async () => {
    const h = harness({
      volumes: [newVolume("v", "1Gi", { claim: { name: "gone", uid: "uid-gone" }, phase: "Bound", reclaimPolicy: "Delete", source: { hostPath: { path: "/srv/data" } } })],
    });
    await h.ctrl.syncVolume(h.volume("v")!);
    await h.ctrl.operations.idle();
    assert.deepEqual(h.removed, []);
    assert.equal(h.volume("v")?.status?.message, "host_path deleter only supports /tmp/.+ but received provided /srv/data");
  });

  it("Recycle has no recycler: Failed with VolumeFailedRecycle", async () => {
    const h = harness({ volumes: [newVolume("v", "1Gi", { claim: { name: "gone", uid: "uid-gone" }, phase: "Bound", reclaimPolicy: "Recycle" })] });
    await h.ctrl.syncVolume(h.volume("v")!);
    await h.ctrl.operations.idle();
    assert.equal(h.volume("v")?.status?.phase, "Failed");
    assert.deepEqual(h.events.map((e) => [e.reason, e.note]), [["VolumeFailedRecycle", "No recycler plugin found for the volume!"]]);
  });

  it("an unknown reclaim policy: Failed with VolumeUnknownReclaimPolicy", async () => {
    const h = harness({ volumes: [newVolume("v", "1Gi", { claim: { name: "gone", uid: "uid-gone" }, phase: "Bound", reclaimPolicy: "Shred" })] });
    await h.ctrl.syncVolume(h.volume("v")!);
    assert.equal(h.volume("v")?.status?.phase, "Failed");
    assert.deepEqual(h.events.map((e) => [e.reason, e.note]), [["VolumeUnknownReclaimPolicy", "Volume has unrecognized PersistentVolumeReclaimPolicy"]]);
  });

  it("a dynamically provisioned volume whose claim bound elsewhere is released and deleted (by its provisioner)", async () => {
    const h = harness({
      volumes: [newVolume("v", "1Gi", { claim: { name: "c", uid: "uid-c" }, phase: "Bound", reclaimPolicy: "Delete", annotations: { [PROVISIONED_BY]: "rancher.io/local-path" } })],
      claims: [newClaim("c", "1Gi", { volumeName: "elsewhere", phase: "Bound", annotations: { [BIND_COMPLETED]: "yes" } })],
    });
    await h.ctrl.syncVolume(h.volume("v")!);
    assert.equal(h.volume("v")?.status?.phase, "Released");
  });
});

describe("PV controller: provisioning (provision_test)", () => {
  const wffc = newClass("local-path", "rancher.io/local-path", { mode: "WaitForFirstConsumer", isDefault: true });

  it("WaitForFirstConsumer without a pod: the WaitForFirstConsumer event, Pending", async () => {
    const h = harness({ claims: [newClaim("c", "1Gi", { storageClassName: "local-path", phase: "" })], classes: [wffc] });
    await h.ctrl.syncClaim(h.claim("c")!);
    assert.equal(h.claim("c")?.status?.phase, "Pending");
    assert.deepEqual(h.events.map((e) => [e.type, e.reason, e.note]), [["Normal", "WaitForFirstConsumer", "waiting for first consumer to be created before binding"]]);
    assert.equal(h.claim("c")?.metadata?.annotations?.[PROVISIONER], undefined);
  });

  it("WaitForFirstConsumer with unscheduled pods: WaitForPodScheduled names them", async () => {
    const h = harness({ claims: [newClaim("c", "1Gi", { storageClassName: "local-path" })], classes: [wffc], pods: [podUsing("p1", "c"), podUsing("p2", "c"), podUsing("on-node", "c", "n1")] });
    await h.ctrl.syncClaim(h.claim("c")!);
    assert.deepEqual(h.events.map((e) => [e.reason, e.note]), [["WaitForPodScheduled", "waiting for pods p1,p2 to be scheduled"]]);
    h.pods.splice(1, 1);
    h.events.length = 0;
    await h.ctrl.syncClaim(h.claim("c")!);
    assert.deepEqual(h.events.map((e) => e.note), ["waiting for pod p1 to be scheduled"]);
  });

  it("once the scheduler selected a node: the storage-provisioner annotations and ExternalProvisioning", async () => {
    const h = harness({ claims: [newClaim("c", "1Gi", { storageClassName: "local-path", annotations: { [SELECTED_NODE]: "n1" } })], classes: [wffc] });
    await h.ctrl.syncClaim(h.claim("c")!);
    await h.ctrl.operations.idle();
    const ann = h.claim("c")?.metadata?.annotations ?? {};
    assert.equal(ann[PROVISIONER], "rancher.io/local-path");
    assert.equal(ann[BETA_PROVISIONER], "rancher.io/local-path");
    assert.deepEqual(h.events.map((e) => [e.type, e.reason, e.note]), [
      [
        "Normal",
        "ExternalProvisioning",
        "Waiting for a volume to be created either by the external provisioner 'rancher.io/local-path' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.",
      ],
    ]);
  });

  it("an Immediate class is provisioned at once", async () => {
    const h = harness({ claims: [newClaim("c", "1Gi", { storageClassName: "fast" })], classes: [newClass("fast", "example.com/fast")] });
    await h.ctrl.syncClaim(h.claim("c")!);
    await h.ctrl.operations.idle();
    assert.equal(h.claim("c")?.metadata?.annotations?.[PROVISIONER], "example.com/fast");
  });

  it("a class that does not exist: ProvisioningFailed naming it, retried on later syncs", async () => {
    const h = harness({ claims: [newClaim("c", "1Gi", { storageClassName: "none" })] });
    await h.ctrl.syncClaim(h.claim("c")!);
    await h.ctrl.syncClaim(h.claim("c")!);
    assert.deepEqual(h.events.map((e) => [e.type, e.reason, e.note]), [
      ["Warning", "ProvisioningFailed", 'storageclass.storage.k8s.io "none" not found'],
      ["Warning", "ProvisioningFailed", 'storageclass.storage.k8s.io "none" not found'],
    ]);
  });

  it("an in-tree provisioner skiff lacks: ProvisioningFailed", async () => {
    const h = harness({ claims: [newClaim("c", "1Gi", { storageClassName: "manual" })], classes: [newClass("manual", "kubernetes.io/no-provisioner")] });
    await h.ctrl.syncClaim(h.claim("c")!);
    assert.deepEqual(h.events.map((e) => e.note), ["no volume plugin matched name: kubernetes.io/no-provisioner"]);
  });

  it("the provisioner's PV, pre-bound to the claim, is bound by the next claim sync", async () => {
    const h = harness({
      claims: [newClaim("c", "1Gi", { storageClassName: "local-path", annotations: { [SELECTED_NODE]: "n1", [PROVISIONER]: "rancher.io/local-path" } })],
      classes: [wffc],
      volumes: [
        newVolume("pvc-uid-c", "1Gi", {
          claim: { name: "c", uid: "uid-c" },
          storageClassName: "local-path",
          reclaimPolicy: "Delete",
          phase: "",
          annotations: { [PROVISIONED_BY]: "rancher.io/local-path" },
        }),
      ],
    });
    await h.ctrl.syncVolume(h.volume("pvc-uid-c")!);
    assert.deepEqual(h.queuedClaims, ["default/c"]);
    await h.ctrl.syncClaim(h.claim("c")!);
    const pvc = h.claim("c")!;
    assert.equal(pvc.spec?.volumeName, "pvc-uid-c");
    assert.equal(pvc.status?.phase, "Bound");
    assert.equal(pvc.metadata?.annotations?.[BIND_COMPLETED], "yes");
    assert.equal(h.volume("pvc-uid-c")?.status?.phase, "Bound");
  });
});

describe("PV controller: caches (storeObjectUpdate)", () => {
  it("an informer copy older than the controller's own write is not synced", async () => {
    const h = harness({ volumes: [newVolume("v", "1Gi")], claims: [newClaim("c", "1Gi")] });
    const stale = h.claim("c")!;
    await h.ctrl.syncClaim(stale);
    const writes = h.api.writes.length;
    await h.ctrl.updateClaim(stale);
    assert.equal(h.api.writes.length, writes);
  });

  it("a deleted claim queues its volume; a deleted volume queues its claim", () => {
    const h = harness();
    h.ctrl.deleteClaim(newClaim("c", "1Gi", { volumeName: "v" }));
    h.ctrl.deleteVolume(newVolume("v", "1Gi", { claim: { name: "c", uid: "u" } }));
    assert.deepEqual(h.queuedVolumes, ["v"]);
    assert.deepEqual(h.queuedClaims, ["default/c"]);
  });
});

describe("volume index", () => {
  it("names access modes in upstream's order", () => {
    assert.equal(accessModesAsString(["ReadWriteMany", "ReadWriteOncePod", "ReadWriteOnce", "ReadOnlyMany", "ReadWriteOnce"]), "RWO,ROX,RWX,RWOP");
    assert.equal(accessModesAsString(undefined), "");
  });

  it("with delayed binding only a pre-bound volume matches", () => {
    const claim = newClaim("c", "1Gi");
    assert.equal(findBestMatchForClaim([newVolume("free", "1Gi")], claim, true), undefined);
    assert.equal(findBestMatchForClaim([newVolume("free", "1Gi"), newVolume("pre", "1Gi", { claim: { name: "c" } })], claim, true)?.metadata?.name, "pre");
  });
});
