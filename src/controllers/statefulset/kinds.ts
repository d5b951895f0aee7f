/**
 * Names the StatefulSet controller's files share: the kinds it owns and
 * refers to, its strategies and the label that records a pod's revision.
 */
import type { GroupVersionKind } from "../common/controller-ref.js";

/** apps/v1 StatefulSet, for controllerRefs and events (`controllerKind`). */
export const STATEFUL_SET_GVK: GroupVersionKind = Object.freeze({ apiVersion: "apps/v1", kind: "StatefulSet" });
/** core/v1 Pod, for claims owned by scaled-down pods (`podKind`). */
export const POD_GVK: GroupVersionKind = Object.freeze({ apiVersion: "v1", kind: "Pod" });

/** The component its events are reported as. */
export const STATEFUL_SET_CONTROLLER_NAME = "statefulset-controller";

/** The label holding the name of the ControllerRevision a pod was made from (`apps.StatefulSetRevisionLabel`). */
export const STATEFUL_SET_REVISION_LABEL = "controller-revision-hash";

/** podManagementPolicy values. */
export const ORDERED_READY_POD_MANAGEMENT = "OrderedReady";
export const PARALLEL_POD_MANAGEMENT = "Parallel";

/** updateStrategy.type values. */
export const ROLLING_UPDATE_STRATEGY = "RollingUpdate";
export const ON_DELETE_STRATEGY = "OnDelete";

/** `ns/name` of an object. */
export function keyOf(obj: { metadata?: { namespace?: string; name?: string } }): string {
  return `${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? ""}`;
}
