/**
 * The local-path provisioner's volumes: the PV it writes, where it makes
 * and removes directories (only on the server's own node, for real in a
 * temporary storage directory), and the claims it refuses.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Node, PersistentVolumeClaim } from "kubernetes-types/core/v1.js";
import { LocalPathProvisioner, pathAndNodeOf } from "./provisioner.js";
import { localPathStorageClass } from "./storage-class.js";

const node = (name: string, hostname = name): Node => ({ metadata: { name, labels: { "kubernetes.io/hostname": hostname } } });

function claim(o: { accessModes?: string[]; annotations?: Record<string, string>; volumeMode?: string; request?: string | null; selector?: boolean } = {}): PersistentVolumeClaim {
  return {
    metadata: { name: "data", namespace: "web", uid: "1234", ...(o.annotations ? { annotations: o.annotations } : {}) },
    spec: {
      accessModes: o.accessModes ?? ["ReadWriteOnce"],
      ...(o.request === null ? {} : { resources: { requests: { storage: o.request ?? "2Gi" } } }),
      ...(o.volumeMode ? { volumeMode: o.volumeMode } : {}),
      ...(o.selector ? { selector: { matchLabels: { a: "b" } } } : {}),
      storageClassName: "local-path",
    },
  };
}

describe("local-path provisioner", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "skiff-localpath-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("writes a hostPath DirectoryOrCreate PV pinned to the node, and makes the directory 0777 on its own node", async () => {
    const p = new LocalPathProvisioner({ storageDir: join(dir, "storage"), localNodeName: "me" });
    const r = await p.provision({ storageClass: localPathStorageClass(), pvName: "pvc-1234", pvc: claim(), selectedNode: node("me", "me-host") });
    assert.ok(r.ok);
    const path = join(dir, "storage", "pvc-1234_web_data");
    assert.deepEqual(r.pv, {
      apiVersion: "v1",
      kind: "PersistentVolume",
      metadata: { name: "pvc-1234", annotations: { "local.path.provisioner/selected-node": "me" } },
      spec: {
        persistentVolumeReclaimPolicy: "Delete",
        accessModes: ["ReadWriteOnce"],
        volumeMode: "Filesystem",
        capacity: { storage: "2Gi" },
        hostPath: { path, type: "DirectoryOrCreate" },
        nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: ["me-host"] }] }] } },
      },
    });
    assert.equal(statSync(path).mode & 0o777, 0o777);
    writeFileSync(join(path, "file"), "data");
    assert.deepEqual(pathAndNodeOf(r.pv), { path, node: "me-host" });
    assert.deepEqual(await p.delete(r.pv), { removed: path });
    assert.equal(existsSync(path), false);
  });

  it("on another node makes nothing here and leaves the directory to that node", async () => {
    const made: string[] = [];
    const removed: string[] = [];
    const p = new LocalPathProvisioner({
      storageDir: "/var/lib/skiff/storage",
      localNodeName: "me",
      fs: { makeDirectory: async (x) => void made.push(x), removeDirectory: async (x) => void removed.push(x) },
    });
    const r = await p.provision({ storageClass: localPathStorageClass(), pvName: "pvc-1234", pvc: claim(), selectedNode: node("other") });
    assert.ok(r.ok);
    assert.deepEqual(await p.delete(r.pv), { leftOn: "other", path: "/var/lib/skiff/storage/pvc-1234_web_data" });
    assert.deepEqual([made, removed], [[], []]);
  });

  it("never removes a directory outside the storage directory", async () => {
    const p = new LocalPathProvisioner({ storageDir: join(dir, "storage"), localNodeName: "me" });
    const r = await p.provision({ storageClass: localPathStorageClass(), pvName: "pvc-9", pvc: claim(), selectedNode: node("me") });
    assert.ok(r.ok);
    const edited = structuredClone(r.pv);
    edited.spec!.hostPath!.path = dir;
    await assert.rejects(p.delete(edited), { message: `failed to delete volume pvc-9: ${dir} is not in the storage directory ${join(dir, "storage")}` });
    assert.equal(existsSync(dir), true);
  });

  it("a local volume type on its own node; refused elsewhere", async () => {
    const p = new LocalPathProvisioner({ storageDir: join(dir, "storage"), localNodeName: "me" });
    const local = claim({ annotations: { volumeType: "local" } });
    const here = await p.provision({ storageClass: localPathStorageClass(), pvName: "pvc-l", pvc: local, selectedNode: node("me") });
    assert.ok(here.ok);
    assert.deepEqual(here.pv.spec?.local, { path: join(dir, "storage", "pvc-l_web_data") });
    const there = await p.provision({ storageClass: localPathStorageClass(), pvName: "pvc-l", pvc: local, selectedNode: node("other") });
    assert.equal(there.ok, false);
    assert.match(!there.ok ? there.error : "", /^volumeType "local" needs its directory made on node "other"/);
  });

  it("refuses what local-path cannot serve, with its messages", async () => {
    const p = new LocalPathProvisioner({ storageDir: "/s" });
    const cls = localPathStorageClass();
    const err = async (pvc: PersistentVolumeClaim, n: Node | null = node("n")) => {
      const r = await p.provision({ storageClass: cls, pvName: "pvc-x", pvc, selectedNode: n ?? undefined });
      return r.ok ? "ok" : r.error;
    };
    assert.equal(await err(claim({ selector: true })), "claim.Spec.Selector is not supported");
    assert.equal(await err(claim({ accessModes: ["ReadWriteMany"] })), "NodePath only supports ReadWriteOnce and ReadWriteOncePod (1.22+) access modes");
    assert.equal(await err(claim(), null), "configuration error, no node was specified");
    assert.equal(await err(claim({ volumeMode: "Block" })), "local-path volumes are directories: volumeMode Block is not supported");
    assert.equal(await err(claim({ request: null })), "the claim requests no storage (spec.resources.requests.storage)");
    assert.equal(await err(claim({ annotations: { volumeType: "nfs" } })), 'failed to create persistent volume source: "nfs" is not a recognised volume type');
  });

  it("places a PV by its path and node affinity, with local-path's errors", () => {
    const base = { metadata: { name: "v" }, spec: { hostPath: { path: "/p" } } };
    assert.throws(() => pathAndNodeOf({ metadata: { name: "v" }, spec: {} }), { message: "failed to delete volume v: no path set" });
    assert.throws(() => pathAndNodeOf(base), { message: "failed to delete volume v: no NodeAffinity set" });
    assert.throws(() => pathAndNodeOf({ ...base, spec: { ...base.spec, nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] }] } } } }), {
      message: "failed to delete volume v: cannot find affinited node",
    });
  });
});
