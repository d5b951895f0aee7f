/**
 * The Node authorizer, as upstream's plugin/pkg/auth/authorizer/node: a
 * kubelet (`system:node:NAME`) reads only the secrets, configmaps, PVCs and
 * PVs of pods bound to it, creates tokens only for those pods' service
 * accounts, touches only its own Lease, and holds the static node rules.
 * Everything else is "no opinion" with upstream's reason, so the next
 * authorizer (RBAC) decides and the 403 says why the node was refused.
 */
import type { Logger } from "../../../machinery/log.js";
import { silentLogger } from "../../../machinery/log.js";
import type { RequestInfo } from "../../request-info.js";
import type { UserInfo } from "../authn.js";
import type { AuthorizationResult, Authorizer } from "../authz.js";
import type { NodeGraph } from "./graph.js";
import { nodeIdentity } from "./node-identity.js";
import { NODE_RULES, rulesAllow } from "./node-rules.js";
import type { RefKind } from "./pod-refs.js";

/** Upstream's namespace of node Leases. */
export const NAMESPACE_NODE_LEASE = "kube-node-lease";

const noOpinion = (reason?: string): AuthorizationResult => (reason ? { decision: "no-opinion", reason } : { decision: "no-opinion" });
const ALLOW: AuthorizationResult = { decision: "allow" };

export class NodeAuthorizer implements Authorizer {
  private readonly log: Logger;

  constructor(
    private readonly graph: NodeGraph,
    logger: Logger = silentLogger,
  ) {
    this.log = logger;
  }

  authorize(user: UserInfo, info: RequestInfo): AuthorizationResult {
    const node = nodeIdentity(user);
    if (node === undefined) return noOpinion();
    if (node === "") return noOpinion(`unknown node for user "${user.username}"`);
    if (info.isResourceRequest) {
      const gr = `${info.group}/${info.resource}`;
      switch (gr) {
        case "/secrets":
          return this.readNamespaced(node, "secret", info);
        case "/configmaps":
          return this.readNamespaced(node, "configmap", info);
        case "/persistentvolumeclaims":
          return info.subresource === "status" ? this.statusUpdate(node, "pvc", info) : this.get(node, "pvc", info);
        case "/persistentvolumes":
          return this.get(node, "pv", info);
        case "/serviceaccounts":
          return this.createToken(node, info);
        case "coordination.k8s.io/leases":
          return this.lease(node, info);
      }
    }
    return rulesAllow(info, NODE_RULES) ? ALLOW : noOpinion();
  }

  private deny(node: string, info: RequestInfo, reason: string): AuthorizationResult {
    // Names only, never object contents: the log must not leak what was asked for beyond its address.
    this.log.debug("NODE DENY", { node, verb: info.verb, resource: info.resource, subresource: info.subresource, namespace: info.namespace, name: info.name });
    return noOpinion(reason);
  }

  private readNamespaced(node: string, kind: RefKind, info: RequestInfo): AuthorizationResult {
    if (!["get", "list", "watch"].includes(info.verb)) return this.deny(node, info, "can only read resources of this type");
    if (info.subresource) return this.deny(node, info, "cannot read subresource");
    if (!info.namespace) return this.deny(node, info, "can only read namespaced object of this type");
    return this.path(node, kind, info);
  }

  private get(node: string, kind: RefKind | "pv", info: RequestInfo): AuthorizationResult {
    if (info.verb !== "get") return this.deny(node, info, "can only get individual resources of this type");
    if (info.subresource) return this.deny(node, info, "cannot get subresource");
    return this.path(node, kind, info);
  }

  private statusUpdate(node: string, kind: RefKind, info: RequestInfo): AuthorizationResult {
    if (info.verb !== "update" && info.verb !== "patch") return this.deny(node, info, "can only get/update/patch this type");
    if (info.subresource !== "status") return this.deny(node, info, "can only update status subresource");
    return this.path(node, kind, info);
  }

  private createToken(node: string, info: RequestInfo): AuthorizationResult {
    if (info.verb !== "create" || !info.name) return this.deny(node, info, "can only create tokens for individual service accounts");
    if (info.subresource !== "token") return this.deny(node, info, "can only create token subresource of serviceaccount");
    return this.path(node, "serviceaccount", info);
  }

  private lease(node: string, info: RequestInfo): AuthorizationResult {
    if (!["get", "create", "update", "patch", "delete"].includes(info.verb)) {
      return this.deny(node, info, "can only get, create, update, patch, or delete a node lease");
    }
    if (info.namespace !== NAMESPACE_NODE_LEASE) return this.deny(node, info, `can only access leases in the "${NAMESPACE_NODE_LEASE}" system namespace`);
    // The name is unknown on create; NodeRestriction checks it there.
    if (info.verb !== "create" && info.name !== node) return this.deny(node, info, "can only access node lease with the same name as the requesting node");
    return ALLOW;
  }

  private path(node: string, kind: RefKind | "pv", info: RequestInfo): AuthorizationResult {
    if (!info.name) return this.deny(node, info, "No Object name found");
    if (!this.graph.hasPathFrom(node, kind, info.namespace, info.name)) {
      return this.deny(node, info, `no relationship found between node '${node}' and this object`);
    }
    return ALLOW;
  }
}
