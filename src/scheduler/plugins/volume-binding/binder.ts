/**
 * The volume binder (volumebinding/binder.go, v1.30), over the informer
 * listers: sorts a pod's claims into bound, unbound-immediate and
 * unbound-delayed (WaitForFirstConsumer); per node, checks bound PVs' node
 * affinity, finds matching PVs for delayed claims or checks they can be
 * provisioned there; assumes the choices at Reserve; and at PreBind writes
 * them through the API and waits until the PV controller (or provisioner)
 * has completed the bindings (bind-volumes.ts).
 *
 * Left out: in-tree to CSI translation of PVs (tryTranslatePVToCSI) and
 * the VolumeCapacityPriority scorer (an alpha feature, off by default).
 */
import type { Node, PersistentVolume, PersistentVolumeClaim, Pod, Volume } from "kubernetes-types/core/v1.js";
import type { StorageClass } from "kubernetes-types/storage/v1.js";
import { labelSelectorAsSelector } from "../../framework/pod-info.js";
import { value } from "../../framework/quantity.js";
import type { Handle } from "../../framework/types.js";
import { AssumeCache } from "./assume-cache.js";
import {
  AnnBindCompleted,
  AnnSelectedNode,
  bindVolumeToClaim,
  checkNodeAffinity,
  claimClass,
  claimKey,
  findMatchingVolume,
  localVolumeNodeNames,
  matchTopologySelectorTerms,
  NotSupportedProvisioner,
  requestedStorage,
  volumeClass,
} from "./pv-helpers.js";

export const ErrReasonBindConflict = "node(s) didn't find available persistent volumes to bind";
export const ErrReasonNodeConflict = "node(s) had volume node affinity conflict";
export const ErrReasonNotEnoughSpace = "node(s) did not have enough free storage";
export const ErrReasonPVNotExist = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";

/** A PVC to bind to a pre-provisioned PV. */
export interface BindingInfo {
  pvc: PersistentVolumeClaim;
  pv: PersistentVolume;
}

/** PodVolumes: what binding a pod's claims on one node takes. */
export interface PodVolumes {
  /** Claims matched to existing PVs. */
  staticBindings: BindingInfo[];
  /** Claims to provision dynamically. */
  dynamicProvisions: PersistentVolumeClaim[];
}

/** PodVolumeClaims: a pod's claims by binding state. */
export interface PodVolumeClaims {
  boundClaims: PersistentVolumeClaim[];
  unboundClaimsDelayBinding: PersistentVolumeClaim[];
  unboundClaimsImmediate: PersistentVolumeClaim[];
  /** Per storage class of the delayed claims, its PVs. */
  unboundVolumesDelayBinding: Map<string, PersistentVolume[]>;
}

/** ephemeral.VolumeClaimName: `<pod>-<volume>`. */
export function ephemeralClaimName(pod: Pod, vol: Volume): string {
  return `${pod.metadata?.name ?? ""}-${vol.name}`;
}

