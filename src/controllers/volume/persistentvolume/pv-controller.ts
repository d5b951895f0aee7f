/**
 * The PersistentVolume controller's decisions (pkg/controller/volume/
 * persistentvolume/pv_controller.go, v1.30), kept in upstream's "space
 * shuttle style": every branch of the claim and volume state machines is
 * spelled out, in upstream's order, with its messages.
 *
 * Binding is two writes on each side: the PV's claimRef (then its phase),
 * then the claim's volumeName with `pv.kubernetes.io/bind-completed` (then
 * its phase). Any step may fail or race another writer; the next sync
 * finishes the job. Local caches of the last version this controller saw
 * or wrote keep it from acting on informer copies older than its own
 * writes (storeObjectUpdate).
 *
 * Provisioning: skiff has no in-tree volume plugins, so every provisioner
 * is external (a `kubernetes.io/…` one is reported as unknown, as upstream
 * reports a plugin it lacks): the controller annotates the claim with
 * `volume.kubernetes.io/storage-provisioner` (and the beta twin) and
 * records ExternalProvisioning; the provisioner (skiff's local-path one,
 * or any other) creates the PV, which this controller then binds.
 * Deleting: volumes of external provisioners are left to them; the
 * in-tree hostPath deleter (paths matching `/tmp/.+`, removed in the
 * controller manager's own filesystem) is the only built-in one; Recycle
 * has no recycler in skiff and fails as upstream does without a plugin.
 */
import { rm } from "node:fs/promises";
import type { ObjectReference, PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimStatus, PersistentVolumeStatus, Pod } from "kubernetes-types/core/v1.js";
import type { ObjectMeta } from "kubernetes-types/meta/v1.js";
import type { StorageClass } from "kubernetes-types/storage/v1.js";
import { systemTimers, type Timers } from "../../../client/timers.js";
import { type Logger, silentLogger } from "../../../machinery/log.js";
import { value } from "../../../scheduler/framework/quantity.js";
import { bindVolumeToClaim as getBindVolumeToClaim, isVolumeBoundToClaim, volumeModeMismatches, checkAccessModes } from "../../../scheduler/plugins/volume-binding/pv-helpers.js";
import { deepEqual } from "../../common/equality.js";
import { errorMessage } from "../../common/errors.js";
import { AnnBetaStorageProvisioner, AnnBindCompleted, AnnBoundByController, AnnDynamicallyProvisioned, AnnStorageProvisioner, hasAnnotation } from "../annotations.js";
import * as events from "../events.js";
import {
  type ClassLister,
  claimClass,
  claimHasClass,
  claimKey,
  getDefaultClass,
  isDelayBindingMode,
  isDelayBindingProvisioning,
  isPodTerminated,
  volumeClass,
} from "../storage-helpers.js";
import { OperationMap } from "./operations.js";
import { findBestMatchForClaim } from "./volume-index.js";

/** pkg/volume/util AnnPreResizeCapacity: a PV's size before a pending filesystem resize. */
export const AnnPreResizeCapacity = "volume.alpha.kubernetes.io/pre-resize-capacity";

/** The API calls the controller makes (a REST client in production, a fake in tests). */
export interface PvApi {
  /** Live GET; undefined when the PV does not exist. */
  getVolume(name: string): Promise<PersistentVolume | undefined>;
  updateVolume(pv: PersistentVolume): Promise<PersistentVolume>;
  updateVolumeStatus(pv: PersistentVolume): Promise<PersistentVolume>;
  deleteVolume(name: string): Promise<void>;
  /** Live GET; undefined when the claim does not exist. */
  getClaim(namespace: string, name: string): Promise<PersistentVolumeClaim | undefined>;
  updateClaim(pvc: PersistentVolumeClaim): Promise<PersistentVolumeClaim>;
  updateClaimStatus(pvc: PersistentVolumeClaim): Promise<PersistentVolumeClaim>;
}

/** Where the controller's events go. */
export interface PvEventSink {
  event(regarding: ObjectReference, type: "Normal" | "Warning", reason: string, action: string, note: string): void;
}

/** Options of a {@link PvController}. */
export interface PvControllerOptions {
  readonly api: PvApi;
  readonly classes: ClassLister;
  /** The claim informer's copy (`ns/name`). */
  readonly claimLister: { get(key: string): PersistentVolumeClaim | undefined };
  /** Pods whose volumes use claim `ns/name` (the pod informer's PVC index). */
  readonly podsForClaim: (key: string) => Pod[];
  /** Schedules a sync of claim `ns/name` (the claim work queue). */
  readonly enqueueClaim: (key: string) => void;
  /** Schedules a sync of volume `name` (the volume work queue). */
  readonly enqueueVolume: (name: string) => void;
  readonly events?: PvEventSink;
  readonly logger?: Logger;
  readonly timers?: Timers;
  /** The in-tree hostPath deleter's removal (recursive); tests replace it. */
  readonly removeHostPath?: (path: string) => Promise<void>;
}

