/**
 * A profile's framework (runtime/framework.go, v1.30): the plugins of one
 * scheduling profile, built from a registry and the profile's config, and
 * the Run* functions that call them at each extension point. It is also the
 * Handle plugins receive. Plugins run one after another: there is no
 * parallelism in this runtime, and nothing here does I/O except through the
 * injected bind function.
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import { type Clock, systemClock } from "../../machinery/clock.js";
import type { KubeSchedulerProfile, PluginRef, PluginSet, Plugins } from "../config/types.js";
import { UPSTREAM_PLUGIN_NAMES } from "../plugins/names.js";
import type { Cache } from "./cache.js";
import type { CycleState } from "./cycle-state.js";
import { ActionType, type ClusterEventWithHint, EventResource } from "./events.js";
import { listersFromObjects } from "./listers.js";
import type { NodeInfo } from "./node-info.js";
import { type PodInfo, podPriority, podKey, type QueuedPodInfo } from "./pod-info.js";
import type { Registry } from "./registry.js";
import { type ScheduleOutcome, schedulePod } from "./schedule-pod.js";
import { Snapshot } from "./snapshot.js";
import { Code, Status, wrapError } from "./status.js";
import { systemTimers, type Timers } from "./timers.js";
import {
  type BindFunc,
  type BindPlugin,
  type ClusterListers,
  type EnqueueExtensions,
  type FilterPlugin,
  type Handle,
  isBindPlugin,
  isEnqueueExtensions,
  isFilterPlugin,
  isPermitPlugin,
  isPostBindPlugin,
  isPostFilterPlugin,
  isPreBindPlugin,
  isPreEnqueuePlugin,
  isPreFilterPlugin,
  isPreScorePlugin,
  isQueueSortPlugin,
  isReservePlugin,
  isScorePlugin,
  MaxNodeScore,
  MaxTotalScore,
  MinNodeScore,
  mergePreFilterResults,
  type NodeScore,
  type NodeToStatusMap,
  NominatingMode,
  type PermitPlugin,
  type Plugin,
  type PluginClient,
  type PodNominator,
  type PostBindPlugin,
  type PostFilterPlugin,
  type PostFilterResult,
  type PreBindPlugin,
  type PreEnqueuePlugin,
  type PreFilterPlugin,
  type PreFilterResult,
  type PreScorePlugin,
  preFilterAllNodes,
  type QueueSortPlugin,
  type ReservePlugin,
  type ScorePlugin,
  type SharedLister,
  type WaitingPod,
} from "./types.js";
import { WaitingPodImpl, WaitingPodsMap } from "./waiting-pods.js";

/** The longest a Permit plugin may hold a pod (15 minutes). */
export const MaxPermitTimeoutMs = 15 * 60 * 1000;

/** A node's weighted scores (framework.NodePluginScores). */
export interface NodePluginScores {
  readonly name: string;
  readonly scores: { readonly name: string; readonly score: number }[];
  totalScore: number;
}

/**
 * NodePluginScores over the cycle's shared score array: `scores` is built
 * only when asked for (hosts are picked on `totalScore` alone).
 */
class WeightedNodeScores implements NodePluginScores {
  constructor(
    readonly name: string,
    public totalScore: number,
    private readonly plugins: readonly string[],
    private readonly weighted: Float64Array,
    private readonly offset: number,
  ) {}

  get scores(): { readonly name: string; readonly score: number }[] {
    return this.plugins.map((name, j) => ({ name, score: this.weighted[this.offset + j]! }));
  }
}

export interface FrameworkOptions {
  /** The snapshot plugins see; schedulePod refreshes it from `cache` first when one is given. */
  snapshot?: Snapshot;
  cache?: Cache;
  /** The informer-backed listers (default: empty). */
  listers?: ClusterListers;
  nominator?: PodNominator;
  /** Binds through the API (DefaultBinder uses it). */
  bind?: BindFunc;
  /** Other API writes plugins make (VolumeBinding's PV/PVC updates). */
  client?: PluginClient;
  clock?: Clock;
  timers?: Timers;
  /** Random numbers in [0, 1) for host selection ties (default Math.random). */
  rng?: () => number;
  /** The configuration-wide percentageOfNodesToScore (the profile's own value wins). */
  percentageOfNodesToScore?: number;
  /** Permit-waiting pods, shared by all profiles. */
  waitingPods?: WaitingPodsMap;
  /**
   * Leave out upstream in-tree plugins the registry does not have (in the
   * default set: the volume-limit plugins and VolumeZone) instead of
   * failing; they are listed in `skippedPlugins`. Unknown names still fail.
   */
  skipUnregisteredPlugins?: boolean;
}

