/**
 * The RBAC authorizer (upstream's `--authorization-mode=RBAC`): a request
 * is allowed when some rule the user holds through a binding allows it; the
 * reason names that binding. Otherwise it has no opinion (the chain ends in
 * a denial), with the role lookups that failed as the reason.
 */
import type { PolicyRule } from "kubernetes-types/rbac/v1.js";
import type { RequestInfo } from "../../request-info.js";
import type { UserInfo } from "../authn.js";
import type { AuthorizationResult, Authorizer, RuleResolver, UserRules } from "../authz.js";
import type { PolicyIndex } from "./policy-index.js";
import { ruleAllows } from "./rules.js";

/** Upstream's utilerrors.NewAggregate(...).Error(). */
export function aggregateErrors(errors: readonly string[]): string {
  return errors.length === 1 ? errors[0]! : `[${errors.join(", ")}]`;
}

export class RbacAuthorizer implements Authorizer, RuleResolver {
  constructor(private readonly index: PolicyIndex) {}

  authorize(user: UserInfo, info: RequestInfo): AuthorizationResult {
    const { rules, errors } = this.index.rulesFor(user, info.namespace);
    for (const r of rules) if (ruleAllows(info, r.rule)) return { decision: "allow", reason: `RBAC: allowed by ${r.source()}` };
    return errors.length > 0 ? { decision: "no-opinion", reason: `RBAC: ${aggregateErrors(errors)}` } : { decision: "no-opinion" };
  }

  rulesFor(user: UserInfo, namespace: string): UserRules {
    const { rules, errors } = this.index.rulesFor(user, namespace);
    return { rules: rules.map((r) => r.rule), incomplete: false, ...(errors.length > 0 ? { error: aggregateErrors(errors) } : {}) };
  }
}

/**
 * Until the Node authorizer is in the chain, members of `system:nodes`
 * hold the `system:node` ClusterRole's rules (what upstream's RBAC gave
 * nodes before the Node authorizer narrowed them per node).
 */
export class NodeRoleAuthorizer implements Authorizer {
  constructor(private readonly index: PolicyIndex) {}

  authorize(user: UserInfo, info: RequestInfo): AuthorizationResult {
    if (!user.groups.includes("system:nodes")) return { decision: "no-opinion" };
    const rules: readonly PolicyRule[] = this.index.getClusterRole("system:node")?.rules ?? [];
    return rules.some((r) => ruleAllows(info, r)) ? { decision: "allow" } : { decision: "no-opinion" };
  }
}
