/**
 * The default roles and bindings, as upstream's
 * `plugin/pkg/auth/authorizer/rbac/bootstrappolicy` (policy.go,
 * controller_policy.go, namespace_policy.go) of Kubernetes 1.33, for the
 * API surface skiff serves. Every object carries the
 * `kubernetes.io/bootstrapping: rbac-defaults` label and the
 * `rbac.authorization.kubernetes.io/autoupdate: "true"` annotation, and is
 * reconciled at server start (reconcile.ts).
 *
 * Where skiff differs, and why:
 * - skiff's controller manager runs every controller under its own identity
 *   (upstream's `--use-service-account-credentials=false`), so each
 *   `system:controller:*` ClusterRoleBinding names the user
 *   `system:kube-controller-manager` beside upstream's ServiceAccount
 *   subject: the manager holds exactly the union of its controllers' roles.
 * - `local-path-provisioner-role` is k3s' role for its local-path
 *   provisioner, which skiff's controller manager runs.
 * - `skiff:kube-scheduler` lets the scheduler read PriorityClasses, which
 *   its listers watch and upstream's scheduler does not.
 * - `skiff:node` lets nodes (group system:nodes) write events.k8s.io Events:
 *   skiff's kubelet records through that API, upstream's through core/v1.
 * - `skiff:node-network` lets nodes read what their service proxy and
 *   NetworkPolicy enforcer follow (Services, EndpointSlices, Nodes,
 *   Namespaces, Pods, NetworkPolicies): skiff's agent runs both under its
 *   node identity, as k3s' agent runs its network policy controller, where
 *   upstream gives kube-proxy the separate `system:kube-proxy` user.
 * - `skiff:skiff-controller` is what the server's own add-ons read and
 *   write under the user `system:skiff-controller` (k3s' `system:k3s-controller`):
 *   cluster DNS (CoreDNS' `system:coredns` rules) and the ingress controller
 *   (ingress-nginx's and Traefik's rules).
 * - `skiff:local-registry-hosting-reader` (a Role in kube-public, bound to
 *   system:authenticated) lets anyone signed in, nodes included, get KEP-1755's
 *   `local-registry-hosting` ConfigMap, which says where the cluster registry is.
 * - the `system:node` binding has no subjects, as upstream: nodes are
 *   authorized by the Node authorizer (or, until it is in the chain, by
 *   {@link NodeRoleAuthorizer} with this role's rules).
 */
import type { ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, Subject } from "kubernetes-types/rbac/v1.js";

export const BOOTSTRAP_LABEL = { "kubernetes.io/bootstrapping": "rbac-defaults" } as const;
export const AUTOUPDATE_ANNOTATION = "rbac.authorization.kubernetes.io/autoupdate";

const READ = ["get", "list", "watch"];
const WRITE = ["create", "update", "patch", "delete", "deletecollection"];
const READ_WRITE = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"];
const READ_UPDATE = ["get", "list", "watch", "update", "patch"];

const CORE = "";
const APPS = "apps";
const AUTHN = "authentication.k8s.io";
const AUTHZ = "authorization.k8s.io";
const AUTOSCALING = "autoscaling";
const BATCH = "batch";
const CERTS = "certificates.k8s.io";
const COORDINATION = "coordination.k8s.io";
/** The Lease in kube-system whose holder runs the servers' shared jobs (scheduled snapshots of the etcd cluster). */
export const SERVER_JOBS_LEASE = "skiff-server-jobs";
const DISCOVERY = "discovery.k8s.io";
const EVENTS = "events.k8s.io";
const EXTENSIONS = "extensions";
const NETWORKING = "networking.k8s.io";
const POLICY = "policy";
const RBAC = "rbac.authorization.k8s.io";
const STORAGE = "storage.k8s.io";

/** A resource rule: verbs on resources of groups (upstream's rbacv1helpers.NewRule(...).Groups(...).Resources(...)). */
function rule(verbs: readonly string[], groups: readonly string[], resources: readonly string[], names?: readonly string[]): PolicyRule {
  return { verbs: [...verbs], apiGroups: [...groups], resources: [...resources], ...(names ? { resourceNames: [...names] } : {}) };
}

