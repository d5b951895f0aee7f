/**
 * Authorization: a chain of authorizers deciding allow, deny or no opinion
 * for request attributes, as upstream's union authorizer.
 */
import type { RequestInfo } from "../request-info.js";
import type { UserInfo } from "./authn.js";

export type Decision = "allow" | "deny" | "no-opinion";

export interface AuthorizationResult {
  readonly decision: Decision;
  readonly reason?: string;
}

export interface Authorizer {
  authorize(user: UserInfo, info: RequestInfo): Promise<AuthorizationResult> | AuthorizationResult;
}

/** Asks each authorizer in order; the first allow or deny wins; none means deny. */
export class AuthorizerChain implements Authorizer {
  constructor(private readonly chain: readonly Authorizer[]) {}
  async authorize(user: UserInfo, info: RequestInfo): Promise<AuthorizationResult> {
    for (const a of this.chain) {
      const r = await a.authorize(user, info);
      if (r.decision !== "no-opinion") return r;
    }
    return { decision: "deny", reason: "no authorizer allowed the request" };
  }
}

/** system:masters may do anything, as upstream's privileged group authorizer. */
export const privilegedGroupAuthorizer: Authorizer = {
  authorize(user) {
    return user.groups.includes("system:masters") ? { decision: "allow" } : { decision: "no-opinion" };
  },
};

/**
 * Until RBAC lands (the security issue), every authenticated identity is
 * allowed: control-plane components have their own certificates already, so
 * swapping this for RBAC narrows them without touching their setup.
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
