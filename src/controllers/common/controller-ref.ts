/**
 * ControllerRefs: the one ownerReference with `controller: true` that says
 * which controller manages an object (upstream's `metav1.GetControllerOf`
 * and `metav1.NewControllerRef`).
 */
import type { ObjectReference } from "kubernetes-types/core/v1.js";
import type { ObjectMeta, OwnerReference } from "kubernetes-types/meta/v1.js";
import type { KubeObject } from "../../client/resource-client.js";

/** A kind as controllers name their own: `apps/v1` + `ReplicaSet`. */
export interface GroupVersionKind {
  readonly apiVersion: string;
  readonly kind: string;
}

/** The controllerRef of `obj`, if it has one. */
export function getControllerOf(obj: KubeObject | { metadata?: ObjectMeta }): OwnerReference | undefined {
  return obj.metadata?.ownerReferences?.find((r) => r.controller === true);
}

/** A controllerRef to `owner` (controller and blockOwnerDeletion set, as upstream's `NewControllerRef`). */
export function newControllerRef(owner: ObjectMeta | undefined, gvk: GroupVersionKind): OwnerReference {
  return {
    apiVersion: gvk.apiVersion,
    kind: gvk.kind,
    name: owner?.name ?? "",
    uid: owner?.uid ?? "",
    controller: true,
    blockOwnerDeletion: true,
  };
}

/**
 * The ObjectReference events about `owner` point at. Objects from a list
 * carry no apiVersion/kind of their own, so the controller supplies them
 * (upstream fills them from its scheme).
 */
export function ownerReference(owner: ObjectMeta | undefined, gvk: GroupVersionKind): ObjectReference {
  const ref: ObjectReference = { apiVersion: gvk.apiVersion, kind: gvk.kind };
  if (owner?.namespace) ref.namespace = owner.namespace;
  if (owner?.name) ref.name = owner.name;
  if (owner?.uid) ref.uid = owner.uid;
  if (owner?.resourceVersion) ref.resourceVersion = owner.resourceVersion;
  return ref;
}
