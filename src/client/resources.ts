/**
 * Descriptors of the resources control-plane components use most, so each
 * component names them the same way (`new ResourceClient<Pod>(rest, PODS)`).
 * Anything else is a {@link ResourceDescriptor} literal away.
 */
import type { ResourceDescriptor } from "./resource-client.js";

const d = (group: string, version: string, resource: string, kind: string, namespaced: boolean): ResourceDescriptor =>
  Object.freeze({ group, version, resource, kind, namespaced });

/** core/v1 `pods` (Pod, namespaced). */
export const PODS = d("", "v1", "pods", "Pod", true);
/** core/v1 `nodes` (Node, cluster-scoped). */
export const NODES = d("", "v1", "nodes", "Node", false);
/** core/v1 `namespaces` (Namespace, cluster-scoped). */
export const NAMESPACES = d("", "v1", "namespaces", "Namespace", false);
/** core/v1 `services` (Service, namespaced). */
export const SERVICES = d("", "v1", "services", "Service", true);
/** core/v1 `resourcequotas` (ResourceQuota, namespaced). */
export const RESOURCE_QUOTAS = d("", "v1", "resourcequotas", "ResourceQuota", true);
/** core/v1 `endpoints` (Endpoints, namespaced). */
export const ENDPOINTS = d("", "v1", "endpoints", "Endpoints", true);
/** core/v1 `configmaps` (ConfigMap, namespaced). */
export const CONFIGMAPS = d("", "v1", "configmaps", "ConfigMap", true);
/** core/v1 `secrets` (Secret, namespaced). */
export const SECRETS = d("", "v1", "secrets", "Secret", true);
/** core/v1 `persistentvolumes` (PersistentVolume, cluster-scoped). */
export const PERSISTENT_VOLUMES = d("", "v1", "persistentvolumes", "PersistentVolume", false);
/** core/v1 `persistentvolumeclaims` (PersistentVolumeClaim, namespaced). */
export const PERSISTENT_VOLUME_CLAIMS = d("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true);
/** core/v1 `serviceaccounts` (ServiceAccount, namespaced). */
export const SERVICE_ACCOUNTS = d("", "v1", "serviceaccounts", "ServiceAccount", true);
/** core/v1 `events` (Event, namespaced). */
export const CORE_EVENTS = d("", "v1", "events", "Event", true);
/** apps/v1 `deployments` (Deployment, namespaced). */
export const DEPLOYMENTS = d("apps", "v1", "deployments", "Deployment", true);
/** apps/v1 `replicasets` (ReplicaSet, namespaced). */
export const REPLICA_SETS = d("apps", "v1", "replicasets", "ReplicaSet", true);
/** apps/v1 `statefulsets` (StatefulSet, namespaced). */
export const STATEFUL_SETS = d("apps", "v1", "statefulsets", "StatefulSet", true);
/** apps/v1 `daemonsets` (DaemonSet, namespaced). */
export const DAEMON_SETS = d("apps", "v1", "daemonsets", "DaemonSet", true);
/** batch/v1 `jobs` (Job, namespaced). */
export const JOBS = d("batch", "v1", "jobs", "Job", true);
/** batch/v1 `cronjobs` (CronJob, namespaced). */
export const CRON_JOBS = d("batch", "v1", "cronjobs", "CronJob", true);
/** discovery.k8s.io/v1 `endpointslices` (EndpointSlice, namespaced). */
export const ENDPOINT_SLICES = d("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true);
/** networking.k8s.io/v1 `ingresses` (Ingress, namespaced). */
export const INGRESSES = d("networking.k8s.io", "v1", "ingresses", "Ingress", true);
/** networking.k8s.io/v1 `ingressclasses` (IngressClass, cluster-scoped). */
export const INGRESS_CLASSES = d("networking.k8s.io", "v1", "ingressclasses", "IngressClass", false);
/** coordination.k8s.io/v1 `leases` (Lease, namespaced). */
export const LEASES = d("coordination.k8s.io", "v1", "leases", "Lease", true);
/** events.k8s.io/v1 `events` (Event, namespaced). */
export const EVENTS = d("events.k8s.io", "v1", "events", "Event", true);
/** scheduling.k8s.io/v1 `priorityclasses` (PriorityClass, cluster-scoped). */
export const PRIORITY_CLASSES = d("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", false);
/** storage.k8s.io/v1 `storageclasses` (StorageClass, cluster-scoped). */
export const STORAGE_CLASSES = d("storage.k8s.io", "v1", "storageclasses", "StorageClass", false);
/** policy/v1 `poddisruptionbudgets` (PodDisruptionBudget, namespaced). */
export const POD_DISRUPTION_BUDGETS = d("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", true);
/** core/v1 `replicationcontrollers` (ReplicationController, namespaced). */
export const REPLICATION_CONTROLLERS = d("", "v1", "replicationcontrollers", "ReplicationController", true);
/** networking.k8s.io/v1 `networkpolicies` (NetworkPolicy, namespaced). */
export const NETWORK_POLICIES = d("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", true);
