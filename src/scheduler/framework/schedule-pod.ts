/**
 * The scheduling algorithm of one cycle (schedule_one.go, v1.30):
 * PreFilter, Filter over enough nodes (percentageOfNodesToScore), PreScore,
 * Score, and a random pick among the best-scored nodes.
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import type { CycleState } from "./cycle-state.js";
import { addPluginStatus, type Diagnosis, ErrNoNodesAvailable, FitError, newDiagnosis } from "./fit-error.js";
import type { Framework, NodePluginScores } from "./framework.js";
import type { NodeInfo } from "./node-info.js";
import { Code, Status } from "./status.js";
import { preFilterAllNodes } from "./types.js";

/** At least this many feasible nodes are searched for, whatever the percentage. */
export const minFeasibleNodesToFind = 100;
/** The adaptive percentage never goes below this. */
export const minFeasibleNodesPercentageToFind = 5;

export interface ScheduleResult {
  /** The node chosen for the pod. */
  readonly suggestedHost: string;
  /** Nodes that ran Filter (feasible or not). */
  readonly evaluatedNodes: number;
  /** Nodes that passed Filter. */
  readonly feasibleNodes: number;
}

/**
 * The outcome of schedulePod: a node; a FitError (no node fits — run
 * PostFilter, then report `fitError.message`); or a status — an Error, or
 * UnschedulableAndUnresolvable "no nodes available to schedule pods".
 */
export type ScheduleOutcome =
  | { readonly kind: "scheduled"; readonly result: ScheduleResult }
  | { readonly kind: "unschedulable"; readonly fitError: FitError }
  | { readonly kind: "error"; readonly status: Status };

/**
 * numFeasibleNodesToFind: all nodes below 100; otherwise the percentage
 * (the profile's, else the global one, else adaptive 50 - nodes/125 but at
 * least 5) of the nodes, and never fewer than 100.
 */
export function numFeasibleNodesToFind(profilePercentage: number | undefined, globalPercentage: number, numAllNodes: number): number {
  if (numAllNodes < minFeasibleNodesToFind) return numAllNodes;
  let percentage = profilePercentage !== undefined ? profilePercentage : globalPercentage;
  if (percentage === 0) {
    percentage = 50 - Math.trunc(numAllNodes / 125);
    if (percentage < minFeasibleNodesPercentageToFind) percentage = minFeasibleNodesPercentageToFind;
  }
  const numNodes = Math.trunc((numAllNodes * percentage) / 100);
  return Math.max(numNodes, minFeasibleNodesToFind);
}

/** Runs Filter on nodes from fwk.nextStartNodeIndex until enough fit; records the rejected nodes' statuses. */
function findNodesThatPassFilters(fwk: Framework, state: CycleState, pod: Pod, diagnosis: Diagnosis, nodes: readonly NodeInfo[]): NodeInfo[] | Status {
  const numAllNodes = nodes.length;
  const numNodesToFind = numFeasibleNodesToFind(fwk.percentageOfNodesToScore, fwk.globalPercentageOfNodesToScore, numAllNodes);
  const feasible: NodeInfo[] = [];
  if (numAllNodes === 0) return feasible;
  const start = fwk.nextStartNodeIndex;
  if (!fwk.hasFilterPlugins()) {
    for (let i = 0; i < numNodesToFind; i++) feasible.push(nodes[(start + i) % numAllNodes]!);
    return feasible;
  }
  for (let i = 0; i < numAllNodes && feasible.length < numNodesToFind; i++) {
    const nodeInfo = nodes[(start + i) % numAllNodes]!;
    const status = fwk.runFilterPluginsWithNominatedPods(state, pod, nodeInfo);
    if (status === null || status.isSuccess()) {
      feasible.push(nodeInfo);
      continue;
    }
    if (status.code === Code.Error) return status;
    diagnosis.nodeToStatusMap.set(nodeInfo.name, status);
    addPluginStatus(diagnosis, status);
  }
  return feasible;
}

