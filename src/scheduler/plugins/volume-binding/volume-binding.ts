/**
 * VolumeBinding (PreFilter, Filter, Reserve/Unreserve, PreBind; PreScore
 * and Score, which skip without the alpha VolumeCapacityPriority feature):
 * a pod's bound claims must have PVs whose node affinity admits the node;
 * its unbound WaitForFirstConsumer claims must find an available PV there
 * or be provisionable there; unbound Immediate claims keep the pod pending.
 *
 * PreBind binds through the Handle's `client` (PUT PV with its claimRef,
 * PUT PVC with the `volume.kubernetes.io/selected-node` annotation), then
 * waits — polling the listers every second, up to bindTimeoutSeconds — for
 * the PV controller or external provisioner to complete the binding
 * (`pv.kubernetes.io/bind-completed`), as upstream. Pods whose claims are
 * all bound never wait. Args: `bindTimeoutSeconds` (default 600).
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import type { CycleState, StateData } from "../../framework/cycle-state.js";
import { ActionType, type ClusterEventWithHint, EventResource } from "../../framework/events.js";
import type { NodeInfo } from "../../framework/node-info.js";
import type { PluginRegistration } from "../../framework/registry.js";
import { Code, Status } from "../../framework/status.js";
import type {
  EnqueueExtensions,
  FilterPlugin,
  Handle,
  PreBindPlugin,
  PreFilterOutcome,
  PreFilterPlugin,
  PreScorePlugin,
  ReservePlugin,
  ScoreExtensions,
  ScorePlugin,
} from "../../framework/types.js";
import { Names } from "../names.js";
import { bindPodVolumes } from "./bind-volumes.js";
import { defaultVolumeBindingArgs, validateVolumeBindingArgs, type VolumeBindingArgs } from "./args.js";
import { ephemeralVolumeIsForPod, type PodVolumeClaims, type PodVolumes, VolumeBinder, volumeClaimName } from "./binder.js";

const stateKey = Names.VolumeBinding;

/** stateData: written at PreFilter; Filter fills podVolumesByNode, Reserve sets allBound. */
class BindingState implements StateData {
  allBound = false;
  /** The pod's volumes per feasible node (undefined when the pod has no claims). */
  readonly podVolumesByNode: Map<string, PodVolumes> | undefined;
  readonly podVolumeClaims: PodVolumeClaims | undefined;
  hasStaticBindings = false;

  constructor(claims?: PodVolumeClaims) {
    this.podVolumeClaims = claims;
    this.podVolumesByNode = claims ? new Map() : undefined;
  }

  clone(): StateData {
    // Shared on purpose: Filter runs on clones (preemption, nominated pods) and Reserve reads the results.
    return this;
  }
}

const isState = (d: StateData): d is BindingState => d instanceof BindingState;

function getStateData(state: CycleState): BindingState | Status {
  const d = state.read(stateKey);
  if (d === undefined) return Status.asStatus("not found");
  if (!isState(d)) return Status.asStatus("unable to convert state into stateData");
  return d;
}

export class VolumeBinding implements PreFilterPlugin, FilterPlugin, ReservePlugin, PreBindPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions {
  readonly name = Names.VolumeBinding;
  readonly binder: VolumeBinder;
  private readonly bindTimeoutMs: number;

  constructor(
    args: VolumeBindingArgs,
    private readonly handle: Handle,
  ) {
    this.binder = new VolumeBinder(handle);
    this.bindTimeoutMs = (defaultVolumeBindingArgs(args).bindTimeoutSeconds ?? 0) * 1000;
  }

  /** podHasPVCs: whether the pod uses claims, or why one of them is unusable. */
  private podHasPVCs(pod: Pod): boolean | string {
    let hasPVC = false;
    const ns = pod.metadata?.namespace ?? "";
    for (const vol of pod.spec?.volumes ?? []) {
      const ref = volumeClaimName(pod, vol);
      if (!ref) continue;
      hasPVC = true;
      const pvc = this.handle.listers.persistentVolumeClaims.get(ns, ref.name);
      if (!pvc) {
        // Normal right after an ephemeral volume's pod is created: say what is awaited.
        if (ref.ephemeral) return `waiting for ephemeral volume controller to create the persistentvolumeclaim ${JSON.stringify(ref.name)}`;
        return `persistentvolumeclaim ${JSON.stringify(ref.name)} not found`;
      }
      if (pvc.status?.phase === "Lost") {
        return `persistentvolumeclaim ${JSON.stringify(pvc.metadata?.name ?? "")} bound to non-existent persistentvolume ${JSON.stringify(pvc.spec?.volumeName ?? "")}`;
      }
      if (pvc.metadata?.deletionTimestamp) return `persistentvolumeclaim ${JSON.stringify(pvc.metadata?.name ?? "")} is being deleted`;
      if (ref.ephemeral) {
        const err = ephemeralVolumeIsForPod(pod, pvc);
        if (err) return err;
      }
    }
    return hasPVC;
  }

