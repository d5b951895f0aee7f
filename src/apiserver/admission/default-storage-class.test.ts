import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { findResource } from "../../api/resources.js";
import { FakeClock } from "../../machinery/clock.js";
import { openMemoryStore } from "../../storage/backends/memory/memory-store.js";
import { ObjectStore } from "../registry/object-store.js";
import { strategyFor } from "../registry/strategies.js";
import type { KObject } from "../registry/types.js";
import type { AdmissionAttributes, AdmissionPlugin, Operation } from "./admission.js";
import { defaultStorageClass, getDefaultStorageClass } from "./default-storage-class.js";

const pvcRes = findResource("", "v1", "persistentvolumeclaims")!;
const scRes = findResource("storage.k8s.io", "v1", "storageclasses")!;

function attrs(op: Operation, object: KObject | undefined, extra: Partial<AdmissionAttributes> = {}): AdmissionAttributes {
  return { operation: op, resource: pvcRes, subresource: "", namespace: "default", name: "c", object, user: { username: "u", groups: [] }, dryRun: false, ...extra };
}
const pvc = (spec: Record<string, unknown> = {}, annotations?: Record<string, string>): KObject => ({
  apiVersion: "v1",
  kind: "PersistentVolumeClaim",
  metadata: { name: "c", namespace: "default", ...(annotations ? { annotations } : {}) },
  spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } }, ...spec },
});
const sc = (name: string, annotations: Record<string, string> = {}): KObject => ({
  apiVersion: "storage.k8s.io/v1",
  kind: "StorageClass",
  metadata: { name, annotations },
  provisioner: "example.com/p",
});
const classOf = (o: KObject) => (o.spec as { storageClassName?: string }).storageClassName;

describe("DefaultStorageClass admission", () => {
  let store: ReturnType<typeof openMemoryStore>;
  let clock: FakeClock;
  let classes: ObjectStore;
  let plugin: AdmissionPlugin;

  beforeEach(() => {
    store = openMemoryStore();
    clock = new FakeClock();
    classes = new ObjectStore({ store, resource: scRes, strategy: strategyFor(scRes), clock });
    plugin = defaultStorageClass({ storageClasses: classes });
  });
  afterEach(async () => {
    await store.close();
  });

  it("sets the default class on a claim that names none", async () => {
    await classes.create(undefined, sc("slow"));
    await classes.create(undefined, sc("standard", { "storageclass.kubernetes.io/is-default-class": "true" }));
    const c = pvc();
    await plugin.admit!(attrs("CREATE", c));
    assert.equal(classOf(c), "standard");
  });

  it("honours the beta default annotation", async () => {
    await classes.create(undefined, sc("beta", { "storageclass.beta.kubernetes.io/is-default-class": "true" }));
    const c = pvc();
    await plugin.admit!(attrs("CREATE", c));
    assert.equal(classOf(c), "beta");
  });

  it("only counts the value \"true\"", async () => {
    await classes.create(undefined, sc("no", { "storageclass.kubernetes.io/is-default-class": "false" }));
    const c = pvc();
    await plugin.admit!(attrs("CREATE", c));
    assert.equal(classOf(c), undefined);
  });

  it("picks the newest default, then the first name, when several are marked", async () => {
    const def = { "storageclass.kubernetes.io/is-default-class": "true" };
    await classes.create(undefined, sc("old", def));
    clock.advance(5000);
    await classes.create(undefined, sc("zeta", def));
    await classes.create(undefined, sc("new-b", def));
    const c = pvc();
    await plugin.admit!(attrs("CREATE", c));
    assert.equal(classOf(c), "new-b");
    assert.equal((await getDefaultStorageClass(classes))?.metadata?.name, "new-b");
  });

  it("leaves the claim unset when no class is default", async () => {
    await classes.create(undefined, sc("slow"));
    const c = pvc();
    await plugin.admit!(attrs("CREATE", c));
    assert.equal(classOf(c), undefined);
  });

  it("does not touch a claim that names a class, even \"\", or uses the beta annotation", async () => {
    await classes.create(undefined, sc("standard", { "storageclass.kubernetes.io/is-default-class": "true" }));
    const named = pvc({ storageClassName: "fast" });
    const empty = pvc({ storageClassName: "" });
    const beta = pvc({}, { "volume.beta.kubernetes.io/storage-class": "fast" });
    for (const c of [named, empty, beta]) await plugin.admit!(attrs("CREATE", c));
    assert.equal(classOf(named), "fast");
    assert.equal(classOf(empty), "");
    assert.equal(classOf(beta), undefined);
  });

  it("acts only on CREATE of the claim itself", async () => {
    await classes.create(undefined, sc("standard", { "storageclass.kubernetes.io/is-default-class": "true" }));
    const c = pvc();
    await plugin.admit!(attrs("UPDATE", c, { oldObject: pvc() }));
    await plugin.admit!(attrs("CREATE", c, { subresource: "status" }));
    await plugin.admit!(attrs("CREATE", c, { resource: findResource("", "v1", "persistentvolumes")! }));
    assert.equal(classOf(c), undefined);
  });
});
