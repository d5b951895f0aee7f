/**
 * The annotations and finalizers the storage controllers share with the
 * scheduler, the kubelet and external provisioners
 * (k8s.io/component-helpers/storage/volume, pkg/volume/util).
 */
import type { ObjectMeta } from "kubernetes-types/meta/v1.js";

export { AnnBindCompleted, AnnBoundByController, AnnSelectedNode, BetaStorageClassAnnotation, LabelHostname } from "../../scheduler/plugins/volume-binding/pv-helpers.js";

/** On a PV: the provisioner (in-tree plugin or external) that made it. */
export const AnnDynamicallyProvisioned = "pv.kubernetes.io/provisioned-by";
/** On a claim: the provisioner asked to provision it (set by the PV controller). */
export const AnnStorageProvisioner = "volume.kubernetes.io/storage-provisioner";
/** The deprecated twin of {@link AnnStorageProvisioner}, still written beside it. */
export const AnnBetaStorageProvisioner = "volume.beta.kubernetes.io/storage-provisioner";
/** Marks the default StorageClass. */
export const IsDefaultStorageClassAnnotation = "storageclass.kubernetes.io/is-default-class";
export const BetaIsDefaultStorageClassAnnotation = "storageclass.beta.kubernetes.io/is-default-class";

/** Added to every claim at create (StorageObjectInUseProtection admission); removed once no pod uses it. */
export const PVCProtectionFinalizer = "kubernetes.io/pvc-protection";
/** Added to every PV at create; removed once the PV is not Bound. */
export const PVProtectionFinalizer = "kubernetes.io/pv-protection";

/** metav1.HasAnnotation: the key is present, whatever its value. */
export function hasAnnotation(meta: ObjectMeta | undefined, key: string): boolean {
  const ann = meta?.annotations;
  return !!ann && Object.hasOwn(ann, key);
}
