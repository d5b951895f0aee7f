/**
 * How the kubelet server sees this node's pods: the kubelet's own view
 * (the pods bound to the node, with the freshest status it has), so log and
 * stream requests answer for exactly the pods the kubelet runs.
 */
import type { Pod } from "kubernetes-types/core/v1.js";

/** This node's pods, by namespace and name (upstream's kubelet GetPodByName and GetPods). */
export interface PodLookup {
  /** The pod, or undefined when it is not on this node. Its status should be the kubelet's latest. */
  podByName(namespace: string, name: string): Pod | undefined;
  /** Every pod bound to this node (what `/pods` lists). */
  pods(): readonly Pod[];
}
