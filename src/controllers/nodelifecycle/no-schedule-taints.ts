/**
 * TaintNodesByCondition, as upstream's doNoScheduleTaintingPass computes
 * it: each node condition that keeps pods away gets a NoSchedule taint
 * (Ready False → not-ready, Ready Unknown → unreachable, MemoryPressure,
 * DiskPressure, PIDPressure, NetworkUnavailable True → their taints) and a
 * cordoned node gets `node.kubernetes.io/unschedulable`; such taints whose
 * reason went away are removed. Other NoSchedule taints are left alone.
 */
import type { Node, Taint } from "kubernetes-types/core/v1.js";
import { NODE_CONDITION_TO_TAINT_KEY, TAINT_KEY_TO_NODE_CONDITION, TAINT_NODE_UNSCHEDULABLE, taintSetDiff } from "./taints.js";

/** The NoSchedule taints a node's conditions and spec.unschedulable call for. */
export function wantedNoScheduleTaints(node: Node): Taint[] {
  const taints: Taint[] = [];
  for (const c of node.status?.conditions ?? []) {
    const key = NODE_CONDITION_TO_TAINT_KEY[c.type]?.[c.status];
    if (key) taints.push({ key, effect: "NoSchedule" });
  }
  if (node.spec?.unschedulable) taints.push({ key: TAINT_NODE_UNSCHEDULABLE, effect: "NoSchedule" });
  return taints;
}

/** The node's NoSchedule taints this controller owns (condition taints and unschedulable). */
export function ownedNoScheduleTaints(node: Node): Taint[] {
  return (node.spec?.taints ?? []).filter((t) => t.effect === "NoSchedule" && (t.key === TAINT_NODE_UNSCHEDULABLE || TAINT_KEY_TO_NODE_CONDITION[t.key] !== undefined));
}

/** What to add and remove so the node's owned NoSchedule taints match its conditions. */
export function noScheduleTaintChanges(node: Node): { add: Taint[]; remove: Taint[] } {
  return taintSetDiff(wantedNoScheduleTaints(node), ownedNoScheduleTaints(node));
}

/**
 * Node labels kept in step (upstream's labelReconcileInfo): the beta OS and
 * arch labels follow the GA ones, and are added when missing.
 */
const LABEL_RECONCILE: readonly { readonly primary: string; readonly secondary: string }[] = [
  { primary: "kubernetes.io/os", secondary: "beta.kubernetes.io/os" },
  { primary: "kubernetes.io/arch", secondary: "beta.kubernetes.io/arch" },
];

/** The labels to set so the beta labels match the GA ones (empty when nothing to do). */
export function labelsToReconcile(node: Node): Record<string, string> {
  const labels = node.metadata?.labels;
  const out: Record<string, string> = {};
  if (!labels) return out;
  for (const { primary, secondary } of LABEL_RECONCILE) {
    const value = labels[primary];
    // A node without the GA label is outside the supported skew: leave it.
    if (value === undefined) continue;
    if (labels[secondary] !== value) out[secondary] = value;
  }
  return out;
}