/** `ns/name` of the claim a claimRef points at (claimrefToClaimKey). */
export function claimRefKey(ref: ObjectReference): string {
  return `${ref.namespace ?? ""}/${ref.name ?? ""}`;
}

function ref(kind: "PersistentVolume" | "PersistentVolumeClaim", meta: ObjectMeta | undefined): ObjectReference {
  const r: ObjectReference = { apiVersion: "v1", kind };
  if (meta?.namespace) r.namespace = meta.namespace;
  if (meta?.name) r.name = meta.name;
  if (meta?.uid) r.uid = meta.uid;
  if (meta?.resourceVersion) r.resourceVersion = meta.resourceVersion;
  return r;
}

function rvNumber(meta: ObjectMeta | undefined, what: string, key: string): number {
  const rv = meta?.resourceVersion ?? "";
  const n = Number(rv);
  if (rv === "" || !Number.isInteger(n)) throw new Error(`error parsing ResourceVersion ${JSON.stringify(rv)} of ${what} ${JSON.stringify(key)}`);
  return n;
}

/** What a volume's deletion needs: nothing here (an external deleter), the in-tree hostPath deleter, or an error. */
type Deleter = { readonly external: true } | { readonly hostPath: string } | { readonly error: string };

/** The PV controller's state machines over its caches; the workers in controller.ts feed it. */
export class PvController {
  /** The last version of each volume seen or written (by name). */
  readonly volumes = new Map<string, PersistentVolume>();
  /** The last version of each claim seen or written (`ns/name`). */
  readonly claims = new Map<string, PersistentVolumeClaim>();
  readonly operations: OperationMap;
  private readonly log: Logger;
  private readonly api: PvApi;

  constructor(private readonly o: PvControllerOptions) {
    this.log = o.logger ?? silentLogger;
    this.api = o.api;
    this.operations = new OperationMap({
      timers: o.timers ?? systemTimers,
      onError: (name, err) => this.log.info("operation failed; backing off", { operation: name, err: errorMessage(err) }),
    });
  }

  // ---- caches (storeObjectUpdate) ----

  private store<T extends { metadata?: ObjectMeta }>(cache: Map<string, T>, key: string, obj: T, what: string): boolean {
    const old = cache.get(key);
    if (old) {
      // Only older versions are thrown away: the same one passes, for periodic syncs.
      if (rvNumber(old.metadata, what, key) > rvNumber(obj.metadata, what, key)) return false;
    }
    cache.set(key, obj);
    return true;
  }

  /** Stores a newer volume version; false when `pv` is older than the cached one. */
  storeVolumeUpdate(pv: PersistentVolume): boolean {
    return this.store(this.volumes, pv.metadata?.name ?? "", pv, "volume");
  }

  /** Stores a newer claim version; false when `pvc` is older than the cached one. */
  storeClaimUpdate(pvc: PersistentVolumeClaim): boolean {
    return this.store(this.claims, claimKey(pvc), pvc, "claim");
  }

  /** initializeCaches: the informers' objects, before the first sync. */
  initializeCaches(volumes: readonly PersistentVolume[], claims: readonly PersistentVolumeClaim[]): void {
    for (const v of volumes) this.storeVolumeUpdate(structuredClone(v));
    for (const c of claims) this.storeClaimUpdate(structuredClone(c));
  }

  // ---- worker entry points (pv_controller_base.go) ----

  /** updateVolume: "volume added/updated/resynced". */
  async updateVolume(volume: PersistentVolume): Promise<void> {
    let isNew: boolean;
    try {
      isNew = this.storeVolumeUpdate(volume);
    } catch (err) {
      this.log.error("cannot update volume cache", { err: errorMessage(err) });
      return;
    }
    if (!isNew) return;
    try {
      await this.syncVolume(volume);
    } catch (err) {
      this.logSyncError("could not sync volume", { volumeName: volume.metadata?.name }, err);
    }
  }

  /** deleteVolume: forgets the volume and syncs its claim at once (so it turns Lost without waiting for a resync). */
  deleteVolume(volume: PersistentVolume): void {
    this.volumes.delete(volume.metadata?.name ?? "");
    this.log.debug("volume deleted", { volumeName: volume.metadata?.name });
    const cref = volume.spec?.claimRef;
    if (!cref) return;
    this.o.enqueueClaim(claimRefKey(cref));
  }

  /** updateClaim: "claim added/updated/resynced". */
  async updateClaim(claim: PersistentVolumeClaim): Promise<void> {
    let isNew: boolean;
    try {
      isNew = this.storeClaimUpdate(claim);
    } catch (err) {
      this.log.error("cannot update claim cache", { err: errorMessage(err) });
      return;
    }
    if (!isNew) return;
    try {
      await this.syncClaim(claim);
    } catch (err) {
      this.logSyncError("could not sync claim", { PVC: claimKey(claim) }, err);
    }
  }

