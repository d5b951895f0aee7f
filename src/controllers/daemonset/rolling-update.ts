/**
 * DaemonSet rolling updates, as upstream's daemon/update.go. Without
 * surge, old pods are deleted (for the core loop to replace) while fewer
 * than maxUnavailable nodes are unavailable; unavailable old pods may
 * always go. With maxSurge, a new pod is started next to each old one
 * (unavailable old ones first, then up to maxSurge others) and the old
 * pod deleted once the new one is available.
 */
import type { DaemonSet, DaemonSetSpec } from "kubernetes-types/apps/v1.js";
import type { Node, Pod } from "kubernetes-types/core/v1.js";
import { errorMessage } from "../common/errors.js";
import { isPodAvailable } from "../common/pod-utils.js";
import { keyOf } from "./kinds.js";
import { nodeShouldRunDaemonPod } from "./node-should-run.js";
import type { DaemonSetSyncer } from "./sync.js";
import { isPodUpdated, surgeCount, templateGenerationOrUndefined, unavailableCount } from "./util.js";

/**
 * The node's one new and one old pod, ignoring pods being deleted; `ok`
 * false when it has more than one of either, for the core loop to prune
 * (`findUpdatedPodsOnNode`).
 */
export function findUpdatedPodsOnNode(ds: DaemonSet, podsOnNode: readonly Pod[], hash: string): { newPod?: Pod; oldPod?: Pod; ok: boolean } {
  let newPod: Pod | undefined;
  let oldPod: Pod | undefined;
  const generation = templateGenerationOrUndefined(ds);
  for (const pod of podsOnNode) {
    if (pod.metadata?.deletionTimestamp) continue;
    if (isPodUpdated(pod, hash, generation)) {
      if (newPod) return { ok: false };
      newPod = pod;
    } else {
      if (oldPod) return { ok: false };
      oldPod = pod;
    }
  }
  return { newPod, oldPod, ok: true };
}

/**
 * maxSurge, maxUnavailable and the desired pod count, adding an empty
 * entry to `nodeToDaemonPods` for every node that should run a pod but
 * has none (`updatedDesiredNodeCounts`). Never both zero.
 */
export function updatedDesiredNodeCounts(s: DaemonSetSyncer, ds: DaemonSet, nodeList: readonly Node[], nodeToDaemonPods: Map<string, Pod[]>): { maxSurge: number; maxUnavailable: number; desiredNumberScheduled: number } {
  let desired = 0;
  for (const node of nodeList) {
    if (!nodeShouldRunDaemonPod(node, ds).shouldRun) continue;
    desired++;
    const name = node.metadata?.name ?? "";
    if (!nodeToDaemonPods.has(name)) nodeToDaemonPods.set(name, []);
  }
  let maxUnavailable: number;
  try {
    maxUnavailable = unavailableCount(ds, desired);
  } catch (err) {
    throw new Error(`invalid value for MaxUnavailable: ${errorMessage(err)}`);
  }
  let maxSurge: number;
  try {
    maxSurge = surgeCount(ds, desired);
  } catch (err) {
    throw new Error(`invalid value for MaxSurge: ${errorMessage(err)}`);
  }
  // An impossible configuration (the API server allows 0 and 0): accept one unavailable pod.
  if (desired > 0 && maxUnavailable === 0 && maxSurge === 0) {
    s.log.info("DaemonSet is not configured for surge or unavailability, defaulting to accepting unavailability", { daemonset: keyOf(ds) });
    maxUnavailable = 1;
  }
  s.log.debug("DaemonSet with maxSurge and maxUnavailable", { daemonset: keyOf(ds), maxSurge, maxUnavailable });
  return { maxSurge, maxUnavailable, desiredNumberScheduled: desired };
}

