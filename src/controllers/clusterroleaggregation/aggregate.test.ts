import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ClusterRole } from "kubernetes-types/rbac/v1.js";
import { aggregatedRules, sameRules } from "./aggregate.js";

const label = (to: string) => ({ [`rbac.authorization.k8s.io/aggregate-to-${to}`]: "true" });

describe("aggregatedRules", () => {
  const view: ClusterRole = { metadata: { name: "view", labels: label("edit") }, aggregationRule: { clusterRoleSelectors: [{ matchLabels: label("view") }] }, rules: [] };
  const b: ClusterRole = { metadata: { name: "b-view", labels: label("view") }, rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }] };
  const a: ClusterRole = {
    metadata: { name: "a-view", labels: label("view") },
    rules: [
      { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get"] },
      { apiGroups: [""], resources: ["pods"], verbs: ["get"] },
    ],
  };
  const other: ClusterRole = { metadata: { name: "other" }, rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get"] }] };

  it("unions the selected roles' rules, by role name, each rule once", () => {
    assert.deepEqual(aggregatedRules(view, [view, b, other, a]), [
      { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get"] },
      { apiGroups: [""], resources: ["pods"], verbs: ["get"] },
    ]);
  });
  it("leaves roles without an aggregationRule alone", () => {
    assert.equal(aggregatedRules(other, [view, other]), undefined);
  });
  it("compares rule lists in order", () => {
    assert.equal(sameRules([{ verbs: ["get"], resources: ["pods"], apiGroups: [""] }], [{ apiGroups: [""], resources: ["pods"], verbs: ["get"], resourceNames: [] }]), true);
    assert.equal(sameRules(a.rules, [...a.rules!].reverse()), false);
  });
});