  /** deleteClaim: forgets the claim and syncs its volume at once (so it is released without waiting for a resync). */
  deleteClaim(claim: PersistentVolumeClaim): void {
    this.claims.delete(claimKey(claim));
    this.log.debug("claim deleted", { PVC: claimKey(claim) });
    const volumeName = claim.spec?.volumeName ?? "";
    if (volumeName === "") return;
    this.o.enqueueVolume(volumeName);
  }

  private logSyncError(msg: string, fields: Record<string, string | undefined>, err: unknown): void {
    // A conflict means a newer version exists; its watch event brings the next sync.
    if ((err as { reason?: string })?.reason === "Conflict") this.log.debug(msg, { ...fields, err: errorMessage(err) });
    else this.log.warn(msg, { ...fields, err: errorMessage(err) });
  }

  private event(regarding: ObjectReference, type: "Normal" | "Warning", reason: string, note: string): void {
    this.o.events?.event(regarding, type, reason, events.actionFor(reason), note);
  }

  private claimEvent(claim: PersistentVolumeClaim, type: "Normal" | "Warning", reason: string, note: string): void {
    this.event(ref("PersistentVolumeClaim", claim.metadata), type, reason, note);
  }

  private volumeEvent(volume: PersistentVolume, type: "Normal" | "Warning", reason: string, note: string): void {
    this.event(ref("PersistentVolume", volume.metadata), type, reason, note);
  }

  // ---- claims ----

  /** syncClaim: claims whose binding never completed, then bound ones. */
  async syncClaim(claim: PersistentVolumeClaim): Promise<void> {
    this.log.debug("synchronizing PersistentVolumeClaim", { PVC: claimKey(claim), phase: claim.status?.phase, volumeName: claim.spec?.volumeName });
    if (!hasAnnotation(claim.metadata, AnnBindCompleted)) return this.syncUnboundClaim(claim);
    return this.syncBoundClaim(claim);
  }

  /** checkVolumeSatisfyClaim: why a requested volume cannot serve the claim, or undefined. */
  static checkVolumeSatisfyClaim(volume: PersistentVolume, claim: PersistentVolumeClaim): string | undefined {
    const requested = value(claim.spec?.resources?.requests?.storage);
    if (volume.metadata?.deletionTimestamp) return `the volume is marked for deletion ${JSON.stringify(volume.metadata.name ?? "")}`;
    if (value(volume.spec?.capacity?.storage) < requested) return "requested PV is too small";
    if (volumeClass(volume) !== claimClass(claim)) return "storageClassName does not match";
    if (volumeModeMismatches(claim, volume)) return "incompatible volumeMode";
    if (!checkAccessModes(claim, volume)) return "incompatible accessMode";
    return undefined;
  }

  /** findNonScheduledPodsByPVC: names of live pods that use the claim and have no node yet. */
  private findNonScheduledPodsByPVC(claim: PersistentVolumeClaim): string[] {
    const names: string[] = [];
    for (const pod of this.o.podsForClaim(claimKey(claim))) {
      if (isPodTerminated(pod)) continue;
      if (!pod.spec?.nodeName) names.push(pod.metadata?.name ?? "");
    }
    return names;
  }

  /** emitEventForUnboundDelayBindingClaim: WaitForFirstConsumer, or WaitForPodScheduled naming the pods that wait. */
  private emitEventForUnboundDelayBindingClaim(claim: PersistentVolumeClaim): void {
    let reason = events.WaitForFirstConsumer;
    let message = "waiting for first consumer to be created before binding";
    const podNames = this.findNonScheduledPodsByPVC(claim);
    if (podNames.length > 0) {
      reason = events.WaitForPodScheduled;
      // Only one pod drives scheduling, but every pod that references the claim is named.
      message = podNames.length > 1 ? `waiting for pods ${podNames.join(",")} to be scheduled` : `waiting for pod ${podNames[0]} to be scheduled`;
    }
    this.claimEvent(claim, "Normal", reason, message);
  }

