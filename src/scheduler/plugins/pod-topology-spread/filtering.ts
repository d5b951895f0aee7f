/**
 * PodTopologySpread PreFilter/Filter (podtopologyspread/filtering.go, v1.30):
 * counts matching pods per topology pair of the pod's DoNotSchedule
 * constraints, keeps the two smallest counts per key (critical paths), and
 * rejects a node when placing the pod there would exceed maxSkew.
 */
import type { Node, Pod, TopologySpreadConstraint } from "kubernetes-types/core/v1.js";
import type { CycleState, StateData } from "../../framework/cycle-state.js";
import type { NodeInfo } from "../../framework/node-info.js";
import { RequiredNodeAffinity } from "../../framework/node-selector.js";
import { Code, Status } from "../../framework/status.js";
import type { Handle, PreFilterOutcome } from "../../framework/types.js";
import { Names } from "../names.js";
import {
  buildDefaultConstraints,
  countSpreadPairs,
  filterTopologySpreadConstraints,
  matchNodeInclusionPolicies,
  nodeLabelsMatchSpreadConstraints,
  type SpreadConstraint,
} from "./common.js";

export const preFilterStateKey = `PreFilter${Names.PodTopologySpread}`;

export const ErrReasonConstraintsNotMatch = "node(s) didn't match pod topology spread constraints";
export const ErrReasonNodeLabelNotMatch = `${ErrReasonConstraintsNotMatch} (missing required label)`;

/** Go's math.MaxInt32, the "no path yet" count. */
const MaxInt32 = 2147483647;

interface CriticalPath {
  topologyValue: string;
  matchNum: number;
}

/**
 * criticalPaths: the two topology values with the fewest matching pods
 * seen; [0] always holds the minimum, [1] is not necessarily the second
 * minimum. Two suffice because preemption removes pods from one node at a
 * time, each on its own copy of the state.
 */
export class CriticalPaths {
  readonly paths: [CriticalPath, CriticalPath] = [
    { topologyValue: "", matchNum: MaxInt32 },
    { topologyValue: "", matchNum: MaxInt32 },
  ];

  update(tpVal: string, num: number): void {
    const p = this.paths;
    const i = tpVal === p[0].topologyValue ? 0 : tpVal === p[1].topologyValue ? 1 : -1;
    if (i >= 0) {
      p[i as 0 | 1].matchNum = num;
      if (p[0].matchNum > p[1].matchNum) [p[0], p[1]] = [p[1], p[0]];
    } else if (num < p[0].matchNum) {
      p[1] = { ...p[0] };
      p[0] = { topologyValue: tpVal, matchNum: num };
    } else if (num < p[1].matchNum) {
      p[1] = { topologyValue: tpVal, matchNum: num };
    }
  }

  clone(): CriticalPaths {
    const c = new CriticalPaths();
    c.paths[0] = { ...this.paths[0] };
    c.paths[1] = { ...this.paths[1] };
    return c;
  }
}

/** Counts per topology pair, as topology key → value → count (lookups allocate nothing). */
export type PairCounts = Map<string, Map<string, number>>;

export function getPair(m: PairCounts, key: string, value: string): number | undefined {
  return m.get(key)?.get(value);
}

export function addPair(m: PairCounts, key: string, value: string, delta: number): number {
  let values = m.get(key);
  if (!values) m.set(key, (values = new Map()));
  const n = (values.get(value) ?? 0) + delta;
  values.set(value, n);
  return n;
}

export class PreFilterState implements StateData {
  constructor(
    readonly constraints: readonly SpreadConstraint[],
    /** Per topology key, the two least loaded topology values. */
    readonly tpKeyToCriticalPaths: Map<string, CriticalPaths>,
    /** Per topology key, the number of eligible domains (does not change with AddPod/RemovePod). */
    readonly tpKeyToDomainsNum: ReadonlyMap<string, number>,
    /** Per topology pair, the number of matching pods. */
    readonly tpPairToMatchNum: PairCounts,
  ) {}

  private selfMatchLabels: Readonly<Record<string, string>> | undefined;
  private selfMatch: number[] | undefined;

  /**
   * Per constraint, 1 when its selector matches the pod's own labels: the
   * same for every node Filter sees, so worked out once per label set.
   */
  selfMatchNums(podLabels: Readonly<Record<string, string>> | undefined): readonly number[] {
    if (!this.selfMatch || this.selfMatchLabels !== podLabels) {
      this.selfMatch = this.constraints.map((c) => (c.selector.matches(podLabels) ? 1 : 0));
      this.selfMatchLabels = podLabels;
    }
    return this.selfMatch;
  }

  /** minMatchNum: the global minimum for the skew, 0 while there are fewer domains than minDomains. */
  minMatchNum(tpKey: string, minDomains: number): number | string {
    const paths = this.tpKeyToCriticalPaths.get(tpKey);
    if (!paths) return "failed to retrieve path by topology key";
    const domainsNum = this.tpKeyToDomainsNum.get(tpKey);
    if (domainsNum === undefined) return "failed to retrieve the number of domains by topology key";
    return domainsNum < minDomains ? 0 : paths.paths[0].matchNum;
  }

  clone(): StateData {
    const paths = new Map<string, CriticalPaths>();
    for (const [k, p] of this.tpKeyToCriticalPaths) paths.set(k, p.clone());
    // Constraints and domain counts never change after PreFilter; share them.
    const counts: PairCounts = new Map();
    for (const [k, values] of this.tpPairToMatchNum) counts.set(k, new Map(values));
    return new PreFilterState(this.constraints, paths, this.tpKeyToDomainsNum, counts);
  }
}

