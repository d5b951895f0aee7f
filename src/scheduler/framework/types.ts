/**
 * The plugin interfaces, one per extension point (framework/interface.go,
 * v1.30), and the Handle through which plugins reach the scheduler's state.
 *
 * A plugin is an object with a `name` and the methods of the extension
 * points it implements; the framework finds them by method presence, as Go
 * does by interface assertion. Departures from upstream, for speed in a
 * single-threaded runtime: Score takes the NodeInfo rather than a node name
 * (as upstream does from v1.32) and returns either a number or a failure
 * Status; PreBind and Bind are async because they do I/O.
 */
import type { Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod, PodCondition, ReplicationController, Service } from "kubernetes-types/core/v1.js";
import type { ReplicaSet, StatefulSet } from "kubernetes-types/apps/v1.js";
import type { PodDisruptionBudget } from "kubernetes-types/policy/v1.js";
import type { PriorityClass } from "kubernetes-types/scheduling/v1.js";
import type { CSIDriver, CSINode, CSIStorageCapacity, StorageClass } from "kubernetes-types/storage/v1.js";
import type { Clock } from "../../machinery/clock.js";
import type { CycleState } from "./cycle-state.js";
import type { ClusterEventWithHint } from "./events.js";
import type { NodeInfo } from "./node-info.js";
import type { PodInfo, QueuedPodInfo } from "./pod-info.js";
import type { Status } from "./status.js";
import type { Timers } from "./timers.js";

/** The highest score a Score plugin may give a node after normalizing. */
export const MaxNodeScore = 100;
export const MinNodeScore = 0;
/** The bound on the sum of weighted scores (math.MaxInt64 upstream). */
export const MaxTotalScore = Number.MAX_SAFE_INTEGER;

/** A status per node name, for nodes that failed Filter (NodeToStatusMap). */
export type NodeToStatusMap = Map<string, Status>;

/** Every plugin has a name, unique within a profile. */
export interface Plugin {
  readonly name: string;
}

/** EnqueueExtensions: the cluster events that may make a pod this plugin rejected schedulable. */
export interface EnqueueExtensions extends Plugin {
  /** An empty list means only the pod's own update can help (as SchedulingGates in v1.30). */
  eventsToRegister(): ClusterEventWithHint[];
}

/** PreEnqueue: gates a pod before it enters activeQ; a non-success status keeps it in unschedulablePods. */
export interface PreEnqueuePlugin extends Plugin {
  preEnqueue(pod: Pod): Status | null;
}

/** QueueSort: orders activeQ. Exactly one per profile. */
export interface QueueSortPlugin extends Plugin {
  less(a: QueuedPodInfo, b: QueuedPodInfo): boolean;
}

/** PreFilterResult: when nodeNames is set, only those nodes are considered downstream. */
export interface PreFilterResult {
  readonly nodeNames?: ReadonlySet<string>;
}

/** AllNodes(): a nil result or one without nodeNames selects every node. */
export function preFilterAllNodes(r: PreFilterResult | null | undefined): boolean {
  return !r || r.nodeNames === undefined;
}

/** Merge: the intersection of two results' node sets (nil means all nodes). */
export function mergePreFilterResults(p: PreFilterResult | null | undefined, q: PreFilterResult | null | undefined): PreFilterResult | null {
  if (preFilterAllNodes(p) && preFilterAllNodes(q)) return null;
  if (preFilterAllNodes(p)) return { nodeNames: new Set(q!.nodeNames) };
  if (preFilterAllNodes(q)) return { nodeNames: new Set(p!.nodeNames) };
  const out = new Set<string>();
  for (const n of p!.nodeNames!) if (q!.nodeNames!.has(n)) out.add(n);
  return { nodeNames: out };
}

/** What PreFilter returns: an optional node restriction and a status (null = Success). */
export interface PreFilterOutcome {
  readonly result?: PreFilterResult | null;
  readonly status?: Status | null;
}

/** PreFilterExtensions: incremental updates of PreFilter state when a pod is added/removed (preemption, nominated pods). */
export interface PreFilterExtensions {
  addPod(state: CycleState, podToSchedule: Pod, podInfoToAdd: PodInfo, nodeInfo: NodeInfo): Status | null;
  removePod(state: CycleState, podToSchedule: Pod, podInfoToRemove: PodInfo, nodeInfo: NodeInfo): Status | null;
}