/** Build result: the framework, or an error message worded as upstream's NewFramework errors. */
export type FrameworkResult = { ok: true; framework: Framework } | { ok: false; error: string };

interface ExtensionPointSpec {
  key: keyof Plugins;
  typeName: string;
  accepts: (p: Plugin) => boolean;
}

/** The extension points in upstream's getExtensionPoints order. */
const EXTENSION_POINTS: ExtensionPointSpec[] = [
  { key: "preFilter", typeName: "PreFilterPlugin", accepts: isPreFilterPlugin },
  { key: "filter", typeName: "FilterPlugin", accepts: isFilterPlugin },
  { key: "postFilter", typeName: "PostFilterPlugin", accepts: isPostFilterPlugin },
  { key: "reserve", typeName: "ReservePlugin", accepts: isReservePlugin },
  { key: "preScore", typeName: "PreScorePlugin", accepts: isPreScorePlugin },
  { key: "score", typeName: "ScorePlugin", accepts: isScorePlugin },
  { key: "preBind", typeName: "PreBindPlugin", accepts: isPreBindPlugin },
  { key: "bind", typeName: "BindPlugin", accepts: isBindPlugin },
  { key: "postBind", typeName: "PostBindPlugin", accepts: isPostBindPlugin },
  { key: "permit", typeName: "PermitPlugin", accepts: isPermitPlugin },
  { key: "preEnqueue", typeName: "PreEnqueuePlugin", accepts: isPreEnqueuePlugin },
  { key: "queueSort", typeName: "QueueSortPlugin", accepts: isQueueSortPlugin },
];

/** The EnqueueExtensions of a plugin that does not say which events it cares about: every event. */
class DefaultEnqueueExtension implements EnqueueExtensions {
  constructor(readonly name: string) {}
  eventsToRegister(): ClusterEventWithHint[] {
    return [{ event: { resource: EventResource.WildCard, actionType: ActionType.All } }];
  }
}

function missingPluginError(typeName: string, name: string): string {
  const base = `${typeName} ${JSON.stringify(name)} does not exist`;
  return UPSTREAM_PLUGIN_NAMES.has(name)
    ? `${base} (an upstream plugin skiff does not implement yet; build the profile with skipUnregisteredPlugins to leave it out)`
    : base;
}

function pluginsNeeded(plugins: Plugins): Set<string> {
  const out = new Set<string>();
  for (const set of Object.values(plugins)) for (const p of (set as PluginSet | undefined)?.enabled ?? []) out.add(p.name);
  return out;
}

function withoutUnregistered(plugins: Plugins, registry: Registry, skipped: Set<string>): Plugins {
  const out: Plugins = {};
  for (const [k, set] of Object.entries(plugins) as [keyof Plugins, PluginSet | undefined][]) {
    if (!set) continue;
    const enabled = (set.enabled ?? []).filter((p) => {
      // Only upstream plugins still to be written are left out; a misspelt name stays an error.
      if (registry.has(p.name) || !UPSTREAM_PLUGIN_NAMES.has(p.name)) return true;
      skipped.add(p.name);
      return false;
    });
    out[k] = { enabled, disabled: set.disabled ?? [] };
  }
  return out;
}

export class Framework implements Handle {
  readonly profileName: string;
  /** The profile's percentageOfNodesToScore, if it sets one. */
  readonly percentageOfNodesToScore: number | undefined;
  /** The configuration-wide percentageOfNodesToScore. */
  readonly globalPercentageOfNodesToScore: number;
  readonly listers: ClusterListers;
  readonly clock: Clock;
  /** The nominator (the scheduling queue); set after the queue is built from the frameworks. */
  nominator: PodNominator | undefined;
  readonly snapshot: Snapshot;
  readonly cache: Cache | undefined;
  readonly rng: () => number;
  /** Plugins left out by skipUnregisteredPlugins. */
  readonly skippedPlugins: string[] = [];
  /** Where the next node search starts, so every node gets its turn (nextStartNodeIndex). */
  nextStartNodeIndex = 0;

  readonly timers: Timers;
  readonly client: PluginClient | undefined;
  private readonly bindFunc: BindFunc;
  private readonly waitingPods: WaitingPodsMap;
  private readonly pluginsMap = new Map<string, Plugin>();
  private readonly scorePluginWeight = new Map<string, number>();
  private readonly enqueueExts: EnqueueExtensions[] = [];
  private filterMemo: { skip: ReadonlySet<string> | undefined; size: number; list: readonly FilterPlugin[] } = { skip: undefined, size: 0, list: [] };