const isPreFilterState = (d: StateData): d is PreFilterState => d instanceof PreFilterState;

/** getPreFilterState. */
export function getPreFilterState(state: CycleState): PreFilterState | Status {
  const d = state.read(preFilterStateKey);
  if (d === undefined) return Status.asStatus(`reading "${preFilterStateKey}" from cycleState: not found`);
  if (!isPreFilterState(d)) return Status.asStatus(`invalid state data under "${preFilterStateKey}"`);
  return d;
}

/** getConstraints: the pod's DoNotSchedule constraints, or the default ones when it sets none. */
export function hardConstraints(pod: Pod, defaults: readonly TopologySpreadConstraint[], handle: Handle): SpreadConstraint[] | string {
  const own = pod.spec?.topologySpreadConstraints ?? [];
  try {
    if (own.length > 0) return filterTopologySpreadConstraints(own, pod.metadata?.labels, "DoNotSchedule");
  } catch (e) {
    return `obtaining pod's hard topology spread constraints: ${(e as Error).message}`;
  }
  try {
    return buildDefaultConstraints(defaults, pod, "DoNotSchedule", handle.listers);
  } catch (e) {
    return `setting default hard topology spread constraints: ${(e as Error).message}`;
  }
}

/** calPreFilterState: the counts per topology pair of the eligible nodes. */
function calPreFilterState(handle: Handle, pod: Pod, constraints: SpreadConstraint[]): PreFilterState {
  const allNodes = handle.snapshotSharedLister().nodeInfos().list();
  const totals = countSpreadPairs(pod, constraints, allNodes, true, false);
  const tpPairToMatchNum: PairCounts = new Map();
  const tpKeyToDomainsNum = new Map<string, number>();
  const tpKeyToCriticalPaths = new Map<string, CriticalPaths>();
  for (const c of constraints) tpKeyToCriticalPaths.set(c.topologyKey, new CriticalPaths());
  for (const [key, values] of totals.byKey) {
    const counts = new Map<string, number>();
    tpPairToMatchNum.set(key, counts);
    tpKeyToDomainsNum.set(key, values.size);
    const paths = tpKeyToCriticalPaths.get(key)!;
    for (const [value, e] of values) {
      counts.set(value, e.amount);
      paths.update(value, e.amount);
    }
  }
  return new PreFilterState(constraints, tpKeyToCriticalPaths, tpKeyToDomainsNum, tpPairToMatchNum);
}

/** PreFilter: Skip when the pod has no DoNotSchedule constraints (own or default). */
export function preFilter(handle: Handle, defaults: readonly TopologySpreadConstraint[], state: CycleState, pod: Pod): PreFilterOutcome {
  const constraints = hardConstraints(pod, defaults, handle);
  if (typeof constraints === "string") return { status: Status.asStatus(`get constraints from pod: ${constraints}`) };
  if (constraints.length === 0) return { status: Status.of(Code.Skip) };
  state.write(preFilterStateKey, calPreFilterState(handle, pod, constraints));
  return {};
}

/** updateWithPod: counts a pod added to (delta 1) or removed from (-1) the node, for preemption. */
export function updateWithPod(s: PreFilterState, updatedPod: Pod, preemptorPod: Pod, node: Node | undefined, delta: number): void {
  if (!node || (updatedPod.metadata?.namespace ?? "") !== (preemptorPod.metadata?.namespace ?? "")) return;
  if (!nodeLabelsMatchSpreadConstraints(node.metadata?.labels, s.constraints)) return;
  const required = new RequiredNodeAffinity(preemptorPod);
  const podLabels = updatedPod.metadata?.labels;
  const labels = node.metadata!.labels!;
  for (const c of s.constraints) {
    if (!c.selector.matches(podLabels)) continue;
    if (!matchNodeInclusionPolicies(c, preemptorPod, node, required)) continue;
    const v = labels[c.topologyKey]!;
    const n = addPair(s.tpPairToMatchNum, c.topologyKey, v, delta);
    s.tpKeyToCriticalPaths.get(c.topologyKey)!.update(v, n);
  }
}

/** Filter: 'existing matching num' + 'self match (1 or 0)' - 'global minimum' <= maxSkew, for every constraint. */
export function filter(state: CycleState, pod: Pod, nodeInfo: NodeInfo): Status | null {
  const node = nodeInfo.node();
  if (!node) return Status.asStatus("node not found");
  const s = getPreFilterState(state);
  if (s instanceof Status) return s;
  // An "empty" state tolerates every pod.
  if (s.constraints.length === 0) return null;
  const labels = node.metadata?.labels ?? {};
  const selfMatchNums = s.selfMatchNums(pod.metadata?.labels);
  for (let i = 0; i < s.constraints.length; i++) {
    const c = s.constraints[i]!;
    const tpKey = c.topologyKey;
    if (!Object.hasOwn(labels, tpKey)) return Status.of(Code.UnschedulableAndUnresolvable, ErrReasonNodeLabelNotMatch);
    const minMatchNum = s.minMatchNum(tpKey, c.minDomains);
    // An internal inconsistency: upstream logs it and skips the constraint.
    if (typeof minMatchNum === "string") continue;
    const selfMatchNum = selfMatchNums[i]!;
    const matchNum = getPair(s.tpPairToMatchNum, tpKey, labels[tpKey]!) ?? 0;
    if (matchNum + selfMatchNum - minMatchNum > c.maxSkew) return Status.of(Code.Unschedulable, ErrReasonConstraintsNotMatch);
  }
  return null;
}

