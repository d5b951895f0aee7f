/**
 * PodTopologySpread PreScore/Score/NormalizeScore (podtopologyspread/scoring.go,
 * v1.30): for the pod's ScheduleAnyway constraints (own or default), a node
 * scores the weighted number of matching pods in its domains; fewer is
 * better after normalizing.
 */
import type { Pod, TopologySpreadConstraint } from "kubernetes-types/core/v1.js";
import type { CycleState, StateData } from "../../framework/cycle-state.js";
import type { NodeInfo } from "../../framework/node-info.js";
import { Code, Status } from "../../framework/status.js";
import { type Handle, MaxNodeScore, type NodeScore } from "../../framework/types.js";
import { Names } from "../names.js";
import {
  buildDefaultConstraints,
  countNodePodsMatching,
  countSpreadPairs,
  filterTopologySpreadConstraints,
  LabelHostname,
  nodeLabelsMatchSpreadConstraints,
  type SpreadConstraint,
} from "./common.js";
import { addPair, getPair, type PairCounts } from "./filtering.js";

export const preScoreStateKey = `PreScore${Names.PodTopologySpread}`;
const invalidScore = -1;

export class PreScoreState implements StateData {
  constraints: SpreadConstraint[] = [];
  /** Nodes missing some constraint's topology key: they score 0. */
  readonly ignoredNodes = new Set<string>();
  /** Per topology pair of the candidate nodes (hostname excluded), the matching pods. */
  readonly topologyPairToPodCounts: PairCounts = new Map();
  /** Per constraint, log(number of domains + 2): small topologies are not watered down by big ones. */
  topologyNormalizingWeight: number[] = [];

  clone(): StateData {
    // Score never changes it.
    return this;
  }
}

const isPreScoreState = (d: StateData): d is PreScoreState => d instanceof PreScoreState;

/** topologyNormalizingWeight. */
export function topologyNormalizingWeight(size: number): number {
  return Math.log(size + 2);
}

/** scoreForCount: maxSkew-1 is added so small differences between domains are tolerated. */
export function scoreForCount(cnt: number, maxSkew: number, tpWeight: number): number {
  return cnt * tpWeight + (maxSkew - 1);
}

/** The pod's ScheduleAnyway constraints, or the default ones when it sets none; a string on error. */
function softConstraints(pod: Pod, defaults: readonly TopologySpreadConstraint[], handle: Handle): SpreadConstraint[] | string {
  const own = pod.spec?.topologySpreadConstraints ?? [];
  if (own.length > 0) {
    try {
      return filterTopologySpreadConstraints(own, pod.metadata?.labels, "ScheduleAnyway");
    } catch (e) {
      return `obtaining pod's soft topology spread constraints: ${(e as Error).message}`;
    }
  }
  try {
    return buildDefaultConstraints(defaults, pod, "ScheduleAnyway", handle.listers);
  } catch (e) {
    return `setting default soft topology spread constraints: ${(e as Error).message}`;
  }
}

/** initPreScoreState: the constraints, the ignored nodes, the pairs to count and the normalizing weights. */
function initPreScoreState(s: PreScoreState, constraints: SpreadConstraint[], filteredNodes: readonly NodeInfo[], requireAllTopologies: boolean): void {
  s.constraints = constraints;
  const topoSize = new Array<number>(constraints.length).fill(0);
  for (const ni of filteredNodes) {
    const labels = ni.node()?.metadata?.labels;
    if (requireAllTopologies && !nodeLabelsMatchSpreadConstraints(labels, constraints)) {
      s.ignoredNodes.add(ni.name);
      continue;
    }
    constraints.forEach((c, i) => {
      // Per-node counts are done in Score.
      if (c.topologyKey === LabelHostname) return;
      const value = labels?.[c.topologyKey] ?? "";
      if (getPair(s.topologyPairToPodCounts, c.topologyKey, value) === undefined) {
        addPair(s.topologyPairToPodCounts, c.topologyKey, value, 0);
        topoSize[i]!++;
      }
    });
  }
  s.topologyNormalizingWeight = constraints.map((c, i) =>
    topologyNormalizingWeight(c.topologyKey === LabelHostname ? filteredNodes.length - s.ignoredNodes.size : topoSize[i]!),
  );
}

