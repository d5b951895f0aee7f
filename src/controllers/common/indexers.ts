/**
 * Informer indexes controllers share, so a sync reads "the pods of this
 * owner" from an index instead of scanning every pod of the namespace.
 * Informers are shared, so each index is added once, whoever asks first.
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import type { ObjectMeta } from "kubernetes-types/meta/v1.js";
import type { SharedInformer } from "../../client/informer.js";
import type { KubeObject } from "../../client/resource-client.js";
import { getControllerOf } from "./controller-ref.js";

/**
 * Pods by the uid of their controller; orphans under
 * {@link orphanPodIndexKey} of their namespace. Upstream's
 * `PodControllerUIDIndex` files every orphan under one `_ORPHAN_POD` key
 * and filters by namespace afterwards; the key here carries the namespace
 * so that a lookup touches only the owner's namespace.
 */
export const POD_CONTROLLER_UID_INDEX = "podControllerUID";

/** The index key of the orphan pods of `namespace` in {@link POD_CONTROLLER_UID_INDEX}. */
export function orphanPodIndexKey(namespace: string): string {
  return `_ORPHAN_POD/${namespace}`;
}

/** Adds {@link POD_CONTROLLER_UID_INDEX} to the pod informer (once). */
export function addPodControllerUIDIndexer(pods: SharedInformer<Pod>): void {
  if (pods.hasIndexer(POD_CONTROLLER_UID_INDEX)) return;
  pods.addIndexer(POD_CONTROLLER_UID_INDEX, (pod) => {
    const ref = getControllerOf(pod);
    return [ref ? (ref.uid ?? "") : orphanPodIndexKey(pod.metadata?.namespace ?? "")];
  });
}

/**
 * The pods an owner may claim: those it controls and the orphans of its
 * namespace (upstream's `FilterPodsByOwner`); needs
 * {@link addPodControllerUIDIndexer}. Pods controlled by anyone else are
 * never claimable, so leaving them out changes no claim.
 */
export function filterPodsByOwner(pods: SharedInformer<Pod>, owner: ObjectMeta | undefined): Pod[] {
  const ns = owner?.namespace ?? "";
  const out: Pod[] = [];
  if (owner?.uid) {
    for (const pod of pods.byIndex(POD_CONTROLLER_UID_INDEX, owner.uid)) if ((pod.metadata?.namespace ?? "") === ns) out.push(pod);
  }
  for (const pod of pods.byIndex(POD_CONTROLLER_UID_INDEX, orphanPodIndexKey(ns))) out.push(pod);
  return out;
}

/**
 * Objects by the uid of their controller (orphans are not indexed), as the
 * ReplicaSet informer's `controllerUID` index upstream: the ReplicaSets of
 * one Deployment, say.
 */
export const CONTROLLER_UID_INDEX = "controllerUID";

/** Adds {@link CONTROLLER_UID_INDEX} to `informer` (once). */
export function addControllerUIDIndexer<T extends KubeObject>(informer: SharedInformer<T>): void {
  if (informer.hasIndexer(CONTROLLER_UID_INDEX)) return;
  informer.addIndexer(CONTROLLER_UID_INDEX, (obj) => {
    const ref = getControllerOf(obj);
    return ref?.uid ? [ref.uid] : [];
  });
}