  preEnqueuePlugins: PreEnqueuePlugin[] = [];
  queueSortPlugins: QueueSortPlugin[] = [];
  preFilterPlugins: PreFilterPlugin[] = [];
  filterPlugins: FilterPlugin[] = [];
  postFilterPlugins: PostFilterPlugin[] = [];
  preScorePlugins: PreScorePlugin[] = [];
  scorePlugins: ScorePlugin[] = [];
  reservePlugins: ReservePlugin[] = [];
  permitPlugins: PermitPlugin[] = [];
  preBindPlugins: PreBindPlugin[] = [];
  bindPlugins: BindPlugin[] = [];
  postBindPlugins: PostBindPlugin[] = [];

  private constructor(profile: KubeSchedulerProfile, opts: FrameworkOptions) {
    this.profileName = profile.schedulerName ?? "";
    this.percentageOfNodesToScore = profile.percentageOfNodesToScore;
    this.globalPercentageOfNodesToScore = opts.percentageOfNodesToScore ?? 0;
    this.listers = opts.listers ?? listersFromObjects();
    this.clock = opts.clock ?? systemClock;
    this.nominator = opts.nominator;
    this.snapshot = opts.snapshot ?? new Snapshot();
    this.cache = opts.cache;
    this.rng = opts.rng ?? Math.random;
    this.bindFunc = opts.bind ?? (() => Promise.reject(new Error("no bind function is configured")));
    this.timers = opts.timers ?? systemTimers;
    this.client = opts.client;
    this.waitingPods = opts.waitingPods ?? new WaitingPodsMap();
  }

  /** NewFramework: instantiates the profile's plugins from the registry and places them at their extension points. */
  static create(registry: Registry, profile: KubeSchedulerProfile, opts: FrameworkOptions = {}): FrameworkResult {
    const f = new Framework(profile, opts);
    let plugins: Plugins = profile.plugins ?? {};
    if (opts.skipUnregisteredPlugins) {
      const skipped = new Set<string>();
      plugins = withoutUnregistered(plugins, registry, skipped);
      f.skippedPlugins.push(...skipped);
    }
    const needed = pluginsNeeded(plugins);

    const pluginConfig = new Map<string, Record<string, unknown> | undefined>();
    for (const pc of profile.pluginConfig ?? []) {
      if (pluginConfig.has(pc.name)) return { ok: false, error: `repeated config for plugin ${pc.name}` };
      pluginConfig.set(pc.name, pc.args);
    }

    for (const [name, reg] of registry) {
      if (!needed.has(name)) continue;
      let p: Plugin;
      try {
        p = reg.factory(pluginConfig.get(name), f);
      } catch (e) {
        return { ok: false, error: `initializing plugin ${JSON.stringify(name)}: ${(e as Error).message}` };
      }
      f.pluginsMap.set(name, p);
      f.fillEnqueueExtensions(p);
    }

    for (const ep of EXTENSION_POINTS) {
      const err = f.updatePluginList(ep, plugins[ep.key] ?? {});
      if (err) return { ok: false, error: err };
    }
    if ((plugins.multiPoint?.enabled?.length ?? 0) > 0) {
      const err = f.expandMultiPointPlugins(plugins);
      if (err) return { ok: false, error: err };
    }

    if (f.queueSortPlugins.length !== 1) {
      return {
        ok: false,
        error: `only one queue sort plugin required for profile with scheduler name ${JSON.stringify(f.profileName)}, but got ${f.queueSortPlugins.length}`,
      };
    }
    if (f.bindPlugins.length === 0) {
      return { ok: false, error: `at least one bind plugin is needed for profile with scheduler name ${JSON.stringify(f.profileName)}` };
    }
    const err = f.setScoreWeights([...(plugins.score?.enabled ?? []), ...(plugins.multiPoint?.enabled ?? [])]);
    if (err) return { ok: false, error: err };
    for (const sp of f.scorePlugins) {
      if (!f.scorePluginWeight.get(sp.name)) return { ok: false, error: `score plugin ${JSON.stringify(sp.name)} is not configured with weight` };
    }
    return { ok: true, framework: f };
  }

  private listFor(ep: ExtensionPointSpec): Plugin[] {
    return (this as unknown as Record<string, Plugin[]>)[`${ep.key}Plugins`]!;
  }

  private setListFor(ep: ExtensionPointSpec, list: Plugin[]): void {
    (this as unknown as Record<string, Plugin[]>)[`${ep.key}Plugins`] = list;
  }