/** PreScore: Skip without soft constraints; otherwise counts matching pods in the candidate nodes' domains over all nodes. */
export function preScore(
  handle: Handle,
  defaults: readonly TopologySpreadConstraint[],
  systemDefaulted: boolean,
  state: CycleState,
  pod: Pod,
  filteredNodes: readonly NodeInfo[],
): Status | null {
  const allNodes = handle.snapshotSharedLister().nodeInfos().list();
  if (allNodes.length === 0) return Status.of(Code.Skip);
  const constraints = softConstraints(pod, defaults, handle);
  if (typeof constraints === "string") return Status.asStatus(`calculating preScoreState: ${constraints}`);
  if (constraints.length === 0) return Status.of(Code.Skip);
  const s = new PreScoreState();
  // Only custom constraints require every topology label: nodes without a zone still get hostname spreading.
  const requireAllTopologies = (pod.spec?.topologySpreadConstraints?.length ?? 0) > 0 || !systemDefaulted;
  initPreScoreState(s, constraints, filteredNodes, requireAllTopologies);

  // Only pairs of candidate nodes are counted; hostname pairs never are (Score counts them).
  const totals = countSpreadPairs(pod, constraints, allNodes, requireAllTopologies, true);
  for (const [key, values] of s.topologyPairToPodCounts) {
    const counted = totals.byKey.get(key);
    for (const value of values.keys()) values.set(value, counted?.get(value)?.amount ?? 0);
  }
  state.write(preScoreStateKey, s);
  return null;
}

function getPreScoreState(state: CycleState): PreScoreState | Status {
  const d = state.read(preScoreStateKey);
  if (d === undefined) return Status.asStatus(`error reading "${preScoreStateKey}" from cycleState: not found`);
  if (!isPreScoreState(d)) return Status.asStatus(`invalid state data under "${preScoreStateKey}"`);
  return d;
}

/** Score: the weighted number of matching pods in the node's domains (normalized later). */
export function score(state: CycleState, pod: Pod, nodeInfo: NodeInfo): number | Status {
  const node = nodeInfo.node();
  if (!node) return Status.asStatus(`getting node ${JSON.stringify(nodeInfo.name)} from Snapshot: node not found`);
  const s = getPreScoreState(state);
  if (s instanceof Status) return s;
  if (s.ignoredNodes.has(nodeInfo.name)) return 0;
  const labels = node.metadata?.labels ?? {};
  const ns = pod.metadata?.namespace ?? "";
  let total = 0;
  s.constraints.forEach((c, i) => {
    if (!Object.hasOwn(labels, c.topologyKey)) return;
    const cnt =
      c.topologyKey === LabelHostname
        ? countNodePodsMatching(nodeInfo, c, ns)
        : (getPair(s.topologyPairToPodCounts, c.topologyKey, labels[c.topologyKey]!) ?? 0);
    total += scoreForCount(cnt, c.maxSkew, s.topologyNormalizingWeight[i]!);
  });
  return Math.round(total);
}

/** NormalizeScore: MaxNodeScore × (max + min - score) / max; ignored nodes score 0. */
export function normalizeScore(state: CycleState, scores: NodeScore[]): Status | null {
  const s = getPreScoreState(state);
  if (s instanceof Status) return s;
  let minScore = Number.MAX_SAFE_INTEGER;
  let maxScore = 0;
  for (const x of scores) {
    if (s.ignoredNodes.has(x.name)) {
      x.score = invalidScore;
      continue;
    }
    if (x.score < minScore) minScore = x.score;
    if (x.score > maxScore) maxScore = x.score;
  }
  for (const x of scores) {
    if (x.score === invalidScore) {
      x.score = 0;
      continue;
    }
    if (maxScore === 0) {
      x.score = MaxNodeScore;
      continue;
    }
    x.score = Math.trunc((MaxNodeScore * (maxScore + minScore - x.score)) / maxScore);
  }
  return null;
}