/** The old pods to delete, or extra pods to create, within the update strategy (`rollingUpdate`). */
export async function rollingUpdate(s: DaemonSetSyncer, ds: DaemonSet, nodeList: readonly Node[], hash: string): Promise<void> {
  let nodeToDaemonPods: Map<string, Pod[]>;
  try {
    nodeToDaemonPods = await s.getNodesToDaemonPods(ds, false);
  } catch (err) {
    throw new Error(`couldn't get node to daemon pod mapping for daemon set ${JSON.stringify(ds.metadata?.name ?? "")}: ${errorMessage(err)}`, { cause: err });
  }
  let counts: ReturnType<typeof updatedDesiredNodeCounts>;
  try {
    counts = updatedDesiredNodeCounts(s, ds, nodeList, nodeToDaemonPods);
  } catch (err) {
    throw new Error(`couldn't get unavailable numbers: ${errorMessage(err)}`, { cause: err });
  }
  const { maxSurge, maxUnavailable, desiredNumberScheduled } = counts;
  const now = s.d.failedPodsBackoff.clock.now();
  const spec: DaemonSetSpec | undefined = ds.spec;
  const minReady = spec?.minReadySeconds ?? 0;
  const available = (pod: Pod) => isPodAvailable(pod, minReady, now);

  if (maxSurge === 0) {
    // Delete just enough old pods to stay within maxUnavailable; the core loop creates their replacements.
    // Deleted pods do not count as unavailable, so updates progress while nodes are down.
    let numUnavailable = 0;
    const allowedReplacementPods: string[] = [];
    const candidatePodsToDelete: string[] = [];
    for (const [nodeName, pods] of nodeToDaemonPods) {
      const { newPod, oldPod, ok } = findUpdatedPodsOnNode(ds, pods, hash);
      if (!ok) {
        // Excess pods: the core loop cleans the node up; count it as unavailable meanwhile.
        s.log.debug("DaemonSet has excess pods on node, skipping to allow the core loop to process", { daemonset: keyOf(ds), node: nodeName });
        numUnavailable++;
        continue;
      }
      if ((!oldPod && !newPod) || (oldPod && newPod)) {
        // The core loop creates or deletes here: unavailable meanwhile.
        numUnavailable++;
      } else if (newPod) {
        // Up to date; an unavailable new pod counts against maxUnavailable.
        if (!available(newPod)) numUnavailable++;
      } else if (oldPod) {
        if (!available(oldPod)) {
          // An unavailable old pod may be replaced at once.
          s.log.debug("DaemonSet pod on node is out of date and not available, allowing replacement", { daemonset: keyOf(ds), pod: keyOf(oldPod), node: nodeName });
          allowedReplacementPods.push(oldPod.metadata?.name ?? "");
          numUnavailable++;
        } else if (numUnavailable < maxUnavailable) {
          s.log.debug("DaemonSet pod on node is out of date, this is a candidate to replace", { daemonset: keyOf(ds), pod: keyOf(oldPod), node: nodeName });
          candidatePodsToDelete.push(oldPod.metadata?.name ?? "");
        }
      }
    }
    s.log.debug("DaemonSet allowing replacements", {
      daemonset: keyOf(ds),
      replacements: allowedReplacementPods.length,
      maxUnavailable,
      numUnavailable,
      candidates: candidatePodsToDelete.length,
    });
    const remaining = Math.min(Math.max(maxUnavailable - numUnavailable, 0), candidatePodsToDelete.length);
    return s.syncNodes(ds, [...allowedReplacementPods, ...candidatePodsToDelete.slice(0, remaining)], [], hash);
  }

  // Surge: start new pods next to unavailable old ones at once, next to up to maxSurge others, and delete
  // each old pod once its new one is available.
  const oldPodsToDelete: string[] = [];
  const shouldNotRunPodsToDelete: string[] = [];
  const candidateNewNodes: string[] = [];
  const allowedNewNodes: string[] = [];
  let numSurge = 0;
  let numAvailable = 0;
  for (const [nodeName, pods] of nodeToDaemonPods) {
    const { newPod, oldPod, ok } = findUpdatedPodsOnNode(ds, pods, hash);
    if (!ok) {
      s.log.debug("DaemonSet has excess pods on node, skipping to allow the core loop to process", { daemonset: keyOf(ds), node: nodeName });
      numSurge++;
      continue;
    }
    // Availability counts on every node, even those being left for scheduling reasons.
    if (oldPod) {
      if (available(oldPod)) numAvailable++;
    } else if (newPod && available(newPod)) numAvailable++;

    if (!oldPod) continue; // Nothing to do here: the core loop handles it.
    if (!newPod) {
      const node = s.d.getNode(nodeName);
      if (!node) throw new Error(`couldn't get node for nodeName ${JSON.stringify(nodeName)}: node ${JSON.stringify(nodeName)} not found`);
      const shouldRun = nodeShouldRunDaemonPod(node, ds).shouldRun;
      if (!available(oldPod)) {
        if (!shouldRun) {
          s.log.debug("DaemonSet pod on node is not available and does not match scheduling constraints, remove old pod", { daemonset: keyOf(ds), node: nodeName, oldPod: keyOf(oldPod) });
          oldPodsToDelete.push(oldPod.metadata?.name ?? "");
          continue;
        }
        s.log.debug("Pod on node is out of date and not available, allowing replacement", { daemonset: keyOf(ds), pod: keyOf(oldPod), node: nodeName });
        allowedNewNodes.push(nodeName);
      } else {
        if (!shouldRun) {
          shouldNotRunPodsToDelete.push(oldPod.metadata?.name ?? "");
          continue;
        }
        if (numSurge >= maxSurge) continue;
        s.log.debug("DaemonSet pod on node is out of date, this is a surge candidate", { daemonset: keyOf(ds), pod: keyOf(oldPod), node: nodeName });
        candidateNewNodes.push(nodeName);
      }
      continue;
    }
    // Already surged here.
    if (!available(newPod)) {
      numSurge++;
      continue;
    }
    s.log.debug("DaemonSet pod on node is available, remove old pod", { daemonset: keyOf(ds), newPod: keyOf(newPod), node: nodeName, oldPod: keyOf(oldPod) });
    oldPodsToDelete.push(oldPod.metadata?.name ?? "");
  }
  s.log.debug("DaemonSet allowing replacements", { daemonset: keyOf(ds), replacements: allowedNewNodes.length, maxSurge, numSurge, candidates: candidateNewNodes.length });
  const remainingSurge = Math.min(Math.max(maxSurge - numSurge, 0), candidateNewNodes.length);
  // With surge the owner expects full availability: a pod on a node it must leave goes only once pods
  // elsewhere are available beyond the desired count.
  const deletable = Math.min(numAvailable - desiredNumberScheduled, shouldNotRunPodsToDelete.length);
  for (const name of shouldNotRunPodsToDelete.slice(0, Math.max(0, deletable))) {
    const pod = s.d.pods.get(`${ds.metadata?.namespace ?? ""}/${name}`);
    if (!pod) continue;
    s.log.debug("DaemonSet pod on node should be deleted due to scheduling constraints", { daemonset: keyOf(ds), pod: keyOf(pod), node: pod.spec?.nodeName ?? "" });
    oldPodsToDelete.push(name);
  }
  return s.syncNodes(ds, oldPodsToDelete, [...allowedNewNodes, ...candidateNewNodes.slice(0, remainingSurge)], hash);
}