/** A non-resource rule. */
function urls(verbs: readonly string[], paths: readonly string[]): PolicyRule {
  return { verbs: [...verbs], nonResourceURLs: [...paths] };
}

/** Upstream's eventsRule(). */
const eventsRule = () => rule(["create", "update", "patch"], [CORE, EVENTS], ["events"]);

const AGGREGATE = (to: string) => `rbac.authorization.k8s.io/aggregate-to-${to}`;

function clusterRole(name: string, rules: PolicyRule[], extra: { labels?: Record<string, string>; aggregateFrom?: string } = {}): ClusterRole {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name, labels: { ...BOOTSTRAP_LABEL, ...extra.labels }, annotations: { [AUTOUPDATE_ANNOTATION]: "true" } },
    ...(extra.aggregateFrom ? { aggregationRule: { clusterRoleSelectors: [{ matchLabels: { [AGGREGATE(extra.aggregateFrom)]: "true" } }] } } : {}),
    rules,
  };
}

const user = (name: string): Subject => ({ apiGroup: RBAC, kind: "User", name });
const group = (name: string): Subject => ({ apiGroup: RBAC, kind: "Group", name });
const serviceAccount = (namespace: string, name: string): Subject => ({ kind: "ServiceAccount", name, namespace });

function clusterBinding(name: string, subjects: Subject[], roleName = name): ClusterRoleBinding {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name, labels: { ...BOOTSTRAP_LABEL }, annotations: { [AUTOUPDATE_ANNOTATION]: "true" } },
    roleRef: { apiGroup: RBAC, kind: "ClusterRole", name: roleName },
    ...(subjects.length > 0 ? { subjects } : {}),
  };
}

/** Upstream NodeRules(), without the feature-gated DRA rules skiff does not serve. */
const NODE_RULES: PolicyRule[] = [
  rule(["create"], [AUTHN], ["tokenreviews"]),
  rule(["create"], [AUTHZ], ["subjectaccessreviews", "localsubjectaccessreviews"]),
  rule(READ, [CORE], ["services"]),
  rule(["create", "get", "list", "watch"], [CORE], ["nodes"]),
  rule(["update", "patch"], [CORE], ["nodes/status"]),
  rule(["update", "patch"], [CORE], ["nodes"]),
  rule(["create", "update", "patch"], [CORE], ["events"]),
  rule(READ, [CORE], ["pods"]),
  rule(["create", "delete"], [CORE], ["pods"]),
  rule(["update", "patch"], [CORE], ["pods/status"]),
  rule(["create"], [CORE], ["pods/eviction"]),
  rule(["get", "list", "watch"], [CORE], ["secrets", "configmaps"]),
  rule(["get"], [CORE], ["persistentvolumeclaims", "persistentvolumes"]),
  rule(["get"], [CORE], ["endpoints"]),
  rule(["create", "get", "list", "watch"], [CERTS], ["certificatesigningrequests"]),
  rule(["get", "create", "update", "patch", "delete"], [COORDINATION], ["leases"]),
  rule(["get"], [STORAGE], ["volumeattachments"]),
  rule(["create"], [CORE], ["serviceaccounts/token"]),
  rule(["get", "update", "patch"], [CORE], ["persistentvolumeclaims/status"]),
  rule(["get", "watch", "list"], [STORAGE], ["csidrivers"]),
  rule(["get", "create", "update", "patch", "delete"], [STORAGE], ["csinodes"]),
  rule(["get", "list", "watch"], ["node.k8s.io"], ["runtimeclasses"]),
];