export interface PreFilterPlugin extends Plugin {
  /** Skip status: the plugin's Filter is not needed for this pod. */
  preFilter(state: CycleState, pod: Pod): PreFilterOutcome;
  /** Null when the plugin has no extensions. */
  preFilterExtensions(): PreFilterExtensions | null;
}

/** Filter: whether the pod fits on one node. Only Success, Unschedulable, UnschedulableAndUnresolvable (or Error) are expected. */
export interface FilterPlugin extends Plugin {
  filter(state: CycleState, pod: Pod, nodeInfo: NodeInfo): Status | null;
}

/** NominatingMode: whether a PostFilter result changes the pod's nominated node. */
export const NominatingMode = { Noop: 0, Override: 1 } as const;
export type NominatingMode = (typeof NominatingMode)[keyof typeof NominatingMode];

export interface NominatingInfo {
  readonly nominatedNodeName: string;
  readonly nominatingMode: NominatingMode;
}

/** Mode(): a nil NominatingInfo is a no-op. */
export function nominatingMode(n: NominatingInfo | null | undefined): NominatingMode {
  return n ? n.nominatingMode : NominatingMode.Noop;
}

/**
 * The API work a successful preemption leaves to the wiring (the part of
 * upstream's prepareCandidate that talks to the API server; PostFilter is
 * synchronous here). Do it in this order, then record the preemptor's
 * nomination from `nominatingInfo` as for any PostFilter result:
 *
 * 1. for every pod of `podsToDelete`: add `disruptionCondition` to its
 *    status.conditions (replacing a DisruptionTarget condition; PATCH
 *    pods/status), then DELETE it; on failure, treat the PostFilter as an
 *    Error (upstream returns `AsStatus(err)`) and do not nominate;
 * 2. emit a Normal event reason "Preempted", action "Preempting", note
 *    `Preempted by pod <preemptor uid> on node <nodeName>` for every pod of
 *    `victims`, regarding the victim, related to the preemptor;
 * 3. clear status.nominatedNodeName of every pod of `nominatedPodsToClear`
 *    (errors there are only logged, as upstream).
 *
 * Victims that were waiting at Permit were already rejected in-process and
 * are in `victims` but not in `podsToDelete`.
 */
export interface PreemptionPlan {
  readonly preemptor: Pod;
  /** The node the preemptor is nominated to. */
  readonly nodeName: string;
  /** Every victim, highest priority first. */
  readonly victims: readonly Pod[];
  /** The victims to delete through the API. */
  readonly podsToDelete: readonly Pod[];
  /** The DisruptionTarget condition to add to each deleted victim before deleting it. */
  readonly disruptionCondition: PodCondition;
  /** Lower-priority pods nominated to the node, whose nomination must be cleared. */
  readonly nominatedPodsToClear: readonly Pod[];
}

export interface PostFilterResult {
  readonly nominatingInfo: NominatingInfo | null;
  /** Set by DefaultPreemption on success: the evictions the wiring must carry out. */
  readonly preemption?: PreemptionPlan;
}

export interface PostFilterOutcome {
  readonly result?: PostFilterResult | null;
  readonly status: Status | null;
}

/** PostFilter: runs when no node fits (preemption). */
export interface PostFilterPlugin extends Plugin {
  postFilter(state: CycleState, pod: Pod, filteredNodeStatusMap: NodeToStatusMap): PostFilterOutcome;
}

/** PreScore: once per cycle with the feasible nodes; Skip disables the plugin's Score for this pod. */
export interface PreScorePlugin extends Plugin {
  preScore(state: CycleState, pod: Pod, nodes: readonly NodeInfo[]): Status | null;
}

export interface NodeScore {
  readonly name: string;
  score: number;
}

export interface ScoreExtensions {
  /** Rescales the scores in place to [0, MaxNodeScore]. */
  normalizeScore(state: CycleState, pod: Pod, scores: NodeScore[]): Status | null;
}

export interface ScorePlugin extends Plugin {
  /** The node's raw score, or a Status when scoring failed. */
  score(state: CycleState, pod: Pod, nodeInfo: NodeInfo): number | Status;
  scoreExtensions(): ScoreExtensions | null;
}

/** Reserve/Unreserve: claim (and give back) per-node state before binding. */
export interface ReservePlugin extends Plugin {
  reserve(state: CycleState, pod: Pod, nodeName: string): Status | null;
  unreserve(state: CycleState, pod: Pod, nodeName: string): void;
}

