/**
 * Names the DaemonSet controller's files share: the kind it owns, its
 * labels and annotations, event reasons and strategies.
 */
import type { GroupVersionKind } from "../common/controller-ref.js";

/** apps/v1 DaemonSet, for controllerRefs and events (`controllerKind`). */
export const DAEMON_SET_GVK: GroupVersionKind = Object.freeze({ apiVersion: "apps/v1", kind: "DaemonSet" });

/** The component its events are reported as. */
export const DAEMON_SET_CONTROLLER_NAME = "daemonset-controller";

/** Label with the hash of the template a pod (and its ControllerRevision) was made from (`apps.DefaultDaemonSetUniqueLabelKey`). */
export const DEFAULT_DAEMON_SET_UNIQUE_LABEL_KEY = "controller-revision-hash";
/** Label with the template generation a pod was made from (`extensions.DaemonSetTemplateGenerationKey`). */
export const DAEMON_SET_TEMPLATE_GENERATION_KEY = "pod-template-generation";
/** Annotation the API server keeps the template generation in (`apps.DeprecatedTemplateGeneration`). */
export const DEPRECATED_TEMPLATE_GENERATION = "deprecated.daemonset.template.generation";

/** updateStrategy.type values. */
export const ROLLING_UPDATE_STRATEGY = "RollingUpdate";
export const ON_DELETE_STRATEGY = "OnDelete";

/** Event reasons (upstream's constants). */
export const SELECTING_ALL_REASON = "SelectingAll";
export const FAILED_PLACEMENT_REASON = "FailedPlacement";
export const FAILED_DAEMON_POD_REASON = "FailedDaemonPod";
export const SUCCEEDED_DAEMON_POD_REASON = "SucceededDaemonPod";

/** `ns/name` of an object. */
export function keyOf(obj: { metadata?: { namespace?: string; name?: string } }): string {
  return `${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? ""}`;
}
