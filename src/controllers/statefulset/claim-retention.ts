/**
 * persistentVolumeClaimRetentionPolicy, as upstream's
 * stateful_set_utils.go: what a claim's ownerReferences should be so that
 * the garbage collector deletes it with the set (`whenDeleted: Delete`:
 * a controllerRef to the set) or with its scaled-down pod (`whenScaled:
 * Delete`: a controllerRef to the pod once it is out of range), and is
 * left alone under `Retain`. Claims with stale refs or another controller
 * are not touched.
 */
import type { StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy } from "kubernetes-types/apps/v1.js";
import type { PersistentVolumeClaim, Pod } from "kubernetes-types/core/v1.js";
import type { ObjectMeta, OwnerReference } from "kubernetes-types/meta/v1.js";
import type { Logger } from "../../machinery/log.js";
import { type GroupVersionKind, newControllerRef } from "../common/controller-ref.js";
import { podInOrdinalRange } from "./identity.js";
import { POD_GVK, STATEFUL_SET_GVK } from "./kinds.js";

export const RETAIN = "Retain";
export const DELETE = "Delete";

/** The set's policy; Retain for anything unset (`getPersistentVolumeClaimRetentionPolicy`). */
export function getPersistentVolumeClaimRetentionPolicy(set: StatefulSet): Required<StatefulSetPersistentVolumeClaimRetentionPolicy> {
  const p = set.spec?.persistentVolumeClaimRetentionPolicy;
  return { whenDeleted: p?.whenDeleted || RETAIN, whenScaled: p?.whenScaled || RETAIN };
}

/** Whether `ref` names `obj` by kind and name, whatever its uid (`matchesRef`). */
export function matchesRef(ref: OwnerReference, obj: ObjectMeta | undefined, gvk: GroupVersionKind): boolean {
  return ref.apiVersion === gvk.apiVersion && ref.kind === gvk.kind && ref.name === (obj?.name ?? "");
}

/** Whether `target` has an ownerReference to `owner`'s uid, controller or not (`hasOwnerRef`). */
export function hasOwnerRef(target: { metadata?: ObjectMeta }, owner: ObjectMeta | undefined): boolean {
  const uid = owner?.uid;
  return (target.metadata?.ownerReferences ?? []).some((r) => r.uid === uid);
}

/** Whether the claim refers to `obj` by kind and name with another uid: a predecessor's ref (`hasStaleOwnerRef`). */
export function hasStaleOwnerRef(target: PersistentVolumeClaim, obj: ObjectMeta | undefined, gvk: GroupVersionKind): boolean {
  for (const ref of target.metadata?.ownerReferences ?? []) {
    if (matchesRef(ref, obj, gvk)) return ref.uid !== (obj?.uid ?? "");
  }
  return false;
}

/**
 * Whether, under a deleting policy, the claim has a controller that is
 * neither the set nor the pod, or a stale ref to either (`hasUnexpectedController`).
 */
export function hasUnexpectedController(claim: PersistentVolumeClaim, set: StatefulSet, pod: Pod): boolean {
  const policy = getPersistentVolumeClaimRetentionPolicy(set);
  // Under Retain, other controllers managing the claims are no concern.
  if (policy.whenScaled === RETAIN && policy.whenDeleted === RETAIN) return false;
  for (const ref of claim.metadata?.ownerReferences ?? []) {
    if (matchesRef(ref, set.metadata, STATEFUL_SET_GVK)) {
      // A uid mismatch: pods were wrongly orphaned; leave the claim to the garbage collector.
      if (ref.uid !== set.metadata?.uid) return true;
      continue;
    }
    if (matchesRef(ref, pod.metadata, POD_GVK)) {
      if (ref.uid !== pod.metadata?.uid) return true;
      continue;
    }
    if (ref.controller === true) return true;
  }
  return false;
}

/** Whether the set or pod owns the claim without being its controller (`hasNonControllerOwner`). */
export function hasNonControllerOwner(claim: PersistentVolumeClaim, set: StatefulSet, pod: Pod): boolean {
  for (const ref of claim.metadata?.ownerReferences ?? []) {
    if ((ref.uid === set.metadata?.uid || ref.uid === pod.metadata?.uid) && ref.controller !== true) return true;
  }
  return false;
}