  /** syncUnboundClaim: a claim whose binding has not completed. */
  private async syncUnboundClaim(claim: PersistentVolumeClaim): Promise<void> {
    const key = claimKey(claim);
    const volumeName = claim.spec?.volumeName ?? "";
    if (volumeName === "") {
      // The user did not ask for a particular volume.
      const delayBinding = isDelayBindingMode(this.o.classes, claimClass(claim));
      let volume: PersistentVolume | undefined;
      try {
        volume = findBestMatchForClaim([...this.volumes.values()], claim, delayBinding);
      } catch (err) {
        throw new Error(`error finding PV for claim ${JSON.stringify(key)}: ${errorMessage(err)}`);
      }
      if (!volume) {
        // No volume: provision one if possible. OBSERVATION: claim is Pending, will retry.
        let updated: boolean;
        try {
          updated = await this.assignDefaultStorageClass(claim);
        } catch (err) {
          throw new Error(`can't update PersistentVolumeClaim[${JSON.stringify(key)}]: ${errorMessage(err)}`);
        }
        if (updated) {
          this.log.debug("PersistentVolumeClaim update successful, restarting claim sync", { PVC: key });
          return;
        }
        if (delayBinding && !isDelayBindingProvisioning(claim)) {
          // The scheduler has not seen a pod using this claim yet.
          this.emitEventForUnboundDelayBindingClaim(claim);
        } else if (claimClass(claim) !== "") {
          // Provisioning runs on its own; its result comes back through the next syncs.
          this.provisionClaim(claim);
          return;
        } else {
          this.claimEvent(claim, "Normal", events.FailedBinding, "no persistent volumes available for this claim and no storage class is set");
        }
        await this.updateClaimStatus(claim, "Pending", undefined);
        return;
      }
      // Found a volume. OBSERVATION: claim is Pending, volume is Available.
      this.log.debug("synchronizing unbound PersistentVolumeClaim, volume found", { PVC: key, volumeName: volume.metadata?.name });
      await this.bind(volume, claim);
      return;
    }
    // The user asked for a particular volume.
    const volume = this.volumes.get(volumeName);
    if (!volume) {
      // It does not exist (yet): retry later.
      this.log.debug("synchronizing unbound PersistentVolumeClaim, volume requested and not found, will try again next time", { PVC: key, volumeName });
      await this.updateClaimStatus(claim, "Pending", undefined);
      return;
    }
    if (!volume.spec?.claimRef) {
      // The requested volume is not claimed. OBSERVATION: claim is Pending, volume is Available.
      const why = PvController.checkVolumeSatisfyClaim(volume, claim);
      if (why) {
        this.claimEvent(claim, "Warning", events.VolumeMismatch, `Cannot bind to requested volume ${JSON.stringify(volumeName)}: ${why}`);
        await this.updateClaimStatus(claim, "Pending", undefined);
        return;
      }
      await this.bind(volume, claim);
      return;
    }
    if (isVolumeBoundToClaim(volume, claim)) {
      // Claimed by this claim: finish the binding (add the claim's UID).
      await this.bind(volume, claim);
      return;
    }
    // Claimed by another claim.
    const claimMsg = `volume ${JSON.stringify(volumeName)} already bound to a different claim.`;
    if (!hasAnnotation(claim.metadata, AnnBoundByController)) {
      // A user's choice: wait until the other claim lets go.
      this.claimEvent(claim, "Warning", events.FailedBinding, claimMsg);
      await this.updateClaimStatus(claim, "Pending", undefined);
      return;
    }
    // Someone removed bind-completed from a claim this controller bound: should never happen.
    this.claimEvent(claim, "Warning", events.FailedBinding, claimMsg);
    throw new Error(
      `invalid binding of claim ${JSON.stringify(key)} to volume ${JSON.stringify(volumeName)}: volume already claimed by ${JSON.stringify(claimRefKey(volume.spec.claimRef))}`,
    );
  }

  /** syncBoundClaim: a claim that was bound once. */
  private async syncBoundClaim(claim: PersistentVolumeClaim): Promise<void> {
    const volumeName = claim.spec?.volumeName ?? "";
    if (volumeName === "") {
      await this.updateClaimStatusWithEvent(claim, "Lost", undefined, "Warning", events.ClaimLost, "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!");
      return;
    }
    const volume = this.volumes.get(volumeName);
    if (!volume) {
      await this.updateClaimStatusWithEvent(claim, "Lost", undefined, "Warning", events.ClaimLost, "Bound claim has lost its PersistentVolume. Data on the volume is lost!");
      return;
    }
    if (!volume.spec?.claimRef) {
      // The volume came unbound, or its bound version has not reached us yet: bind again.
      await this.bind(volume, claim);
      return;
    }
    if (volume.spec.claimRef.uid === claim.metadata?.uid) {
      // All is well; bind() changes nothing unless something is missing.
      await this.bind(volume, claim);
      return;
    }
    // The volume has another claimant: Lost is terminal.
    await this.updateClaimStatusWithEvent(claim, "Lost", undefined, "Warning", events.ClaimMisbound, "Two claims are bound to the same volume, this one is bound incorrectly");
  }

  // ---- volumes ----