/** Upstream ClusterRoles() (policy.go). */
function clusterRoles(): ClusterRole[] {
  return [
    clusterRole("cluster-admin", [rule(["*"], ["*"], ["*"]), urls(["*"], ["*"])]),
    clusterRole("system:discovery", [urls(["get"], ["/livez", "/readyz", "/healthz", "/version", "/version/", "/openapi", "/openapi/*", "/api", "/api/*", "/apis", "/apis/*"])]),
    clusterRole("system:monitoring", [urls(["get"], ["/metrics", "/metrics/slis", "/livez", "/readyz", "/healthz", "/livez/*", "/readyz/*", "/healthz/*"])]),
    clusterRole("system:basic-user", [rule(["create"], [AUTHZ], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]), rule(["create"], [AUTHN], ["selfsubjectreviews"])]),
    clusterRole("system:public-info-viewer", [urls(["get"], ["/livez", "/readyz", "/healthz", "/version", "/version/"])]),
    clusterRole("admin", [], { aggregateFrom: "admin" }),
    clusterRole("edit", [], { aggregateFrom: "edit", labels: { [AGGREGATE("admin")]: "true" } }),
    clusterRole("view", [], { aggregateFrom: "view", labels: { [AGGREGATE("edit")]: "true" } }),
    clusterRole("system:aggregate-to-admin", [rule(["create"], [AUTHZ], ["localsubjectaccessreviews"]), rule(READ_WRITE, [RBAC], ["roles", "rolebindings"])], {
      labels: { [AGGREGATE("admin")]: "true" },
    }),
    clusterRole(
      "system:aggregate-to-edit",
      [
        rule(READ, [CORE], ["pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets", "services/proxy"]),
        rule(["impersonate"], [CORE], ["serviceaccounts"]),
        rule(WRITE, [CORE], ["pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"]),
        rule(["create"], [CORE], ["pods/eviction"]),
        rule(WRITE, [CORE], ["replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services", "services/proxy", "persistentvolumeclaims", "configmaps", "secrets", "events"]),
        rule(["create"], [CORE], ["serviceaccounts/token"]),
        rule(WRITE, [APPS], ["statefulsets", "statefulsets/scale", "daemonsets", "deployments", "deployments/scale", "deployments/rollback", "replicasets", "replicasets/scale"]),
        rule(WRITE, [AUTOSCALING], ["horizontalpodautoscalers"]),
        rule(WRITE, [BATCH], ["jobs", "cronjobs"]),
        rule(WRITE, [EXTENSIONS], ["daemonsets", "deployments", "deployments/scale", "deployments/rollback", "ingresses", "replicasets", "replicasets/scale", "replicationcontrollers/scale", "networkpolicies"]),
        rule(WRITE, [POLICY], ["poddisruptionbudgets"]),
        rule(WRITE, [NETWORKING], ["networkpolicies", "ingresses"]),
        rule(READ_WRITE, [COORDINATION], ["leases"]),
      ],
      { labels: { [AGGREGATE("edit")]: "true" } },
    ),
    clusterRole(
      "system:aggregate-to-view",
      [
        rule(READ, [CORE], ["pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services", "services/status", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "configmaps"]),
        rule(READ, [CORE], ["limitranges", "resourcequotas", "bindings", "events", "pods/status", "resourcequotas/status", "namespaces/status", "replicationcontrollers/status", "pods/log"]),
        rule(READ, [CORE], ["namespaces"]),
        rule(READ, [DISCOVERY], ["endpointslices"]),
        rule(READ, [APPS], ["controllerrevisions", "statefulsets", "statefulsets/status", "statefulsets/scale", "daemonsets", "daemonsets/status", "deployments", "deployments/status", "deployments/scale", "replicasets", "replicasets/status", "replicasets/scale"]),
        rule(READ, [AUTOSCALING], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
        rule(READ, [BATCH], ["jobs", "cronjobs", "cronjobs/status", "jobs/status"]),
        rule(READ, [EXTENSIONS], ["daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status", "ingresses", "ingresses/status", "replicasets", "replicasets/scale", "replicasets/status", "replicationcontrollers/scale", "networkpolicies"]),
        rule(READ, [POLICY], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
        rule(READ, [NETWORKING], ["networkpolicies", "ingresses", "ingresses/status"]),
      ],
      { labels: { [AGGREGATE("view")]: "true" } },
    ),
    clusterRole("system:node", NODE_RULES),
    clusterRole("system:node-problem-detector", [rule(["get"], [CORE], ["nodes"]), rule(["patch"], [CORE], ["nodes/status"]), eventsRule()]),
    clusterRole("system:kubelet-api-admin", [
      rule(["get", "list", "watch"], [CORE], ["nodes"]),
      rule(["proxy"], [CORE], ["nodes"]),
      rule(["*"], [CORE], ["nodes/proxy", "nodes/metrics", "nodes/stats", "nodes/log"]),
    ]),
    clusterRole("system:node-bootstrapper", [rule(["create", "get", "list", "watch"], [CERTS], ["certificatesigningrequests"])]),
    clusterRole("system:auth-delegator", [rule(["create"], [AUTHN], ["tokenreviews"]), rule(["create"], [AUTHZ], ["subjectaccessreviews"])]),
    clusterRole("system:kube-aggregator", [rule(READ, [CORE], ["services", "endpoints"])]),
    clusterRole("system:kube-controller-manager", [
      eventsRule(),
      rule(["create"], [COORDINATION], ["leases"]),
      rule(["get", "update"], [COORDINATION], ["leases"], ["kube-controller-manager"]),
      rule(["create"], [CORE], ["endpoints"]),
      rule(["get", "update"], [CORE], ["endpoints"], ["kube-controller-manager"]),
      rule(["create"], [CORE], ["secrets", "serviceaccounts"]),
      rule(["delete"], [CORE], ["secrets"]),
      rule(["get"], [CORE], ["configmaps", "namespaces", "secrets", "serviceaccounts"]),
      rule(["update"], [CORE], ["secrets", "serviceaccounts"]),
      rule(["create"], [AUTHN], ["tokenreviews"]),
      rule(["create"], [AUTHZ], ["subjectaccessreviews"]),
      rule(["list", "watch"], ["*"], ["*"]),
      rule(["create"], [CORE], ["serviceaccounts/token"]),
    ]),
    clusterRole("system:kube-dns", [rule(["list", "watch"], [CORE], ["endpoints", "services"])]),
    clusterRole("system:persistent-volume-provisioner", [
      rule(["get", "list", "watch", "create", "delete"], [CORE], ["persistentvolumes"]),
      rule(["get", "list", "watch", "update"], [CORE], ["persistentvolumeclaims"]),
      rule(READ, [STORAGE], ["storageclasses"]),
      rule(["watch"], [CORE], ["events"]),
      eventsRule(),
    ]),
    clusterRole("system:certificates.k8s.io:certificatesigningrequests:nodeclient", [rule(["create"], [CERTS], ["certificatesigningrequests/nodeclient"])]),
    clusterRole("system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", [rule(["create"], [CERTS], ["certificatesigningrequests/selfnodeclient"])]),
    clusterRole("system:volume-scheduler", [rule(READ_UPDATE, [CORE], ["persistentvolumes"]), rule(READ, [STORAGE], ["storageclasses"]), rule(READ_UPDATE, [CORE], ["persistentvolumeclaims"])]),
    clusterRole("system:service-account-issuer-discovery", [urls(["get"], ["/.well-known/openid-configuration", "/.well-known/openid-configuration/", "/openid/v1/jwks", "/openid/v1/jwks/"])]),
    clusterRole("system:node-proxier", [
      rule(["list", "watch"], [CORE], ["services", "endpoints"]),
      rule(["get", "list", "watch"], [CORE], ["nodes"]),
      eventsRule(),
      rule(["list", "watch"], [DISCOVERY], ["endpointslices"]),
    ]),
    clusterRole("system:kube-scheduler", [
      eventsRule(),
      rule(["create"], [COORDINATION], ["leases"]),
      rule(["get", "update"], [COORDINATION], ["leases"], ["kube-scheduler"]),
      rule(["create"], [CORE], ["endpoints"]),
      rule(["get", "update"], [CORE], ["endpoints"], ["kube-scheduler"]),
      rule(READ, [CORE], ["nodes"]),
      rule(["get", "list", "watch", "delete"], [CORE], ["pods"]),
      rule(["create"], [CORE], ["pods/binding", "bindings"]),
      rule(["patch", "update"], [CORE], ["pods/status"]),
      rule(READ, [CORE], ["services", "replicationcontrollers"]),
      rule(READ, [APPS, EXTENSIONS], ["replicasets"]),
      rule(READ, [APPS], ["statefulsets"]),
      rule(READ, [POLICY], ["poddisruptionbudgets"]),
      rule(READ, [CORE], ["persistentvolumeclaims", "persistentvolumes"]),
      rule(["create"], [AUTHN], ["tokenreviews"]),
      rule(["create"], [AUTHZ], ["subjectaccessreviews"]),
      rule(READ, [STORAGE], ["csinodes"]),
      rule(READ, [CORE], ["namespaces"]),
      rule(READ, [STORAGE], ["csidrivers"]),
      rule(READ, [STORAGE], ["csistoragecapacities"]),
    ]),
  ];
}

/** Upstream ClusterRoleBindings() (policy.go). */
function clusterRoleBindings(): ClusterRoleBinding[] {
  return [
    clusterBinding("cluster-admin", [group("system:masters")]),
    clusterBinding("system:monitoring", [group("system:monitoring")]),
    clusterBinding("system:discovery", [group("system:authenticated")]),
    clusterBinding("system:basic-user", [group("system:authenticated")]),
    clusterBinding("system:public-info-viewer", [group("system:authenticated"), group("system:unauthenticated")]),
    clusterBinding("system:node-proxier", [user("system:kube-proxy")]),
    clusterBinding("system:kube-controller-manager", [user("system:kube-controller-manager")]),
    clusterBinding("system:kube-dns", [serviceAccount("kube-system", "kube-dns")]),
    clusterBinding("system:kube-scheduler", [user("system:kube-scheduler")]),
    clusterBinding("system:volume-scheduler", [user("system:kube-scheduler")]),
    clusterBinding("system:service-account-issuer-discovery", [group("system:serviceaccounts")]),
    clusterBinding("system:node", []),
  ];
}

/** Upstream controller_policy.go, for the controllers skiff's controller manager runs (and the ones this issue adds). */
const CONTROLLER_ROLES: Record<string, PolicyRule[]> = {
  "clusterrole-aggregation-controller": [rule(["escalate", "get", "list", "watch", "update", "patch"], [RBAC], ["clusterroles"])],
  "cronjob-controller": [
    rule(["get", "list", "watch", "update"], [BATCH], ["cronjobs"]),
    rule(["get", "list", "watch", "create", "update", "delete", "patch"], [BATCH], ["jobs"]),
    rule(["update"], [BATCH], ["cronjobs/status"]),
    rule(["update"], [BATCH], ["cronjobs/finalizers"]),
    rule(["list", "delete"], [CORE], ["pods"]),
    eventsRule(),
  ],
  "daemon-set-controller": [
    rule(["get", "list", "watch"], [EXTENSIONS, APPS], ["daemonsets"]),
    rule(["update"], [EXTENSIONS, APPS], ["daemonsets/status"]),
    rule(["update"], [EXTENSIONS, APPS], ["daemonsets/finalizers"]),
    rule(["list", "watch"], [CORE], ["nodes"]),
    rule(["list", "watch", "create", "delete", "patch"], [CORE], ["pods"]),
    rule(["create"], [CORE], ["pods/binding"]),
    rule(["get", "list", "watch", "create", "delete", "update", "patch"], [APPS], ["controllerrevisions"]),
    eventsRule(),
  ],
  "deployment-controller": [
    rule(["get", "list", "watch", "update"], [EXTENSIONS, APPS], ["deployments"]),
    rule(["update"], [EXTENSIONS, APPS], ["deployments/status"]),
    rule(["update"], [EXTENSIONS, APPS], ["deployments/finalizers"]),
    rule(["get", "list", "watch", "create", "update", "patch", "delete"], [APPS, EXTENSIONS], ["replicasets"]),
    rule(["get", "list", "watch", "update"], [CORE], ["pods"]),
    eventsRule(),
  ],
  "disruption-controller": [
    rule(["get", "list", "watch"], [EXTENSIONS, APPS], ["deployments"]),
    rule(["get", "list", "watch"], [APPS, EXTENSIONS], ["replicasets"]),
    rule(["get", "list", "watch"], [CORE], ["replicationcontrollers"]),
    rule(["get", "list", "watch"], [POLICY], ["poddisruptionbudgets"]),
    rule(["get", "list", "watch"], [APPS], ["statefulsets"]),
    rule(["update"], [POLICY], ["poddisruptionbudgets/status"]),
    rule(["patch", "update"], [CORE], ["pods/status"]),
    rule(["get"], ["*"], ["*/scale"]),
    eventsRule(),
  ],
  "endpoint-controller": [
    rule(["get", "list", "watch"], [CORE], ["services", "pods"]),
    rule(["get", "list", "create", "update", "delete"], [CORE], ["endpoints"]),
    rule(["create"], [CORE], ["endpoints/restricted"]),
    eventsRule(),
  ],
  "endpointslice-controller": [
    rule(["get", "list", "watch"], [CORE], ["services", "pods", "nodes"]),
    rule(["update"], [CORE], ["services/finalizers"]),
    rule(["get", "list", "create", "update", "delete"], [DISCOVERY], ["endpointslices"]),
    eventsRule(),
  ],
  "generic-garbage-collector": [rule(["get", "list", "watch", "patch", "update", "delete"], ["*"], ["*"]), eventsRule()],
  "job-controller": [
    rule(["get", "list", "watch", "update", "patch"], [BATCH], ["jobs"]),
    rule(["update"], [BATCH], ["jobs/status"]),
    rule(["update"], [BATCH], ["jobs/finalizers"]),
    rule(["list", "watch", "create", "delete", "patch"], [CORE], ["pods"]),
    eventsRule(),
  ],
  "namespace-controller": [
    rule(["get", "list", "watch", "delete"], [CORE], ["namespaces"]),
    rule(["update"], [CORE], ["namespaces/finalize", "namespaces/status"]),
    rule(["get", "list", "delete", "deletecollection"], ["*"], ["*"]),
  ],
  "node-controller": [
    rule(["get", "list", "update", "delete", "patch"], [CORE], ["nodes"]),
    rule(["patch", "update"], [CORE], ["nodes/status"]),
    rule(["patch", "update"], [CORE], ["pods/status"]),
    rule(["list", "get", "delete"], [CORE], ["pods"]),
    eventsRule(),
  ],
  "persistent-volume-binder": [
    rule(["get", "list", "watch", "update", "create", "delete"], [CORE], ["persistentvolumes"]),
    rule(["update"], [CORE], ["persistentvolumes/status"]),
    rule(["get", "list", "watch", "update"], [CORE], ["persistentvolumeclaims"]),
    rule(["update"], [CORE], ["persistentvolumeclaims/status"]),
    rule(["list", "watch", "get", "create", "delete"], [CORE], ["pods"]),
    rule(["get", "list", "watch"], [STORAGE], ["storageclasses"]),
    rule(["get", "create", "update", "delete"], [CORE], ["endpoints"]),
    rule(["get", "create", "delete"], [CORE], ["services"]),
    rule(["get"], [CORE], ["secrets"]),
    rule(["get", "list"], [CORE], ["nodes"]),
    rule(["watch"], [CORE], ["events"]),
    eventsRule(),
  ],
  "pod-garbage-collector": [rule(["list", "watch", "delete"], [CORE], ["pods"]), rule(["get", "list"], [CORE], ["nodes"]), rule(["patch"], [CORE], ["pods/status"])],
  "replicaset-controller": [
    rule(["get", "list", "watch", "update"], [APPS, EXTENSIONS], ["replicasets"]),
    rule(["update"], [APPS, EXTENSIONS], ["replicasets/status"]),
    rule(["update"], [APPS, EXTENSIONS], ["replicasets/finalizers"]),
    rule(["list", "watch", "patch", "create", "delete"], [CORE], ["pods"]),
    eventsRule(),
  ],
  "replication-controller": [
    rule(["get", "list", "watch", "update"], [CORE], ["replicationcontrollers"]),
    rule(["update"], [CORE], ["replicationcontrollers/status"]),
    rule(["update"], [CORE], ["replicationcontrollers/finalizers"]),
    rule(["list", "watch", "patch", "create", "delete"], [CORE], ["pods"]),
    eventsRule(),
  ],
  "resourcequota-controller": [rule(["list", "watch"], ["*"], ["*"]), rule(["update"], [CORE], ["resourcequotas/status"]), eventsRule()],
  "service-account-controller": [rule(["create"], [CORE], ["serviceaccounts"]), eventsRule()],
  "statefulset-controller": [
    rule(["list", "watch"], [CORE], ["pods"]),
    rule(["get", "list", "watch"], [APPS], ["statefulsets"]),
    rule(["update"], [APPS], ["statefulsets/status"]),
    rule(["update"], [APPS], ["statefulsets/finalizers"]),
    rule(["get", "create", "delete", "update", "patch"], [CORE], ["pods"]),
    rule(["get", "create", "delete", "update", "patch", "list", "watch"], [APPS], ["controllerrevisions"]),
    rule(["get", "create"], [CORE], ["persistentvolumeclaims"]),
    eventsRule(),
    rule(["update", "delete"], [CORE], ["persistentvolumeclaims"]),
  ],
  "ttl-controller": [rule(["update", "patch", "list", "watch"], [CORE], ["nodes"]), eventsRule()],
  "pvc-protection-controller": [rule(["get", "list", "watch", "update"], [CORE], ["persistentvolumeclaims"]), rule(["list", "watch", "get"], [CORE], ["pods"]), eventsRule()],
  "pv-protection-controller": [rule(["get", "list", "watch", "update"], [CORE], ["persistentvolumes"]), eventsRule()],
  // k3s' ServiceLB (skiff's controller manager runs it; upstream's nearest is the cloud service-controller).
  "service-lb-controller": [
    rule(["get", "list", "watch"], [CORE], ["services", "nodes"]),
    rule(["patch", "update"], [CORE], ["services/status"]),
    eventsRule(),
  ],
  "ttl-after-finished-controller": [rule(["get", "list", "watch", "delete"], [BATCH], ["jobs"]), eventsRule()],
  "root-ca-cert-publisher": [rule(["create", "update"], [CORE], ["configmaps"]), eventsRule()],
  "legacy-service-account-token-cleaner": [rule(["get"], [CORE], ["configmaps"], ["kube-apiserver-legacy-service-account-token-tracking"]), rule(["patch", "delete"], [CORE], ["secrets"])],
};

/** k3s' local-path-provisioner ClusterRole (its manifest's rules). */
const LOCAL_PATH_RULES: PolicyRule[] = [
  rule(["get", "list", "watch"], [CORE], ["nodes", "persistentvolumeclaims", "configmaps", "pods", "pods/log"]),
  rule(["get", "list", "watch", "create", "patch", "update", "delete"], [CORE], ["persistentvolumes", "pods"]),
  rule(["create", "patch"], [CORE], ["events"]),
  rule(["get", "list", "watch"], [STORAGE], ["storageclasses"]),
];

/**
 * Namespaced roles (namespace_policy.go): leader locking and the authentication config reader, in kube-system;
 * and skiff's `skiff:local-registry-hosting-reader` in kube-public, letting everyone authenticated (nodes
 * first: their kubelets learn the registry's port from it) read KEP-1755's ConfigMap, as kubeadm lets
 * everyone read kube-public's cluster-info.
 */
function namespaceRoles(): Role[] {
  const role = (name: string, rules: PolicyRule[], namespace = "kube-system"): Role => ({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name, namespace, labels: { ...BOOTSTRAP_LABEL }, annotations: { [AUTOUPDATE_ANNOTATION]: "true" } },
    rules,
  });
  return [
    role("skiff:local-registry-hosting-reader", [rule(["get"], [CORE], ["configmaps"], ["local-registry-hosting"])], "kube-public"),
    role("extension-apiserver-authentication-reader", [rule(READ, [CORE], ["configmaps"], ["extension-apiserver-authentication"])]),
    role("system::leader-locking-kube-controller-manager", [rule(["watch"], [CORE], ["configmaps"]), rule(["get", "update"], [CORE], ["configmaps"], ["kube-controller-manager"])]),
    role("system::leader-locking-kube-scheduler", [rule(["watch"], [CORE], ["configmaps"]), rule(["get", "update"], [CORE], ["configmaps"], ["kube-scheduler"])]),
    // The servers' own leader-elected jobs (scheduled etcd snapshots), as the upstream components' leader locking.
    role("skiff::leader-locking-skiff-server", [rule(["create"], [COORDINATION], ["leases"]), rule(["get", "update"], [COORDINATION], ["leases"], [SERVER_JOBS_LEASE])]),
  ];
}