  private updatePluginList(ep: ExtensionPointSpec, set: PluginSet): string | undefined {
    const list = this.listFor(ep);
    const seen = new Set<string>();
    for (const ref of set.enabled ?? []) {
      const p = this.pluginsMap.get(ref.name);
      if (!p) return missingPluginError(ep.typeName, ref.name);
      if (!ep.accepts(p)) return `plugin ${JSON.stringify(ref.name)} does not extend ${ep.typeName} plugin`;
      if (seen.has(ref.name)) return `plugin ${JSON.stringify(ref.name)} already registered as ${JSON.stringify(ep.typeName)}`;
      seen.add(ref.name);
      list.push(p);
    }
    return undefined;
  }

  private expandMultiPointPlugins(plugins: Plugins): string | undefined {
    for (const ep of EXTENSION_POINTS) {
      const set = plugins[ep.key] ?? {};
      const enabledSet = (set.enabled ?? []).map((p) => p.name);
      const disabled = new Set((set.disabled ?? []).map((p) => p.name));
      // "*" disables every MultiPoint plugin at this extension point.
      if (disabled.has("*")) continue;
      const multiPointEnabled: string[] = [];
      const overrides = new Set<string>();
      for (const ref of plugins.multiPoint?.enabled ?? []) {
        const p = this.pluginsMap.get(ref.name);
        if (!p) return missingPluginError(ep.typeName, ref.name);
        if (!ep.accepts(p)) continue;
        if (disabled.has(ref.name)) continue;
        // Explicitly configured at this extension point: the specific setting wins.
        if (enabledSet.includes(ref.name)) {
          overrides.add(ref.name);
          continue;
        }
        if (multiPointEnabled.includes(ref.name)) return `plugin ${JSON.stringify(ref.name)} already registered as ${JSON.stringify(ep.typeName)}`;
        multiPointEnabled.push(ref.name);
      }
      // Order: overridden plugins (in their specific order), MultiPoint plugins, then the rest of the specific ones.
      const names = [...enabledSet.filter((n) => overrides.has(n)), ...multiPointEnabled, ...enabledSet.filter((n) => !overrides.has(n))];
      this.setListFor(
        ep,
        names.map((n) => this.pluginsMap.get(n)!),
      );
    }
    return undefined;
  }

  private setScoreWeights(refs: PluginRef[]): string | undefined {
    let total = 0;
    for (const ref of refs) {
      const p = this.pluginsMap.get(ref.name);
      if (!p || !isScorePlugin(p)) continue;
      // A Score-specific weight comes first in the list and wins over the MultiPoint one.
      if (this.scorePluginWeight.has(ref.name)) continue;
      const weight = ref.weight || 1;
      this.scorePluginWeight.set(ref.name, weight);
      if (weight * MaxNodeScore > MaxTotalScore - total) return "total score of Score plugins could overflow";
      total += weight * MaxNodeScore;
    }
    return undefined;
  }

  private fillEnqueueExtensions(p: Plugin): void {
    // Only plugins that can reject a pod decide when it is retried.
    const canReject = isPreEnqueuePlugin(p) || isPreFilterPlugin(p) || isFilterPlugin(p) || isReservePlugin(p) || isPermitPlugin(p);
    if (!canReject) return;
    this.enqueueExts.push(isEnqueueExtensions(p) ? p : new DefaultEnqueueExtension(p.name));
  }

  // ---- accessors ----

  /** SetPodNominator: the queue, once it exists (it is built from the frameworks). */
  setPodNominator(n: PodNominator): void {
    this.nominator = n;
  }

  /** The plugin instance by name. */
  plugin(name: string): Plugin | undefined {
    return this.pluginsMap.get(name);
  }

  /** The score weight of a Score plugin. */
  scoreWeight(name: string): number | undefined {
    return this.scorePluginWeight.get(name);
  }

  /** The EnqueueExtensions of the plugins that can reject pods; the queue builds its hint map from them. */
  enqueueExtensions(): readonly EnqueueExtensions[] {
    return this.enqueueExts;
  }

  /** QueueSortFunc. */
  queueSortFunc(): (a: QueuedPodInfo, b: QueuedPodInfo) => boolean {
    const pl = this.queueSortPlugins[0]!;
    return (a, b) => pl.less(a, b);
  }

  hasFilterPlugins(): boolean {
    return this.filterPlugins.length > 0;
  }

  hasPostFilterPlugins(): boolean {
    return this.postFilterPlugins.length > 0;
  }

  hasScorePlugins(): boolean {
    return this.scorePlugins.length > 0;
  }

