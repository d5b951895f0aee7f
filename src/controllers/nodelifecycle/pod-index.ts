/**
 * Pods by the node they are bound to, as the `spec.nodeName` index the node
 * lifecycle and taint eviction controllers add to the shared pod informer.
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import type { SharedInformer } from "../../client/informer.js";

/** The index name (upstream's nodeNameKeyIndex). */
export const POD_NODE_NAME_INDEX = "spec.nodeName";

/** Adds {@link POD_NODE_NAME_INDEX} to the pod informer (once); unbound pods are not indexed. */
export function addPodNodeNameIndexer(pods: SharedInformer<Pod>): void {
  if (pods.hasIndexer(POD_NODE_NAME_INDEX)) return;
  pods.addIndexer(POD_NODE_NAME_INDEX, (pod) => (pod.spec?.nodeName ? [pod.spec.nodeName] : []));
}

/** The cached pods bound to `nodeName` (needs {@link addPodNodeNameIndexer}). */
export function podsAssignedToNode(pods: SharedInformer<Pod>, nodeName: string): Pod[] {
  return pods.byIndex(POD_NODE_NAME_INDEX, nodeName);
}