function namespaceRoleBindings(): RoleBinding[] {
  const binding = (name: string, roleName: string, subjects: Subject[], namespace = "kube-system"): RoleBinding => ({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name, namespace, labels: { ...BOOTSTRAP_LABEL }, annotations: { [AUTOUPDATE_ANNOTATION]: "true" } },
    roleRef: { apiGroup: RBAC, kind: "Role", name: roleName },
    subjects,
  });
  return [
    binding("skiff:local-registry-hosting-reader", "skiff:local-registry-hosting-reader", [group("system:authenticated")], "kube-public"),
    binding("system::extension-apiserver-authentication-reader", "extension-apiserver-authentication-reader", [user("system:kube-controller-manager"), user("system:kube-scheduler")]),
    binding("system::leader-locking-kube-controller-manager", "system::leader-locking-kube-controller-manager", [user("system:kube-controller-manager"), serviceAccount("kube-system", "kube-controller-manager")]),
    binding("system::leader-locking-kube-scheduler", "system::leader-locking-kube-scheduler", [user("system:kube-scheduler"), serviceAccount("kube-system", "kube-scheduler")]),
    binding("skiff::leader-locking-skiff-server", "skiff::leader-locking-skiff-server", [user("system:skiff-controller")]),
  ];
}

/** Everything the server reconciles at start. */
export interface BootstrapPolicy {
  readonly clusterRoles: readonly ClusterRole[];
  readonly clusterRoleBindings: readonly ClusterRoleBinding[];
  readonly roles: readonly Role[];
  readonly roleBindings: readonly RoleBinding[];
}

