/**
 * The writes (and fresh reads) the node lifecycle, taint eviction and PodGC
 * controllers make, as one interface so unit tests can fake the API server.
 * Reads that can be stale come from informers, never from here.
 */
import type { Node, Pod, PodStatus, Taint } from "kubernetes-types/core/v1.js";
import type { EventRecorder } from "../../client/event-recorder.js";
import { ResourceClient } from "../../client/resource-client.js";
import { NODES, PODS } from "../../client/resources.js";
import type { RestClient } from "../../client/rest-client.js";

/** What the controllers ask of the API server. */
export interface LifecycleApi {
  /** GET of a node from the API server (not a cache); rejects NotFound when gone. */
  getNode(name: string): Promise<Node>;
  /** PUT of nodes/status, conditional on the node's resourceVersion. */
  updateNodeStatus(node: Node): Promise<Node>;
  /**
   * Replaces spec.taints, conditional on `resourceVersion` (upstream's
   * PatchNodeTaints: taints have no merge key, so only a pinned version
   * makes removal safe); an empty list removes the field.
   */
  patchNodeTaints(name: string, resourceVersion: string, taints: readonly Taint[]): Promise<Node>;
  /** Merges `labels` into the node's labels. */
  patchNodeLabels(name: string, labels: Readonly<Record<string, string>>): Promise<Node>;
  /** GET of a pod from the API server. */
  getPod(namespace: string, name: string): Promise<Pod>;
  /** PUT of pods/status, conditional on the pod's resourceVersion. */
  updatePodStatus(pod: Pod): Promise<Pod>;
  /**
   * A strategic-merge patch of pods/status with `status` (conditions merge
   * by type), with the pod's uid as precondition (upstream's PatchPodStatus).
   */
  patchPodStatus(namespace: string, name: string, uid: string, status: PodStatus): Promise<Pod>;
  /** DELETE of a pod (with `gracePeriodSeconds` when given); rejects NotFound when gone. */
  deletePod(namespace: string, name: string, opts?: { readonly gracePeriodSeconds?: number }): Promise<void>;
}

/** A {@link LifecycleApi} over the REST API. */
export function restLifecycleApi(rest: RestClient): LifecycleApi {
  // No fieldManager: the API server names the manager after the user agent (kube-controller-manager), as for upstream's controllers.
  const nodes = new ResourceClient<Node>(rest, NODES);
  const pods = new ResourceClient<Pod>(rest, PODS);
  return {
    getNode: (name) => nodes.get(name),
    updateNodeStatus: (node) => nodes.updateStatus(node),
    patchNodeTaints: (name, resourceVersion, taints) =>
      nodes.patch(name, { metadata: { resourceVersion }, spec: { taints: taints.length > 0 ? taints : null } }, { type: "strategic" }),
    patchNodeLabels: (name, labels) => nodes.patch(name, { metadata: { labels } }, { type: "strategic" }),
    getPod: (ns, name) => pods.namespace(ns).get(name),
    updatePodStatus: (pod) => pods.namespace(pod.metadata?.namespace ?? "").updateStatus(pod),
    patchPodStatus: (ns, name, uid, status) =>
      pods.namespace(ns).patch(name, { metadata: { uid }, status }, { type: "strategic", subresource: "status" }),
    deletePod: (ns, name, opts) => pods.namespace(ns).delete(name, opts?.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: opts.gracePeriodSeconds } : {}),
  };
}

/** The part of an EventRecorder the controllers use (tests pass a fake). */
export type LifecycleRecorder = Pick<EventRecorder, "event">;
