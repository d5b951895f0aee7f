/**
 * The local-path provisioner's control loops over fake informers and a
 * fake API: which claims it provisions, the PV and events it makes, the
 * scheduler hand-back when the node is gone, and deleting released
 * volumes; and the StorageClass made at server start.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Node, PersistentVolume, PersistentVolumeClaim } from "kubernetes-types/core/v1.js";
import type { ObjectStore } from "../../apiserver/registry/object-store.js";
import type { KObject } from "../../apiserver/registry/types.js";
import type { RestClient } from "../../client/rest-client.js";
import { silentLogger } from "../../machinery/log.js";
import { alreadyExists, notFound } from "../../machinery/status-error.js";
import { fakeInformers } from "../volume/testing-informers.js";
import { LocalPathProvisionerController } from "./controller.js";
import { ensureLocalPathStorageClass, localPathStorageClass } from "./storage-class.js";

const PROVISIONER = "volume.kubernetes.io/storage-provisioner";
const SELECTED = "volume.kubernetes.io/selected-node";

function claim(annotations: Record<string, string>, o: { volumeName?: string; className?: string } = {}): PersistentVolumeClaim {
  return {
    metadata: { name: "data", namespace: "web", uid: "u1", annotations },
    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } }, storageClassName: o.className ?? "local-path", ...(o.volumeName ? { volumeName: o.volumeName } : {}) },
  };
}

const node: Node = { metadata: { name: "n1", labels: { "kubernetes.io/hostname": "n1" } } };

async function setup(objects: { claims?: PersistentVolumeClaim[]; volumes?: PersistentVolume[]; nodes?: Node[] }) {
  const ac = new AbortController();
  const inf = await fakeInformers(
    { persistentvolumeclaims: objects.claims ?? [], persistentvolumes: objects.volumes ?? [], storageclasses: [localPathStorageClass()], nodes: objects.nodes ?? [node] },
    ac.signal,
  );
  const created: PersistentVolume[] = [];
  const deleted: string[] = [];
  const claimUpdates: PersistentVolumeClaim[] = [];
  const events: string[] = [];
  const live = new Map((objects.volumes ?? []).map((v) => [v.metadata!.name!, v]));
  const ctrl = new LocalPathProvisionerController({
    rest: {} as RestClient,
    informers: inf.factory,
    storageDir: "/var/lib/skiff/storage",
    localNodeName: "server",
    fs: {
      makeDirectory: async () => assert.fail("no directory is made for another node"),
      removeDirectory: async () => assert.fail("no directory is removed on another node"),
    },
    api: {
      getVolume: async (n) => live.get(n),
      createVolume: async (pv) => {
        created.push(pv);
        return pv;
      },
      deleteVolume: async (n) => void deleted.push(n),
      updateClaim: async (pvc) => {
        claimUpdates.push(pvc);
        return pvc;
      },
    },
    events: { event: (o, kind, type, reason, note) => events.push(`${kind}/${o.metadata?.name} ${type} ${reason}: ${note}`) },
  });
  return { ctrl, created, deleted, claimUpdates, events, stop: () => ac.abort() };
}

describe("local-path provisioner controller", () => {
  it("provisions only unbound claims handed to it, WaitForFirstConsumer ones once a node is chosen", async () => {
    const s = await setup({});
    assert.equal(s.ctrl.shouldProvision(claim({})), false);
    assert.equal(s.ctrl.shouldProvision(claim({ [PROVISIONER]: "rancher.io/local-path" })), false);
    assert.equal(s.ctrl.shouldProvision(claim({ [PROVISIONER]: "rancher.io/local-path", [SELECTED]: "n1" })), true);
    assert.equal(s.ctrl.shouldProvision(claim({ "volume.beta.kubernetes.io/storage-provisioner": "rancher.io/local-path", [SELECTED]: "n1" })), true);
    assert.equal(s.ctrl.shouldProvision(claim({ [PROVISIONER]: "example.com/other", [SELECTED]: "n1" })), false);
    assert.equal(s.ctrl.shouldProvision(claim({ [PROVISIONER]: "rancher.io/local-path", [SELECTED]: "n1" }, { volumeName: "v" })), false);
    assert.throws(() => s.ctrl.shouldProvision(claim({ [PROVISIONER]: "rancher.io/local-path" }, { className: "gone" })), { message: 'storageclass.storage.k8s.io "gone" not found' });
    s.stop();
  });

  it("creates the PV pre-bound to the claim, with Provisioning and ProvisioningSucceeded events", async () => {
    const s = await setup({ claims: [claim({ [PROVISIONER]: "rancher.io/local-path", [SELECTED]: "n1" })] });
    await s.ctrl.syncClaim("web/data");
    assert.equal(s.created.length, 1);
    const pv = s.created[0]!;
    assert.equal(pv.metadata?.name, "pvc-u1");
    assert.equal(pv.metadata?.annotations?.["pv.kubernetes.io/provisioned-by"], "rancher.io/local-path");
    assert.equal(pv.metadata?.annotations?.["local.path.provisioner/selected-node"], "n1");
    assert.deepEqual(pv.spec?.claimRef, { kind: "PersistentVolumeClaim", namespace: "web", name: "data", uid: "u1", apiVersion: "v1", resourceVersion: "1" });
    assert.equal(pv.spec?.storageClassName, "local-path");
    assert.equal(pv.spec?.hostPath?.path, "/var/lib/skiff/storage/pvc-u1_web_data");
    assert.deepEqual(s.events, [
      'PersistentVolumeClaim/data Normal Provisioning: External provisioner is provisioning volume for claim "web/data"',
      "PersistentVolumeClaim/data Normal ProvisioningSucceeded: Successfully provisioned volume pvc-u1",
    ]);
    s.stop();
  });

  it("gives the claim back to the scheduler when the chosen node is gone", async () => {
    const s = await setup({ claims: [claim({ [PROVISIONER]: "rancher.io/local-path", [SELECTED]: "gone" })] });
    await s.ctrl.syncClaim("web/data");
    assert.deepEqual(s.created, []);
    assert.equal(s.claimUpdates.length, 1);
    assert.equal(s.claimUpdates[0]!.metadata?.annotations?.[SELECTED], undefined);
    assert.equal(s.claimUpdates[0]!.metadata?.annotations?.[PROVISIONER], "rancher.io/local-path");
    assert.deepEqual(s.events, ['PersistentVolumeClaim/data Warning ProvisioningFailed: nodes "gone" not found']);
    s.stop();
  });

  it("a claim it cannot serve: ProvisioningFailed naming the class, and an error to retry", async () => {
    const bad = claim({ [PROVISIONER]: "rancher.io/local-path", [SELECTED]: "n1" });
    bad.spec = { ...bad.spec, accessModes: ["ReadWriteMany"] };
    const s = await setup({ claims: [bad] });
    await assert.rejects(s.ctrl.syncClaim("web/data"));
    assert.equal(
      s.events.at(-1),
      'PersistentVolumeClaim/data Warning ProvisioningFailed: failed to provision volume with StorageClass "local-path": NodePath only supports ReadWriteOnce and ReadWriteOncePod (1.22+) access modes',
    );
    s.stop();
  });

  it("deletes a Released volume of its own with policy Delete, saying the directory stays on the other node", async () => {
    const released = (name: string, o: { phase?: string; policy?: string; by?: string } = {}): PersistentVolume => ({
      metadata: { name, annotations: { "pv.kubernetes.io/provisioned-by": o.by ?? "rancher.io/local-path", "local.path.provisioner/selected-node": "n1" } },
      spec: {
        persistentVolumeReclaimPolicy: o.policy ?? "Delete",
        hostPath: { path: `/var/lib/skiff/storage/${name}_web_data`, type: "DirectoryOrCreate" },
        nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: ["n1"] }] }] } },
      },
      status: { phase: o.phase ?? "Released" },
    });
    const s = await setup({
      volumes: [released("pvc-a"), released("pvc-bound", { phase: "Bound" }), released("pvc-retain", { policy: "Retain" }), released("pvc-other", { by: "example.com/x" })],
    });
    for (const n of ["pvc-a", "pvc-bound", "pvc-retain", "pvc-other"]) await s.ctrl.syncVolume(n);
    assert.deepEqual(s.deleted, ["pvc-a"]);
    assert.deepEqual(s.events, [
      'PersistentVolume/pvc-a Warning VolumeDirectoryNotRemoved: the directory /var/lib/skiff/storage/pvc-a_web_data on node "n1" was not removed: skiff\'s local-path provisioner removes directories only on the server\'s own node; remove it on that node',
    ]);
    s.stop();
  });
});

describe("the local-path StorageClass", () => {
  it("is created as k3s's when missing, and left alone when present", async () => {
    const stored = new Map<string, KObject>();
    const store = {
      async get(_ns: string | undefined, name: string) {
        const o = stored.get(name);
        if (!o) throw notFound({ group: "storage.k8s.io", resource: "storageclasses" }, name);
        return o;
      },
      async create(_ns: string | undefined, o: KObject) {
        if (stored.has(o.metadata!.name!)) throw alreadyExists({ group: "storage.k8s.io", resource: "storageclasses" }, o.metadata!.name!);
        stored.set(o.metadata!.name!, o);
        return o;
      },
    } as unknown as ObjectStore;
    await ensureLocalPathStorageClass(store, silentLogger);
    assert.deepEqual(stored.get("local-path"), {
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: { name: "local-path", annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
      provisioner: "rancher.io/local-path",
      volumeBindingMode: "WaitForFirstConsumer",
      reclaimPolicy: "Delete",
    });
    stored.set("local-path", { ...stored.get("local-path")!, reclaimPolicy: "Retain" });
    await ensureLocalPathStorageClass(store, silentLogger);
    assert.equal(stored.get("local-path")?.reclaimPolicy, "Retain");
  });
});
