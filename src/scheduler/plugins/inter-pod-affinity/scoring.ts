/**
 * InterPodAffinity PreScore/Score/NormalizeScore (interpodaffinity/scoring.go,
 * v1.30): sums, per topology pair, the weights of preferred terms (both the
 * incoming pod's and existing pods') and of existing pods' required affinity
 * terms (hardPodAffinityWeight) that match; a node scores the sum over its
 * pairs, normalized to [0, 100] between the lowest and highest node.
 */
import type { Node, Pod } from "kubernetes-types/core/v1.js";
import type { CycleState, StateData } from "../../framework/cycle-state.js";
import type { NodeInfo } from "../../framework/node-info.js";
import { type AffinityTerm, affinityTermMatches, PodInfo, type WeightedAffinityTerm } from "../../framework/pod-info.js";
import { Code, Status } from "../../framework/status.js";
import { type Handle, MaxNodeScore, type NodeScore } from "../../framework/types.js";
import { Names } from "../names.js";
import { type Contribution, NodeAggregates, PairTotals } from "../node-memo.js";
import type { InterPodAffinityArgs } from "./args.js";
import { incomingPodKey, termKey } from "./filtering.js";
import { mergeAffinityTermNamespaces, namespaceLabelsSnapshot } from "./namespaces.js";

export const preScoreStateKey = `PreScore${Names.InterPodAffinity}`;

/** topologyKey → topologyValue → summed weight (scoreMap). */
type ScoreMap = Map<string, Map<string, number>>;

interface IncomingPreferred {
  readonly pod: Pod;
  readonly preferredAffinityTerms: readonly WeightedAffinityTerm[];
  readonly preferredAntiAffinityTerms: readonly WeightedAffinityTerm[];
}

export class PreScoreState implements StateData {
  constructor(readonly topologyScore: ScoreMap) {}
  clone(): StateData {
    // Score never changes it.
    return this;
  }
}

const isPreScoreState = (d: StateData): d is PreScoreState => d instanceof PreScoreState;

/** Per incoming pod: how many nodes had a matching term, and the summed weights per topology pair. */
const scoreTotals = new NodeAggregates<{ matched: boolean; scores: Contribution[] }, { matchedNodes: number; scores: PairTotals }>(
  () => ({ matchedNodes: 0, scores: new PairTotals() }),
  (t, c, sign) => {
    if (c.matched) t.matchedNodes += sign;
    t.scores.apply(c.scores, sign);
  },
);

/** processTerm: when `pod` matches the term and the node has the term's key, the node's pair gains weight × multiplier. */
function processTerm(
  m: ScoreMap,
  term: AffinityTerm,
  weight: number,
  pod: Pod,
  nsLabels: Readonly<Record<string, string>> | undefined,
  node: Node,
  multiplier: number,
): boolean {
  if (!affinityTermMatches(term, pod, nsLabels)) return false;
  const labels = node.metadata?.labels;
  if (!labels || !Object.hasOwn(labels, term.topologyKey)) return false;
  let values = m.get(term.topologyKey);
  if (!values) m.set(term.topologyKey, (values = new Map()));
  const v = labels[term.topologyKey]!;
  values.set(v, (values.get(v) ?? 0) + weight * multiplier);
  return true;
}

function processTerms(
  m: ScoreMap,
  terms: readonly WeightedAffinityTerm[],
  pod: Pod,
  nsLabels: Readonly<Record<string, string>> | undefined,
  node: Node,
  multiplier: number,
): boolean {
  let any = false;
  for (const t of terms) if (processTerm(m, t, t.weight, pod, nsLabels, node, multiplier)) any = true;
  return any;
}

/** processExistingPod: the existing pod's contribution, both ways; true when some term matched. */
function processExistingPod(
  m: ScoreMap,
  incoming: IncomingPreferred,
  nsLabels: Readonly<Record<string, string>> | undefined,
  existing: PodInfo,
  node: Node,
  hardPodAffinityWeight: number,
): boolean {
  const labels = node.metadata?.labels;
  if (!labels || Object.keys(labels).length === 0) return false;
  let any = false;
  // The incoming pod's terms have their namespaceSelector unrolled: no namespace labels needed.
  if (processTerms(m, incoming.preferredAffinityTerms, existing.pod, undefined, node, 1)) any = true;
  if (processTerms(m, incoming.preferredAntiAffinityTerms, existing.pod, undefined, node, -1)) any = true;
  if (hardPodAffinityWeight > 0) {
    for (const t of existing.requiredAffinityTerms) if (processTerm(m, t, hardPodAffinityWeight, incoming.pod, nsLabels, node, 1)) any = true;
  }
  if (processTerms(m, existing.preferredAffinityTerms, incoming.pod, nsLabels, node, 1)) any = true;
  if (processTerms(m, existing.preferredAntiAffinityTerms, incoming.pod, nsLabels, node, -1)) any = true;
  return any;
}

