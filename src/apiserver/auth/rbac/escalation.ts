/**
 * Escalation prevention on RBAC writes, as upstream's policy-based storage
 * of roles and bindings (`pkg/registry/rbac/*\/policybased`): nobody grants
 * permissions they do not hold.
 * - Role/ClusterRole create or update: allowed for system:masters, for
 *   holders of `escalate` on the role, or when the writer's own RBAC rules
 *   cover every rule written; an aggregationRule needs full authority.
 * - RoleBinding/ClusterRoleBinding create or update: allowed for
 *   system:masters, for holders of `bind` on the referenced role, or when the
 *   writer holds every rule of the referenced role (in the binding's
 *   namespace).
 * Refusals are 403 with upstream's messages. Runs as a validating
 * admission plugin, so dry runs are checked as real writes.
 */
import type { ClusterRole, PolicyRule, RoleBinding, RoleRef } from "kubernetes-types/rbac/v1.js";
import { forbidden } from "../../../machinery/status-error.js";
import type { AdmissionAttributes, AdmissionPlugin } from "../../admission/admission.js";
import type { RequestInfo } from "../../request-info.js";
import type { UserInfo } from "../authn.js";
import type { Authorizer } from "../authz.js";
import type { PolicyIndex } from "./policy-index.js";
import { compactRules, compactString, covers } from "./rules.js";

const RBAC_GROUP = "rbac.authorization.k8s.io";
const FULL_AUTHORITY: PolicyRule[] = [
  { verbs: ["*"], apiGroups: ["*"], resources: ["*"] },
  { verbs: ["*"], nonResourceURLs: ["*"] },
];

/** Go's `%q` of a []string. */
const goQuoted = (list: readonly string[]) => `[${list.map((s) => JSON.stringify(s)).join(" ")}]`;

/** Upstream's ConfirmNoEscalation: undefined when `user` holds `rules` in `namespace`, else the message. */
export function confirmNoEscalation(index: PolicyIndex, user: UserInfo, namespace: string, rules: readonly PolicyRule[]): string | undefined {
  const held = index.rulesFor(user, namespace);
  const { covered, missing } = covers(
    held.rules.map((r) => r.rule),
    rules,
  );
  if (covered) return undefined;
  const descriptions = [...new Set(compactRules(missing).map(compactString))].sort();
  let msg = `user ${JSON.stringify(user.username)} (groups=${goQuoted(user.groups)}) is attempting to grant RBAC permissions not currently held:\n${descriptions.join("\n")}`;
  if (held.errors.length > 0) msg += `; resolution errors: [${held.errors.join(" ")}]`;
  return msg;
}

function attributes(verb: string, resource: string, namespace: string, name: string): RequestInfo {
  return { isResourceRequest: true, path: "", verb, apiPrefix: "apis", group: RBAC_GROUP, version: "*", namespace, resource, subresource: "", name, parts: [] };
}

export interface EscalationOptions {
  readonly index: PolicyIndex;
  /** The server's whole authorizer chain (upstream asks it for `escalate` and `bind`). */
  readonly authorizer: () => Authorizer;
}

/** What an update may change without an escalation check (upstream's IsOnlyMutatingGCFields, by the fields that grant). */
function sameGrant(a: unknown, b: unknown): boolean {
  const pick = (o: unknown) => {
    const x = (o ?? {}) as Record<string, unknown> & { metadata?: { labels?: unknown; annotations?: unknown } };
    return JSON.stringify([x.rules ?? null, x.aggregationRule ?? null, x.roleRef ?? null, x.subjects ?? null, x.metadata?.labels ?? null, x.metadata?.annotations ?? null]);
  };
  return pick(a) === pick(b);
}

export function rbacEscalationPrevention(o: EscalationOptions): AdmissionPlugin {
  return {
    name: "RBACEscalationPrevention",
    async validate(attrs: AdmissionAttributes) {
      const { resource, operation, object, user } = attrs;
      if (resource.group !== RBAC_GROUP || attrs.subresource || !object) return;
      if (operation !== "CREATE" && operation !== "UPDATE") return;
      if (user.groups.includes("system:masters")) return;
      if (operation === "UPDATE" && sameGrant(object, attrs.oldObject)) return;
      const name = object.metadata?.name ?? attrs.name;
      const qualified = `${resource.plural}.${RBAC_GROUP}`;
      const deny = (msg: string) => forbidden(`${qualified} ${JSON.stringify(name)} is forbidden: ${msg}`, { name, group: RBAC_GROUP, kind: resource.plural });
      const namespace = resource.namespaced ? attrs.namespace : "";
      if (resource.plural === "roles" || resource.plural === "clusterroles") {
        const escalate = await o.authorizer().authorize(user, attributes("escalate", resource.plural, namespace, attrs.name));
        if (escalate.decision === "allow") return;
        const role = object as ClusterRole;
        const msg = confirmNoEscalation(o.index, user, namespace, role.rules ?? []);
        if (msg) throw deny(msg);
        const old = attrs.oldObject as ClusterRole | undefined;
        if (role.aggregationRule || old?.aggregationRule) {
          if (confirmNoEscalation(o.index, user, namespace, FULL_AUTHORITY)) throw deny("must have cluster-admin privileges to use the aggregationRule");
        }
        return;
      }
      if (resource.plural === "rolebindings" || resource.plural === "clusterrolebindings") {
        const ref = (object as unknown as RoleBinding).roleRef as RoleRef | undefined;
        if (!ref) return; // validation reports the missing roleRef
        const refResource = ref.kind === "ClusterRole" ? "clusterroles" : ref.kind === "Role" ? "roles" : "";
        if (refResource) {
          const bind = await o.authorizer().authorize(user, { ...attributes("bind", refResource, namespace, ref.name), group: ref.apiGroup });
          if (bind.decision === "allow") return;
        }
        const { rules, error } = o.index.roleRefRules(ref, namespace);
        if (error) throw deny(error);
        const msg = confirmNoEscalation(o.index, user, namespace, rules!);
        if (msg) throw deny(msg);
      }
    },
  };
}
