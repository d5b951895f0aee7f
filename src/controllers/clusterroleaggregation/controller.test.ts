import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ClusterRole } from "kubernetes-types/rbac/v1.js";
import type { SharedInformer } from "../../client/informer.js";
import { ClusterRoleAggregationController } from "./controller.js";

/** Just what the controller reads of an informer: get, list, handlers. */
function fakeInformer(roles: ClusterRole[]) {
  const handlers: { onAdd?: (o: ClusterRole) => void }[] = [];
  return {
    informer: {
      get: (name: string) => roles.find((r) => r.metadata?.name === name),
      list: () => roles,
      addEventHandler: (h: { onAdd?: (o: ClusterRole) => void }) => {
        handlers.push(h);
        return { remove() {}, hasSynced: () => true };
      },
    } as unknown as SharedInformer<ClusterRole>,
    add(r: ClusterRole) {
      roles.push(r);
      for (const h of handlers) h.onAdd?.(r);
    },
  };
}

describe("ClusterRoleAggregationController", () => {
  const view: ClusterRole = { metadata: { name: "view" }, aggregationRule: { clusterRoleSelectors: [{ matchLabels: { "rbac.authorization.k8s.io/aggregate-to-view": "true" } }] }, rules: [] };

  it("writes the selected roles' rules into the aggregated role, and only when they differ", async () => {
    const writes: { name: string; rules: ClusterRole["rules"] }[] = [];
    const f = fakeInformer([view]);
    const c = new ClusterRoleAggregationController({
      clusterRoleInformer: f.informer,
      api: {
        async updateRules(role, rules) {
          writes.push({ name: role.metadata!.name!, rules });
        },
      },
    });
    f.add({ metadata: { name: "extra", labels: { "rbac.authorization.k8s.io/aggregate-to-view": "true" } }, rules: [{ apiGroups: ["x.io"], resources: ["things"], verbs: ["get"] }] });
    assert.equal(c.queue.len(), 1, "a new ClusterRole queues every aggregated role");
    await c.sync("view");
    assert.deepEqual(writes, [{ name: "view", rules: [{ apiGroups: ["x.io"], resources: ["things"], verbs: ["get"] }] }]);
    view.rules = writes[0]!.rules;
    await c.sync("view");
    assert.equal(writes.length, 1, "no write when the rules already match");
    await c.sync("extra");
    assert.equal(writes.length, 1, "roles without an aggregationRule are left alone");
  });
});
