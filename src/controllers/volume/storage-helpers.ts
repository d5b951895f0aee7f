/**
 * Claim, class and pod helpers the storage controllers share
 * (component-helpers/storage/volume, pkg/volume/util, v1.30).
 */
import type { ContainerStatus, PersistentVolumeClaim, Pod } from "kubernetes-types/core/v1.js";
import type { StorageClass } from "kubernetes-types/storage/v1.js";
import { parseTime } from "../common/time.js";
import { AnnSelectedNode, BetaIsDefaultStorageClassAnnotation, BetaStorageClassAnnotation, hasAnnotation, IsDefaultStorageClassAnnotation } from "./annotations.js";

export { claimClass, claimKey, volumeClass } from "../../scheduler/plugins/volume-binding/pv-helpers.js";

/** Reads StorageClasses (an informer is one). */
export interface ClassLister {
  get(name: string): StorageClass | undefined;
  list(): StorageClass[];
}

/** storagehelpers.PersistentVolumeClaimHasClass: the beta annotation, or spec.storageClassName set at all (even ""). */
export function claimHasClass(claim: PersistentVolumeClaim): boolean {
  if (hasAnnotation(claim.metadata, BetaStorageClassAnnotation)) return true;
  const name = claim.spec?.storageClassName;
  return name !== undefined && name !== null;
}

/** storageutil.IsDefaultAnnotation. */
export function isDefaultClass(cls: StorageClass): boolean {
  const ann = cls.metadata?.annotations ?? {};
  return ann[IsDefaultStorageClassAnnotation] === "true" || ann[BetaIsDefaultStorageClassAnnotation] === "true";
}

/** util.GetDefaultClass: of the classes marked default, the newest (ties by name, ascending); undefined when none. */
export function getDefaultClass(classes: ClassLister): StorageClass | undefined {
  const defaults = classes.list().filter(isDefaultClass);
  defaults.sort((a, b) => {
    const ta = parseTime(a.metadata?.creationTimestamp);
    const tb = parseTime(b.metadata?.creationTimestamp);
    if (ta !== tb) return tb - ta;
    const na = a.metadata?.name ?? "";
    const nb = b.metadata?.name ?? "";
    return na < nb ? -1 : na > nb ? 1 : 0;
  });
  return defaults[0];
}

/**
 * storagehelpers.IsDelayBindingMode: whether a claim of class `className` binds
 * WaitForFirstConsumer. A missing class binds immediately. A class without
 * volumeBindingMode counts as Immediate, the default upstream's API server
 * writes into every StorageClass.
 */
export function isDelayBindingMode(classes: ClassLister, className: string): boolean {
  if (className === "") return false;
  const cls = classes.get(className);
  if (!cls) return false;
  return cls.volumeBindingMode === "WaitForFirstConsumer";
}

/** storagehelpers.IsDelayBindingProvisioning: the scheduler chose a node for the claim to be provisioned on. */
export function isDelayBindingProvisioning(claim: PersistentVolumeClaim): boolean {
  return hasAnnotation(claim.metadata, AnnSelectedNode);
}

function notRunning(statuses: readonly ContainerStatus[] | undefined): boolean {
  for (const s of statuses ?? []) {
    if (!s.state?.terminated && !s.state?.waiting) return false;
  }
  return true;
}

/** volumeutil.IsPodTerminated: the pod finished, or is being deleted with nothing running. */
export function isPodTerminated(pod: Pod): boolean {
  const phase = pod.status?.phase;
  if (phase === "Failed" || phase === "Succeeded") return true;
  return (
    !!pod.metadata?.deletionTimestamp &&
    notRunning(pod.status?.initContainerStatuses) &&
    notRunning(pod.status?.containerStatuses) &&
    notRunning(pod.status?.ephemeralContainerStatuses)
  );
}