export function bootstrapPolicy(): BootstrapPolicy {
  const controllerRoles = Object.entries(CONTROLLER_ROLES).map(([name, rules]) => clusterRole(`system:controller:${name}`, rules));
  const controllerBindings = Object.keys(CONTROLLER_ROLES).map((name) =>
    clusterBinding(`system:controller:${name}`, [serviceAccount("kube-system", name), user("system:kube-controller-manager")]),
  );
  return {
    clusterRoles: [
      ...clusterRoles(),
      ...controllerRoles,
      clusterRole("local-path-provisioner-role", LOCAL_PATH_RULES),
      clusterRole("skiff:kube-scheduler", [rule(READ, ["scheduling.k8s.io"], ["priorityclasses"])]),
      clusterRole("skiff:node", [rule(["create", "update", "patch"], [EVENTS], ["events"])]),
      clusterRole("skiff:skiff-controller", [
        rule(["list", "watch"], [CORE], ["endpoints", "services", "pods", "namespaces"]),
        rule(["list", "watch"], [DISCOVERY], ["endpointslices"]),
        rule(["get", "list", "watch"], [CORE], ["secrets", "nodes"]),
        rule(["get", "list", "watch"], [NETWORKING], ["ingresses", "ingressclasses"]),
        rule(["create", "update", "patch"], [NETWORKING], ["ingressclasses"]),
        rule(["update", "patch"], [NETWORKING], ["ingresses/status"]),
        eventsRule(),
      ]),
      clusterRole("skiff:node-network", [
        rule(["list", "watch"], [CORE], ["services", "endpoints", "namespaces", "pods"]),
        rule(["get", "list", "watch"], [CORE], ["nodes"]),
        rule(["list", "watch"], [DISCOVERY], ["endpointslices"]),
        rule(["list", "watch"], [NETWORKING], ["networkpolicies"]),
      ]),
    ],
    clusterRoleBindings: [
      ...clusterRoleBindings(),
      ...controllerBindings,
      clusterBinding("skiff:kube-scheduler", [user("system:kube-scheduler")]),
      clusterBinding("skiff:node", [group("system:nodes")]),
      clusterBinding("skiff:node-network", [group("system:nodes")]),
      clusterBinding("skiff:skiff-controller", [user("system:skiff-controller")]),
      clusterBinding("local-path-provisioner-bind", [serviceAccount("kube-system", "local-path-provisioner-service-account"), user("system:kube-controller-manager")], "local-path-provisioner-role"),
    ],
    roles: namespaceRoles(),
    roleBindings: namespaceRoleBindings(),
  };
}
