/**
 * The pod index by claim (pkg/controller/volume/common PodPVCIndexFunc):
 * every pod is filed under `ns/claim` for each claim its volumes use
 * (generic ephemeral volumes under `ns/<pod>-<volume>`), so controllers
 * find a claim's pods without walking every pod.
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import type { SharedInformer } from "../../client/informer.js";

export const POD_PVC_INDEX = "pod-pvc-index";

/** The `ns/claim` keys a pod's volumes use. */
export function podPvcIndexFunc(pod: Pod): string[] {
  const ns = pod.metadata?.namespace ?? "";
  const keys: string[] = [];
  for (const v of pod.spec?.volumes ?? []) {
    if (v.persistentVolumeClaim) keys.push(`${ns}/${v.persistentVolumeClaim.claimName}`);
    else if (v.ephemeral) keys.push(`${ns}/${pod.metadata?.name ?? ""}-${v.name}`);
  }
  return keys;
}

/** Adds {@link POD_PVC_INDEX} to the shared pod informer unless another controller already did. */
export function addPodPvcIndexer(pods: SharedInformer<Pod>): void {
  if (!pods.hasIndexer(POD_PVC_INDEX)) pods.addIndexer(POD_PVC_INDEX, podPvcIndexFunc);
}
