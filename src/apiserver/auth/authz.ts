/**
 * Authorization: a chain of authorizers deciding allow, deny or no opinion
 * for request attributes, as upstream's union authorizer.
 */
import type { RequestInfo } from "../request-info.js";
import type { PolicyRule } from "kubernetes-types/rbac/v1.js";
import { forbidden, type StatusError } from "../../machinery/status-error.js";
import type { UserInfo } from "./authn.js";

export type Decision = "allow" | "deny" | "no-opinion";

export interface AuthorizationResult {
  readonly decision: Decision;
  readonly reason?: string;
}

export interface Authorizer {
  authorize(user: UserInfo, info: RequestInfo): Promise<AuthorizationResult> | AuthorizationResult;
}

/** The rules a user holds in a namespace, as upstream's authorizer.RuleResolver answers (SelfSubjectRulesReview). */
export interface UserRules {
  readonly rules: readonly PolicyRule[];
  /** True when the list may miss permissions (an authorizer that cannot enumerate, a role that failed to resolve). */
  readonly incomplete: boolean;
  readonly error?: string;
}

/** An authorizer that can list what a user may do. */
export interface RuleResolver {
  rulesFor(user: UserInfo, namespace: string): UserRules;
}

function isRuleResolver(a: unknown): a is RuleResolver {
  return typeof (a as Partial<RuleResolver>).rulesFor === "function";
}

/**
 * Upstream's union authorizer: asks each authorizer in order; the first
 * allow or deny wins. When all have no opinion the answer is no opinion
 * (callers treat anything but allow as forbidden) with the reasons given
 * joined by newlines, as upstream.
 */
export class AuthorizerChain implements Authorizer, RuleResolver {
  constructor(private readonly chain: readonly Authorizer[]) {}
  async authorize(user: UserInfo, info: RequestInfo): Promise<AuthorizationResult> {
    const reasons: string[] = [];
    for (const a of this.chain) {
      const r = await a.authorize(user, info);
      if (r.decision !== "no-opinion") return r;
      if (r.reason) reasons.push(r.reason);
    }
    return reasons.length > 0 ? { decision: "no-opinion", reason: reasons.join("\n") } : { decision: "no-opinion" };
  }

  /** Upstream's union rule resolver: every resolver's rules, incomplete if any is. */
  rulesFor(user: UserInfo, namespace: string): UserRules {
    const rules: PolicyRule[] = [];
    const errors: string[] = [];
    let incomplete = false;
    for (const a of this.chain) {
      if (!isRuleResolver(a)) continue;
      const r = a.rulesFor(user, namespace);
      rules.push(...r.rules);
      if (r.incomplete) incomplete = true;
      if (r.error) errors.push(r.error);
    }
    return { rules, incomplete, ...(errors.length > 0 ? { error: errors.length === 1 ? errors[0]! : `[${errors.join(", ")}]` } : {}) };
  }
}

/** system:masters may do anything, as upstream's privileged group authorizer. */
export const privilegedGroupAuthorizer: Authorizer = {
  authorize(user) {
    return user.groups.includes("system:masters") ? { decision: "allow" } : { decision: "no-opinion" };
  },
};

/**
 * Allows every authenticated identity. Not in the server's chain (that is
 * upstream's Node,RBAC); for tests of other parts that run an API server
 * without policy.
 */
export const authenticatedAuthorizer: Authorizer = {
  authorize(user) {
    return user.groups.includes("system:authenticated") ? { decision: "allow" } : { decision: "no-opinion" };
  },
};

/** Upstream's forbidden message: `User "u" cannot list resource "pods" in API group "" in the namespace "ns"`. */
export function forbiddenMessage(user: UserInfo, info: RequestInfo): string {
  if (!info.isResourceRequest) return `User "${user.username}" cannot ${info.verb} path "${info.path}"`;
  const res = info.subresource ? `${info.resource}/${info.subresource}` : info.resource;
  const scope = info.namespace ? `in the namespace "${info.namespace}"` : "at the cluster scope";
  return `User "${user.username}" cannot ${info.verb} resource "${res}" in API group "${info.group}" ${scope}`;
}

/**
 * Upstream's ForbiddenStatusError: `pods "p" is forbidden: User "u" cannot
 * get resource "pods" in API group "" in the namespace "ns"[: reason]`
 * (`forbidden: …` for non-resource paths).
 */
export function forbiddenError(user: UserInfo, info: RequestInfo, reason?: string): StatusError {
  const msg = `${forbiddenMessage(user, info)}${reason ? `: ${reason}` : ""}`;
  if (!info.isResourceRequest && !info.resource) return forbidden(`forbidden: ${msg}`, {});
  const gr = info.group ? `${info.resource}.${info.group}` : info.resource;
  const prefix = info.name ? `${gr} ${JSON.stringify(info.name)}` : gr;
  // Empty detail fields are left out, as Go's omitempty.
  return forbidden(`${prefix} is forbidden: ${msg}`, { ...(info.name ? { name: info.name } : {}), ...(info.group ? { group: info.group } : {}), kind: info.resource });
}