  /** syncVolume: a volume's phase, its claim's fate, and reclaiming. */
  async syncVolume(volume: PersistentVolume): Promise<void> {
    const name = volume.metadata?.name ?? "";
    this.log.debug("synchronizing PersistentVolume", { volumeName: name, phase: volume.status?.phase });
    const cref = volume.spec?.claimRef;
    if (!cref) {
      // Unused.
      await this.updateVolumePhase(volume, "Available", "");
      return;
    }
    if (!cref.uid) {
      // Reserved for a claim not bound yet: the claim's sync binds it.
      await this.updateVolumePhase(volume, "Available", "");
      return;
    }
    const key = claimRefKey(cref);
    let claim = this.claims.get(key);
    if (!claim && volume.status?.phase !== "Released" && volume.status?.phase !== "Failed") {
      // Provisioned or bound by someone else, the claim may not have reached our cache:
      // ask the informer, then the API server, before releasing the volume by mistake.
      claim = this.o.claimLister.get(key) ?? (await this.api.getClaim(cref.namespace ?? "", cref.name ?? ""));
    }
    if (claim && claim.metadata?.uid !== cref.uid) {
      // The claim was deleted and another made with its name; our copy may be stale, so ask.
      this.log.debug("cached claim may not be the newest; fetching it", { PVC: key });
      const live = await this.api.getClaim(cref.namespace ?? "", cref.name ?? "");
      claim = live && live.metadata?.uid === cref.uid ? live : undefined;
    }
    if (!claim) {
      // The claim is gone: release the volume and reclaim it. A Failed phase stays, so the user sees what went wrong.
      let v = volume;
      if (v.status?.phase !== "Released" && v.status?.phase !== "Failed") {
        this.log.info("volume is released and reclaim policy will be executed", { volumeName: name, reclaimPolicy: reclaimPolicyOf(v) });
        v = await this.updateVolumePhase(v, "Released", "");
      }
      await this.reclaimVolume(v);
      return;
    }
    if ((claim.spec?.volumeName ?? "") === "") {
      if (volumeModeMismatches(claim, volume)) {
        // The claim's sync would never pick this volume.
        this.volumeEvent(volume, "Warning", events.VolumeMismatch, `Cannot bind PersistentVolume to requested PersistentVolumeClaim ${JSON.stringify(claim.metadata?.name ?? "")} due to incompatible volumeMode.`);
        this.claimEvent(claim, "Warning", events.VolumeMismatch, `Cannot bind PersistentVolume ${JSON.stringify(name)} to requested PersistentVolumeClaim due to incompatible volumeMode.`);
        return;
      }
      // Bound (or pre-bound) to a claim that is still Pending: the claim's sync finishes it, soon.
      this.o.enqueueClaim(claimKey(claim));
      return;
    }
    if (claim.spec?.volumeName === name) {
      // Bound both ways.
      await this.updateVolumePhase(volume, "Bound", "");
      return;
    }
    // The claim is bound to another volume.
    if (hasAnnotation(volume.metadata, AnnDynamicallyProvisioned) && reclaimPolicyOf(volume) === "Delete") {
      // Provisioned for this claim, which went elsewhere: not needed any more.
      let v = volume;
      if (v.status?.phase !== "Released" && v.status?.phase !== "Failed") {
        this.log.info("dynamically provisioned volume is released and it will be deleted", { volumeName: name });
        v = await this.updateVolumePhase(v, "Released", "");
      }
      await this.reclaimVolume(v);
      return;
    }
    // Bound by this controller: undo it. Pre-bound by a user: clear only the UID (unbindVolume does either).
    await this.unbindVolume(volume);
  }

  // ---- writes ----

  /** updateClaimStatus: the phase, and the volume's access modes and (when becoming `phase`) capacity. */
  async updateClaimStatus(claim: PersistentVolumeClaim, phase: string, volume: PersistentVolume | undefined): Promise<PersistentVolumeClaim> {
    let dirty = false;
    const status: PersistentVolumeClaimStatus = structuredClone(claim.status ?? {});
    if (claim.status?.phase !== phase) {
      status.phase = phase;
      dirty = true;
    }
    if (!volume) {
      if (claim.status?.accessModes !== undefined) {
        delete status.accessModes;
        dirty = true;
      }
      if (claim.status?.capacity !== undefined) {
        delete status.capacity;
        dirty = true;
      }
    } else {
      if (!deepEqual(claim.status?.accessModes, volume.spec?.accessModes)) {
        if (volume.spec?.accessModes) status.accessModes = [...volume.spec.accessModes];
        else delete status.accessModes;
        dirty = true;
      }
      // Capacity only on the way into `phase`: a later difference may mean a filesystem smaller than its block device.
      if (claim.status?.phase !== phase) {
        const volumeCap = volume.spec?.capacity?.storage;
        if (volumeCap === undefined) throw new Error(`PersistentVolume ${JSON.stringify(volume.metadata?.name ?? "")} is without a storage capacity`);
        const claimCap = claim.status?.capacity?.storage;
        const pre = volume.metadata?.annotations?.[AnnPreResizeCapacity];
        if (pre !== undefined) {
          status.capacity = { ...status.capacity, storage: pre };
          dirty = true;
        } else if (claimCap === undefined || value(volumeCap) !== value(claimCap)) {
          status.capacity = { ...volume.spec?.capacity };
          dirty = true;
        }
      }
    }
    if (!dirty) return claim;
    const saved = await this.api.updateClaimStatus({ ...structuredClone(claim), status });
    this.storeClaimUpdate(saved);
    this.log.info("claim entered phase", { PVC: claimKey(claim), phase });
    return saved;
  }

