/**
 * PodTopologySpread shared pieces (podtopologyspread/common.go, v1.30): the
 * parsed constraint, node inclusion policies, matchLabelKeys, default
 * constraints, and counting matching pods.
 */
import type { Node, Pod, TopologySpreadConstraint as ConstraintObject } from "kubernetes-types/core/v1.js";
import type { LabelSelector, Requirement } from "../../../machinery/labels.js";
import { RequiredNodeAffinity } from "../../framework/node-selector.js";
import { labelSelectorAsSelector, NOTHING, type PodInfo } from "../../framework/pod-info.js";
import { doNotScheduleTaintsFilter, findMatchingUntoleratedTaint } from "../../framework/taints.js";
import type { ClusterListers } from "../../framework/types.js";
import type { NodeInfo } from "../../framework/node-info.js";
import { type Contribution, NodeAggregates, NodeMemo, PairTotals, selectorKey } from "../node-memo.js";
import { defaultSelector, selectorFromSet, withRequirements } from "./default-selector.js";

export const LabelHostname = "kubernetes.io/hostname";
export const LabelTopologyZone = "topology.kubernetes.io/zone";

/** topologySpreadConstraint: a constraint with its selector parsed and its optional fields defaulted. */
export interface SpreadConstraint {
  readonly maxSkew: number;
  readonly topologyKey: string;
  readonly selector: LabelSelector;
  /** selectorKey(selector), for memoized counting. */
  readonly selectorKey: string;
  /** 1 when unset. */
  readonly minDomains: number;
  /** "Honor" when unset. */
  readonly nodeAffinityPolicy: string;
  /** "Ignore" when unset. */
  readonly nodeTaintsPolicy: string;
}

/** The system default constraints (defaultingType: System). */
export const systemDefaultConstraints: readonly ConstraintObject[] = [
  { topologyKey: LabelHostname, whenUnsatisfiable: "ScheduleAnyway", maxSkew: 3 },
  { topologyKey: LabelTopologyZone, whenUnsatisfiable: "ScheduleAnyway", maxSkew: 5 },
];

/** matchNodeInclusionPolicies: whether the node counts for the constraint under its affinity/taints policies. */
export function matchNodeInclusionPolicies(c: SpreadConstraint, pod: Pod, node: Node, required: RequiredNodeAffinity): boolean {
  // Parse errors count as no match, for backwards compatibility.
  if (c.nodeAffinityPolicy === "Honor" && !required.match(node)) return false;
  if (c.nodeTaintsPolicy === "Honor" && findMatchingUntoleratedTaint(node.spec?.taints, pod.spec?.tolerations, doNotScheduleTaintsFilter)) return false;
  return true;
}

/** mergeLabelSetWithSelector: the matchLabelKeys labels ANDed with the selector (a nil selector stays nothing). */
function mergeLabelSetWithSelector(matchLabels: Record<string, string>, s: LabelSelector): LabelSelector {
  if (s === NOTHING) return s;
  const extra: readonly Requirement[] = s.requirements;
  return withRequirements(selectorFromSet(matchLabels), extra);
}

/** filterTopologySpreadConstraints: the constraints with `action`, parsed; throws on a bad selector. */
export function filterTopologySpreadConstraints(
  constraints: readonly ConstraintObject[],
  podLabels: Readonly<Record<string, string>> | undefined,
  action: string,
): SpreadConstraint[] {
  const out: SpreadConstraint[] = [];
  for (const c of constraints) {
    if (c.whenUnsatisfiable !== action) continue;
    let selector = labelSelectorAsSelector(c.labelSelector);
    if ((c.matchLabelKeys?.length ?? 0) > 0) {
      const matchLabels: Record<string, string> = {};
      for (const key of c.matchLabelKeys!) if (podLabels && Object.hasOwn(podLabels, key)) matchLabels[key] = podLabels[key]!;
      if (Object.keys(matchLabels).length > 0) selector = mergeLabelSetWithSelector(matchLabels, selector);
    }
    out.push({
      maxSkew: c.maxSkew,
      topologyKey: c.topologyKey,
      selector,
      selectorKey: selectorKey(selector),
      minDomains: c.minDomains ?? 1,
      nodeAffinityPolicy: c.nodeAffinityPolicy ?? "Honor",
      nodeTaintsPolicy: c.nodeTaintsPolicy ?? "Ignore",
    });
  }
  return out;
}

