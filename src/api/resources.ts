/**
 * The catalog of built-in resources skiff serves: group, version, kind,
 * names, scope, verbs and subresources, as upstream's discovery reports them
 * for Kubernetes v1.30. Discovery, OpenAPI, routing and storage all read it.
 */

/** Verbs of a resource collection/item, as discovery lists them. */
export type Verb = "create" | "delete" | "deletecollection" | "get" | "list" | "patch" | "update" | "watch";

export const ALL_VERBS: readonly Verb[] = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

/** A subresource and the verbs it takes. */
export interface Subresource {
  readonly name: string;
  readonly verbs: readonly string[];
  /** Kind of the subresource's body when it differs from the parent (e.g. Scale). */
  readonly kind?: { group: string; version: string; kind: string };
}

/** One built-in resource at one served version. */
export interface ResourceType {
  /** API group, "" for the core (legacy) group. */
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  /** Plural resource name, as in URLs. */
  readonly plural: string;
  readonly singular: string;
  readonly namespaced: boolean;
  readonly verbs: readonly Verb[];
  readonly shortNames?: readonly string[];
  readonly categories?: readonly string[];
  readonly subresources?: readonly Subresource[];
  /** OpenAPI definition name, e.g. `io.k8s.api.core.v1.Pod`. */
  readonly definition: string;
  /** Set for custom resources: what their CustomResourceDefinition says about printing. */
  readonly custom?: {
    readonly printerColumns?: readonly { name: string; type: string; format?: string; description?: string; priority?: number; jsonPath: string }[];
  };
}

const STATUS: Subresource = { name: "status", verbs: ["get", "patch", "update"] };
const SCALE: Subresource = {
  name: "scale",
  verbs: ["get", "patch", "update"],
  kind: { group: "autoscaling", version: "v1", kind: "Scale" },
};

/** Definition-name package of a group, as upstream's OpenAPI names them. */
function pkg(group: string, version: string): string {
  const short: Record<string, string> = {
    "": "core",
    apps: "apps",
    batch: "batch",
    "networking.k8s.io": "networking",
    "discovery.k8s.io": "discovery",
    "storage.k8s.io": "storage",
    "coordination.k8s.io": "coordination",
    "events.k8s.io": "events",
    "scheduling.k8s.io": "scheduling",
    policy: "policy",
    autoscaling: "autoscaling",
    "rbac.authorization.k8s.io": "rbac",
    "authentication.k8s.io": "authentication",
    "authorization.k8s.io": "authorization",
  };
  if (group === "apiextensions.k8s.io") return `io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.${version}`;
  return `io.k8s.api.${short[group] ?? group}.${version}`;
}

interface Spec {
  kind: string;
  plural: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  subresources?: Subresource[];
  verbs?: Verb[];
}

function group(groupName: string, version: string, specs: Spec[]): ResourceType[] {
  return specs.map((s) => ({
    group: groupName,
    version,
    kind: s.kind,
    plural: s.plural,
    singular: s.kind.toLowerCase(),
    namespaced: s.namespaced,
    verbs: s.verbs ?? ALL_VERBS,
    ...(s.shortNames ? { shortNames: s.shortNames } : {}),
    ...(s.categories ? { categories: s.categories } : {}),
    ...(s.subresources ? { subresources: s.subresources } : {}),
    definition: `${pkg(groupName, version)}.${s.kind}`,
  }));
}

const NO_COLLECTION_DELETE: Verb[] = ["create", "delete", "get", "list", "patch", "update", "watch"];

