/**
 * Whether a node should run a DaemonSet's pod, as upstream's
 * `NodeShouldRunDaemonPod`: the pod the DaemonSet would create there (its
 * template, the node's name, the daemon tolerations) must fit the node's
 * name, the pod's nodeSelector and required node affinity, and tolerate
 * the node's NoSchedule and NoExecute taints. A pod already running may
 * stay while it tolerates the NoExecute ones.
 */
import type { DaemonSet } from "kubernetes-types/apps/v1.js";
import type { Node, Pod } from "kubernetes-types/core/v1.js";
import { RequiredNodeAffinity } from "../../scheduler/framework/node-selector.js";
import { findMatchingUntoleratedTaint } from "../../scheduler/framework/taints.js";
import { addOrUpdateDaemonPodTolerations } from "./util.js";

/** The pod `ds` would run on `nodeName`, for the checks (`NewPod`). */
export function newPod(ds: DaemonSet, nodeName: string): Pod {
  const template = ds.spec?.template;
  const pod: Pod = { metadata: { ...structuredClone(template?.metadata ?? {}), namespace: ds.metadata?.namespace }, spec: structuredClone(template?.spec ?? { containers: [] }) };
  pod.spec!.nodeName = nodeName;
  addOrUpdateDaemonPodTolerations(pod.spec!);
  return pod;
}

/** Whether the pod fits the node's name, its node affinity, and its taints (`predicates`). */
export function predicates(pod: Pod, node: Node): { fitsNodeName: boolean; fitsNodeAffinity: boolean; fitsTaints: boolean } {
  const nodeName = node.metadata?.name ?? "";
  const fitsNodeName = !pod.spec?.nodeName || pod.spec.nodeName === nodeName;
  // Affinity terms that do not parse never match, as upstream (which ignores the errors).
  const fitsNodeAffinity = new RequiredNodeAffinity(pod).match(node);
  const untolerated = findMatchingUntoleratedTaint(node.spec?.taints, pod.spec?.tolerations, (t) => t.effect === "NoExecute" || t.effect === "NoSchedule");
  return { fitsNodeName, fitsNodeAffinity, fitsTaints: !untolerated };
}

/** Whether to start a daemon pod on the node, and whether one already there may keep running (`NodeShouldRunDaemonPod`). */
export function nodeShouldRunDaemonPod(node: Node, ds: DaemonSet): { shouldRun: boolean; shouldContinueRunning: boolean } {
  const pod = newPod(ds, node.metadata?.name ?? "");
  const nodeName = ds.spec?.template?.spec?.nodeName;
  // A template naming a node runs on that node only.
  if (nodeName && nodeName !== node.metadata?.name) return { shouldRun: false, shouldContinueRunning: false };
  const { fitsNodeName, fitsNodeAffinity, fitsTaints } = predicates(pod, node);
  if (!fitsNodeName || !fitsNodeAffinity) return { shouldRun: false, shouldContinueRunning: false };
  if (!fitsTaints) {
    // A scheduled daemon pod keeps running while it tolerates the NoExecute taints.
    const untolerated = findMatchingUntoleratedTaint(node.spec?.taints, pod.spec?.tolerations, (t) => t.effect === "NoExecute");
    return { shouldRun: false, shouldContinueRunning: !untolerated };
  }
  return { shouldRun: true, shouldContinueRunning: true };
}
