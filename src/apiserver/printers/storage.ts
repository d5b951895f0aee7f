/**
 * Storage: persistentvolumes, persistentvolumeclaims and storageclasses
 * (upstream printPersistentVolume, printPersistentVolumeClaim, printStorageClass,
 * with the v1.30 VolumeAttributesClass column).
 */
import type { PersistentVolume, PersistentVolumeClaim } from "kubernetes-types/core/v1.js";
import type { StorageClass } from "kubernetes-types/storage/v1.js";
import { AGE, col, NAME } from "./columns.js";
import { DOC } from "./descriptions.js";
import { since } from "./format.js";
import { quantityString } from "./quantity.js";
import type { PrintContext, PrintedRow, Printer } from "./types.js";

/** v1.BetaStorageClassAnnotation: wins over spec.storageClassName. */
const BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class";
const IS_DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class";
const BETA_IS_DEFAULT_CLASS = "storageclass.beta.kubernetes.io/is-default-class";

/** helper.GetAccessModesAsString: RWO, ROX, RWX, RWOP in that order, each once. */
export function accessModesString(modes: readonly string[] | null | undefined): string {
  const m = new Set(modes ?? []);
  const out: string[] = [];
  if (m.has("ReadWriteOnce")) out.push("RWO");
  if (m.has("ReadOnlyMany")) out.push("ROX");
  if (m.has("ReadWriteMany")) out.push("RWX");
  if (m.has("ReadWriteOncePod")) out.push("RWOP");
  return out.join(",");
}

export const persistentVolumePrinter: Printer = {
  columns: [
    NAME,
    col("Capacity", "string", DOC.pvCapacity),
    col("Access Modes", "string", DOC.pvAccessModes),
    col("Reclaim Policy", "string", DOC.pvReclaim),
    col("Status", "string", DOC.pvPhase),
    col("Claim", "string", DOC.pvClaimRef),
    col("StorageClass", "string", "StorageClass of the pv"),
    col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
    col("Reason", "string", DOC.pvReason),
    AGE,
    col("VolumeMode", "string", DOC.pvVolumeMode, true),
  ],
  print(obj: object, ctx: PrintContext): PrintedRow {
    const pv = obj as PersistentVolume;
    const ref = pv.spec?.claimRef;
    const claim = ref ? `${ref.namespace ?? ""}/${ref.name ?? ""}` : "";
    const annotations = pv.metadata?.annotations ?? {};
    const storageClass = BETA_STORAGE_CLASS in annotations ? annotations[BETA_STORAGE_CLASS]! : (pv.spec?.storageClassName ?? "");
    // Defaults applied on create: reclaim policy Retain, volume mode Filesystem, phase Pending.
    const phase = pv.metadata?.deletionTimestamp ? "Terminating" : (pv.status?.phase ?? "Pending");
    return {
      cells: [
        pv.metadata?.name ?? "",
        quantityString(pv.spec?.capacity?.storage),
        accessModesString(pv.spec?.accessModes),
        pv.spec?.persistentVolumeReclaimPolicy ?? "Retain",
        phase,
        claim,
        storageClass,
        pv.spec?.volumeAttributesClassName ?? "<unset>",
        pv.status?.reason ?? "",
        since(pv.metadata?.creationTimestamp, ctx.now),
        pv.spec?.volumeMode ?? "Filesystem",
      ],
    };
  },
};

export const persistentVolumeClaimPrinter: Printer = {
  columns: [
    NAME,
    col("Status", "string", DOC.pvcPhase),
    col("Volume", "string", DOC.pvcVolumeName),
    col("Capacity", "string", DOC.pvcCapacity),
    col("Access Modes", "string", DOC.pvcAccessModes),
    col("StorageClass", "string", "StorageClass of the pvc"),
    col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
    AGE,
    col("VolumeMode", "string", DOC.pvcVolumeMode, true),
  ],
  print(obj: object, ctx: PrintContext): PrintedRow {
    const pvc = obj as PersistentVolumeClaim;
    const phase = pvc.metadata?.deletionTimestamp ? "Terminating" : (pvc.status?.phase ?? "Pending");
    const volumeName = pvc.spec?.volumeName ?? "";
    let capacity = "";
    let accessModes = "";
    // Capacity and access modes are those of the bound volume, shown once bound.
    if (volumeName !== "") {
      accessModes = accessModesString(pvc.status?.accessModes);
      capacity = quantityString(pvc.status?.capacity?.storage);
    }
    const annotations = pvc.metadata?.annotations ?? {};
    const storageClass = BETA_STORAGE_CLASS in annotations ? annotations[BETA_STORAGE_CLASS]! : (pvc.spec?.storageClassName ?? "");
    return {
      cells: [
        pvc.metadata?.name ?? "",
        phase,
        volumeName,
        capacity,
        accessModes,
        storageClass,
        pvc.spec?.volumeAttributesClassName ?? "<unset>",
        since(pvc.metadata?.creationTimestamp, ctx.now),
        pvc.spec?.volumeMode ?? "Filesystem",
      ],
    };
  },
};

/** storageutil.IsDefaultAnnotation. */
function isDefaultClass(annotations: Record<string, string> | undefined): boolean {
  return annotations?.[IS_DEFAULT_CLASS] === "true" || annotations?.[BETA_IS_DEFAULT_CLASS] === "true";
}

export const storageClassPrinter: Printer = {
  columns: [
    NAME,
    col("Provisioner", "string", DOC.scProvisioner),
    col("ReclaimPolicy", "string", DOC.scReclaim),
    col("VolumeBindingMode", "string", DOC.scBinding),
    col("AllowVolumeExpansion", "string", DOC.scExpansion),
    AGE,
  ],
  print(obj: object, ctx: PrintContext): PrintedRow {
    const sc = obj as StorageClass;
    let name = sc.metadata?.name ?? "";
    if (isDefaultClass(sc.metadata?.annotations)) name += " (default)";
    return {
      cells: [
        name,
        sc.provisioner ?? "",
        sc.reclaimPolicy ?? "Delete",
        sc.volumeBindingMode ?? "Immediate",
        sc.allowVolumeExpansion ?? false,
        since(sc.metadata?.creationTimestamp, ctx.now),
      ],
    };
  },
};
