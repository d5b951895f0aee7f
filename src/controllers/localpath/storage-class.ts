/**
 * The `local-path` StorageClass every skiff cluster has, as k3s ships it
 * (its local-storage manifest): the default class, provisioned by
 * skiff's local-path provisioner under the name k3s uses
 * (`rancher.io/local-path`), binding when the first pod is scheduled, and
 * deleting a claim's directory with the claim. Created at server start when
 * missing; an existing class (edited or not) is left alone.
 */
import type { StorageClass } from "kubernetes-types/storage/v1.js";
import type { ObjectStore } from "../../apiserver/registry/object-store.js";
import type { KObject } from "../../apiserver/registry/types.js";
import type { Logger } from "../../machinery/log.js";
import { isAlreadyExists, isNotFound } from "../../machinery/status-error.js";

/** The provisioner name, as k3s's local-path-provisioner registers it. */
export const LOCAL_PATH_PROVISIONER = "rancher.io/local-path";
/** The class name, as in k3s. */
export const LOCAL_PATH_STORAGE_CLASS = "local-path";

/** The class as created. */
export function localPathStorageClass(): StorageClass {
  return {
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: { name: LOCAL_PATH_STORAGE_CLASS, annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
    provisioner: LOCAL_PATH_PROVISIONER,
    volumeBindingMode: "WaitForFirstConsumer",
    reclaimPolicy: "Delete",
  };
}

/** Creates the `local-path` StorageClass if missing; safe to call on every start and from several servers. */
export async function ensureLocalPathStorageClass(storageClasses: ObjectStore, log: Logger): Promise<void> {
  try {
    await storageClasses.get(undefined, LOCAL_PATH_STORAGE_CLASS);
    return;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  try {
    await storageClasses.create(undefined, localPathStorageClass() as unknown as KObject);
    log.info("created StorageClass", { name: LOCAL_PATH_STORAGE_CLASS, provisioner: LOCAL_PATH_PROVISIONER });
  } catch (err) {
    // Another server got there first.
    if (!isAlreadyExists(err)) throw err;
  }
}