/** PreScore: Skip when no term matches anywhere (or, with ignorePreferredTermsOfExistingPods, when the pod has no preferred terms). */
export function preScore(handle: Handle, args: Required<InterPodAffinityArgs>, state: CycleState, pod: Pod): Status | null {
  const affinity = pod.spec?.affinity;
  const hasPreferredAffinity = (affinity?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.length ?? 0) > 0;
  const hasPreferredAntiAffinity = (affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.length ?? 0) > 0;
  const hasConstraints = hasPreferredAffinity || hasPreferredAntiAffinity;
  if (args.ignorePreferredTermsOfExistingPods && !hasConstraints) return Status.of(Code.Skip);

  // Unless the pod has preferred terms, only nodes hosting pods with affinity can contribute.
  const nodeInfos = handle.snapshotSharedLister().nodeInfos();
  const allNodes = hasConstraints ? nodeInfos.list() : nodeInfos.havePodsWithAffinityList();
  if (allNodes.length === 0) return Status.of(Code.Skip);

  const parsed = new PodInfo(pod);
  // PreFilter rejects such pods; reaching here means it did not run.
  if (parsed.parseError !== undefined) return Status.asStatus(`failed to parse pod: ${parsed.parseError}`);
  const incoming: IncomingPreferred = {
    pod,
    preferredAffinityTerms: parsed.preferredAffinityTerms.map((t) => mergeAffinityTermNamespaces(t, handle.listers)),
    preferredAntiAffinityTerms: parsed.preferredAntiAffinityTerms.map((t) => mergeAffinityTermNamespaces(t, handle.listers)),
  };
  const nsLabels = namespaceLabelsSnapshot(pod.metadata?.namespace ?? "", handle.listers);

  // Every node's contribution depends on its pods and on the incoming pod's labels, namespace and preferred terms.
  const weighted = (terms: readonly WeightedAffinityTerm[]) => terms.map((t) => `${t.weight}\u0001${termKey(t)}`).join("\u0005");
  const key = `${hasConstraints}\u0006${args.hardPodAffinityWeight}\u0006${incomingPodKey(pod, nsLabels)}\u0006${weighted(incoming.preferredAffinityTerms)}\u0006${weighted(incoming.preferredAntiAffinityTerms)}`;
  const totals = scoreTotals.total(key, allNodes, (ni) => {
    const node = ni.node();
    if (!node) return { matched: false, scores: [] };
    const m: ScoreMap = new Map();
    let any = false;
    const pods = hasConstraints ? ni.pods : ni.podsWithAffinity;
    for (const existing of pods) if (processExistingPod(m, incoming, nsLabels, existing, node, args.hardPodAffinityWeight)) any = true;
    const scores: Contribution[] = [];
    for (const [k, values] of m) for (const [v, w] of values) scores.push([k, v, w]);
    return { matched: any, scores };
  });
  const matched = totals.matchedNodes > 0;
  const topologyScore: ScoreMap = new Map();
  for (const [k, values] of totals.scores.byKey) topologyScore.set(k, new Map([...values].map(([v, e]) => [v, e.amount])));
  if (!matched) return Status.of(Code.Skip);
  state.write(preScoreStateKey, new PreScoreState(topologyScore));
  return null;
}

function getPreScoreState(state: CycleState): PreScoreState | Status {
  const d = state.read(preScoreStateKey);
  if (d === undefined) return Status.asStatus(`failed to read "${preScoreStateKey}" from cycleState: not found`);
  if (!isPreScoreState(d)) return Status.asStatus(`invalid state data under "${preScoreStateKey}"`);
  return d;
}

/** Score: the summed weights of the node's pairs (positive for affinity, negative for anti-affinity). */
export function score(state: CycleState, nodeInfo: NodeInfo): number | Status {
  const s = getPreScoreState(state);
  if (s instanceof Status) return s;
  const labels = nodeInfo.node()?.metadata?.labels ?? {};
  let total = 0;
  for (const [key, values] of s.topologyScore) {
    if (Object.hasOwn(labels, key)) total += values.get(labels[key]!) ?? 0;
  }
  return total;
}

/** NormalizeScore: min-max scaling to [0, MaxNodeScore]; unchanged when nothing was scored. */
export function normalizeScore(state: CycleState, scores: NodeScore[]): Status | null {
  const s = getPreScoreState(state);
  if (s instanceof Status) return s;
  if (s.topologyScore.size === 0) return null;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const x of scores) {
    if (x.score > max) max = x.score;
    if (x.score < min) min = x.score;
  }
  const diff = max - min;
  for (const x of scores) x.score = diff > 0 ? Math.trunc(MaxNodeScore * ((x.score - min) / diff)) : 0;
  return null;
}

