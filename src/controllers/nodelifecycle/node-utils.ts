/**
 * Node predicates the node lifecycle controller and PodGC share, as
 * upstream's pkg/controller/util/node, pkg/util/node and
 * k8s.io/component-helpers/node/topology.
 */
import type { Node, NodeCondition, NodeStatus, ObjectReference } from "kubernetes-types/core/v1.js";

/** GetNodeCondition: the condition of `type` (the object itself, so callers may change it in place). */
export function getNodeCondition(status: NodeStatus | undefined, type: string): NodeCondition | undefined {
  return status?.conditions?.find((c) => c.type === type);
}

/** IsNodeReady: the Ready condition is True. */
export function isNodeReady(node: Node): boolean {
  return getNodeCondition(node.status, "Ready")?.status === "True";
}

/**
 * GetZoneKey: `region:\0:zone` of the topology labels (the deprecated
 * failure-domain.beta labels when the GA ones are absent); "" when a node
 * has neither.
 */
export function getZoneKey(node: Node): string {
  const labels = node.metadata?.labels;
  if (!labels) return "";
  const zone = labels["topology.kubernetes.io/zone"] ?? labels["failure-domain.beta.kubernetes.io/zone"] ?? "";
  const region = labels["topology.kubernetes.io/region"] ?? labels["failure-domain.beta.kubernetes.io/region"] ?? "";
  if (region === "" && zone === "") return "";
  return `${region}:\u0000:${zone}`;
}

/** Nodes with this label are left out of zone disruption accounting (upstream's labelNodeDisruptionExclusion). */
export const LABEL_NODE_DISRUPTION_EXCLUSION = "node.kubernetes.io/exclude-disruption";

/** isNodeExcludedFromDisruptionChecks. */
export function isNodeExcludedFromDisruptionChecks(node: Node): boolean {
  return node.metadata?.labels?.[LABEL_NODE_DISRUPTION_EXCLUSION] !== undefined;
}

/** The reference events about a node carry (apiVersion, kind, name, uid; no namespace). */
export function nodeRef(name: string, uid: string | undefined): ObjectReference {
  return { apiVersion: "v1", kind: "Node", name, ...(uid ? { uid } : {}) };
}
