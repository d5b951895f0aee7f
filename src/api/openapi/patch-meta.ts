/**
 * Patch and merge metadata of the served kinds' fields, as upstream's Go
 * struct tags (`patchStrategy`, `patchMergeKey`) and markers (`+listType`,
 * `+listMapKey`, `+mapType`, `+structType`, `+union`) declare them in
 * k8s.io/api and k8s.io/apimachinery. kubernetes-types does not carry these,
 * so this table is hand-curated from upstream's types.go files (Kubernetes
 * v1.30). The OpenAPI generator (scripts/gen-openapi.ts) merges it into the
 * published schemas as `x-kubernetes-patch-strategy`,
 * `x-kubernetes-patch-merge-key`, `x-kubernetes-list-type`,
 * `x-kubernetes-list-map-keys`, `x-kubernetes-map-type` and
 * `x-kubernetes-unions`; strategic merge patch and server-side apply may read
 * it directly.
 */

/** Metadata of one field. */
export interface FieldPatchMeta {
  /** Strategic-merge-patch strategy (`patchStrategy` tag). */
  readonly patchStrategy?: "merge" | "retainKeys" | "merge,retainKeys" | "replace";
  /** Key identifying list elements for strategic merge patch (`patchMergeKey` tag). */
  readonly patchMergeKey?: string;
  /** Server-side apply list semantics (`+listType`). */
  readonly listType?: "atomic" | "set" | "map";
  /** Keys of a `map` list (`+listMapKey`, in declaration order). */
  readonly listMapKeys?: readonly string[];
  /** Server-side apply map/struct semantics of a map-typed field (`+mapType`). */
  readonly mapType?: "atomic" | "granular";
}

/** Metadata of a whole definition. */
export interface TypePatchMeta {
  /** `+structType=atomic` / `+mapType=atomic` on the type itself. */
  readonly mapType?: "atomic" | "granular";
  /** `+union` members, as upstream's `x-kubernetes-unions`. */
  readonly unions?: readonly { readonly discriminator?: string; readonly "fields-to-discriminateBy": Readonly<Record<string, string>> }[];
}

const ATOMIC: FieldPatchMeta = { listType: "atomic" };
const SET: FieldPatchMeta = { listType: "set" };
/** `patchStrategy:"merge" patchMergeKey:key` with `+listType=map +listMapKey=key…`. */
function mergeMap(key: string, ...moreKeys: string[]): FieldPatchMeta {
  return { patchStrategy: "merge", patchMergeKey: key, listType: "map", listMapKeys: [key, ...moreKeys] };
}
const CONDITIONS = mergeMap("type");
const MAP_ATOMIC: FieldPatchMeta = { mapType: "atomic" };
const MAP_GRANULAR: FieldPatchMeta = { mapType: "granular" };

const CORE = "io.k8s.api.core.v1";
const META = "io.k8s.apimachinery.pkg.apis.meta.v1";
const APIEXT = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1";

/** Container and EphemeralContainer (EphemeralContainerCommon) share their list fields. */
const CONTAINER_FIELDS: Record<string, FieldPatchMeta> = {
  args: ATOMIC,
  command: ATOMIC,
  env: mergeMap("name"),
  envFrom: ATOMIC,
  ports: mergeMap("containerPort", "protocol"),
  resizePolicy: ATOMIC,
  volumeDevices: mergeMap("devicePath"),
  volumeMounts: mergeMap("mountPath"),
};