/** ephemeral.VolumeIsForPod: the claim is controlled by the pod. */
export function ephemeralVolumeIsForPod(pod: Pod, pvc: PersistentVolumeClaim): string | undefined {
  const pvcName = `${pvc.metadata?.namespace ?? ""}/${pvc.metadata?.name ?? ""}`;
  const podName = `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;
  if ((pod.metadata?.namespace ?? "") !== (pvc.metadata?.namespace ?? "")) return `PVC ${pvcName} was not created for pod ${podName} (namespace mismatch)`;
  const controller = pvc.metadata?.ownerReferences?.find((r) => r.controller === true);
  if (!controller || controller.uid !== pod.metadata?.uid) return `PVC ${pvcName} was not created for pod ${podName} (pod is not owner)`;
  return undefined;
}

/** isPVCFullyBound: bound to a volume and marked complete by the PV controller. */
export function isPVCFullyBound(pvc: PersistentVolumeClaim): boolean {
  const ann = pvc.metadata?.annotations;
  return (pvc.spec?.volumeName ?? "") !== "" && !!ann && Object.hasOwn(ann, AnnBindCompleted);
}

/** The claim name a volume uses, or undefined for volumes without a claim. */
export function volumeClaimName(pod: Pod, vol: Volume): { name: string; ephemeral: boolean } | undefined {
  if (vol.persistentVolumeClaim) return { name: vol.persistentVolumeClaim.claimName, ephemeral: false };
  if (vol.ephemeral) return { name: ephemeralClaimName(pod, vol), ephemeral: true };
  return undefined;
}

export class VolumeBinder {
  readonly pvCache: AssumeCache<PersistentVolume>;
  readonly pvcCache: AssumeCache<PersistentVolumeClaim>;

  constructor(
    private readonly handle: Handle,
  ) {
    const l = handle.listers;
    this.pvCache = new AssumeCache(
      (name) => l.persistentVolumes.get(name),
      () => l.persistentVolumes.list(),
      (pv) => pv.metadata?.name ?? "",
      "v1.PersistentVolume",
    );
    this.pvcCache = new AssumeCache(
      (key) => {
        const i = key.indexOf("/");
        return l.persistentVolumeClaims.get(key.slice(0, i), key.slice(i + 1));
      },
      () => l.persistentVolumeClaims.list(),
      claimKey,
      "v1.PersistentVolumeClaim",
    );
  }

  /** isVolumeBound: whether the volume's claim is fully bound, and the claim (undefined for volumes without one). */
  private isVolumeBound(pod: Pod, vol: Volume): { bound: boolean; pvc?: PersistentVolumeClaim } | string {
    const ref = volumeClaimName(pod, vol);
    if (!ref) return { bound: true };
    const key = `${pod.metadata?.namespace ?? ""}/${ref.name}`;
    const pvc = this.pvcCache.get(key);
    if (!pvc) return `error getting PVC ${JSON.stringify(key)}: ${this.pvcCache.notFound(key)}`;
    if (ref.ephemeral) {
      const err = ephemeralVolumeIsForPod(pod, pvc);
      if (err) return err;
    }
    return { bound: isPVCFullyBound(pvc), pvc };
  }

  /** IsDelayBindingMode: the claim's class binds WaitForFirstConsumer (an unknown class binds immediately). */
  private isDelayBindingMode(claim: PersistentVolumeClaim): boolean | string {
    const className = claimClass(claim);
    if (className === "") return false;
    const cls = this.handle.listers.storageClasses.get(className);
    if (!cls) return false;
    if (!cls.volumeBindingMode) return `VolumeBindingMode not set for StorageClass ${JSON.stringify(className)}`;
    return cls.volumeBindingMode === "WaitForFirstConsumer";
  }

  /** GetPodVolumeClaims: the pod's claims sorted by binding state (pre-bound claims count as immediate). */
  getPodVolumeClaims(pod: Pod): PodVolumeClaims | string {
    const out: PodVolumeClaims = { boundClaims: [], unboundClaimsDelayBinding: [], unboundClaimsImmediate: [], unboundVolumesDelayBinding: new Map() };
    for (const vol of pod.spec?.volumes ?? []) {
      const r = this.isVolumeBound(pod, vol);
      if (typeof r === "string") return r;
      if (!r.pvc) continue;
      if (r.bound) {
        out.boundClaims.push(r.pvc);
        continue;
      }
      const delay = this.isDelayBindingMode(r.pvc);
      if (typeof delay === "string") return delay;
      if (delay && (r.pvc.spec?.volumeName ?? "") === "") out.unboundClaimsDelayBinding.push(r.pvc);
      else out.unboundClaimsImmediate.push(r.pvc);
    }
    for (const pvc of out.unboundClaimsDelayBinding) {
      const cls = claimClass(pvc);
      out.unboundVolumesDelayBinding.set(
        cls,
        this.pvCache.list((pv) => volumeClass(pv) === cls),
      );
    }
    return out;
  }

  /** GetEligibleNodes: when bound PVs are pinned to hostnames, only those nodes (undefined: every node). */
  getEligibleNodes(boundClaims: readonly PersistentVolumeClaim[]): Set<string> | undefined {
    let eligible: Set<string> | undefined;
    for (const pvc of boundClaims) {
      const pv = this.pvCache.get(pvc.spec?.volumeName ?? "");
      // A missing PV: no reduction can be made.
      if (!pv) return undefined;
      const names = localVolumeNodeNames(pv);
      if (!names) continue;
      eligible = eligible ? new Set(names.filter((n) => eligible!.has(n))) : new Set(names);
    }
    return eligible;
  }

  /** checkBoundClaims: [every bound PV's node affinity admits the node, every bound PV exists]. */
  private checkBoundClaims(claims: readonly PersistentVolumeClaim[], node: Node): [boolean, boolean] {
    for (const pvc of claims) {
      const pv = this.pvCache.get(pvc.spec?.volumeName ?? "");
      if (!pv) return [true, false];
      if (checkNodeAffinity(pv, node.metadata?.labels) !== undefined) return [false, true];
    }
    return [true, true];
  }

  /** findMatchingVolumes: smallest claims first, each to the smallest fitting PV not chosen yet. */
  private findMatchingVolumes(
    claimsToBind: PersistentVolumeClaim[],
    unboundVolumes: ReadonlyMap<string, PersistentVolume[]>,
    node: Node,
  ): { foundMatches: boolean; bindings: BindingInfo[]; unboundClaims: PersistentVolumeClaim[] } {
    const sorted = [...claimsToBind].sort((a, b) => requestedStorage(a) - requestedStorage(b));
    const chosen = new Map<string, PersistentVolume>();
    const bindings: BindingInfo[] = [];
    const unboundClaims: PersistentVolumeClaim[] = [];
    let foundMatches = true;
    for (const pvc of sorted) {
      const pv = findMatchingVolume(pvc, unboundVolumes.get(claimClass(pvc)) ?? [], node, chosen, true);
      if (!pv) {
        unboundClaims.push(pvc);
        foundMatches = false;
        continue;
      }
      chosen.set(pv.metadata?.name ?? "", pv);
      bindings.push({ pv, pvc });
    }
    return { foundMatches, bindings, unboundClaims };
  }

  /** hasEnoughCapacity: only for CSI drivers that opt into storage capacity tracking. */
  private hasEnoughCapacity(provisioner: string, claim: PersistentVolumeClaim, cls: StorageClass, node: Node): boolean {
    const q = claim.spec?.resources?.requests?.storage;
    if (q === undefined) return true;
    const driver = this.handle.listers.csiDrivers.get(provisioner);
    if (!driver?.spec?.storageCapacity) return true;
    const size = value(q);
    for (const cap of this.handle.listers.csiStorageCapacities.list()) {
      if (cap.storageClassName !== cls.metadata?.name) continue;
      const limit = cap.maximumVolumeSize ?? cap.capacity;
      if (limit === undefined || value(limit) < size) continue;
      if (!cap.nodeTopology) continue;
      try {
        if (labelSelectorAsSelector(cap.nodeTopology).matches(node.metadata?.labels)) return true;
      } catch {
        // A topology selector that does not parse gives no access.
      }
    }
    return false;
  }

  /** checkVolumeProvisions: whether every claim can be provisioned for the node, and whether storage suffices. */
  private checkVolumeProvisions(
    claims: readonly PersistentVolumeClaim[],
    node: Node,
  ): { satisfied: boolean; sufficientStorage: boolean; dynamicProvisions: PersistentVolumeClaim[] } | string {
    const dynamicProvisions: PersistentVolumeClaim[] = [];
    for (const claim of claims) {
      const className = claimClass(claim);
      if (className === "") return `no class for claim ${JSON.stringify(claimKey(claim))}`;
      const cls = this.handle.listers.storageClasses.get(className);
      if (!cls) return `failed to find storage class ${JSON.stringify(className)}`;
      const provisioner = cls.provisioner;
      if (!provisioner || provisioner === NotSupportedProvisioner) return { satisfied: false, sufficientStorage: true, dynamicProvisions: [] };
      if (!matchTopologySelectorTerms(cls.allowedTopologies, node.metadata?.labels)) return { satisfied: false, sufficientStorage: true, dynamicProvisions: [] };
      if (!this.hasEnoughCapacity(provisioner, claim, cls, node)) return { satisfied: true, sufficientStorage: false, dynamicProvisions: [] };
      dynamicProvisions.push(claim);
    }
    return { satisfied: true, sufficientStorage: true, dynamicProvisions };
  }

  /** FindPodVolumes: what binding the claims on `node` takes, and why it cannot (reasons, in upstream's order). */
  findPodVolumes(claims: PodVolumeClaims, node: Node): { podVolumes: PodVolumes; reasons: string[] } | string {
    const podVolumes: PodVolumes = { staticBindings: [], dynamicProvisions: [] };
    let boundVolumesSatisfied = true;
    let unboundVolumesSatisfied = true;
    let sufficientStorage = true;
    let boundPVsFound = true;
    const reasons = (): string[] => {
      const out: string[] = [];
      if (!boundVolumesSatisfied) out.push(ErrReasonNodeConflict);
      if (!unboundVolumesSatisfied) out.push(ErrReasonBindConflict);
      if (!sufficientStorage) out.push(ErrReasonNotEnoughSpace);
      if (!boundPVsFound) out.push(ErrReasonPVNotExist);
      return out;
    };
    if (claims.boundClaims.length > 0) [boundVolumesSatisfied, boundPVsFound] = this.checkBoundClaims(claims.boundClaims, node);
    if (claims.unboundClaimsDelayBinding.length > 0) {
      const toFind: PersistentVolumeClaim[] = [];
      const toProvision: PersistentVolumeClaim[] = [];
      for (const claim of claims.unboundClaimsDelayBinding) {
        const ann = claim.metadata?.annotations;
        if (ann && Object.hasOwn(ann, AnnSelectedNode)) {
          // Already being provisioned for another node: this one cannot have it.
          if (ann[AnnSelectedNode] !== node.metadata?.name) {
            unboundVolumesSatisfied = false;
            return { podVolumes, reasons: reasons() };
          }
          toProvision.push(claim);
        } else {
          toFind.push(claim);
        }
      }
      if (toFind.length > 0) {
        let m: ReturnType<VolumeBinder["findMatchingVolumes"]>;
        try {
          m = this.findMatchingVolumes(toFind, claims.unboundVolumesDelayBinding, node);
        } catch (e) {
          return (e as Error).message;
        }
        unboundVolumesSatisfied = m.foundMatches;
        podVolumes.staticBindings = m.bindings;
        toProvision.push(...m.unboundClaims);
      }
      if (toProvision.length > 0) {
        const p = this.checkVolumeProvisions(toProvision, node);
        if (typeof p === "string") return p;
        unboundVolumesSatisfied = p.satisfied;
        sufficientStorage = p.sufficientStorage;
        podVolumes.dynamicProvisions = p.dynamicProvisions;
      }
    }
    return { podVolumes, reasons: reasons() };
  }

  /** arePodVolumesBound: every claim of the pod is fully bound (assumed claims included). */
  private arePodVolumesBound(pod: Pod): boolean {
    for (const vol of pod.spec?.volumes ?? []) {
      const r = this.isVolumeBound(pod, vol);
      if (typeof r === "string" || !r.bound) return false;
    }
    return true;
  }

  /** Drops the assumed PVs of these bindings. */
  revertAssumedPVs(bindings: readonly BindingInfo[]): void {
    for (const b of bindings) this.pvCache.restore(b.pv.metadata?.name ?? "");
  }

  /** Drops the assumed claims. */
  revertAssumedPVCs(claims: readonly PersistentVolumeClaim[]): void {
    for (const c of claims) this.pvcCache.restore(claimKey(c));
  }

  /**
   * AssumePodVolumes: records the node's bindings in the caches (PVs
   * prebound to their claims, claims annotated with the node) and replaces
   * `podVolumes` with the assumed objects. True when everything is already
   * bound; an error message when an object is stale.
   */
  assumePodVolumes(pod: Pod, nodeName: string, podVolumes: PodVolumes): boolean | string {
    if (this.arePodVolumesBound(pod)) return true;
    const newBindings: BindingInfo[] = [];
    for (const b of podVolumes.staticBindings) {
      const { pv, dirty } = bindVolumeToClaim(b.pv, b.pvc);
      if (dirty) {
        const err = this.pvCache.assume(pv);
        if (err) {
          this.revertAssumedPVs(newBindings);
          return err;
        }
      }
      newBindings.push({ pv, pvc: b.pvc });
    }
    const newProvisioned: PersistentVolumeClaim[] = [];
    for (const claim of podVolumes.dynamicProvisions) {
      // The claim may be the informer's object: annotate a copy.
      const clone: PersistentVolumeClaim = structuredClone(claim);
      clone.metadata = { ...clone.metadata, annotations: { ...clone.metadata?.annotations, [AnnSelectedNode]: nodeName } };
      const err = this.pvcCache.assume(clone);
      if (err) {
        this.revertAssumedPVs(newBindings);
        this.revertAssumedPVCs(newProvisioned);
        return err;
      }
      newProvisioned.push(clone);
    }
    podVolumes.staticBindings = newBindings;
    podVolumes.dynamicProvisions = newProvisioned;
    return false;
  }

  /** RevertAssumedPodVolumes. */
  revertAssumedPodVolumes(podVolumes: PodVolumes): void {
    this.revertAssumedPVs(podVolumes.staticBindings);
    this.revertAssumedPVCs(podVolumes.dynamicProvisions);
  }
}