  /** ListPlugins: the plugin names per extension point, with score weights. */
  listPlugins(): Plugins {
    const out: Plugins = {};
    for (const ep of EXTENSION_POINTS) {
      const list = this.listFor(ep);
      if (list.length === 0) continue;
      out[ep.key] = {
        enabled: list.map((p) => (ep.key === "score" ? { name: p.name, weight: this.scorePluginWeight.get(p.name) } : { name: p.name })),
      };
    }
    return out;
  }

  // ---- Handle ----

  snapshotSharedLister(): SharedLister {
    return this.snapshot;
  }

  bind(pod: Pod, nodeName: string): Promise<void> {
    return this.bindFunc(pod, nodeName);
  }

  nominatedPodsForNode(nodeName: string): PodInfo[] {
    return this.nominator ? this.nominator.nominatedPodsForNode(nodeName) : [];
  }

  iterateOverWaitingPods(cb: (wp: WaitingPod) => void): void {
    this.waitingPods.iterate(cb);
  }

  getWaitingPod(uid: string): WaitingPod | undefined {
    return this.waitingPods.get(uid);
  }

  rejectWaitingPod(uid: string): boolean {
    const wp = this.waitingPods.get(uid);
    if (!wp) return false;
    wp.reject("", "removed");
    return true;
  }

  // ---- PreEnqueue ----

  /** The first PreEnqueue rejection (plugin set), or null. The queue runs these itself; this is for callers outside it. */
  runPreEnqueuePlugins(pod: Pod): Status | null {
    for (const pl of this.preEnqueuePlugins) {
      const s = pl.preEnqueue(pod);
      if (s && !s.isSuccess()) return s.withPlugin(pl.name);
    }
    return null;
  }

  // ---- PreFilter / Filter ----

  /**
   * RunPreFilterPlugins: runs every PreFilter plugin, merging their node
   * restrictions. UnschedulableAndUnresolvable stops at once; Unschedulable
   * lets the rest run (preemption needs their state) and is returned at the
   * end. Plugins answering Skip are recorded in state.skipFilterPlugins.
   */
  runPreFilterPlugins(state: CycleState, pod: Pod): { result: PreFilterResult | null; status: Status | null } {
    const skip = new Set<string>();
    state.skipFilterPlugins = skip;
    let result: PreFilterResult | null = null;
    const pluginsWithNodes: string[] = [];
    let returnStatus: Status | null = null;
    for (const pl of this.preFilterPlugins) {
      const out = pl.preFilter(state, pod);
      const s = out.status ?? null;
      if (s?.isSkip()) {
        skip.add(pl.name);
        continue;
      }
      if (s && !s.isSuccess()) {
        s.setPlugin(pl.name);
        if (s.code === Code.UnschedulableAndUnresolvable) return { result: null, status: s };
        if (s.code === Code.Unschedulable) {
          returnStatus = s;
          continue;
        }
        return { result: null, status: Status.asStatus(wrapError(`running PreFilter plugin ${JSON.stringify(pl.name)}`, s.asError())).withPlugin(pl.name) };
      }
      const r = out.result ?? null;
      if (!preFilterAllNodes(r)) pluginsWithNodes.push(pl.name);
      result = mergePreFilterResults(result, r);
      if (!preFilterAllNodes(result) && result!.nodeNames!.size === 0) {
        const msg =
          pluginsWithNodes.length === 1
            ? `node(s) didn't satisfy plugin ${pluginsWithNodes[0]}`
            : `node(s) didn't satisfy plugin(s) [${pluginsWithNodes.join(" ")}] simultaneously`;
        return { result, status: Status.of(Code.UnschedulableAndUnresolvable, msg) };
      }
    }
    return { result, status: returnStatus };
  }

  runPreFilterExtensionAddPod(state: CycleState, podToSchedule: Pod, podInfoToAdd: PodInfo, nodeInfo: NodeInfo): Status | null {
    for (const pl of this.preFilterPlugins) {
      const ext = pl.preFilterExtensions();
      if (!ext || state.skipFilterPlugins.has(pl.name)) continue;
      const s = ext.addPod(state, podToSchedule, podInfoToAdd, nodeInfo);
      if (s && !s.isSuccess()) return Status.asStatus(wrapError(`running AddPod on PreFilter plugin ${JSON.stringify(pl.name)}`, s.asError()));
    }
    return null;
  }

  runPreFilterExtensionRemovePod(state: CycleState, podToSchedule: Pod, podInfoToRemove: PodInfo, nodeInfo: NodeInfo): Status | null {
    for (const pl of this.preFilterPlugins) {
      const ext = pl.preFilterExtensions();
      if (!ext || state.skipFilterPlugins.has(pl.name)) continue;
      const s = ext.removePod(state, podToSchedule, podInfoToRemove, nodeInfo);
      if (s && !s.isSuccess()) return Status.asStatus(wrapError(`running RemovePod on PreFilter plugin ${JSON.stringify(pl.name)}`, s.asError()));
    }
    return null;
  }

