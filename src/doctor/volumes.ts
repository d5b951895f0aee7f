/**
 * Unbound PersistentVolumeClaims and why no volume matches: a StorageClass
 * that does not exist, WaitForFirstConsumer waiting for the pod, or no
 * PersistentVolume with the size/access modes/class asked for.
 */
import type { Event, PersistentVolume, PersistentVolumeClaim } from "kubernetes-types/core/v1.js";
import type { StorageClass } from "kubernetes-types/storage/v1.js";
import { describeEvent } from "./events.js";
import { quantityValue } from "./quantity.js";
import { type Finding, objectRef } from "./types.js";

const DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class";

/** The class a claim uses: its storageClassName, else the default class (when there is one), "" for none. */
export function claimClass(pvc: PersistentVolumeClaim, classes: readonly StorageClass[]): string {
  if (pvc.spec?.storageClassName !== undefined && pvc.spec.storageClassName !== null) return pvc.spec.storageClassName;
  const def = classes.find((c) => c.metadata?.annotations?.[DEFAULT_CLASS] === "true");
  return def?.metadata?.name ?? "";
}

/** Why one PV cannot bind this claim, or undefined when it could. */
export function pvMismatch(pv: PersistentVolume, pvc: PersistentVolumeClaim, className: string): string | undefined {
  const name = pv.metadata?.name;
  if (pv.spec?.claimRef && (pv.spec.claimRef.name !== pvc.metadata?.name || pv.spec.claimRef.namespace !== pvc.metadata?.namespace)) {
    return `${name} is already bound to ${pv.spec.claimRef.namespace}/${pv.spec.claimRef.name}`;
  }
  if (pv.status?.phase && pv.status.phase !== "Available" && pv.status.phase !== "Bound") return `${name} is ${pv.status.phase}`;
  if ((pv.spec?.storageClassName ?? "") !== className) return `${name} has class "${pv.spec?.storageClassName ?? ""}", not "${className}"`;
  const want = quantityValue(pvc.spec?.resources?.requests?.storage);
  const has = quantityValue(pv.spec?.capacity?.storage);
  if (want !== undefined && (has === undefined || has < want)) {
    return `${name} holds ${pv.spec?.capacity?.storage ?? "nothing"}, less than the ${pvc.spec?.resources?.requests?.storage} requested`;
  }
  const modes = pv.spec?.accessModes ?? [];
  const missing = (pvc.spec?.accessModes ?? []).filter((m) => !modes.includes(m));
  if (missing.length > 0) return `${name} does not offer ${missing.join(", ")} (it has ${modes.join(", ") || "none"})`;
  if ((pv.spec?.volumeMode ?? "Filesystem") !== (pvc.spec?.volumeMode ?? "Filesystem")) {
    return `${name} is volumeMode ${pv.spec?.volumeMode ?? "Filesystem"}, the claim wants ${pvc.spec?.volumeMode ?? "Filesystem"}`;
  }
  return undefined;
}

/** The finding for a claim that is not Bound; undefined when it is. */
export function diagnoseClaim(
  pvc: PersistentVolumeClaim,
  classes: readonly StorageClass[],
  pvs: readonly PersistentVolume[],
  claimEvents: readonly Event[],
): Finding | undefined {
  if (pvc.status?.phase === "Bound") return undefined;
  const ns = pvc.metadata?.namespace;
  const object = objectRef("PersistentVolumeClaim", pvc.metadata?.name, ns);
  const request = pvc.spec?.resources?.requests?.storage ?? "?";
  const modes = (pvc.spec?.accessModes ?? []).join(",");
  const evidence = [
    `claim ${pvc.metadata?.name}: phase ${pvc.status?.phase ?? "Pending"}, requests ${request} ${modes}, storageClassName ${JSON.stringify(pvc.spec?.storageClassName ?? null)}`,
    ...claimEvents.slice(0, 2).map(describeEvent),
  ];
  if (pvc.status?.phase === "Lost") {
    return {
      object,
      severity: "error",
      cause: `The claim lost its PersistentVolume ${pvc.spec?.volumeName ?? ""} (it was deleted).`,
      fix: "Recreate the volume from a backup, or delete and recreate the claim (its data is gone).",
      evidence,
    };
  }
  const className = claimClass(pvc, classes);
  const cls = classes.find((c) => c.metadata?.name === className);
  const names = classes.map((c) => c.metadata?.name).filter(Boolean);
  if (className !== "" && !cls) {
    return {
      object,
      severity: "error",
      cause: `StorageClass "${className}" does not exist, so no volume can be provisioned or bound for this claim.`,
      fix: `Use an existing class (${names.length ? names.join(", ") : "there is none; create one"}): storageClassName is immutable, so delete and recreate the claim with the right class; or create StorageClass "${className}".`,
      evidence,
    };
  }
  if (cls?.volumeBindingMode === "WaitForFirstConsumer" && !pvc.metadata?.annotations?.["volume.kubernetes.io/selected-node"]) {
    return {
      object,
      severity: "info",
      cause: `StorageClass "${className}" binds a volume only once a pod using the claim is scheduled (WaitForFirstConsumer); the claim waits for that.`,
      fix: "Nothing to do for the claim itself: if its pod is Pending, see why the pod cannot be scheduled.",
      evidence,
    };
  }
  const provisioner = cls?.provisioner;
  if (provisioner && provisioner !== "kubernetes.io/no-provisioner") {
    const failed = claimEvents.find((e) => e.reason === "ProvisioningFailed");
    return {
      object,
      severity: "error",
      cause: failed
        ? `Provisioner ${provisioner} failed to create a volume: ${failed.message ?? ""}`
        : `The claim waits for provisioner ${provisioner} (StorageClass "${className}") to create a volume.`,
      fix: failed ? "Fix what the provisioner reports." : `Check that the provisioner ${provisioner} is running (its controller's logs).`,
      evidence,
    };
  }
  // Static binding: explain why each candidate PV does not fit.
  const reasons = pvs.map((pv) => pvMismatch(pv, pvc, className)).filter((r): r is string => r !== undefined);
  const fitting = pvs.filter((pv) => pvMismatch(pv, pvc, className) === undefined);
  if (fitting.length > 0) {
    return {
      object,
      severity: "warning",
      cause: `PersistentVolume ${fitting[0]!.metadata?.name} looks like it fits but the claim is not bound yet.`,
      fix: "Wait for the volume controller, or check its logs.",
      evidence,
    };
  }
  return {
    object,
    severity: "error",
    cause:
      pvs.length === 0
        ? `No PersistentVolume exists${className ? ` for class "${className}"` : ""} and ${className ? "the class has no provisioner" : "the claim names no class that could provision one"}.`
        : `No PersistentVolume matches the claim (${request}, ${modes || "no access mode"}, class "${className}"): ${reasons.join("; ")}.`,
    fix: `Create a PersistentVolume with class "${className}", at least ${request} and access modes ${modes || "…"}; or change the claim (delete and recreate it) to use a StorageClass with a provisioner${names.length ? ` (${names.join(", ")})` : ""}.`,
    evidence,
  };
}
