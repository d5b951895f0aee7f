import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findResource } from "../../api/resources.js";
import type { KObject } from "../registry/types.js";
import type { AdmissionAttributes, Operation } from "./admission.js";
import { storageObjectInUseProtection } from "./storage-object-in-use-protection.js";

const pvcRes = findResource("", "v1", "persistentvolumeclaims")!;
const pvRes = findResource("", "v1", "persistentvolumes")!;

function attrs(op: Operation, resource: typeof pvcRes, object: KObject | undefined, extra: Partial<AdmissionAttributes> = {}): AdmissionAttributes {
  return {
    operation: op,
    resource,
    subresource: "",
    namespace: resource.namespaced ? "default" : "",
    name: "x",
    object,
    user: { username: "u", groups: [] },
    dryRun: false,
    ...extra,
  };
}

describe("StorageObjectInUseProtection admission", () => {
  const plugin = storageObjectInUseProtection();

  it("adds kubernetes.io/pvc-protection to a new claim, keeping its own finalizers", async () => {
    const pvc: KObject = { metadata: { name: "x", finalizers: ["example.com/keep"] }, spec: {} };
    await plugin.admit!(attrs("CREATE", pvcRes, pvc));
    assert.deepEqual(pvc.metadata?.finalizers, ["example.com/keep", "kubernetes.io/pvc-protection"]);
  });

  it("adds kubernetes.io/pv-protection to a new volume", async () => {
    const pv: KObject = { metadata: { name: "x" }, spec: {} };
    await plugin.admit!(attrs("CREATE", pvRes, pv));
    assert.deepEqual(pv.metadata?.finalizers, ["kubernetes.io/pv-protection"]);
  });

  it("is idempotent", async () => {
    const pvc: KObject = { metadata: { name: "x", finalizers: ["kubernetes.io/pvc-protection"] } };
    await plugin.admit!(attrs("CREATE", pvcRes, pvc));
    await plugin.admit!(attrs("CREATE", pvcRes, pvc));
    assert.deepEqual(pvc.metadata?.finalizers, ["kubernetes.io/pvc-protection"]);
  });

  it("leaves updates, subresources and other resources alone", async () => {
    const pvc: KObject = { metadata: { name: "x" } };
    await plugin.admit!(attrs("UPDATE", pvcRes, pvc, { oldObject: { metadata: { name: "x" } } }));
    await plugin.admit!(attrs("CREATE", pvcRes, pvc, { subresource: "status" }));
    await plugin.admit!(attrs("CREATE", findResource("", "v1", "configmaps")!, pvc));
    assert.equal(pvc.metadata?.finalizers, undefined);
  });
});