/** Definition name → field name → metadata. */
export const PATCH_META: Readonly<Record<string, Readonly<Record<string, FieldPatchMeta>>>> = {
  // k8s.io/api/core/v1
  [`${CORE}.Capabilities`]: { add: ATOMIC, drop: ATOMIC },
  [`${CORE}.CephFSPersistentVolumeSource`]: { monitors: ATOMIC },
  [`${CORE}.CephFSVolumeSource`]: { monitors: ATOMIC },
  [`${CORE}.ConfigMapProjection`]: { items: ATOMIC },
  [`${CORE}.ConfigMapVolumeSource`]: { items: ATOMIC },
  [`${CORE}.Container`]: CONTAINER_FIELDS,
  [`${CORE}.ContainerImage`]: { names: ATOMIC },
  [`${CORE}.ContainerStatus`]: { volumeMounts: mergeMap("mountPath") },
  [`${CORE}.DownwardAPIProjection`]: { items: ATOMIC },
  [`${CORE}.DownwardAPIVolumeSource`]: { items: ATOMIC },
  [`${CORE}.EndpointSubset`]: { addresses: ATOMIC, notReadyAddresses: ATOMIC, ports: ATOMIC },
  [`${CORE}.Endpoints`]: { subsets: ATOMIC },
  [`${CORE}.EphemeralContainer`]: CONTAINER_FIELDS,
  [`${CORE}.ExecAction`]: { command: ATOMIC },
  [`${CORE}.FCVolumeSource`]: { targetWWNs: ATOMIC, wwids: ATOMIC },
  [`${CORE}.HTTPGetAction`]: { httpHeaders: ATOMIC },
  [`${CORE}.HostAlias`]: { hostnames: ATOMIC },
  [`${CORE}.ISCSIPersistentVolumeSource`]: { portals: ATOMIC },
  [`${CORE}.ISCSIVolumeSource`]: { portals: ATOMIC },
  [`${CORE}.LimitRangeSpec`]: { limits: ATOMIC },
  [`${CORE}.LoadBalancerIngress`]: { ports: ATOMIC },
  [`${CORE}.LoadBalancerStatus`]: { ingress: ATOMIC },
  [`${CORE}.NamespaceSpec`]: { finalizers: ATOMIC },
  [`${CORE}.NamespaceStatus`]: { conditions: CONDITIONS },
  [`${CORE}.NodeAffinity`]: { preferredDuringSchedulingIgnoredDuringExecution: ATOMIC },
  [`${CORE}.NodeSelector`]: { nodeSelectorTerms: ATOMIC },
  [`${CORE}.NodeSelectorRequirement`]: { values: ATOMIC },
  [`${CORE}.NodeSelectorTerm`]: { matchExpressions: ATOMIC, matchFields: ATOMIC },
  [`${CORE}.NodeSpec`]: { podCIDRs: { patchStrategy: "merge", listType: "set" }, taints: ATOMIC },
  [`${CORE}.NodeStatus`]: {
    addresses: CONDITIONS,
    conditions: CONDITIONS,
    images: ATOMIC,
    runtimeHandlers: ATOMIC,
    volumesAttached: ATOMIC,
    volumesInUse: ATOMIC,
  },
  [`${CORE}.PersistentVolumeClaimSpec`]: { accessModes: ATOMIC },
  [`${CORE}.PersistentVolumeClaimStatus`]: { accessModes: ATOMIC, allocatedResourceStatuses: MAP_GRANULAR, conditions: CONDITIONS },
  [`${CORE}.PersistentVolumeSpec`]: { accessModes: ATOMIC, claimRef: MAP_GRANULAR, mountOptions: ATOMIC },
  [`${CORE}.PodAffinity`]: { preferredDuringSchedulingIgnoredDuringExecution: ATOMIC, requiredDuringSchedulingIgnoredDuringExecution: ATOMIC },
  [`${CORE}.PodAffinityTerm`]: { matchLabelKeys: ATOMIC, mismatchLabelKeys: ATOMIC, namespaces: ATOMIC },
  [`${CORE}.PodAntiAffinity`]: { preferredDuringSchedulingIgnoredDuringExecution: ATOMIC, requiredDuringSchedulingIgnoredDuringExecution: ATOMIC },
  [`${CORE}.PodDNSConfig`]: { nameservers: ATOMIC, options: ATOMIC, searches: ATOMIC },
  [`${CORE}.PodSecurityContext`]: { supplementalGroups: ATOMIC, sysctls: ATOMIC },
  [`${CORE}.PodSpec`]: {
    containers: mergeMap("name"),
    ephemeralContainers: mergeMap("name"),
    hostAliases: mergeMap("ip"),
    imagePullSecrets: mergeMap("name"),
    initContainers: mergeMap("name"),
    nodeSelector: MAP_ATOMIC,
    readinessGates: ATOMIC,
    resourceClaims: { ...mergeMap("name"), patchStrategy: "merge,retainKeys" },
    schedulingGates: mergeMap("name"),
    tolerations: ATOMIC,
    topologySpreadConstraints: mergeMap("topologyKey", "whenUnsatisfiable"),
    volumes: { ...mergeMap("name"), patchStrategy: "merge,retainKeys" },
  },
  [`${CORE}.PodStatus`]: {
    conditions: CONDITIONS,
    containerStatuses: ATOMIC,
    ephemeralContainerStatuses: ATOMIC,
    hostIPs: { patchStrategy: "merge", patchMergeKey: "ip", listType: "atomic" },
    initContainerStatuses: ATOMIC,
    podIPs: mergeMap("ip"),
    resourceClaimStatuses: { ...mergeMap("name"), patchStrategy: "merge,retainKeys" },
  },
  [`${CORE}.ProjectedVolumeSource`]: { sources: ATOMIC },
  [`${CORE}.RBDPersistentVolumeSource`]: { monitors: ATOMIC },
  [`${CORE}.RBDVolumeSource`]: { monitors: ATOMIC },
  [`${CORE}.ReplicationControllerSpec`]: { selector: MAP_ATOMIC },
  [`${CORE}.ReplicationControllerStatus`]: { conditions: CONDITIONS },
  [`${CORE}.ResourceQuotaSpec`]: { scopes: ATOMIC },
  [`${CORE}.ResourceRequirements`]: { claims: { listType: "map", listMapKeys: ["name"] } },
  [`${CORE}.ScopeSelector`]: { matchExpressions: ATOMIC },
  [`${CORE}.ScopedResourceSelectorRequirement`]: { values: ATOMIC },
  [`${CORE}.SecretProjection`]: { items: ATOMIC },
  [`${CORE}.SecretVolumeSource`]: { items: ATOMIC },
  [`${CORE}.ServiceAccount`]: { imagePullSecrets: ATOMIC, secrets: mergeMap("name") },
  [`${CORE}.ServiceSpec`]: {
    clusterIPs: ATOMIC,
    externalIPs: ATOMIC,
    ipFamilies: ATOMIC,
    loadBalancerSourceRanges: ATOMIC,
    ports: mergeMap("port", "protocol"),
    selector: MAP_ATOMIC,
  },
  [`${CORE}.ServiceStatus`]: { conditions: CONDITIONS },
  [`${CORE}.TopologySelectorLabelRequirement`]: { values: ATOMIC },
  [`${CORE}.TopologySelectorTerm`]: { matchLabelExpressions: ATOMIC },
  [`${CORE}.TopologySpreadConstraint`]: { matchLabelKeys: ATOMIC },

  // k8s.io/api/apps/v1
  "io.k8s.api.apps.v1.DaemonSetStatus": { conditions: CONDITIONS },
  "io.k8s.api.apps.v1.DeploymentSpec": { strategy: { patchStrategy: "retainKeys" } },
  "io.k8s.api.apps.v1.DeploymentStatus": { conditions: CONDITIONS },
  "io.k8s.api.apps.v1.ReplicaSetStatus": { conditions: CONDITIONS },
  "io.k8s.api.apps.v1.StatefulSetSpec": { volumeClaimTemplates: ATOMIC },
  "io.k8s.api.apps.v1.StatefulSetStatus": { conditions: CONDITIONS },

  // k8s.io/api/batch/v1
  "io.k8s.api.batch.v1.CronJobStatus": { active: ATOMIC },
  "io.k8s.api.batch.v1.JobStatus": { conditions: { patchStrategy: "merge", patchMergeKey: "type", listType: "atomic" } },
  "io.k8s.api.batch.v1.PodFailurePolicy": { rules: ATOMIC },
  "io.k8s.api.batch.v1.PodFailurePolicyOnExitCodesRequirement": { values: SET },
  "io.k8s.api.batch.v1.PodFailurePolicyRule": { onPodConditions: ATOMIC },
  "io.k8s.api.batch.v1.SuccessPolicy": { rules: ATOMIC },
  "io.k8s.api.batch.v1.UncountedTerminatedPods": { failed: SET, succeeded: SET },

  // k8s.io/api/autoscaling/v2
  "io.k8s.api.autoscaling.v2.HPAScalingRules": { policies: ATOMIC },
  "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec": { metrics: ATOMIC },
  "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus": { conditions: CONDITIONS, currentMetrics: ATOMIC },

  // k8s.io/api/networking/v1
  "io.k8s.api.networking.v1.HTTPIngressRuleValue": { paths: ATOMIC },
  "io.k8s.api.networking.v1.IPBlock": { except: ATOMIC },
  "io.k8s.api.networking.v1.IngressLoadBalancerIngress": { ports: ATOMIC },
  "io.k8s.api.networking.v1.IngressLoadBalancerStatus": { ingress: ATOMIC },
  "io.k8s.api.networking.v1.IngressSpec": { rules: ATOMIC, tls: ATOMIC },
  "io.k8s.api.networking.v1.IngressTLS": { hosts: ATOMIC },
  "io.k8s.api.networking.v1.NetworkPolicyEgressRule": { ports: ATOMIC, to: ATOMIC },
  "io.k8s.api.networking.v1.NetworkPolicyIngressRule": { from: ATOMIC, ports: ATOMIC },
  "io.k8s.api.networking.v1.NetworkPolicySpec": { egress: ATOMIC, ingress: ATOMIC, policyTypes: ATOMIC },

  // k8s.io/api/discovery/v1
  "io.k8s.api.discovery.v1.Endpoint": { addresses: SET },
  "io.k8s.api.discovery.v1.EndpointHints": { forZones: ATOMIC },
  "io.k8s.api.discovery.v1.EndpointSlice": { endpoints: ATOMIC, ports: ATOMIC },

  // k8s.io/api/storage/v1
  "io.k8s.api.storage.v1.StorageClass": { allowedTopologies: ATOMIC, mountOptions: ATOMIC },

  // k8s.io/api/policy/v1
  "io.k8s.api.policy.v1.PodDisruptionBudgetSpec": { selector: { patchStrategy: "replace" } },
  "io.k8s.api.policy.v1.PodDisruptionBudgetStatus": { conditions: CONDITIONS },

  // k8s.io/api/rbac/v1
  "io.k8s.api.rbac.v1.AggregationRule": { clusterRoleSelectors: ATOMIC },
  "io.k8s.api.rbac.v1.ClusterRole": { rules: ATOMIC },
  "io.k8s.api.rbac.v1.ClusterRoleBinding": { subjects: ATOMIC },
  "io.k8s.api.rbac.v1.PolicyRule": { apiGroups: ATOMIC, nonResourceURLs: ATOMIC, resourceNames: ATOMIC, resources: ATOMIC, verbs: ATOMIC },
  "io.k8s.api.rbac.v1.Role": { rules: ATOMIC },
  "io.k8s.api.rbac.v1.RoleBinding": { subjects: ATOMIC },

  // k8s.io/api/authentication/v1
  "io.k8s.api.authentication.v1.TokenRequestSpec": { audiences: ATOMIC },

  // k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1
  [`${APIEXT}.CustomResourceDefinitionNames`]: { categories: ATOMIC, shortNames: ATOMIC },
  [`${APIEXT}.CustomResourceDefinitionSpec`]: { versions: ATOMIC },
  [`${APIEXT}.CustomResourceDefinitionStatus`]: { conditions: { listType: "map", listMapKeys: ["type"] }, storedVersions: ATOMIC },
  [`${APIEXT}.CustomResourceDefinitionVersion`]: { additionalPrinterColumns: ATOMIC, selectableFields: ATOMIC },
  [`${APIEXT}.WebhookConversion`]: { conversionReviewVersions: ATOMIC },

  // k8s.io/apimachinery/pkg/apis/meta/v1
  [`${META}.APIGroup`]: { serverAddressByClientCIDRs: ATOMIC, versions: ATOMIC },
  [`${META}.APIGroupList`]: { groups: ATOMIC },
  [`${META}.APIResource`]: { categories: ATOMIC, shortNames: ATOMIC },
  [`${META}.APIResourceList`]: { resources: ATOMIC },
  [`${META}.APIVersions`]: { serverAddressByClientCIDRs: ATOMIC, versions: ATOMIC },
  [`${META}.DeleteOptions`]: { dryRun: ATOMIC },
  [`${META}.LabelSelector`]: { matchExpressions: ATOMIC },
  [`${META}.LabelSelectorRequirement`]: { values: ATOMIC },
  [`${META}.ObjectMeta`]: {
    finalizers: { patchStrategy: "merge", listType: "set" },
    managedFields: ATOMIC,
    ownerReferences: mergeMap("uid"),
  },
  [`${META}.StatusDetails`]: { causes: ATOMIC },
};

