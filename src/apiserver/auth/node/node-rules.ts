/**
 * The rules every node holds whatever the graph says, as upstream's
 * bootstrappolicy.NodeRules(): the node authorizer allows these itself
 * (upstream no longer binds the system:node ClusterRole to system:nodes).
 * NodeRestriction admission narrows the writes to the node's own objects.
 */
import type { RequestInfo } from "../../request-info.js";

export interface StaticRule {
  readonly verbs: readonly string[];
  readonly apiGroups: readonly string[];
  /** `resource` or `resource/subresource`. */
  readonly resources: readonly string[];
}

const READ = ["get", "list", "watch"];

export const NODE_RULES: readonly StaticRule[] = [
  // Needed to check API access; these creates are non-mutating.
  { verbs: ["create"], apiGroups: ["authentication.k8s.io"], resources: ["tokenreviews"] },
  { verbs: ["create"], apiGroups: ["authorization.k8s.io"], resources: ["subjectaccessreviews", "localsubjectaccessreviews"] },
  // Services, for the pods' environment variables.
  { verbs: READ, apiGroups: [""], resources: ["services"] },
  { verbs: ["create", "get", "list", "watch"], apiGroups: [""], resources: ["nodes"] },
  { verbs: ["update", "patch"], apiGroups: [""], resources: ["nodes/status"] },
  { verbs: ["update", "patch"], apiGroups: [""], resources: ["nodes"] },
  { verbs: ["create", "update", "patch"], apiGroups: [""], resources: ["events"] },
  { verbs: READ, apiGroups: [""], resources: ["pods"] },
  // Mirror pods; NodeRestriction keeps them to the node's own.
  { verbs: ["create", "delete"], apiGroups: [""], resources: ["pods"] },
  { verbs: ["update", "patch"], apiGroups: [""], resources: ["pods/status"] },
  { verbs: ["create"], apiGroups: [""], resources: ["pods/eviction"] },
  // Secrets, configmaps, PVs and PVCs go through the graph (never reach these rules); listed as upstream lists them.
  { verbs: READ, apiGroups: [""], resources: ["secrets", "configmaps"] },
  { verbs: ["get"], apiGroups: [""], resources: ["persistentvolumeclaims", "persistentvolumes"] },
  { verbs: ["get"], apiGroups: [""], resources: ["endpoints"] },
  { verbs: ["create", "get", "list", "watch"], apiGroups: ["certificates.k8s.io"], resources: ["certificatesigningrequests"] },
  { verbs: ["get", "create", "update", "patch", "delete"], apiGroups: ["coordination.k8s.io"], resources: ["leases"] },
  { verbs: ["get"], apiGroups: ["storage.k8s.io"], resources: ["volumeattachments"] },
  { verbs: ["create"], apiGroups: [""], resources: ["serviceaccounts/token"] },
  { verbs: ["get", "update", "patch"], apiGroups: [""], resources: ["persistentvolumeclaims/status"] },
  { verbs: READ, apiGroups: ["storage.k8s.io"], resources: ["csidrivers"] },
  { verbs: ["get", "create", "update", "patch", "delete"], apiGroups: ["storage.k8s.io"], resources: ["csinodes"] },
  { verbs: READ, apiGroups: ["node.k8s.io"], resources: ["runtimeclasses"] },
];

/** Whether a resource request matches one of `rules` (no resourceNames, no non-resource URLs here). */
export function rulesAllow(info: RequestInfo, rules: readonly StaticRule[]): boolean {
  if (!info.isResourceRequest) return false;
  const res = info.subresource ? `${info.resource}/${info.subresource}` : info.resource;
  return rules.some((r) => r.verbs.includes(info.verb) && r.apiGroups.includes(info.group) && r.resources.includes(res));
}
