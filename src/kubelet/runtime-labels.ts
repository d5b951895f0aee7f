/**
 * The labels and annotations the kubelet puts on sandboxes and containers
 * (upstream pkg/kubelet/types/labels.go and kuberuntime/labels.go): the
 * only way it finds its objects in a runtime again, so the names match
 * upstream's and never change.
 */

/** Sandbox and container label: the pod's name. */
export const POD_NAME_LABEL = "io.kubernetes.pod.name";
/** Sandbox and container label: the pod's namespace. */
export const POD_NAMESPACE_LABEL = "io.kubernetes.pod.namespace";
/** Sandbox and container label: the pod's UID (what the kubelet looks up by). */
export const POD_UID_LABEL = "io.kubernetes.pod.uid";
/** Container label: the container's name in the pod spec. */
export const CONTAINER_NAME_LABEL = "io.kubernetes.container.name";
/** Container annotation: the restart count this instance was created with. */
export const CONTAINER_RESTART_COUNT_ANNOTATION = "io.kubernetes.container.restartCount";
/** Container annotation: `termination-message-path` of the spec. */
export const CONTAINER_TERMINATION_MESSAGE_PATH_ANNOTATION = "io.kubernetes.container.terminationMessagePath";
/** Container annotation: the container's kind ("init", "sidecar" or "regular"; skiff's, for adoption after a restart). */
export const CONTAINER_KIND_ANNOTATION = "io.kubernetes.container.kind";
/** Sandbox annotation: the pod's termination grace period (for stops after a kubelet restart). */
export const POD_TERMINATION_GRACE_PERIOD_ANNOTATION = "io.kubernetes.pod.terminationGracePeriod";

/** The container's terminationMessagePolicy, for the status after a restart of the kubelet. */
export const CONTAINER_TERMINATION_MESSAGE_POLICY_ANNOTATION = "io.kubernetes.container.terminationMessagePolicy";