/** buildDefaultConstraints: the default constraints with `action`, selecting the pod's siblings; none when it has no Service or controller. */
export function buildDefaultConstraints(defaults: readonly ConstraintObject[], pod: Pod, action: string, listers: ClusterListers): SpreadConstraint[] {
  const constraints = filterTopologySpreadConstraints(defaults, pod.metadata?.labels, action);
  if (constraints.length === 0) return [];
  const selector = defaultSelector(pod, listers);
  if (selector.empty) return [];
  const key = selectorKey(selector);
  return constraints.map((c) => ({ ...c, selector, selectorKey: key }));
}

/** nodeLabelsMatchSpreadConstraints: the node has every constraint's topology key. */
export function nodeLabelsMatchSpreadConstraints(nodeLabels: Readonly<Record<string, string>> | undefined, constraints: readonly SpreadConstraint[]): boolean {
  if (!nodeLabels) return constraints.length === 0;
  for (const c of constraints) if (!Object.hasOwn(nodeLabels, c.topologyKey)) return false;
  return true;
}

/** countPodsMatchSelector: non-terminating pods of namespace `ns` the selector matches (an empty selector counts none). */
export function countPodsMatchSelector(podInfos: readonly PodInfo[], selector: LabelSelector, ns: string): number {
  if (selector.empty) return 0;
  let count = 0;
  for (const pi of podInfos) {
    const m = pi.pod.metadata;
    // Terminating pods do not count (kubernetes#87621).
    if (m?.deletionTimestamp || (m?.namespace ?? "") !== ns) continue;
    if (selector.matches(m?.labels)) count++;
  }
  return count;
}

/** Per node: matching pods per (namespace, selector). */
const countMemo = new NodeMemo<number>();

/** countPodsMatchSelector over a node's pods, for the constraint's selector, memoized per node generation. */
export function countNodePodsMatching(ni: NodeInfo, c: SpreadConstraint, ns: string): number {
  return countMemo.get(ni, `${ns}\u0004${c.selectorKey}`, () => countPodsMatchSelector(ni.pods, c.selector, ns));
}

/** Per (pod's namespace, constraints, inclusion-relevant pod fields): matching pods per topology pair over all nodes. */
const spreadTotals = new NodeAggregates<Contribution[], PairTotals>(
  () => new PairTotals(),
  (t, c, sign) => t.apply(c, sign),
);

/**
 * The matching pods per topology pair over `nodes`, counting only nodes
 * that have every topology key (when `requireAllTopologies`) and that the
 * constraint's node inclusion policies admit; a pair is present (maybe with
 * 0 pods) for every node counted. Hostname constraints are left out with
 * `skipHostname` (Score counts those per node).
 */
export function countSpreadPairs(
  pod: Pod,
  constraints: readonly SpreadConstraint[],
  nodes: readonly NodeInfo[],
  requireAllTopologies: boolean,
  skipHostname: boolean,
): PairTotals {
  const ns = pod.metadata?.namespace ?? "";
  const honorAffinity = constraints.some((c) => c.nodeAffinityPolicy === "Honor");
  const honorTaints = constraints.some((c) => c.nodeTaintsPolicy === "Honor");
  // Everything the per-node counts depend on besides the node itself.
  const key = [
    ns,
    requireAllTopologies,
    skipHostname,
    JSON.stringify(constraints.map((c) => [c.topologyKey, c.selectorKey, c.nodeAffinityPolicy, c.nodeTaintsPolicy])),
    honorAffinity ? JSON.stringify([pod.spec?.nodeSelector ?? null, pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? null]) : "",
    honorTaints ? JSON.stringify(pod.spec?.tolerations ?? null) : "",
  ].join("\u0006");
  let required: RequiredNodeAffinity | undefined;
  return spreadTotals.total(key, nodes, (ni) => {
    const node = ni.node();
    if (!node) return [];
    const labels = node.metadata?.labels ?? {};
    if (requireAllTopologies && !nodeLabelsMatchSpreadConstraints(labels, constraints)) return [];
    required ??= new RequiredNodeAffinity(pod);
    const out: Contribution[] = [];
    for (const c of constraints) {
      if (skipHostname && c.topologyKey === LabelHostname) continue;
      if (!matchNodeInclusionPolicies(c, pod, node, required)) continue;
      out.push([c.topologyKey, labels[c.topologyKey] ?? "", countPodsMatchSelector(ni.pods, c.selector, ns)]);
    }
    return out;
  });
}
