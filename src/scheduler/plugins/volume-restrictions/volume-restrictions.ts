/**
 * VolumeRestrictions (PreFilter, Filter): a GCE PD, AWS EBS, iSCSI or RBD
 * disk mounted read-write by a pod on the node cannot be mounted by another;
 * and a ReadWriteOncePod PVC already used by a scheduled pod blocks every
 * node.
 */
import type { Pod, Volume } from "kubernetes-types/core/v1.js";
import { type CycleState, readState, type StateData } from "../../framework/cycle-state.js";
import { ActionType, type ClusterEventWithHint, EventResource } from "../../framework/events.js";
import { namespacedName, type NodeInfo } from "../../framework/node-info.js";
import type { PodInfo } from "../../framework/pod-info.js";
import type { PluginRegistration } from "../../framework/registry.js";
import { Code, Status } from "../../framework/status.js";
import type {
  EnqueueExtensions,
  FilterPlugin,
  Handle,
  PreFilterExtensions,
  PreFilterOutcome,
  PreFilterPlugin,
} from "../../framework/types.js";
import { Names } from "../names.js";

export const ErrReasonDiskConflict = "node(s) had no available disk";
export const ErrReasonReadWriteOncePodConflict = "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode";
const preFilterStateKey = `PreFilter${Names.VolumeRestrictions}`;

class PreFilterState implements StateData {
  constructor(
    /** Claim names of the pod's ReadWriteOncePod volumes. */
    readonly readWriteOncePodPVCs: ReadonlySet<string>,
    /** How many scheduled pods use those claims. */
    public conflictingPVCRefCount: number,
  ) {}

  updateWithPod(pi: PodInfo, multiplier: 1 | -1): void {
    let conflicts = 0;
    for (const v of pi.pod.spec?.volumes ?? []) {
      const claim = v.persistentVolumeClaim?.claimName;
      if (claim !== undefined && this.readWriteOncePodPVCs.has(claim)) conflicts++;
    }
    this.conflictingPVCRefCount += multiplier * conflicts;
  }

  clone(): StateData {
    return new PreFilterState(this.readWriteOncePodPVCs, this.conflictingPVCRefCount);
  }
}

const isState = (d: StateData): d is PreFilterState => d instanceof PreFilterState;

function haveOverlap(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  const set = new Set(a ?? []);
  for (const v of b ?? []) if (set.has(v)) return true;
  return false;
}

/** isVolumeConflict: the volume conflicts with one of the existing pod's volumes. */
export function isVolumeConflict(volume: Volume, pod: Pod): boolean {
  for (const ev of pod.spec?.volumes ?? []) {
    // The same GCE disk conflicts unless every mount is read-only.
    if (volume.gcePersistentDisk && ev.gcePersistentDisk) {
      const d = volume.gcePersistentDisk;
      const e = ev.gcePersistentDisk;
      if (d.pdName === e.pdName && !(d.readOnly && e.readOnly)) return true;
    }
    if (volume.awsElasticBlockStore && ev.awsElasticBlockStore) {
      if (volume.awsElasticBlockStore.volumeID === ev.awsElasticBlockStore.volumeID) return true;
    }
    // iSCSI volumes are RWO or ROX: one read-write mount at most.
    if (volume.iscsi && ev.iscsi) {
      if (volume.iscsi.iqn === ev.iscsi.iqn && !(volume.iscsi.readOnly && ev.iscsi.readOnly)) return true;
    }
    // The same RBD image: a shared monitor, the same pool and image, not all read-only.
    if (volume.rbd && ev.rbd) {
      const v = volume.rbd;
      const e = ev.rbd;
      if (haveOverlap(v.monitors, e.monitors) && (v.pool ?? "rbd") === (e.pool ?? "rbd") && v.image === e.image && !(v.readOnly && e.readOnly)) return true;
    }
  }
  return false;
}

function needsRestrictionsCheck(v: Volume): boolean {
  return !!(v.gcePersistentDisk || v.awsElasticBlockStore || v.rbd || v.iscsi);
}

