/**
 * Scalar fields that are Go pointers in upstream's types (k8s.io/api,
 * apimachinery), keyed by `<group dir>.<Message>` (the proto package's
 * group directory, any version: pointer-ness does not change between
 * versions).
 *
 * Why: gogo-protobuf marshals a non-pointer scalar even when it is zero, so
 * "" / 0 / false reach the server where a JSON client (Go's encoding/json
 * with `omitempty`) would have omitted them; the decoder drops such zeros.
 * A pointer scalar is on the wire only when set, and then a zero is
 * meaningful (`replicas: 0`, `optional: false`) and must be kept. The
 * descriptors do not say which fields are pointers, hence this list
 * (checked against upstream's types.go). A field missing here whose zero
 * matters would lose that zero; status-only fields are mostly left out
 * because the server resets status on create.
 */
export const POINTER_SCALARS: Readonly<Record<string, readonly string[]>> = {
  // k8s.io/apimachinery/pkg/apis/meta/v1
  "meta.ObjectMeta": ["deletionGracePeriodSeconds"],
  "meta.ListMeta": ["remainingItemCount"],
  "meta.OwnerReference": ["controller", "blockOwnerDeletion"],
  "meta.DeleteOptions": ["gracePeriodSeconds", "orphanDependents", "propagationPolicy", "ignoreStoreReadErrorWithClusterBreakingPotential"],
  "meta.Preconditions": ["uid", "resourceVersion"],
  "meta.PatchOptions": ["force"],
  "meta.ListOptions": ["timeoutSeconds", "sendInitialEvents"],
  // k8s.io/api/core/v1
  "core.PodSpec": [
    "terminationGracePeriodSeconds",
    "activeDeadlineSeconds",
    "automountServiceAccountToken",
    "shareProcessNamespace",
    "priority",
    "enableServiceLinks",
    "preemptionPolicy",
    "runtimeClassName",
    "setHostnameAsFQDN",
    "hostUsers",
  ],
  "core.PodSecurityContext": ["runAsUser", "runAsGroup", "runAsNonRoot", "fsGroup", "fsGroupChangePolicy", "supplementalGroupsPolicy", "seLinuxChangePolicy"],
  "core.SecurityContext": ["privileged", "runAsUser", "runAsGroup", "runAsNonRoot", "readOnlyRootFilesystem", "allowPrivilegeEscalation", "procMount"],
  "core.WindowsSecurityContextOptions": ["gmsaCredentialSpecName", "gmsaCredentialSpec", "runAsUserName", "hostProcess"],
  "core.SeccompProfile": ["localhostProfile"],
  "core.AppArmorProfile": ["localhostProfile"],
  "core.Container": ["restartPolicy"],
  "core.EphemeralContainerCommon": ["restartPolicy"],
  "core.Lifecycle": ["stopSignal"],
  "core.Probe": ["terminationGracePeriodSeconds"],
  "core.GRPCAction": ["service"],
  "core.Toleration": ["tolerationSeconds"],
  "core.TopologySpreadConstraint": ["minDomains", "nodeAffinityPolicy", "nodeTaintsPolicy"],
  "core.PodDNSConfigOption": ["value"],
  "core.PodResourceClaim": ["resourceClaimName", "resourceClaimTemplateName"],
  "core.VolumeMount": ["recursiveReadOnly", "mountPropagation"],
  "core.KeyToPath": ["mode"],
  "core.DownwardAPIVolumeFile": ["mode"],
  "core.SecretVolumeSource": ["defaultMode", "optional"],
  "core.ConfigMapVolumeSource": ["defaultMode", "optional"],
  "core.ProjectedVolumeSource": ["defaultMode"],
  "core.DownwardAPIVolumeSource": ["defaultMode"],
  "core.ConfigMapProjection": ["optional"],
  "core.SecretProjection": ["optional"],
  "core.ConfigMapKeySelector": ["optional"],
  "core.SecretKeySelector": ["optional"],
  "core.ConfigMapEnvSource": ["optional"],
  "core.SecretEnvSource": ["optional"],
  "core.ServiceAccountTokenProjection": ["expirationSeconds"],
  "core.HostPathVolumeSource": ["type"],
  "core.ClusterTrustBundleProjection": ["name", "signerName", "optional"],
  "core.TypedLocalObjectReference": ["apiGroup"],
  "core.TypedObjectReference": ["apiGroup", "namespace"],
  "core.LocalVolumeSource": ["fsType"],
  "core.GlusterfsPersistentVolumeSource": ["endpointsNamespace"],
  "core.CSIVolumeSource": ["readOnly", "fsType"],
  "core.AzureDiskVolumeSource": ["cachingMode", "fsType", "readOnly", "kind"],
  "core.ISCSIVolumeSource": ["initiatorName"],
  "core.ISCSIPersistentVolumeSource": ["initiatorName"],
  "core.ServiceAccount": ["automountServiceAccountToken"],
  "core.Secret": ["immutable"],
  "core.ConfigMap": ["immutable"],
  "core.ServiceSpec": ["ipFamilyPolicy", "allocateLoadBalancerNodePorts", "loadBalancerClass", "internalTrafficPolicy", "trafficDistribution"],
  "core.ClientIPConfig": ["timeoutSeconds"],
  "core.ServicePort": ["appProtocol"],
  "core.EndpointPort": ["appProtocol"],
  "core.PersistentVolumeClaimSpec": ["storageClassName", "volumeMode", "volumeAttributesClassName"],
  "core.PersistentVolumeSpec": ["volumeMode", "volumeAttributesClassName"],
  "core.ReplicationControllerSpec": ["replicas"],
  "core.EndpointAddress": ["nodeName"],
  "core.ContainerStatus": ["started"],
  "core.PortStatus": ["error"],
  "core.LoadBalancerIngress": ["ipMode"],
  // k8s.io/api/apps
  "apps.DeploymentSpec": ["replicas", "revisionHistoryLimit", "progressDeadlineSeconds"],
  "apps.DeploymentStatus": ["collisionCount"],
  "apps.StatefulSetSpec": ["replicas", "revisionHistoryLimit"],
  "apps.StatefulSetStatus": ["collisionCount"],
  "apps.RollingUpdateStatefulSetStrategy": ["partition"],
  "apps.DaemonSetSpec": ["revisionHistoryLimit"],
  "apps.DaemonSetStatus": ["collisionCount"],
  "apps.ReplicaSetSpec": ["replicas"],
  // k8s.io/api/batch
  "batch.JobSpec": [
    "parallelism",
    "completions",
    "activeDeadlineSeconds",
    "backoffLimit",
    "backoffLimitPerIndex",
    "maxFailedIndexes",
    "ttlSecondsAfterFinished",
    "manualSelector",
    "suspend",
    "completionMode",
    "podReplacementPolicy",
    "managedBy",
  ],
  "batch.JobStatus": ["ready", "terminating", "failedIndexes"],
  "batch.CronJobSpec": ["startingDeadlineSeconds", "suspend", "successfulJobsHistoryLimit", "failedJobsHistoryLimit", "timeZone"],
  "batch.PodFailurePolicyOnExitCodesRequirement": ["containerName"],
  "batch.SuccessPolicyRule": ["succeededIndexes", "succeededCount"],
  // k8s.io/api/autoscaling
  "autoscaling.HorizontalPodAutoscalerSpec": ["minReplicas", "targetCPUUtilizationPercentage"],
  "autoscaling.HorizontalPodAutoscalerStatus": ["observedGeneration", "currentCPUUtilizationPercentage"],
  "autoscaling.MetricTarget": ["averageUtilization"],
  "autoscaling.MetricValueStatus": ["averageUtilization"],
  "autoscaling.HPAScalingRules": ["stabilizationWindowSeconds", "selectPolicy"],
  // k8s.io/api/policy
  "policy.PodDisruptionBudgetSpec": ["unhealthyPodEvictionPolicy"],
  // k8s.io/api/networking
  "networking.IngressSpec": ["ingressClassName"],
  "networking.HTTPIngressPath": ["pathType"],
  "networking.NetworkPolicyPort": ["protocol", "endPort"],
  "networking.IngressClassParametersReference": ["apiGroup", "scope", "namespace"],
  "networking.IngressPortStatus": ["error"],
  // k8s.io/api/scheduling
  "scheduling.PriorityClass": ["preemptionPolicy"],
  // k8s.io/api/storage
  "storage.StorageClass": ["reclaimPolicy", "allowVolumeExpansion", "volumeBindingMode"],
  "storage.CSIDriverSpec": ["attachRequired", "podInfoOnMount", "storageCapacity", "requiresRepublish", "seLinuxMount", "fsGroupPolicy", "nodeAllocatableUpdatePeriodSeconds"],
  "storage.VolumeAttachmentSource": ["persistentVolumeName"],
  "storage.VolumeNodeResources": ["count"],
  // k8s.io/api/coordination
  "coordination.LeaseSpec": ["holderIdentity", "leaseDurationSeconds", "leaseTransitions", "strategy", "preferredHolder"],
  // k8s.io/api/authentication
  "authentication.TokenRequestSpec": ["expirationSeconds"],
  // k8s.io/api/certificates
  "certificates.CertificateSigningRequestSpec": ["expirationSeconds"],
  // k8s.io/api/discovery
  "discovery.Endpoint": ["hostname", "nodeName", "zone"],
  "discovery.EndpointConditions": ["ready", "serving", "terminating"],
  "discovery.EndpointPort": ["name", "protocol", "port", "appProtocol"],
  // k8s.io/api/admissionregistration
  "admissionregistration.ValidatingWebhook": ["failurePolicy", "matchPolicy", "sideEffects", "timeoutSeconds"],
  "admissionregistration.MutatingWebhook": ["failurePolicy", "matchPolicy", "sideEffects", "timeoutSeconds", "reinvocationPolicy"],
  "admissionregistration.WebhookClientConfig": ["url"],
  "admissionregistration.ServiceReference": ["path", "port"],
  "admissionregistration.Rule": ["scope"],
  "admissionregistration.ValidatingAdmissionPolicySpec": ["failurePolicy"],
  // k8s.io/api/flowcontrol
  "flowcontrol.LimitedPriorityLevelConfiguration": ["nominalConcurrencyShares", "lendablePercent", "borrowingLimitPercent"],
  "flowcontrol.ExemptPriorityLevelConfiguration": ["nominalConcurrencyShares", "lendablePercent"],
};

/** `k8s.io.api.apps.v1.DeploymentSpec` → `apps.DeploymentSpec`; `k8s.io.apimachinery.pkg.apis.meta.v1.X` → `meta.X`. */
export function pointerKey(messageFullName: string): string {
  const parts = messageFullName.split(".");
  const name = parts[parts.length - 1]!;
  const group = parts[parts.length - 3]!;
  return `${group}.${name}`;
}
