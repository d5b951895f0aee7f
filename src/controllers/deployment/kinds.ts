/**
 * Names the Deployment controller's files share: the kinds it owns and
 * events it records, and how objects are keyed in logs and the queue.
 */
import type { GroupVersionKind } from "../common/controller-ref.js";

/** apps/v1 Deployment, for controllerRefs and events. */
export const DEPLOYMENT_GVK: GroupVersionKind = { apiVersion: "apps/v1", kind: "Deployment" };
/** apps/v1 ReplicaSet. */
export const REPLICA_SET_GVK: GroupVersionKind = { apiVersion: "apps/v1", kind: "ReplicaSet" };

/** The event reason of every scale of a ReplicaSet. */
export const SCALING_REPLICA_SET_REASON = "ScalingReplicaSet";
/** The events.k8s.io action of those events. */
export const SCALE_ACTION = "Scale";

/** `ns/name` of an object. */
export function keyOf(obj: { metadata?: { namespace?: string; name?: string } }): string {
  return `${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? ""}`;
}