export interface PermitOutcome {
  readonly status: Status | null;
  /** How long to wait when the status is Wait, in milliseconds (capped at 15 minutes). */
  readonly timeoutMs?: number;
}

/** Permit: allow, reject, or hold a reserved pod before binding. */
export interface PermitPlugin extends Plugin {
  permit(state: CycleState, pod: Pod, nodeName: string): PermitOutcome;
}

export interface PreBindPlugin extends Plugin {
  preBind(state: CycleState, pod: Pod, nodeName: string): Promise<Status | null>;
}

/** Bind: binds the pod; Skip passes to the next bind plugin. */
export interface BindPlugin extends Plugin {
  bind(state: CycleState, pod: Pod, nodeName: string): Promise<Status | null>;
}

export interface PostBindPlugin extends Plugin {
  postBind(state: CycleState, pod: Pod, nodeName: string): void;
}

type AnyFn = (...args: never[]) => unknown;
function has(p: Plugin, method: string): boolean {
  return typeof (p as unknown as Record<string, AnyFn | undefined>)[method] === "function";
}

export const isPreEnqueuePlugin = (p: Plugin): p is PreEnqueuePlugin => has(p, "preEnqueue");
export const isQueueSortPlugin = (p: Plugin): p is QueueSortPlugin => has(p, "less");
export const isPreFilterPlugin = (p: Plugin): p is PreFilterPlugin => has(p, "preFilter") && has(p, "preFilterExtensions");
export const isFilterPlugin = (p: Plugin): p is FilterPlugin => has(p, "filter");
export const isPostFilterPlugin = (p: Plugin): p is PostFilterPlugin => has(p, "postFilter");
export const isPreScorePlugin = (p: Plugin): p is PreScorePlugin => has(p, "preScore");
export const isScorePlugin = (p: Plugin): p is ScorePlugin => has(p, "score") && has(p, "scoreExtensions");
export const isReservePlugin = (p: Plugin): p is ReservePlugin => has(p, "reserve") && has(p, "unreserve");
export const isPermitPlugin = (p: Plugin): p is PermitPlugin => has(p, "permit");
export const isPreBindPlugin = (p: Plugin): p is PreBindPlugin => has(p, "preBind");
export const isBindPlugin = (p: Plugin): p is BindPlugin => has(p, "bind");
export const isPostBindPlugin = (p: Plugin): p is PostBindPlugin => has(p, "postBind");
export const isEnqueueExtensions = (p: Plugin): p is EnqueueExtensions => has(p, "eventsToRegister");

/** NodeInfoLister: the nodes of the current snapshot. */
export interface NodeInfoLister {
  /** Every node, in the snapshot's (zone-interleaved) order. */
  list(): readonly NodeInfo[];
  /** Nodes that have at least one pod with (anti-)affinity. */
  havePodsWithAffinityList(): readonly NodeInfo[];
  /** Nodes that have at least one pod with required anti-affinity. */
  havePodsWithRequiredAntiAffinityList(): readonly NodeInfo[];
  /** The node, or undefined when the snapshot has no such node. */
  get(nodeName: string): NodeInfo | undefined;
}

/** StorageInfoLister: which PVCs are in use by scheduled pods. */
export interface StorageInfoLister {
  /** `key` is "namespace/claimName". */
  isPVCUsedByPods(key: string): boolean;
}

/** SharedLister: the snapshot, as plugins see it. */
export interface SharedLister {
  nodeInfos(): NodeInfoLister;
  storageInfos(): StorageInfoLister;
}

/** A cluster-scoped lister over an informer cache. */
export interface ObjectLister<T> {
  get(name: string): T | undefined;
  list(): T[];
}

/** A namespaced lister over an informer cache. */
export interface NamespacedLister<T> {
  get(namespace: string, name: string): T | undefined;
  /** Every object, or those of one namespace. */
  list(namespace?: string): T[];
}

/**
 * The informer-backed listers plugins read (client-go listers). The wiring
 * implements these over its informers; tests use `listersFromObjects`.
 */