/** `+structType=atomic`: the object is replaced as a whole by server-side apply. */
const STRUCT_ATOMIC: TypePatchMeta = { mapType: "atomic" };

/** Definition name → type-level metadata. */
export const TYPE_META: Readonly<Record<string, TypePatchMeta>> = {
  [`${CORE}.AppArmorProfile`]: { unions: [{ discriminator: "type", "fields-to-discriminateBy": { localhostProfile: "LocalhostProfile" } }] },
  [`${CORE}.ConfigMapKeySelector`]: STRUCT_ATOMIC,
  [`${CORE}.EndpointAddress`]: STRUCT_ATOMIC,
  [`${CORE}.EndpointPort`]: STRUCT_ATOMIC,
  [`${CORE}.LocalObjectReference`]: STRUCT_ATOMIC,
  [`${CORE}.NodeSelector`]: STRUCT_ATOMIC,
  [`${CORE}.NodeSelectorTerm`]: STRUCT_ATOMIC,
  [`${CORE}.ObjectFieldSelector`]: STRUCT_ATOMIC,
  [`${CORE}.ObjectReference`]: STRUCT_ATOMIC,
  [`${CORE}.ResourceFieldSelector`]: STRUCT_ATOMIC,
  [`${CORE}.ScopeSelector`]: STRUCT_ATOMIC,
  [`${CORE}.SeccompProfile`]: { unions: [{ discriminator: "type", "fields-to-discriminateBy": { localhostProfile: "LocalhostProfile" } }] },
  [`${CORE}.SecretKeySelector`]: STRUCT_ATOMIC,
  [`${CORE}.SecretReference`]: STRUCT_ATOMIC,
  [`${CORE}.TopologySelectorTerm`]: STRUCT_ATOMIC,
  [`${CORE}.TypedLocalObjectReference`]: STRUCT_ATOMIC,
  "io.k8s.api.discovery.v1.EndpointPort": STRUCT_ATOMIC,
  "io.k8s.api.rbac.v1.RoleRef": STRUCT_ATOMIC,
  "io.k8s.api.rbac.v1.Subject": STRUCT_ATOMIC,
  [`${META}.LabelSelector`]: STRUCT_ATOMIC,
  [`${META}.OwnerReference`]: STRUCT_ATOMIC,
};