  /** updateClaimStatusWithEvent: the status, and an event only when the phase changes. */
  private async updateClaimStatusWithEvent(
    claim: PersistentVolumeClaim,
    phase: string,
    volume: PersistentVolume | undefined,
    type: "Normal" | "Warning",
    reason: string,
    message: string,
  ): Promise<PersistentVolumeClaim> {
    if (claim.status?.phase === phase) return claim;
    const saved = await this.updateClaimStatus(claim, phase, volume);
    this.claimEvent(saved, type, reason, message);
    return saved;
  }

  /** updateVolumePhase: the phase (and message) through the status subresource. */
  async updateVolumePhase(volume: PersistentVolume, phase: string, message: string): Promise<PersistentVolume> {
    if (volume.status?.phase === phase) return volume;
    const status: PersistentVolumeStatus = { ...structuredClone(volume.status ?? {}), phase };
    if (message) status.message = message;
    else delete status.message;
    const saved = await this.api.updateVolumeStatus({ ...structuredClone(volume), status });
    this.storeVolumeUpdate(saved);
    this.log.info("volume entered phase", { volumeName: volume.metadata?.name, phase });
    return saved;
  }

  /** updateVolumePhaseWithEvent: the phase, and an event only when it changes. */
  private async updateVolumePhaseWithEvent(volume: PersistentVolume, phase: string, type: "Normal" | "Warning", reason: string, message: string): Promise<PersistentVolume> {
    if (volume.status?.phase === phase) return volume;
    const saved = await this.updateVolumePhase(volume, phase, message);
    this.volumeEvent(saved, type, reason, message);
    return saved;
  }

  /** assignDefaultStorageClass: a claim that names no class gets the default one (retroactively); true when written. */
  private async assignDefaultStorageClass(claim: PersistentVolumeClaim): Promise<boolean> {
    if (claimHasClass(claim)) return false;
    const cls = getDefaultClass(this.o.classes);
    if (!cls?.metadata?.name) return false;
    const clone: PersistentVolumeClaim = structuredClone(claim);
    clone.spec = { ...clone.spec, storageClassName: cls.metadata.name };
    await this.api.updateClaim(clone);
    this.log.info("assigned the default StorageClass to PersistentVolumeClaim", { PVC: claimKey(claim), storageClassName: cls.metadata.name });
    return true;
  }

  /** bindVolumeToClaim: the volume's claimRef (and bound-by-controller), saved when changed. */
  private async bindVolumeToClaim(volume: PersistentVolume, claim: PersistentVolumeClaim): Promise<PersistentVolume> {
    const { pv, dirty } = getBindVolumeToClaim(volume, claim);
    if (!dirty) return volume;
    this.log.info("claim bound to volume", { PVC: claimKey(claim), volumeName: volume.metadata?.name });
    const saved = await this.api.updateVolume(pv);
    this.storeVolumeUpdate(saved);
    return saved;
  }

  /** bindClaimToVolume: the claim's volumeName, bound-by-controller and bind-completed, saved when changed. */
  private async bindClaimToVolume(claim: PersistentVolumeClaim, volume: PersistentVolume): Promise<PersistentVolumeClaim> {
    const volumeName = volume.metadata?.name ?? "";
    let dirty = false;
    const clone: PersistentVolumeClaim = structuredClone(claim);
    const meta = (clone.metadata ??= {});
    if (volumeName !== (claim.spec?.volumeName ?? "")) {
      dirty = true;
      clone.spec = { ...clone.spec, volumeName };
      if (!hasAnnotation(meta, AnnBoundByController)) meta.annotations = { ...meta.annotations, [AnnBoundByController]: "yes" };
    }
    if (!hasAnnotation(meta, AnnBindCompleted)) {
      meta.annotations = { ...meta.annotations, [AnnBindCompleted]: "yes" };
      dirty = true;
    }
    if (!dirty) return claim;
    this.log.info("volume bound to claim", { PVC: claimKey(claim), volumeName });
    const saved = await this.api.updateClaim(clone);
    this.storeClaimUpdate(saved);
    return saved;
  }

  /** bind: volume first (claimRef, phase), then the claim (volumeName, phase); stops at the first error. */
  async bind(volume: PersistentVolume, claim: PersistentVolumeClaim): Promise<void> {
    let v = await this.bindVolumeToClaim(volume, claim);
    v = await this.updateVolumePhase(v, "Bound", "");
    let c = await this.bindClaimToVolume(claim, v);
    c = await this.updateClaimStatus(c, "Bound", v);
    this.log.debug("volume bound to claim", { PVC: claimKey(c), volumeName: v.metadata?.name });
  }