/** findNodesThatFitPod: PreFilter, the nominated node first (if any), then Filter. */
export function findNodesThatFitPod(fwk: Framework, state: CycleState, pod: Pod): { feasible: NodeInfo[]; diagnosis: Diagnosis } | Status {
  const diagnosis = newDiagnosis();
  const allNodes = fwk.snapshot.list();
  const pre = fwk.runPreFilterPlugins(state, pod);
  const s = pre.status;
  if (s && !s.isSuccess()) {
    if (!s.isRejected()) return Status.asStatus(s.asError() ?? new Error(s.message()));
    // Every node gets the PreFilter status, so preemption sees them all as rejected.
    for (const n of allNodes) diagnosis.nodeToStatusMap.set(n.name, s);
    diagnosis.preFilterMsg = s.message();
    addPluginStatus(diagnosis, s);
    return { feasible: [], diagnosis };
  }

  // A node nominated by an earlier preemption is likely the only one that fits: try it first.
  const nominated = pod.status?.nominatedNodeName ?? "";
  if (nominated !== "") {
    const ni = fwk.snapshot.get(nominated);
    if (ni) {
      const feasible = findNodesThatPassFilters(fwk, state, pod, diagnosis, [ni]);
      if (!(feasible instanceof Status) && feasible.length !== 0) return { feasible, diagnosis };
    }
  }

  let nodes = allNodes;
  if (!preFilterAllNodes(pre.result)) {
    const names = pre.result!.nodeNames!;
    const kept: NodeInfo[] = [];
    for (const n of allNodes) {
      if (!names.has(n.name)) {
        // Nodes excluded by PreFilterResult count as UnschedulableAndUnresolvable, so preemption skips them.
        diagnosis.nodeToStatusMap.set(n.name, Status.of(Code.UnschedulableAndUnresolvable, "node is filtered out by the prefilter result"));
        continue;
      }
      kept.push(n);
    }
    nodes = kept;
  }
  const feasible = findNodesThatPassFilters(fwk, state, pod, diagnosis, nodes);
  const processed = (feasible instanceof Status ? 0 : feasible.length) + diagnosis.nodeToStatusMap.size;
  // Always advance, so every node gets a chance to be searched first.
  if (nodes.length > 0) fwk.nextStartNodeIndex = (fwk.nextStartNodeIndex + processed) % nodes.length;
  if (feasible instanceof Status) return feasible;
  return { feasible, diagnosis };
}

/** prioritizeNodes: PreScore and Score; every node scores 1 when the profile has no Score plugin. */
export function prioritizeNodes(fwk: Framework, state: CycleState, pod: Pod, nodes: NodeInfo[]): NodePluginScores[] | Status {
  if (!fwk.hasScorePlugins()) return nodes.map((n) => ({ name: n.name, scores: [], totalScore: 1 }));
  const pre = fwk.runPreScorePlugins(state, pod, nodes);
  if (pre && !pre.isSuccess()) return pre;
  const { scores, status } = fwk.runScorePlugins(state, pod, nodes);
  if (status && !status.isSuccess()) return status;
  return scores;
}

/** selectHost: the highest total score; ties broken uniformly at random (reservoir sampling). */
export function selectHost(scores: readonly NodePluginScores[], rng: () => number = Math.random): string | Status {
  if (scores.length === 0) return Status.asStatus("empty priorityList");
  let best = scores[0]!;
  let count = 1;
  for (let i = 1; i < scores.length; i++) {
    const s = scores[i]!;
    if (s.totalScore > best.totalScore) {
      best = s;
      count = 1;
    } else if (s.totalScore === best.totalScore) {
      count++;
      // Replace the candidate with probability 1/count.
      if (Math.floor(rng() * count) === 0) best = s;
    }
  }
  return best.name;
}

/** SchedulePod: the node to bind the pod to, or why there is none. */
export function schedulePod(fwk: Framework, state: CycleState, pod: Pod): ScheduleOutcome {
  if (fwk.cache) {
    const err = fwk.cache.updateSnapshot(fwk.snapshot);
    if (err) return { kind: "error", status: Status.asStatus(err) };
  }
  if (fwk.snapshot.numNodes() === 0) {
    return { kind: "error", status: Status.of(Code.UnschedulableAndUnresolvable).withError(ErrNoNodesAvailable) };
  }
  const fit = findNodesThatFitPod(fwk, state, pod);
  if (fit instanceof Status) return { kind: "error", status: fit };
  const { feasible, diagnosis } = fit;
  if (feasible.length === 0) return { kind: "unschedulable", fitError: new FitError(pod, fwk.snapshot.numNodes(), diagnosis) };
  if (feasible.length === 1) {
    return { kind: "scheduled", result: { suggestedHost: feasible[0]!.name, evaluatedNodes: 1 + diagnosis.nodeToStatusMap.size, feasibleNodes: 1 } };
  }
  const scores = prioritizeNodes(fwk, state, pod, feasible);
  if (scores instanceof Status) return { kind: "error", status: scores };
  const host = selectHost(scores, fwk.rng);
  if (host instanceof Status) return { kind: "error", status: host };
  return { kind: "scheduled", result: { suggestedHost: host, evaluatedNodes: feasible.length + diagnosis.nodeToStatusMap.size, feasibleNodes: feasible.length } };
}