export interface ClusterListers {
  readonly pods: NamespacedLister<Pod>;
  readonly nodes: ObjectLister<Node>;
  readonly namespaces: ObjectLister<Namespace>;
  readonly services: NamespacedLister<Service>;
  readonly replicationControllers: NamespacedLister<ReplicationController>;
  readonly replicaSets: NamespacedLister<ReplicaSet>;
  readonly statefulSets: NamespacedLister<StatefulSet>;
  readonly persistentVolumeClaims: NamespacedLister<PersistentVolumeClaim>;
  readonly persistentVolumes: ObjectLister<PersistentVolume>;
  readonly storageClasses: ObjectLister<StorageClass>;
  readonly csiNodes: ObjectLister<CSINode>;
  readonly csiDrivers: ObjectLister<CSIDriver>;
  readonly csiStorageCapacities: NamespacedLister<CSIStorageCapacity>;
  readonly podDisruptionBudgets: NamespacedLister<PodDisruptionBudget>;
  readonly priorityClasses: ObjectLister<PriorityClass>;
}

/** PodNominator: pods nominated to nodes by preemption, which Filter treats as if they were running there. */
export interface PodNominator {
  /** AddNominatedPod: records pi under its nominated node (from `nominatingInfo`, or the pod's status when nil). */
  addNominatedPod(pi: PodInfo, nominatingInfo?: NominatingInfo | null): void;
  deleteNominatedPodIfExists(pod: Pod): void;
  updateNominatedPod(oldPod: Pod, newPodInfo: PodInfo): void;
  nominatedPodsForNode(nodeName: string): PodInfo[];
  /** Whether any pod is nominated at all (lets Filter skip the per-node lookup in the common case). */
  hasNominatedPods(): boolean;
}

/** A permit-waiting pod (framework.WaitingPod). */
export interface WaitingPod {
  getPod(): Pod;
  /** Plugins that have not allowed the pod yet. */
  getPendingPlugins(): string[];
  allow(pluginName: string): void;
  reject(pluginName: string, msg: string): void;
}

/** Binds a pod to a node through the API (POST pods/binding); rejects on failure. The wiring provides it. */
export type BindFunc = (pod: Pod, nodeName: string) => Promise<void>;

/**
 * The API writes plugins make besides binding (a narrow framework.Handle
 * ClientSet()). The wiring provides it; each method resolves with the object
 * as stored (new resourceVersion) and rejects with the API error.
 */
export interface PluginClient {
  /** PUT persistentvolumes/NAME (VolumeBinding's prebinding of a PV to a claim). */
  updatePersistentVolume(pv: PersistentVolume): Promise<PersistentVolume>;
  /** PUT persistentvolumeclaims/NAME (VolumeBinding's selected-node annotation). */
  updatePersistentVolumeClaim(pvc: PersistentVolumeClaim): Promise<PersistentVolumeClaim>;
}

/** Handle: what plugins may use of the scheduler (framework.Handle, without clientset/informers). */
export interface Handle {
  /** The snapshot of the current scheduling cycle. */
  snapshotSharedLister(): SharedLister;
  readonly listers: ClusterListers;
  readonly clock: Clock;
  /** Timers for plugins that wait (VolumeBinding polls for bound claims). */
  readonly timers: Timers;
  /** API writes other than binding; undefined when the wiring gives none (plugins then fail what needs it). */
  readonly client: PluginClient | undefined;
  /** Binds a pod through the API; DefaultBinder calls it. */
  bind(pod: Pod, nodeName: string): Promise<void>;
  nominatedPodsForNode(nodeName: string): PodInfo[];
  runPreFilterExtensionAddPod(state: CycleState, podToSchedule: Pod, podInfoToAdd: PodInfo, nodeInfo: NodeInfo): Status | null;
  runPreFilterExtensionRemovePod(state: CycleState, podToSchedule: Pod, podInfoToRemove: PodInfo, nodeInfo: NodeInfo): Status | null;
  runFilterPlugins(state: CycleState, pod: Pod, nodeInfo: NodeInfo): Status | null;
  runFilterPluginsWithNominatedPods(state: CycleState, pod: Pod, nodeInfo: NodeInfo): Status | null;
  iterateOverWaitingPods(cb: (wp: WaitingPod) => void): void;
  getWaitingPod(uid: string): WaitingPod | undefined;
  /** Rejects a waiting pod; false when no such pod waits. */
  rejectWaitingPod(uid: string): boolean;
}

/** Builds a plugin from its (defaulted, validated) args; may throw on args it cannot use. */
export type PluginFactory = (args: unknown, handle: Handle) => Plugin;
