/**
 * InterPodAffinity PreFilter/Filter (interpodaffinity/filtering.go, v1.30):
 * counts, per topology pair, the existing pods that match the incoming pod's
 * required (anti-)affinity terms and the existing pods whose required
 * anti-affinity terms match the incoming pod; Filter then checks a node's
 * pairs against those counts.
 */
import type { Node, Pod } from "kubernetes-types/core/v1.js";
import { type CycleState, readState, type StateData } from "../../framework/cycle-state.js";
import type { NodeInfo } from "../../framework/node-info.js";
import { type AffinityTerm, affinityTermMatches, PodInfo } from "../../framework/pod-info.js";
import { Code, Status } from "../../framework/status.js";
import type { Handle, PreFilterOutcome } from "../../framework/types.js";
import { Names } from "../names.js";
import { type Contribution, labelsKey, NodeAggregates, PairTotals, selectorKey } from "../node-memo.js";
import { mergeAffinityTermNamespaces, namespaceLabelsSnapshot } from "./namespaces.js";
import { TopologyCounts } from "./topology-counts.js";

export const preFilterStateKey = `PreFilter${Names.InterPodAffinity}`;

export const ErrReasonExistingAntiAffinityRulesNotMatch = "node(s) didn't satisfy existing pods anti-affinity rules";
export const ErrReasonAffinityRulesNotMatch = "node(s) didn't match pod affinity rules";
export const ErrReasonAntiAffinityRulesNotMatch = "node(s) didn't match pod anti-affinity rules";

/** The incoming pod with its required terms, namespaceSelectors unrolled. */
export interface IncomingPod {
  readonly pod: Pod;
  readonly requiredAffinityTerms: readonly AffinityTerm[];
  readonly requiredAntiAffinityTerms: readonly AffinityTerm[];
}

/** podMatchesAllAffinityTerms: true iff there are terms and the pod matches every one. */
export function podMatchesAllAffinityTerms(terms: readonly AffinityTerm[], pod: Pod): boolean {
  if (terms.length === 0) return false;
  // Namespace labels are not needed: the incoming pod's selectors were unrolled into namespaces.
  for (const t of terms) if (!affinityTermMatches(t, pod, undefined)) return false;
  return true;
}

/** updateWithAffinityTerms: when `pod` matches ALL terms, every term's pair on `node` changes by `delta`. */
function updateWithAffinityTerms(m: TopologyCounts, terms: readonly AffinityTerm[], pod: Pod, node: Node, delta: number): void {
  if (!podMatchesAllAffinityTerms(terms, pod)) return;
  for (const t of terms) m.update(node, t.topologyKey, delta);
}

/** updateWithAntiAffinityTerms: each term `pod` matches changes its pair on `node` by `delta`. */
function updateWithAntiAffinityTerms(
  m: TopologyCounts,
  terms: readonly AffinityTerm[],
  pod: Pod,
  nsLabels: Readonly<Record<string, string>> | undefined,
  node: Node,
  delta: number,
): void {
  for (const t of terms) if (affinityTermMatches(t, pod, nsLabels)) m.update(node, t.topologyKey, delta);
}

/** preFilterState: computed at PreFilter, read by Filter, updated by AddPod/RemovePod during preemption. */
export class PreFilterState implements StateData {
  constructor(
    /** Pairs holding existing pods whose required anti-affinity terms match the incoming pod. */
    readonly existingAntiAffinityCounts: TopologyCounts,
    /** Pairs holding existing pods matching all the incoming pod's required affinity terms. */
    readonly affinityCounts: TopologyCounts,
    /** Pairs holding existing pods matching the incoming pod's required anti-affinity terms. */
    readonly antiAffinityCounts: TopologyCounts,
    readonly podInfo: IncomingPod,
    /** The incoming pod's namespace labels. */
    readonly namespaceLabels: Readonly<Record<string, string>> | undefined,
  ) {}

  /** updateWithPod: counts `pi` on `node` in (delta 1) or out (delta -1). */
  updateWithPod(pi: PodInfo, node: Node | undefined, delta: number): void {
    if (!node) return;
    updateWithAntiAffinityTerms(this.existingAntiAffinityCounts, pi.requiredAntiAffinityTerms, this.podInfo.pod, this.namespaceLabels, node, delta);
    updateWithAffinityTerms(this.affinityCounts, this.podInfo.requiredAffinityTerms, pi.pod, node, delta);
    // The incoming pod's terms have their namespaceSelector unrolled: no namespace labels needed.
    updateWithAntiAffinityTerms(this.antiAffinityCounts, this.podInfo.requiredAntiAffinityTerms, pi.pod, undefined, node, delta);
  }

  clone(): StateData {
    return new PreFilterState(this.existingAntiAffinityCounts.clone(), this.affinityCounts.clone(), this.antiAffinityCounts.clone(), this.podInfo, this.namespaceLabels);
  }
}