  /** unbindVolume: a binding this controller made is removed; a user's pre-binding keeps its name but loses the UID. */
  private async unbindVolume(volume: PersistentVolume): Promise<void> {
    const clone: PersistentVolume = structuredClone(volume);
    if (hasAnnotation(volume.metadata, AnnBoundByController)) {
      if (clone.spec) delete clone.spec.claimRef;
      const ann = { ...clone.metadata?.annotations };
      delete ann[AnnBoundByController];
      if (clone.metadata) {
        if (Object.keys(ann).length === 0) delete clone.metadata.annotations;
        else clone.metadata.annotations = ann;
      }
    } else if (clone.spec?.claimRef) {
      delete clone.spec.claimRef.uid;
    }
    const saved = await this.api.updateVolume(clone);
    this.storeVolumeUpdate(saved);
    this.log.debug("volume binding rolled back", { volumeName: volume.metadata?.name });
    await this.updateVolumePhase(saved, "Available", "");
  }

  // ---- reclaiming ----

  /** reclaimVolume: the reclaim policy's action (Retain: nothing; Delete, Recycle: an operation). */
  private async reclaimVolume(volume: PersistentVolume): Promise<void> {
    const name = volume.metadata?.name ?? "";
    switch (reclaimPolicyOf(volume)) {
      case "Retain":
        this.log.debug("reclaimVolume: policy is Retain, nothing to do", { volumeName: name });
        return;
      case "Recycle":
        this.scheduleOperation(`recycle-${name}[${volume.metadata?.uid ?? ""}]`, () => this.recycleVolumeOperation(volume));
        return;
      case "Delete":
        this.scheduleOperation(`delete-${name}[${volume.metadata?.uid ?? ""}]`, () => this.deleteVolumeOperation(volume));
        return;
      default:
        await this.updateVolumePhaseWithEvent(volume, "Failed", "Warning", events.VolumeUnknownReclaimPolicy, "Volume has unrecognized PersistentVolumeReclaimPolicy");
    }
  }

  private scheduleOperation(name: string, op: () => Promise<void>): void {
    const outcome = this.operations.run(name, op);
    if (outcome !== "started") this.log.debug("operation not started", { operation: name, outcome });
  }

  /** isVolumeReleased: bound to a claim that is gone, or that is bound to another volume. */
  private isVolumeReleased(volume: PersistentVolume): boolean {
    const cref = volume.spec?.claimRef;
    if (!cref) return false;
    // A user's pre-binding the controller has not completed.
    if (!cref.uid) return false;
    const claim = this.claims.get(claimRefKey(cref));
    if (claim && claim.metadata?.uid === cref.uid) {
      const vn = claim.spec?.volumeName ?? "";
      return vn !== "" && vn !== volume.metadata?.name;
    }
    return true;
  }

  /** isVolumeUsed: live pods using the volume's claim (`ns/name`, sorted). */
  private isVolumeUsed(volume: PersistentVolume): string[] {
    const cref = volume.spec?.claimRef;
    if (!cref) return [];
    const names = new Set<string>();
    for (const pod of this.o.podsForClaim(claimRefKey(cref))) {
      if (isPodTerminated(pod)) continue;
      names.add(`${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`);
    }
    return [...names].sort();
  }

  /** recycleVolumeOperation: skiff has no recycler (upstream's runs a scrubber pod), so a released volume fails. */
  private async recycleVolumeOperation(volume: PersistentVolume): Promise<void> {
    const name = volume.metadata?.name ?? "";
    const fresh = await this.api.getVolume(name);
    if (!fresh) return;
    if (!this.isVolumeReleased(fresh)) return;
    const used = this.isVolumeUsed(fresh);
    const cached = this.claims.has(claimRefKey(fresh.spec!.claimRef!));
    if (used.length > 0 && !cached) {
      this.volumeEvent(fresh, "Normal", events.VolumeFailedRecycle, `Volume is used by pods: ${used.join(",")}`);
      return;
    }
    await this.updateVolumePhaseWithEvent(fresh, "Failed", "Warning", events.VolumeFailedRecycle, "No recycler plugin found for the volume!");
  }

  /** findDeletablePlugin: who deletes the volume's storage. */
  private findDeleter(volume: PersistentVolume): Deleter {
    const name = volume.metadata?.name ?? "";
    const provisioner = volume.metadata?.annotations?.[AnnDynamicallyProvisioned] ?? "";
    if (provisioner !== "") {
      if (!provisioner.startsWith("kubernetes.io/")) return { external: true };
      if (provisioner === "kubernetes.io/host-path" && volume.spec?.hostPath) return { hostPath: volume.spec.hostPath.path };
      return { error: `no volume plugin matched name: ${provisioner}` };
    }
    // HonorPVReclaimPolicy: CSI volumes are deleted by their external provisioner.
    if (volume.spec?.csi) return { external: true };
    if (volume.spec?.hostPath) return { hostPath: volume.spec.hostPath.path };
    const msg = volume.spec?.nfs ? "no deletable volume plugin matched" : "no volume plugin matched";
    return { error: `error getting deleter volume plugin for volume ${JSON.stringify(name)}: ${msg}` };
  }

