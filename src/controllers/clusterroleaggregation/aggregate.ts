/**
 * The rules an aggregated ClusterRole should hold, as upstream's
 * ClusterRoleAggregationController.syncClusterRole computes them: for each
 * selector in order, the ClusterRoles it selects sorted by name (the role
 * itself excepted), each of their rules once, in order.
 */
import type { ClusterRole, PolicyRule } from "kubernetes-types/rbac/v1.js";
import { selectorFromObject } from "../../machinery/labels.js";

/** Semantic equality of two rules (upstream's ruleExists uses DeepEqual, where nil and empty lists are equal). */
function sameRule(a: PolicyRule, b: PolicyRule): boolean {
  const norm = (r: PolicyRule) => JSON.stringify([r.verbs ?? [], r.apiGroups ?? [], r.resources ?? [], r.resourceNames ?? [], r.nonResourceURLs ?? []]);
  return norm(a) === norm(b);
}

/** The aggregated rules of `role` from `all` ClusterRoles; undefined when `role` has no aggregationRule. */
export function aggregatedRules(role: ClusterRole, all: readonly ClusterRole[]): PolicyRule[] | undefined {
  if (!role.aggregationRule) return undefined;
  const out: PolicyRule[] = [];
  for (const sel of role.aggregationRule.clusterRoleSelectors ?? []) {
    const selector = selectorFromObject(sel);
    if (!selector) continue;
    const matched = all.filter((r) => selector.matches(r.metadata?.labels)).sort((a, b) => ((a.metadata?.name ?? "") < (b.metadata?.name ?? "") ? -1 : 1));
    for (const r of matched) {
      if (r.metadata?.name === role.metadata?.name) continue;
      for (const rule of r.rules ?? []) if (!out.some((x) => sameRule(x, rule))) out.push(rule);
    }
  }
  return out;
}

/** Whether two rule lists are the same (order included, as upstream's DeepEqual). */
export function sameRules(a: readonly PolicyRule[] | undefined, b: readonly PolicyRule[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  return x.length === y.length && x.every((r, i) => sameRule(r, y[i]!));
}