const isPreFilterState = (d: StateData): d is PreFilterState => d instanceof PreFilterState;

/** getPreFilterState. */
export function getPreFilterState(state: CycleState): PreFilterState | Status {
  const s = readState(state, preFilterStateKey, isPreFilterState);
  return typeof s === "string" ? Status.asStatus(s) : s;
}

/** A string identifying what an (incoming, namespaceSelector-unrolled) term matches. */
export function termKey(t: AffinityTerm): string {
  return `${t.topologyKey}\u0001${[...t.namespaces].sort().join(",")}\u0001${selectorKey(t.selector)}\u0001${selectorKey(t.namespaceSelector)}`;
}

/** A string identifying the incoming pod as existing pods' terms see it. */
export function incomingPodKey(pod: Pod, nsLabels: Readonly<Record<string, string>> | undefined): string {
  return `${pod.metadata?.namespace ?? ""}\u0004${labelsKey(pod.metadata?.labels)}\u0004${labelsKey(nsLabels)}`;
}

/** TopologyCounts of the pairs in `totals`. */
function countsOf(totals: PairTotals): TopologyCounts {
  const m = new TopologyCounts();
  for (const [k, values] of totals.byKey) for (const [v, e] of values) m.add(k, v, e.amount);
  return m;
}

/** Resolves per-topology-key amounts to the node's pairs (keys the node lacks count nowhere, as upstream). */
function onNode(node: Node, perKey: ReadonlyMap<string, number>): Contribution[] {
  const labels = node.metadata?.labels ?? {};
  const out: Contribution[] = [];
  for (const [k, n] of perKey) if (n !== 0 && Object.hasOwn(labels, k)) out.push([k, labels[k]!, n]);
  return out;
}

/** Per incoming pod: the pairs of existing pods' matching required anti-affinity terms, over the nodes with such pods. */
const existingTotals = new NodeAggregates<Contribution[], PairTotals>(
  () => new PairTotals(),
  (t, c, sign) => t.apply(c, sign),
);

/** Per set of incoming terms: the pairs of existing pods matching them. */
const incomingTotals = new NodeAggregates<{ affinity: Contribution[]; antiAffinity: Contribution[] }, { affinity: PairTotals; antiAffinity: PairTotals }>(
  () => ({ affinity: new PairTotals(), antiAffinity: new PairTotals() }),
  (t, c, sign) => {
    t.affinity.apply(c.affinity, sign);
    t.antiAffinity.apply(c.antiAffinity, sign);
  },
);

/** getExistingAntiAffinityCounts: pairs of nodes whose pods' required anti-affinity terms match the incoming pod. */
function existingAntiAffinityCounts(pod: Pod, nsLabels: Readonly<Record<string, string>> | undefined, nodes: readonly NodeInfo[]): TopologyCounts {
  const totals = existingTotals.total(incomingPodKey(pod, nsLabels), nodes, (ni) => {
    const node = ni.node();
    if (!node) return [];
    const perKey = new Map<string, number>();
    for (const existing of ni.podsWithRequiredAntiAffinity) {
      for (const t of existing.requiredAntiAffinityTerms) if (affinityTermMatches(t, pod, nsLabels)) perKey.set(t.topologyKey, (perKey.get(t.topologyKey) ?? 0) + 1);
    }
    return onNode(node, perKey);
  });
  return countsOf(totals);
}

/** getIncomingAffinityAntiAffinityCounts: pairs holding existing pods that match the incoming pod's required terms. */
function incomingAffinityAntiAffinityCounts(podInfo: IncomingPod, nodes: readonly NodeInfo[]): [TopologyCounts, TopologyCounts] {
  const aff = podInfo.requiredAffinityTerms;
  const anti = podInfo.requiredAntiAffinityTerms;
  if (aff.length === 0 && anti.length === 0) return [new TopologyCounts(), new TopologyCounts()];
  const key = `${aff.map(termKey).join("\u0005")}\u0006${anti.map(termKey).join("\u0005")}`;
  const totals = incomingTotals.total(key, nodes, (ni) => {
    const node = ni.node();
    if (!node) return { affinity: [], antiAffinity: [] };
    const affinity = new Map<string, number>();
    const antiAffinity = new Map<string, number>();
    for (const existing of ni.pods) {
      // A pod matching ALL the affinity terms counts once for each term's pair.
      if (podMatchesAllAffinityTerms(aff, existing.pod)) for (const t of aff) affinity.set(t.topologyKey, (affinity.get(t.topologyKey) ?? 0) + 1);
      // The incoming pod's terms have their namespaceSelector unrolled: no namespace labels needed.
      for (const t of anti) if (affinityTermMatches(t, existing.pod, undefined)) antiAffinity.set(t.topologyKey, (antiAffinity.get(t.topologyKey) ?? 0) + 1);
    }
    return { affinity: onNode(node, affinity), antiAffinity: onNode(node, antiAffinity) };
  });
  return [countsOf(totals.affinity), countsOf(totals.antiAffinity)];
}