  /**
   * The Filter plugins not skipped by `skip`. Filter runs per node (hundreds
   * of times a cycle) with the same skip set: the list is worked out once per
   * set, keyed by the set and its size (PreFilter only ever adds to it).
   */
  private filtersFor(skip: ReadonlySet<string>): readonly FilterPlugin[] {
    const memo = this.filterMemo;
    if (memo.skip === skip && memo.size === skip.size) return memo.list;
    const list = skip.size === 0 ? this.filterPlugins : this.filterPlugins.filter((pl) => !skip.has(pl.name));
    this.filterMemo = { skip, size: skip.size, list };
    return list;
  }

  /** RunFilterPlugins: stops at the first plugin that rejects the node and returns its status (plugin set). */
  runFilterPlugins(state: CycleState, pod: Pod, nodeInfo: NodeInfo): Status | null {
    const plugins = this.filtersFor(state.skipFilterPlugins);
    for (let i = 0; i < plugins.length; i++) {
      const pl = plugins[i]!;
      let s = pl.filter(state, pod, nodeInfo);
      if (s && !s.isSuccess()) {
        // Filter plugins may only reject; anything else is an error.
        if (!s.isRejected()) s = Status.asStatus(wrapError(`running ${JSON.stringify(pl.name)} filter plugin`, s.asError()));
        s.setPlugin(pl.name);
        return s;
      }
    }
    return null;
  }

  /**
   * RunFilterPluginsWithNominatedPods: when pods of equal or higher priority
   * are nominated to the node, filters run twice — with them counted (they
   * will need the room) and without (affinity to them must not be assumed);
   * the pod must pass both.
   */
  runFilterPluginsWithNominatedPods(state: CycleState, pod: Pod, info: NodeInfo): Status | null {
    // The common case: nothing nominated to this node, one pass.
    if (!this.nominator?.hasNominatedPods() || this.nominator.nominatedPodsForNode(info.name).length === 0) return this.runFilterPlugins(state, pod, info);
    let status: Status | null = null;
    let podsAdded = false;
    for (let i = 0; i < 2; i++) {
      let stateToUse = state;
      let infoToUse = info;
      if (i === 0) {
        const added = this.addNominatedPods(pod, state, info);
        if (added instanceof Status) return added;
        podsAdded = added.podsAdded;
        stateToUse = added.state;
        infoToUse = added.nodeInfo;
      } else if (!podsAdded || (status && !status.isSuccess())) {
        break;
      }
      status = this.runFilterPlugins(stateToUse, pod, infoToUse);
      if (status && !status.isSuccess() && !status.isRejected()) return status;
    }
    return status;
  }

  private addNominatedPods(pod: Pod, state: CycleState, nodeInfo: NodeInfo): Status | { podsAdded: boolean; state: CycleState; nodeInfo: NodeInfo } {
    if (!this.nominator) return { podsAdded: false, state, nodeInfo };
    const nominated = this.nominator.nominatedPodsForNode(nodeInfo.name);
    if (nominated.length === 0) return { podsAdded: false, state, nodeInfo };
    const nodeInfoOut = nodeInfo.snapshot();
    const stateOut = state.clone();
    let podsAdded = false;
    const priority = podPriority(pod);
    const uid = podKey(pod);
    for (const pi of nominated) {
      if (podPriority(pi.pod) >= priority && podKey(pi.pod) !== uid) {
        nodeInfoOut.addPodInfo(pi);
        const s = this.runPreFilterExtensionAddPod(stateOut, pod, pi, nodeInfoOut);
        if (s && !s.isSuccess()) return Status.asStatus(s.asError() ?? new Error(s.message()));
        podsAdded = true;
      }
    }
    return { podsAdded, state: stateOut, nodeInfo: nodeInfoOut };
  }

  // ---- PostFilter ----