/** Every built-in resource skiff serves, in discovery order. */
export const BUILTIN_RESOURCES: readonly ResourceType[] = [
  ...group("", "v1", [
    { kind: "Binding", plural: "bindings", namespaced: true, verbs: ["create"] },
    { kind: "ConfigMap", plural: "configmaps", namespaced: true, shortNames: ["cm"] },
    { kind: "Endpoints", plural: "endpoints", namespaced: true, shortNames: ["ep"] },
    { kind: "Event", plural: "events", namespaced: true, shortNames: ["ev"] },
    { kind: "LimitRange", plural: "limitranges", namespaced: true, shortNames: ["limits"] },
    { kind: "Namespace", plural: "namespaces", namespaced: false, shortNames: ["ns"], subresources: [STATUS, { name: "finalize", verbs: ["update"] }], verbs: NO_COLLECTION_DELETE },
    { kind: "Node", plural: "nodes", namespaced: false, shortNames: ["no"], subresources: [STATUS, { name: "proxy", verbs: ["create", "delete", "get", "patch", "update"] }] },
    { kind: "PersistentVolumeClaim", plural: "persistentvolumeclaims", namespaced: true, shortNames: ["pvc"], subresources: [STATUS] },
    { kind: "PersistentVolume", plural: "persistentvolumes", namespaced: false, shortNames: ["pv"], subresources: [STATUS] },
    {
      kind: "Pod",
      plural: "pods",
      namespaced: true,
      shortNames: ["po"],
      categories: ["all"],
      subresources: [
        { name: "attach", verbs: ["create", "get"] },
        { name: "binding", verbs: ["create"] },
        { name: "ephemeralcontainers", verbs: ["get", "patch", "update"] },
        { name: "eviction", verbs: ["create"], kind: { group: "policy", version: "v1", kind: "Eviction" } },
        { name: "exec", verbs: ["create", "get"] },
        { name: "log", verbs: ["get"] },
        { name: "portforward", verbs: ["create", "get"] },
        { name: "proxy", verbs: ["create", "delete", "get", "patch", "update"] },
        STATUS,
      ],
    },
    { kind: "PodTemplate", plural: "podtemplates", namespaced: true },
    { kind: "ReplicationController", plural: "replicationcontrollers", namespaced: true, shortNames: ["rc"], categories: ["all"], subresources: [SCALE, STATUS] },
    { kind: "ResourceQuota", plural: "resourcequotas", namespaced: true, shortNames: ["quota"], subresources: [STATUS] },
    { kind: "Secret", plural: "secrets", namespaced: true },
    { kind: "ServiceAccount", plural: "serviceaccounts", namespaced: true, shortNames: ["sa"], subresources: [{ name: "token", verbs: ["create"] }] },
    {
      kind: "Service",
      plural: "services",
      namespaced: true,
      shortNames: ["svc"],
      categories: ["all"],
      subresources: [{ name: "proxy", verbs: ["create", "delete", "get", "patch", "update"] }, STATUS],
      verbs: NO_COLLECTION_DELETE,
    },
  ]),
  ...group("apps", "v1", [
    { kind: "ControllerRevision", plural: "controllerrevisions", namespaced: true },
    { kind: "DaemonSet", plural: "daemonsets", namespaced: true, shortNames: ["ds"], categories: ["all"], subresources: [STATUS] },
    { kind: "Deployment", plural: "deployments", namespaced: true, shortNames: ["deploy"], categories: ["all"], subresources: [SCALE, STATUS] },
    { kind: "ReplicaSet", plural: "replicasets", namespaced: true, shortNames: ["rs"], categories: ["all"], subresources: [SCALE, STATUS] },
    { kind: "StatefulSet", plural: "statefulsets", namespaced: true, shortNames: ["sts"], categories: ["all"], subresources: [SCALE, STATUS] },
  ]),
  ...group("batch", "v1", [
    { kind: "CronJob", plural: "cronjobs", namespaced: true, shortNames: ["cj"], categories: ["all"], subresources: [STATUS] },
    { kind: "Job", plural: "jobs", namespaced: true, categories: ["all"], subresources: [STATUS] },
  ]),
  ...group("autoscaling", "v2", [
    { kind: "HorizontalPodAutoscaler", plural: "horizontalpodautoscalers", namespaced: true, shortNames: ["hpa"], categories: ["all"], subresources: [STATUS] },
  ]),
  ...group("autoscaling", "v1", [
    { kind: "HorizontalPodAutoscaler", plural: "horizontalpodautoscalers", namespaced: true, shortNames: ["hpa"], categories: ["all"], subresources: [STATUS] },
  ]),
  ...group("networking.k8s.io", "v1", [
    { kind: "IngressClass", plural: "ingressclasses", namespaced: false },
    { kind: "Ingress", plural: "ingresses", namespaced: true, shortNames: ["ing"], subresources: [STATUS] },
    { kind: "NetworkPolicy", plural: "networkpolicies", namespaced: true, shortNames: ["netpol"] },
  ]),
  ...group("discovery.k8s.io", "v1", [{ kind: "EndpointSlice", plural: "endpointslices", namespaced: true }]),
  ...group("storage.k8s.io", "v1", [{ kind: "StorageClass", plural: "storageclasses", namespaced: false, shortNames: ["sc"] }]),
  ...group("coordination.k8s.io", "v1", [{ kind: "Lease", plural: "leases", namespaced: true }]),
  ...group("events.k8s.io", "v1", [{ kind: "Event", plural: "events", namespaced: true, shortNames: ["ev"] }]),
  ...group("scheduling.k8s.io", "v1", [{ kind: "PriorityClass", plural: "priorityclasses", namespaced: false, shortNames: ["pc"] }]),
  ...group("policy", "v1", [{ kind: "PodDisruptionBudget", plural: "poddisruptionbudgets", namespaced: true, shortNames: ["pdb"], subresources: [STATUS] }]),
  ...group("rbac.authorization.k8s.io", "v1", [
    { kind: "ClusterRoleBinding", plural: "clusterrolebindings", namespaced: false },
    { kind: "ClusterRole", plural: "clusterroles", namespaced: false },
    { kind: "RoleBinding", plural: "rolebindings", namespaced: true },
    { kind: "Role", plural: "roles", namespaced: true },
  ]),
  ...group("apiextensions.k8s.io", "v1", [
    { kind: "CustomResourceDefinition", plural: "customresourcedefinitions", namespaced: false, shortNames: ["crd", "crds"], categories: ["api-extensions"], subresources: [STATUS] },
  ]),
];

/** Group preference order of versions (first = preferred), as upstream. */
export function groupVersions(groupName: string): string[] {
  const versions: string[] = [];
  for (const r of BUILTIN_RESOURCES) if (r.group === groupName && !versions.includes(r.version)) versions.push(r.version);
  return versions;
}

/** The API groups served, in upstream discovery order ("" = core). */
export function servedGroups(): string[] {
  const groups: string[] = [];
  for (const r of BUILTIN_RESOURCES) if (!groups.includes(r.group)) groups.push(r.group);
  return groups;
}

/** Looks up a resource by group, version and plural name. */
export function findResource(groupName: string, version: string, plural: string): ResourceType | undefined {
  return BUILTIN_RESOURCES.find((r) => r.group === groupName && r.version === version && r.plural === plural);
}

/** `apiVersion` as objects carry it: "v1" for core, "apps/v1" otherwise. */
export function apiVersionOf(r: { group: string; version: string }): string {
  return r.group === "" ? r.version : `${r.group}/${r.version}`;
}