function satisfyVolumeConflicts(pod: Pod, nodeInfo: NodeInfo): boolean {
  for (const v of pod.spec?.volumes ?? []) {
    if (!needsRestrictionsCheck(v)) continue;
    for (const ev of nodeInfo.pods) if (isVolumeConflict(v, ev.pod)) return false;
  }
  return true;
}

export class VolumeRestrictions implements PreFilterPlugin, PreFilterExtensions, FilterPlugin, EnqueueExtensions {
  readonly name = Names.VolumeRestrictions;

  constructor(private readonly handle: Handle) {}

  /** The pod's claims with ReadWriteOncePod, or the message of a missing claim. */
  private readWriteOncePodPVCsForPod(pod: Pod): Set<string> | { notFound: string } {
    const ns = pod.metadata?.namespace ?? "";
    const out = new Set<string>();
    for (const v of pod.spec?.volumes ?? []) {
      const claim = v.persistentVolumeClaim?.claimName;
      if (claim === undefined) continue;
      const pvc = this.handle.listers.persistentVolumeClaims.get(ns, claim);
      if (!pvc) return { notFound: `persistentvolumeclaim ${JSON.stringify(claim)} not found` };
      if (!(pvc.spec?.accessModes ?? []).includes("ReadWriteOncePod")) continue;
      out.add(pvc.metadata?.name ?? claim);
    }
    return out;
  }

  preFilter(state: CycleState, pod: Pod): PreFilterOutcome {
    const needsCheck = (pod.spec?.volumes ?? []).some(needsRestrictionsCheck);
    const pvcs = this.readWriteOncePodPVCsForPod(pod);
    if (!(pvcs instanceof Set)) return { status: Status.of(Code.UnschedulableAndUnresolvable, pvcs.notFound) };
    const storage = this.handle.snapshotSharedLister().storageInfos();
    let conflicts = 0;
    // At most one pod can use a ReadWriteOncePod claim.
    for (const claim of pvcs) if (storage.isPVCUsedByPods(namespacedName(pod.metadata?.namespace ?? "", claim))) conflicts++;
    if (!needsCheck && conflicts === 0) return { status: Status.of(Code.Skip) };
    state.write(preFilterStateKey, new PreFilterState(pvcs, conflicts));
    return {};
  }

  preFilterExtensions(): PreFilterExtensions {
    return this;
  }

  addPod(state: CycleState, _podToSchedule: Pod, podInfoToAdd: PodInfo): Status | null {
    const s = readState(state, preFilterStateKey, isState);
    if (typeof s === "string") return Status.asStatus(`cannot read "${preFilterStateKey}" from cycleState`);
    s.updateWithPod(podInfoToAdd, 1);
    return null;
  }

  removePod(state: CycleState, _podToSchedule: Pod, podInfoToRemove: PodInfo): Status | null {
    const s = readState(state, preFilterStateKey, isState);
    if (typeof s === "string") return Status.asStatus(`cannot read "${preFilterStateKey}" from cycleState`);
    s.updateWithPod(podInfoToRemove, -1);
    return null;
  }

  filter(state: CycleState, pod: Pod, nodeInfo: NodeInfo): Status | null {
    if (!satisfyVolumeConflicts(pod, nodeInfo)) return Status.of(Code.Unschedulable, ErrReasonDiskConflict);
    const s = readState(state, preFilterStateKey, isState);
    if (typeof s === "string") return Status.asStatus(`cannot read "${preFilterStateKey}" from cycleState`);
    if (s.conflictingPVCRefCount > 0) return Status.of(Code.Unschedulable, ErrReasonReadWriteOncePodConflict);
    return null;
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      // Deleting a pod releases its volumes; volumes are immutable, so pod updates do not matter.
      { event: { resource: EventResource.Pod, actionType: ActionType.Delete } },
      { event: { resource: EventResource.Node, actionType: ActionType.Add } },
      // The claim may not exist yet; its access modes are needed.
      { event: { resource: EventResource.PersistentVolumeClaim, actionType: ActionType.Add | ActionType.Update } },
    ];
  }
}

export const volumeRestrictionsRegistration: PluginRegistration = { factory: (_args, handle) => new VolumeRestrictions(handle) };
