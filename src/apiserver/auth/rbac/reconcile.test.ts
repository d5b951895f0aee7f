import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ClusterRole, ClusterRoleBinding } from "kubernetes-types/rbac/v1.js";
import { bootstrapPolicy } from "./bootstrap-policy.js";
import { reconciled } from "./reconcile.js";

describe("bootstrap policy reconciliation", () => {
  const expected: ClusterRole = {
    metadata: { name: "r", labels: { "kubernetes.io/bootstrapping": "rbac-defaults" }, annotations: { "rbac.authorization.kubernetes.io/autoupdate": "true" } },
    rules: [
      { apiGroups: [""], resources: ["pods"], verbs: ["get"] },
      { apiGroups: [""], resources: ["secrets"], verbs: ["get"] },
    ],
  };
  it("adds missing rules and metadata, keeping what the cluster added", () => {
    const existing: ClusterRole = { metadata: { name: "r", labels: { mine: "yes" } }, rules: [{ apiGroups: [""], resources: ["pods", "configmaps"], verbs: ["get", "list"] }] };
    const out = reconciled(existing, expected) as ClusterRole;
    assert.deepEqual(out.rules, [
      { apiGroups: [""], resources: ["pods", "configmaps"], verbs: ["get", "list"] },
      { apiGroups: [""], resources: ["secrets"], verbs: ["get"] },
    ]);
    assert.deepEqual(out.metadata?.labels, { mine: "yes", "kubernetes.io/bootstrapping": "rbac-defaults" });
    assert.equal(out.metadata?.annotations?.["rbac.authorization.kubernetes.io/autoupdate"], "true");
  });
  it("changes nothing when nothing is missing", () => {
    assert.equal(reconciled(structuredClone(expected), expected), undefined);
  });
  it("adds missing subjects to bindings", () => {
    const want: ClusterRoleBinding = { metadata: { name: "b" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "r" }, subjects: [{ kind: "Group", name: "g" }] };
    const have: ClusterRoleBinding = { ...want, subjects: [{ kind: "User", name: "u" }] };
    assert.deepEqual((reconciled(have, want) as ClusterRoleBinding).subjects, [
      { kind: "User", name: "u" },
      { kind: "Group", name: "g" },
    ]);
  });
  it("leaves an aggregated role's rules to the aggregation controller", () => {
    const admin = bootstrapPolicy().clusterRoles.find((r) => r.metadata?.name === "admin")!;
    const existing: ClusterRole = { ...structuredClone(admin), rules: [{ apiGroups: ["x"], resources: ["y"], verbs: ["get"] }] };
    assert.equal(reconciled(existing, admin), undefined);
  });
  it("labels and annotates every default object and binds the upstream subjects", () => {
    const p = bootstrapPolicy();
    for (const o of [...p.clusterRoles, ...p.clusterRoleBindings, ...p.roles, ...p.roleBindings]) {
      assert.equal(o.metadata?.labels?.["kubernetes.io/bootstrapping"], "rbac-defaults", o.metadata?.name);
      assert.equal(o.metadata?.annotations?.["rbac.authorization.kubernetes.io/autoupdate"], "true", o.metadata?.name);
    }
    const binding = (n: string) => p.clusterRoleBindings.find((b) => b.metadata?.name === n);
    assert.deepEqual(binding("cluster-admin")?.subjects, [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "system:masters" }]);
    assert.equal(binding("system:node")?.subjects, undefined);
    for (const b of p.clusterRoleBindings) assert.ok(p.clusterRoles.some((r) => r.metadata?.name === b.roleRef.name), `${b.metadata?.name} refers to a default role`);
  });
});