/** PreFilter: Skip when the pod has no required terms and no existing pod's anti-affinity matches it. */
export function preFilter(handle: Handle, state: CycleState, pod: Pod): PreFilterOutcome {
  const nodeInfos = handle.snapshotSharedLister().nodeInfos();
  const nodesWithRequiredAntiAffinityPods = nodeInfos.havePodsWithRequiredAntiAffinityList();
  const affinity = pod.spec?.affinity;
  // The common case, answered without parsing anything: the outcome below would be Skip too.
  if (!affinity?.podAffinity && !affinity?.podAntiAffinity && nodesWithRequiredAntiAffinityPods.length === 0) return { status: Status.of(Code.Skip) };

  const parsed = new PodInfo(pod);
  if (parsed.parseError !== undefined) return { status: Status.of(Code.UnschedulableAndUnresolvable, `parsing pod: ${parsed.parseError}`) };
  const podInfo: IncomingPod = {
    pod,
    requiredAffinityTerms: parsed.requiredAffinityTerms.map((t) => mergeAffinityTermNamespaces(t, handle.listers)),
    requiredAntiAffinityTerms: parsed.requiredAntiAffinityTerms.map((t) => mergeAffinityTermNamespaces(t, handle.listers)),
  };
  const namespaceLabels = namespaceLabelsSnapshot(pod.metadata?.namespace ?? "", handle.listers);
  const existing = existingAntiAffinityCounts(pod, namespaceLabels, nodesWithRequiredAntiAffinityPods);
  const [affinityCounts, antiAffinityCounts] = incomingAffinityAntiAffinityCounts(podInfo, nodeInfos.list());
  if (existing.size === 0 && podInfo.requiredAffinityTerms.length === 0 && podInfo.requiredAntiAffinityTerms.length === 0) {
    return { status: Status.of(Code.Skip) };
  }
  state.write(preFilterStateKey, new PreFilterState(existing, affinityCounts, antiAffinityCounts, podInfo, namespaceLabels));
  return {};
}

/** satisfyExistingPodsAntiAffinity: no existing pod's anti-affinity term covers one of the node's pairs. */
function satisfyExistingPodsAntiAffinity(s: PreFilterState, node: Node): boolean {
  return !s.existingAntiAffinityCounts.anyLabelPositive(node);
}

/** satisfyPodAntiAffinity: no pair of the node holds a pod matching the incoming pod's anti-affinity terms. */
function satisfyPodAntiAffinity(s: PreFilterState, node: Node): boolean {
  if (s.antiAffinityCounts.size === 0) return true;
  const labels = node.metadata?.labels ?? {};
  for (const term of s.podInfo.requiredAntiAffinityTerms) {
    if (!Object.hasOwn(labels, term.topologyKey)) continue;
    if (s.antiAffinityCounts.get(term.topologyKey, labels[term.topologyKey]!) > 0) return false;
  }
  return true;
}

/** satisfyPodAffinity: every term's pair on the node holds a matching pod (or this is the first pod of a self-affine group). */
function satisfyPodAffinity(s: PreFilterState, node: Node): boolean {
  let podsExist = true;
  const labels = node.metadata?.labels ?? {};
  for (const term of s.podInfo.requiredAffinityTerms) {
    // All topology labels must exist on the node.
    if (!Object.hasOwn(labels, term.topologyKey)) return false;
    if (s.affinityCounts.get(term.topologyKey, labels[term.topologyKey]!) <= 0) podsExist = false;
  }
  if (podsExist) return true;
  // The first pod of a group with affinity to itself: no pod matches anywhere yet, but the pod
  // matches its own terms, so let it in rather than leave the group pending forever.
  return s.affinityCounts.size === 0 && podMatchesAllAffinityTerms(s.podInfo.requiredAffinityTerms, s.podInfo.pod);
}

/** Filter: affinity (unresolvable), then the pod's anti-affinity, then existing pods' anti-affinity. */
export function filter(state: CycleState, nodeInfo: NodeInfo): Status | null {
  const node = nodeInfo.node();
  if (!node) return Status.asStatus("node not found");
  const s = getPreFilterState(state);
  if (s instanceof Status) return s;
  if (!satisfyPodAffinity(s, node)) return Status.of(Code.UnschedulableAndUnresolvable, ErrReasonAffinityRulesNotMatch);
  if (!satisfyPodAntiAffinity(s, node)) return Status.of(Code.Unschedulable, ErrReasonAntiAffinityRulesNotMatch);
  if (!satisfyExistingPodsAntiAffinity(s, node)) return Status.of(Code.Unschedulable, ErrReasonExistingAntiAffinityRulesNotMatch);
  return null;
}