  /**
   * RunPostFilterPlugins: runs until one succeeds or returns
   * UnschedulableAndUnresolvable/Error; otherwise all run and their reasons
   * are combined into one Unschedulable status.
   */
  runPostFilterPlugins(state: CycleState, pod: Pod, filteredNodeStatusMap: NodeToStatusMap): { result: PostFilterResult | null; status: Status | null } {
    let result: PostFilterResult | null = null;
    const reasons: string[] = [];
    let rejectorPlugin = "";
    for (const pl of this.postFilterPlugins) {
      const out = pl.postFilter(state, pod, filteredNodeStatusMap);
      const s = out.status;
      const r = out.result ?? null;
      if (!s || s.isSuccess()) return { result: r, status: s };
      if (s.code === Code.UnschedulableAndUnresolvable) return { result: r, status: s.withPlugin(pl.name) };
      if (!s.isRejected()) return { result: null, status: Status.asStatus(s.asError() ?? new Error(s.message())).withPlugin(pl.name) };
      if (r?.nominatingInfo && r.nominatingInfo.nominatingMode !== NominatingMode.Noop) result = r;
      reasons.push(...s.reasons());
      if (rejectorPlugin === "") rejectorPlugin = pl.name;
    }
    return { result, status: Status.of(Code.Unschedulable, ...reasons).withPlugin(rejectorPlugin) };
  }

  // ---- Score ----

  /** RunPreScorePlugins: plugins answering Skip are recorded in state.skipScorePlugins. */
  runPreScorePlugins(state: CycleState, pod: Pod, nodes: readonly NodeInfo[]): Status | null {
    const skip = new Set<string>();
    state.skipScorePlugins = skip;
    for (const pl of this.preScorePlugins) {
      const s = pl.preScore(state, pod, nodes);
      if (s?.isSkip()) {
        skip.add(pl.name);
        continue;
      }
      if (s && !s.isSuccess()) return Status.asStatus(wrapError(`running PreScore plugin ${JSON.stringify(pl.name)}`, s.asError()));
    }
    return null;
  }

  /** RunScorePlugins: score, normalize, check the [0, 100] range and apply weights. */
  runScorePlugins(state: CycleState, pod: Pod, nodes: readonly NodeInfo[]): { scores: NodePluginScores[]; status: Status | null } {
    const skip = state.skipScorePlugins;
    const plugins = skip.size === 0 ? this.scorePlugins : this.scorePlugins.filter((pl) => !skip.has(pl.name));
    const n = nodes.length;
    const k = plugins.length;
    // Raw scores per plugin, node-major; NodeScore objects only for plugins that normalize.
    const raw: Float64Array[] = plugins.map(() => new Float64Array(n));
    for (let j = 0; j < k; j++) {
      const pl = plugins[j]!;
      const out = raw[j]!;
      for (let i = 0; i < n; i++) {
        const s = pl.score(state, pod, nodes[i]!);
        if (typeof s !== "number") {
          const err = wrapError(`plugin ${JSON.stringify(pl.name)} failed with`, s.asError() ?? new Error(s.message()));
          return { scores: [], status: Status.asStatus(wrapError("running Score plugins", err)) };
        }
        out[i] = s;
      }
    }
    for (let j = 0; j < k; j++) {
      const pl = plugins[j]!;
      const ext = pl.scoreExtensions();
      if (!ext) continue;
      const out = raw[j]!;
      const list: NodeScore[] = new Array(n);
      for (let i = 0; i < n; i++) list[i] = { name: nodes[i]!.name, score: out[i]! };
      const s = ext.normalizeScore(state, pod, list);
      if (s && !s.isSuccess()) {
        const err = wrapError(`plugin ${JSON.stringify(pl.name)} failed with`, s.asError() ?? new Error(s.message()));
        return { scores: [], status: Status.asStatus(wrapError("running Normalize on Score plugins", err)) };
      }
      for (let i = 0; i < n; i++) out[i] = list[i]!.score;
    }
    // Weighted scores in one array (node i's plugin j at i*k+j): the per-node
    // results are views on it, so scoring allocates per cycle, not per node.
    const weighted = new Float64Array(n * k);
    const names = plugins.map((pl) => pl.name);
    const weights = plugins.map((pl) => this.scorePluginWeight.get(pl.name) ?? 1);
    const result: NodePluginScores[] = new Array(n);
    for (let i = 0; i < n; i++) {
      let total = 0;
      for (let j = 0; j < k; j++) {
        const score = raw[j]![i]!;
        if (score > MaxNodeScore || score < MinNodeScore) {
          const err = new Error(
            `plugin ${JSON.stringify(names[j])} returns an invalid score ${score}, it should in the range of [${MinNodeScore}, ${MaxNodeScore}] after normalizing`,
          );
          return { scores: [], status: Status.asStatus(wrapError("applying score defaultWeights on Score plugins", err)) };
        }
        const w = score * weights[j]!;
        weighted[i * k + j] = w;
        total += w;
      }
      result[i] = new WeightedNodeScores(nodes[i]!.name, total, names, weighted, i * k);
    }
    return { scores: result, status: null };
  }