  /** doDeleteVolume: deletes the storage; false when an external deleter is to do it. */
  private async doDeleteVolume(volume: PersistentVolume): Promise<boolean> {
    const d = this.findDeleter(volume);
    if ("error" in d) throw new Error(d.error);
    if ("external" in d) {
      this.log.debug("external deleter for volume requested, ignoring", { volumeName: volume.metadata?.name });
      return false;
    }
    // The in-tree hostPath deleter: only scratch paths, removed where the controller runs.
    if (!/\/tmp\/.+/.test(d.hostPath)) throw new Error(`host_path deleter only supports /tmp/.+ but received provided ${d.hostPath}`);
    await (this.o.removeHostPath ?? removeRecursively)(d.hostPath);
    this.log.info("volume deleted", { volumeName: volume.metadata?.name });
    return true;
  }

  /** deleteVolumeOperation: re-reads the volume, deletes its storage, then the PV object. */
  private async deleteVolumeOperation(volume: PersistentVolume): Promise<void> {
    const name = volume.metadata?.name ?? "";
    let fresh: PersistentVolume | undefined;
    try {
      fresh = await this.api.getVolume(name);
    } catch (err) {
      this.log.info("error reading persistent volume", { volumeName: name, err: errorMessage(err) });
      return;
    }
    if (!fresh) return;
    if (!this.isVolumeReleased(fresh)) {
      this.log.debug("volume no longer needs deletion, skipping", { volumeName: name });
      return;
    }
    let deleted: boolean;
    try {
      deleted = await this.doDeleteVolume(volume);
    } catch (err) {
      // The volume is marked Failed; every later sync tries again.
      await this.updateVolumePhaseWithEvent(volume, "Failed", "Warning", events.VolumeFailedDelete, errorMessage(err));
      throw err;
    }
    if (!deleted) return;
    try {
      await this.api.deleteVolume(name);
    } catch (err) {
      // The next sync tries again.
      this.log.info("failed to delete volume from database", { volumeName: name, err: errorMessage(err) });
    }
  }

  // ---- provisioning ----

  /** findProvisionablePlugin: the claim's class when its provisioner is external; an error message otherwise. */
  private findProvisioner(claim: PersistentVolumeClaim): { cls: StorageClass } | { error: string } {
    const className = claimClass(claim);
    const cls = this.o.classes.get(className);
    if (!cls) return { error: `storageclass.storage.k8s.io ${JSON.stringify(className)} not found` };
    // skiff has no in-tree volume plugins: a `kubernetes.io/` provisioner is one it lacks.
    if (cls.provisioner.startsWith("kubernetes.io/")) return { error: `no volume plugin matched name: ${cls.provisioner}` };
    return { cls };
  }

  /** provisionClaim: starts provisioning (for skiff always external) unless it is already running. */
  private provisionClaim(claim: PersistentVolumeClaim): void {
    const found = this.findProvisioner(claim);
    if ("error" in found) {
      // Retried by every later sync of the claim.
      this.claimEvent(claim, "Warning", events.ProvisioningFailed, found.error);
      this.log.warn("error finding provisioning plugin for claim", { PVC: claimKey(claim), err: found.error });
      return;
    }
    this.scheduleOperation(`provision-${claimKey(claim)}[${claim.metadata?.uid ?? ""}]`, () => this.provisionClaimOperationExternal(claim, found.cls));
  }

  /** provisionClaimOperationExternal: tells the external provisioner (by annotation) and the user (by event). */
  private async provisionClaimOperationExternal(claim: PersistentVolumeClaim, cls: StorageClass): Promise<void> {
    const provisionerName = cls.provisioner;
    let c: PersistentVolumeClaim;
    try {
      c = await this.setClaimProvisioner(claim, provisionerName);
    } catch (err) {
      this.claimEvent(claim, "Warning", events.ProvisioningFailed, `Error saving claim: ${errorMessage(err)}`);
      throw err;
    }
    const msg =
      `Waiting for a volume to be created either by the external provisioner '${provisionerName}' ` +
      "or manually by the system administrator. If volume creation is delayed, please verify that " +
      "the provisioner is running and correctly registered.";
    this.claimEvent(c, "Normal", events.ExternalProvisioning, msg);
  }

  /** setClaimProvisioner: the storage-provisioner annotations (and the beta twin) on the claim. */
  private async setClaimProvisioner(claim: PersistentVolumeClaim, provisionerName: string): Promise<PersistentVolumeClaim> {
    if (claim.metadata?.annotations?.[AnnStorageProvisioner] === provisionerName) return claim;
    const clone: PersistentVolumeClaim = structuredClone(claim);
    const meta = (clone.metadata ??= {});
    meta.annotations = { ...meta.annotations, [AnnBetaStorageProvisioner]: provisionerName, [AnnStorageProvisioner]: provisionerName };
    const saved = await this.api.updateClaim(clone);
    this.storeClaimUpdate(saved);
    return saved;
  }
}

/** The volume's reclaim policy, `Retain` when unset (the default upstream's API server writes). */
export function reclaimPolicyOf(volume: PersistentVolume): string {
  return volume.spec?.persistentVolumeReclaimPolicy ?? "Retain";
}

async function removeRecursively(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}
