/**
 * The `metrics.k8s.io/v1beta1` resources as metrics-server registers them
 * (k8s.io/metrics): `nodes` (NodeMetrics, cluster-scoped) and `pods`
 * (PodMetrics, namespaced), get and list only, with no singular name and
 * no storage (so no storageVersionHash in discovery).
 */
import type { ResourceType } from "../../api/resources.js";

export const METRICS_GROUP = "metrics.k8s.io";
export const METRICS_VERSION = "v1beta1";
export const METRICS_API_VERSION = `${METRICS_GROUP}/${METRICS_VERSION}`;

/** Discovery entries of the group. */
export const METRICS_RESOURCES: readonly ResourceType[] = [
  {
    group: METRICS_GROUP,
    version: METRICS_VERSION,
    kind: "NodeMetrics",
    plural: "nodes",
    singular: "",
    namespaced: false,
    verbs: ["get", "list"],
    definition: "io.k8s.metrics.pkg.apis.metrics.v1beta1.NodeMetrics",
  },
  {
    group: METRICS_GROUP,
    version: METRICS_VERSION,
    kind: "PodMetrics",
    plural: "pods",
    singular: "",
    namespaced: true,
    verbs: ["get", "list"],
    definition: "io.k8s.metrics.pkg.apis.metrics.v1beta1.PodMetrics",
  },
];
