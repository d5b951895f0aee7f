/**
 * Choosing pods for a scale-down, as upstream's `getPodsToDelete`: rank each
 * pod by how many related active pods share its node, sort with
 * `ActivePodsWithRanks`, take the first `diff`.
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import { type RankedPod, type RankingFeatures, sortActivePodsWithRanks } from "../common/active-pods.js";
import { isPodActive } from "../common/pod-utils.js";

/**
 * Each pod of `podsToRank` with its rank: the number of active pods of
 * `relatedPods` (usually a superset) on the same node, unscheduled pods
 * counting as one "node" (upstream's `getPodsRankedByRelatedPodsOnSameNode`).
 */
export function getPodsRankedByRelatedPodsOnSameNode(podsToRank: readonly Pod[], relatedPods: readonly Pod[]): RankedPod[] {
  const podsOnNode = new Map<string, number>();
  for (const pod of relatedPods) {
    if (!isPodActive(pod)) continue;
    const node = pod.spec?.nodeName ?? "";
    podsOnNode.set(node, (podsOnNode.get(node) ?? 0) + 1);
  }
  return podsToRank.map((pod) => ({ pod, rank: podsOnNode.get(pod.spec?.nodeName ?? "") ?? 0 }));
}

/**
 * The `diff` pods of `filteredPods` to delete first; all of them, unsorted,
 * when `diff` covers them all. `filteredPods` is not modified.
 */
export function getPodsToDelete(filteredPods: readonly Pod[], relatedPods: readonly Pod[], diff: number, nowMs: number, features?: RankingFeatures): Pod[] {
  // No need to sort when every pod goes.
  if (diff >= filteredPods.length) return filteredPods.slice(0, diff);
  const ranked = sortActivePodsWithRanks(getPodsRankedByRelatedPodsOnSameNode(filteredPods, relatedPods), nowMs, features);
  return ranked.slice(0, diff).map((r) => r.pod);
}
