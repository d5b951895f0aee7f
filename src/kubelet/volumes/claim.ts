/**
 * persistentVolumeClaim and generic ephemeral volumes: the claim resolved
 * to its bound PersistentVolume (upstream's desired-state populator
 * getPVCExtractPV and getPVSpec, with their messages), then the PV's
 * source prepared. skiff binds `local` and `hostPath` PVs (the node's own
 * paths); any other PV source is refused by name.
 */
import type { PersistentVolume, PersistentVolumeClaim, Pod, Volume } from "kubernetes-types/core/v1.js";
import { stat } from "node:fs/promises";
import { goError } from "./go-errors.js";
import { setUpHostPath } from "./host-path.js";
import type { PluginContext, SetUpResult } from "./plugin.js";
import { setUpFailed } from "./plugin.js";

const PVC_PROTECTION_FINALIZER = "kubernetes.io/pvc-protection";

type Resolved = { ok: true; pvc: PersistentVolumeClaim; pv: PersistentVolume } | { ok: false; message: string };

const processFailure = (message: string): SetUpResult => ({ ok: false, message, stage: "process" });

/** The claim a volume uses: its own, or for an ephemeral volume `<pod>-<volume>` (upstream ephemeral.VolumeClaimName). */
export function claimNameOf(pod: Pod, volume: Volume): string | undefined {
  if (volume.persistentVolumeClaim) return volume.persistentVolumeClaim.claimName;
  if (volume.ephemeral) return `${pod.metadata?.name ?? ""}-${volume.name}`;
  return undefined;
}

async function resolve(ctx: PluginContext, volume: Volume, claimName: string): Promise<Resolved> {
  const pod = ctx.pod;
  const ns = pod.metadata?.namespace ?? "";
  const wrap = (m: string): Resolved => ({ ok: false, message: `error processing PVC ${ns}/${claimName}: ${m}` });
  if (!ctx.objects) return wrap("failed to fetch PVC from API server: this kubelet has no API client");
  const c = await ctx.objects.getPersistentVolumeClaim(ns, claimName);
  if (!c.ok) return wrap(`failed to fetch PVC from API server: ${c.message}`);
  const pvc = c.value;
  if (volume.ephemeral) {
    // upstream ephemeral.VolumeIsForPod: the claim must be the pod's own.
    const owner = (pvc.metadata?.ownerReferences ?? []).find((o) => o.controller);
    if (!owner || owner.uid !== pod.metadata?.uid) {
      return wrap(`PVC ${ns}/${claimName} was not created for pod ${ns}/${pod.metadata?.name ?? ""} (pod is not owner)`);
    }
  }
  if (pvc.metadata?.deletionTimestamp && !(pvc.metadata.finalizers ?? []).includes(PVC_PROTECTION_FINALIZER)) return wrap("PVC is being deleted");
  if (pvc.status?.phase !== "Bound") return wrap("PVC is not bound");
  const pvName = pvc.spec?.volumeName ?? "";
  if (!pvName) return wrap("PVC has empty pvc.Spec.VolumeName");
  const v = await ctx.objects.getPersistentVolume(pvName);
  if (!v.ok) return wrap(`failed to fetch PV ${pvName} from API server: ${v.message}`);
  const pv = v.value;
  const ref = pv.spec?.claimRef;
  if (!ref) return wrap(`found PV object ${pvName} but it has a nil pv.Spec.ClaimRef indicating it is not yet bound to the claim`);
  if (ref.uid !== pvc.metadata?.uid) {
    return wrap(`found PV object ${pvName} but its pv.Spec.ClaimRef.UID (${ref.uid ?? ""}) does not point to claim.UID (${pvc.metadata?.uid ?? ""})`);
  }
  return { ok: true, pvc, pv };
}

/** A claim's volume: the bound PV's path. */
export async function setUpClaim(ctx: PluginContext, volume: Volume): Promise<SetUpResult> {
  const claimName = claimNameOf(ctx.pod, volume) ?? "";
  const r = await resolve(ctx, volume, claimName);
  if (!r.ok) return processFailure(r.message);
  const pvName = r.pv.metadata?.name ?? "";
  const readOnly = volume.persistentVolumeClaim?.readOnly === true;
  const spec = r.pv.spec ?? {};
  if (spec.volumeMode === "Block") return setUpFailed(`skiff does not support raw block volumes (PV ${pvName} has volumeMode Block)`, pvName);
  if (spec.hostPath) return setUpHostPath(spec.hostPath, readOnly, pvName);
  if (spec.local) {
    try {
      await stat(spec.local.path);
    } catch (e) {
      return setUpFailed(goError(e), pvName);
    }
    return { ok: true, volume: { path: spec.local.path, readOnly, remount: false, displayName: pvName } };
  }
  const kinds = Object.keys(spec).filter((k) => !NON_SOURCE_FIELDS.has(k) && (spec as Record<string, unknown>)[k] != null);
  return setUpFailed(`skiff does not support ${kinds.join(", ") || "this"} persistent volumes (supported: local, hostPath)`, pvName);
}

/** PersistentVolumeSpec fields that are not the volume source. */
const NON_SOURCE_FIELDS = new Set([
  "accessModes",
  "capacity",
  "claimRef",
  "mountOptions",
  "nodeAffinity",
  "persistentVolumeReclaimPolicy",
  "storageClassName",
  "volumeMode",
  "volumeAttributesClassName",
]);
