/** Labels and annotations both endpoints controllers write, as upstream's `k8s.io/api/core/v1` constants. */

/** Label on the Endpoints and EndpointSlices of a Service without a ClusterIP (`v1.IsHeadlessService`). */
export const HEADLESS_LABEL = "service.kubernetes.io/headless";
/** Annotation with the time of the last change an Endpoints/EndpointSlice reflects (`v1.EndpointsLastChangeTriggerTime`). */
export const LAST_CHANGE_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time";
