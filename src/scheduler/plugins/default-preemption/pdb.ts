/**
 * PodDisruptionBudget accounting for victim selection
 * (default_preemption.go filterPodsWithPDBViolation, v1.30).
 */
import type { PodDisruptionBudget } from "kubernetes-types/policy/v1.js";
import { labelSelectorAsSelector, type PodInfo } from "../../framework/pod-info.js";

/**
 * filterPodsWithPDBViolation: splits the pods into those whose eviction
 * would violate a PDB (its disruptionsAllowed, decremented per matching pod
 * in order, drops below zero) and the rest, keeping their order.
 */
export function filterPodsWithPDBViolation(podInfos: readonly PodInfo[], pdbs: readonly PodDisruptionBudget[]): { violating: PodInfo[]; nonViolating: PodInfo[] } {
  const allowed = pdbs.map((p) => p.status?.disruptionsAllowed ?? 0);
  const selectors = pdbs.map((p) => {
    try {
      return labelSelectorAsSelector(p.spec?.selector);
    } catch {
      // An invalid selector matches no pod.
      return undefined;
    }
  });
  const violating: PodInfo[] = [];
  const nonViolating: PodInfo[] = [];
  for (const pi of podInfos) {
    const pod = pi.pod;
    let violated = false;
    const labels = pod.metadata?.labels;
    // A pod without labels matches no PDB.
    if (labels && Object.keys(labels).length > 0) {
      pdbs.forEach((pdb, i) => {
        if ((pdb.metadata?.namespace ?? "") !== (pod.metadata?.namespace ?? "")) return;
        const sel = selectors[i];
        // A nil or empty selector matches nothing.
        if (!sel || sel.empty || !sel.matches(labels)) return;
        // Already counted by the API server's eviction: not a new disruption.
        const disrupted = pdb.status?.disruptedPods;
        if (disrupted && Object.hasOwn(disrupted, pod.metadata?.name ?? "")) return;
        allowed[i]!--;
        if (allowed[i]! < 0) violated = true;
      });
    }
    (violated ? violating : nonViolating).push(pi);
  }
  return { violating, nonViolating };
}
