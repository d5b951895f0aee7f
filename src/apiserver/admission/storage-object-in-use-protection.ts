/**
 * StorageObjectInUseProtection, as upstream's
 * plugin/pkg/admission/storage/storageobjectinuseprotection: every new
 * PersistentVolumeClaim gets the `kubernetes.io/pvc-protection` finalizer and
 * every new PersistentVolume `kubernetes.io/pv-protection`, so neither goes
 * while in use (the protection controllers remove them once it is safe).
 */
import type { AdmissionPlugin } from "./admission.js";

export const PVC_PROTECTION_FINALIZER = "kubernetes.io/pvc-protection";
export const PV_PROTECTION_FINALIZER = "kubernetes.io/pv-protection";

export function storageObjectInUseProtection(): AdmissionPlugin {
  return {
    name: "StorageObjectInUseProtection",
    admit(a) {
      if (a.operation !== "CREATE" || a.subresource !== "" || a.resource.group !== "" || !a.object) return;
      const finalizer =
        a.resource.plural === "persistentvolumeclaims" ? PVC_PROTECTION_FINALIZER : a.resource.plural === "persistentvolumes" ? PV_PROTECTION_FINALIZER : undefined;
      if (!finalizer) return;
      const meta = (a.object.metadata ??= {});
      const finalizers = Array.isArray(meta.finalizers) ? meta.finalizers : [];
      if (!finalizers.includes(finalizer)) meta.finalizers = [...finalizers, finalizer];
    },
  };
}