/**
 * Whether the claim's ownerReferences agree with the policy
 * (`isClaimOwnerUpToDate`); claims with stale refs, or with another
 * controller and no ref of ours, count as up to date so they are not
 * touched.
 */
export function isClaimOwnerUpToDate(logger: Logger, claim: PersistentVolumeClaim, set: StatefulSet, pod: Pod): boolean {
  if (hasStaleOwnerRef(claim, set.metadata, STATEFUL_SET_GVK) || hasStaleOwnerRef(claim, pod.metadata, POD_GVK)) return true;
  if (hasUnexpectedController(claim, set, pod)) {
    // Our refs next to another controller's must go; otherwise nothing is added on top of it.
    return !(hasOwnerRef(claim, set.metadata) || hasOwnerRef(claim, pod.metadata));
  }
  if (hasNonControllerOwner(claim, set, pod)) return false;
  const policy = getPersistentVolumeClaimRetentionPolicy(set);
  const onSet = hasOwnerRef(claim, set.metadata);
  const onPod = hasOwnerRef(claim, pod.metadata);
  const scaledDown = !podInOrdinalRange(pod, set);
  if (policy.whenScaled === RETAIN && policy.whenDeleted === DELETE) return onSet && !onPod;
  if (policy.whenScaled === DELETE && policy.whenDeleted === RETAIN) return !onSet && scaledDown === onPod;
  if (policy.whenScaled === DELETE && policy.whenDeleted === DELETE) return scaledDown !== onSet && scaledDown === onPod;
  if (!(policy.whenScaled === RETAIN && policy.whenDeleted === RETAIN)) {
    logger.error("Unknown policy, treating as Retain", { policy: JSON.stringify(set.spec?.persistentVolumeClaimRetentionPolicy) });
  }
  return !onSet && !onPod;
}

/** `refs` plus a controllerRef to `owner`, unless one to its uid is there (`addControllerRef`). */
function addControllerRef(refs: OwnerReference[], owner: ObjectMeta | undefined, gvk: GroupVersionKind): OwnerReference[] {
  if (refs.some((r) => r.uid === owner?.uid)) return refs;
  return [...refs, newControllerRef(owner, gvk)];
}

/**
 * Rewrites the claim's ownerReferences to match the policy
 * (`updateClaimOwnerRefForSetAndPod`): our refs are scrubbed, then the
 * set's and/or the pod's controllerRef added as the policy says (none
 * when another controller manages the claim).
 */
export function updateClaimOwnerRefForSetAndPod(logger: Logger, claim: PersistentVolumeClaim, set: StatefulSet, pod: Pod): void {
  const unexpectedController = hasUnexpectedController(claim, set, pod);
  let refs = (claim.metadata?.ownerReferences ?? []).filter((r) => !(matchesRef(r, set.metadata, STATEFUL_SET_GVK) || matchesRef(r, pod.metadata, POD_GVK)));
  if (!unexpectedController) {
    const policy = getPersistentVolumeClaimRetentionPolicy(set);
    const scaledDown = !podInOrdinalRange(pod, set);
    if (policy.whenScaled === RETAIN && policy.whenDeleted === DELETE) refs = addControllerRef(refs, set.metadata, STATEFUL_SET_GVK);
    else if (policy.whenScaled === DELETE && policy.whenDeleted === RETAIN) {
      if (scaledDown) refs = addControllerRef(refs, pod.metadata, POD_GVK);
    } else if (policy.whenScaled === DELETE && policy.whenDeleted === DELETE) {
      refs = scaledDown ? addControllerRef(refs, pod.metadata, POD_GVK) : addControllerRef(refs, set.metadata, STATEFUL_SET_GVK);
    } else if (!(policy.whenScaled === RETAIN && policy.whenDeleted === RETAIN)) {
      logger.error("Unknown policy, treating as Retain", { policy: JSON.stringify(set.spec?.persistentVolumeClaimRetentionPolicy) });
    }
  }
  const meta = (claim.metadata ??= {});
  if (refs.length > 0) meta.ownerReferences = refs;
  else delete meta.ownerReferences;
}