  /** PreFilter: Skip without claims; unbound Immediate claims are UnschedulableAndUnresolvable; pinned local PVs narrow the nodes. */
  preFilter(state: CycleState, pod: Pod): PreFilterOutcome {
    const has = this.podHasPVCs(pod);
    if (typeof has === "string") return { status: Status.of(Code.UnschedulableAndUnresolvable, has) };
    if (!has) {
      state.write(stateKey, new BindingState());
      return { status: Status.of(Code.Skip) };
    }
    const claims = this.binder.getPodVolumeClaims(pod);
    if (typeof claims === "string") return { status: Status.asStatus(claims) };
    if (claims.unboundClaimsImmediate.length > 0) {
      // Moved back to the active queue once the PV controller binds them.
      return { status: Status.of(Code.UnschedulableAndUnresolvable, "pod has unbound immediate PersistentVolumeClaims") };
    }
    const eligible = this.binder.getEligibleNodes(claims.boundClaims);
    state.write(stateKey, new BindingState(claims));
    return eligible ? { result: { nodeNames: eligible } } : {};
  }

  preFilterExtensions(): null {
    return null;
  }

  filter(state: CycleState, _pod: Pod, nodeInfo: NodeInfo): Status | null {
    const node = nodeInfo.node();
    if (!node) return Status.asStatus("node not found");
    const s = getStateData(state);
    if (s instanceof Status) return s;
    if (!s.podVolumeClaims || !s.podVolumesByNode) return null;
    const r = this.binder.findPodVolumes(s.podVolumeClaims, node);
    if (typeof r === "string") return Status.asStatus(r);
    if (r.reasons.length > 0) return Status.of(Code.UnschedulableAndUnresolvable, ...r.reasons);
    s.podVolumesByNode.set(nodeInfo.name, r.podVolumes);
    s.hasStaticBindings ||= r.podVolumes.staticBindings.length > 0;
    return null;
  }

  /** PreScore: there is no volume capacity scorer without VolumeCapacityPriority. */
  preScore(): Status | null {
    return Status.of(Code.Skip);
  }

  score(): number {
    return 0;
  }

  scoreExtensions(): ScoreExtensions | null {
    return null;
  }

  /** Reserve: assumes the chosen node's bindings in the binder's caches. */
  reserve(state: CycleState, pod: Pod, nodeName: string): Status | null {
    const s = getStateData(state);
    if (s instanceof Status) return s;
    const podVolumes = s.podVolumesByNode?.get(nodeName);
    if (!podVolumes) {
      // The pod references no claim.
      s.allBound = true;
      return null;
    }
    const r = this.binder.assumePodVolumes(pod, nodeName, podVolumes);
    if (typeof r === "string") return Status.asStatus(r);
    s.allBound = r;
    return null;
  }

  /** PreBind: writes the bindings and waits for them to complete (nothing to do when all claims are bound). */
  async preBind(state: CycleState, pod: Pod, nodeName: string): Promise<Status | null> {
    const s = getStateData(state);
    if (s instanceof Status) return s;
    if (s.allBound) return null;
    const podVolumes = s.podVolumesByNode?.get(nodeName);
    if (!podVolumes) return Status.asStatus(`no pod volumes found for node ${JSON.stringify(nodeName)}`);
    const err = await bindPodVolumes(this.binder, this.handle, pod, nodeName, podVolumes, { bindTimeoutMs: this.bindTimeoutMs });
    return err ? Status.asStatus(err) : null;
  }

  /** Unreserve: forgets the assumed bindings (idempotent). */
  unreserve(state: CycleState, _pod: Pod, nodeName: string): void {
    const s = getStateData(state);
    if (s instanceof Status) return;
    const podVolumes = s.podVolumesByNode?.get(nodeName);
    if (podVolumes) this.binder.revertAssumedPodVolumes(podVolumes);
  }

  eventsToRegister(): ClusterEventWithHint[] {
    const addOrUpdate = ActionType.Add | ActionType.Update;
    return [
      // A missing or misconfigured class (allowedTopologies, volumeBindingMode) may be fixed.
      { event: { resource: EventResource.StorageClass, actionType: addOrUpdate } },
      // Claims and volumes are what gets bound.
      { event: { resource: EventResource.PersistentVolumeClaim, actionType: addOrUpdate } },
      { event: { resource: EventResource.PersistentVolume, actionType: addOrUpdate } },
      // Node labels decide PV node affinity and allowed topologies; UpdateNodeTaint catches nodes
      // whose Add was dropped by the pre-check while they were not ready (kubernetes#110175).
      { event: { resource: EventResource.Node, actionType: ActionType.Add | ActionType.UpdateNodeLabel | ActionType.UpdateNodeTaint } },
      { event: { resource: EventResource.CSINode, actionType: addOrUpdate } },
      // Storage capacity tracking.
      { event: { resource: EventResource.CSIDriver, actionType: addOrUpdate } },
      { event: { resource: EventResource.CSIStorageCapacity, actionType: addOrUpdate } },
    ];
  }
}

export const volumeBindingRegistration: PluginRegistration = {
  factory: (args, handle) => {
    const a = defaultVolumeBindingArgs((args ?? {}) as VolumeBindingArgs);
    const errs = validateVolumeBindingArgs("", a);
    if (errs.length > 0) throw new Error(errs.length === 1 ? errs[0] : `[${errs.join(", ")}]`);
    return new VolumeBinding(a, handle);
  },
  argsKind: "VolumeBindingArgs",
  defaultArgs: (args) => ({ ...defaultVolumeBindingArgs(args as VolumeBindingArgs) }),
  validateArgs: (path, args) => validateVolumeBindingArgs(path, args as VolumeBindingArgs),
};