  // ---- Reserve / Permit ----

  /** RunReservePluginsReserve: stops at the first failure; the caller then runs Unreserve. */
  runReservePluginsReserve(state: CycleState, pod: Pod, nodeName: string): Status | null {
    for (const pl of this.reservePlugins) {
      const s = pl.reserve(state, pod, nodeName);
      if (s && !s.isSuccess()) {
        if (s.isRejected()) {
          s.setPlugin(pl.name);
          return s;
        }
        return Status.asStatus(wrapError(`running Reserve plugin ${JSON.stringify(pl.name)}`, s.asError()));
      }
    }
    return null;
  }

  /** RunReservePluginsUnreserve: every Reserve plugin's Unreserve, in reverse order. */
  runReservePluginsUnreserve(state: CycleState, pod: Pod, nodeName: string): void {
    for (let i = this.reservePlugins.length - 1; i >= 0; i--) this.reservePlugins[i]!.unreserve(state, pod, nodeName);
  }

  /**
   * RunPermitPlugins: a rejection or error is returned at once; if any plugin
   * asks to wait, the pod joins the waiting pods and a Wait status is
   * returned — follow with waitOnPermit.
   */
  runPermitPlugins(state: CycleState, pod: Pod, nodeName: string): Status | null {
    const waits = new Map<string, number>();
    for (const pl of this.permitPlugins) {
      const out = pl.permit(state, pod, nodeName);
      const s = out.status;
      if (!s || s.isSuccess()) continue;
      if (s.isRejected()) return s.withPlugin(pl.name);
      if (s.isWait()) {
        waits.set(pl.name, Math.min(out.timeoutMs ?? 0, MaxPermitTimeoutMs));
        continue;
      }
      return Status.asStatus(wrapError(`running Permit plugin ${JSON.stringify(pl.name)}`, s.asError())).withPlugin(pl.name);
    }
    if (waits.size > 0) {
      this.waitingPods.add(podKey(pod), new WaitingPodImpl(pod, waits, this.timers));
      return Status.of(Code.Wait, `one or more plugins asked to wait and no plugin rejected pod ${JSON.stringify(pod.metadata?.name ?? "")}`);
    }
    return null;
  }

  /** WaitOnPermit: resolves once a waiting pod is allowed (null) or rejected (its status). */
  async waitOnPermit(pod: Pod): Promise<Status | null> {
    const uid = podKey(pod);
    const wp = this.waitingPods.get(uid);
    if (!wp) return null;
    try {
      const s = await wp.done;
      if (!s || s.isSuccess()) return null;
      if (s.isRejected()) return s;
      return Status.asStatus(wrapError("waiting on permit for pod", s.asError())).withPlugin(s.plugin);
    } finally {
      this.waitingPods.remove(uid);
    }
  }

  // ---- Bind ----

  /** RunPreBindPlugins. */
  async runPreBindPlugins(state: CycleState, pod: Pod, nodeName: string): Promise<Status | null> {
    for (const pl of this.preBindPlugins) {
      const s = await pl.preBind(state, pod, nodeName);
      if (s && !s.isSuccess()) {
        if (s.isRejected()) {
          s.setPlugin(pl.name);
          return s;
        }
        return Status.asStatus(wrapError(`running PreBind plugin ${JSON.stringify(pl.name)}`, s.asError()));
      }
    }
    return null;
  }

  /** RunBindPlugins: the first bind plugin that does not Skip binds the pod. */
  async runBindPlugins(state: CycleState, pod: Pod, nodeName: string): Promise<Status | null> {
    if (this.bindPlugins.length === 0) return Status.of(Code.Skip, "");
    let status: Status | null = null;
    for (const pl of this.bindPlugins) {
      status = await pl.bind(state, pod, nodeName);
      if (status?.isSkip()) continue;
      if (status && !status.isSuccess()) {
        if (status.isRejected()) {
          status.setPlugin(pl.name);
          return status;
        }
        return Status.asStatus(wrapError(`running Bind plugin ${JSON.stringify(pl.name)}`, status.asError()));
      }
      return status;
    }
    return status;
  }

  runPostBindPlugins(state: CycleState, pod: Pod, nodeName: string): void {
    for (const pl of this.postBindPlugins) pl.postBind(state, pod, nodeName);
  }

  // ---- the scheduling algorithm ----

  /** schedulePod: refresh the snapshot (when a cache is attached), filter, score, pick a host. */
  schedulePod(state: CycleState, pod: Pod): ScheduleOutcome {
    return schedulePod(this, state, pod);
  }
}
