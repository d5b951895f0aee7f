import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ReplicaSet } from "kubernetes-types/apps/v1.js";
import { type IntOrString, specReplicas } from "./fenceposts.js";
import { newDeployment, rs, syncHarness, w } from "./fixtures.js";
import { cleanupUnhealthyReplicas, reconcileNewReplicaSet, reconcileOldReplicaSets, scaleDownOldReplicaSetsForRollingUpdate } from "./rolling.js";

function withAvailable(r: ReplicaSet, available: number): ReplicaSet {
  w(r).status = { replicas: specReplicas(r), availableReplicas: available };
  return r;
}

describe("reconcileNewReplicaSet (TestDeploymentController_reconcileNewReplicaSet)", () => {
  const cases: { deploymentReplicas: number; maxSurge: IntOrString; oldReplicas: number; newReplicas: number; scaleExpected: boolean; expectedNewReplicas?: number }[] = [
    // Should not scale up.
    { deploymentReplicas: 10, maxSurge: 0, oldReplicas: 10, newReplicas: 0, scaleExpected: false },
    { deploymentReplicas: 10, maxSurge: 2, oldReplicas: 10, newReplicas: 0, scaleExpected: true, expectedNewReplicas: 2 },
    { deploymentReplicas: 10, maxSurge: 2, oldReplicas: 5, newReplicas: 0, scaleExpected: true, expectedNewReplicas: 7 },
    { deploymentReplicas: 10, maxSurge: 2, oldReplicas: 10, newReplicas: 2, scaleExpected: false },
    // Should scale down.
    { deploymentReplicas: 10, maxSurge: 2, oldReplicas: 2, newReplicas: 11, scaleExpected: true, expectedNewReplicas: 10 },
  ];
  cases.forEach((c, i) => {
    it(`scenario ${i}: ${c.oldReplicas} old + ${c.newReplicas} new of ${c.deploymentReplicas}, maxSurge ${c.maxSurge}`, async () => {
      const newRS = rs("foo-v2", c.newReplicas, undefined, undefined);
      const oldRS = rs("foo-v1", c.oldReplicas, undefined, undefined);
      const d = newDeployment("foo", c.deploymentReplicas, { maxSurge: c.maxSurge, maxUnavailable: 0 });
      const h = syncHarness();
      const scaled = await reconcileNewReplicaSet(h.syncer, [newRS, oldRS], newRS, d);
      if (!c.scaleExpected) {
        assert.equal(scaled, false);
        assert.equal(h.api.actions.length, 0);
        return;
      }
      assert.equal(scaled, true);
      assert.equal(h.api.actions.length, 1);
      assert.equal(h.api.rsUpdates()[0]?.spec?.replicas, c.expectedNewReplicas);
    });
  });
});

describe("reconcileOldReplicaSets (TestDeploymentController_reconcileOldReplicaSets)", () => {
  const cases: { deploymentReplicas: number; maxUnavailable: number; oldReplicas: number; newReplicas: number; readyOld: number; readyNew: number; scaleExpected: boolean; expectedOldReplicas?: number }[] = [
    { deploymentReplicas: 10, maxUnavailable: 0, oldReplicas: 10, newReplicas: 0, readyOld: 10, readyNew: 0, scaleExpected: true, expectedOldReplicas: 9 },
    { deploymentReplicas: 10, maxUnavailable: 2, oldReplicas: 10, newReplicas: 0, readyOld: 10, readyNew: 0, scaleExpected: true, expectedOldReplicas: 8 },
    // Unhealthy replicas of old ReplicaSets are cleaned up.
    { deploymentReplicas: 10, maxUnavailable: 2, oldReplicas: 10, newReplicas: 0, readyOld: 8, readyNew: 0, scaleExpected: true, expectedOldReplicas: 8 },
    // One unhealthy replica cleaned up, and one ready pod scaled down.
    { deploymentReplicas: 10, maxUnavailable: 2, oldReplicas: 10, newReplicas: 0, readyOld: 9, readyNew: 0, scaleExpected: true, expectedOldReplicas: 8 },
    // Unavailable pods of the new ReplicaSet do not make room to scale old ones down.
    { deploymentReplicas: 10, maxUnavailable: 2, oldReplicas: 8, newReplicas: 2, readyOld: 8, readyNew: 0, scaleExpected: false },
  ];
  cases.forEach((c, i) => {
    it(`scenario ${i}: ${c.oldReplicas} old (${c.readyOld} ready) + ${c.newReplicas} new (${c.readyNew} ready), maxUnavailable ${c.maxUnavailable}`, async () => {
      const newRS = withAvailable(rs("foo-new", c.newReplicas, { foo: "new" }, undefined), c.readyNew);
      const oldRS = withAvailable(rs("foo-old", c.oldReplicas, { foo: "old" }, undefined), c.readyOld);
      const d = newDeployment("foo", c.deploymentReplicas, { maxSurge: 0, maxUnavailable: c.maxUnavailable, selector: { foo: "new" } });
      const h = syncHarness();
      const scaled = await reconcileOldReplicaSets(h.syncer, [oldRS, newRS], [oldRS], newRS, d);
      assert.equal(scaled, c.scaleExpected);
      if (c.expectedOldReplicas !== undefined) assert.equal(h.api.rsUpdates().at(-1)?.spec?.replicas, c.expectedOldReplicas);
      else assert.equal(h.api.rsUpdates().length, 0);
    });
  });
});

describe("cleanupUnhealthyReplicas (TestDeploymentController_cleanupUnhealthyReplicas)", () => {
  const cases: { oldReplicas: number; readyPods: number; maxCleanupCount: number; cleanupCountExpected: number }[] = [
    { oldReplicas: 10, readyPods: 8, maxCleanupCount: 1, cleanupCountExpected: 1 },
    { oldReplicas: 10, readyPods: 8, maxCleanupCount: 3, cleanupCountExpected: 2 },
    { oldReplicas: 10, readyPods: 8, maxCleanupCount: 0, cleanupCountExpected: 0 },
    { oldReplicas: 10, readyPods: 10, maxCleanupCount: 3, cleanupCountExpected: 0 },
  ];
  cases.forEach((c, i) => {
    it(`scenario ${i}: ${c.oldReplicas - c.readyPods} unhealthy of ${c.oldReplicas}, at most ${c.maxCleanupCount}`, async () => {
      const oldRS = withAvailable(rs("foo-v2", c.oldReplicas, undefined, undefined), c.readyPods);
      const d = newDeployment("foo", 10, { maxSurge: 2, maxUnavailable: 2 });
      const h = syncHarness();
      const [, count] = await cleanupUnhealthyReplicas(h.syncer, [oldRS], d, c.maxCleanupCount);
      assert.equal(count, c.cleanupCountExpected);
      if (count > 0) assert.equal(h.api.rsUpdates()[0]?.spec?.replicas, c.oldReplicas - count);
    });
  });

  it("goes through old ReplicaSets oldest first", async () => {
    const newer = withAvailable(rs("newer", 2, undefined, "2024-01-01T00:00:02Z"), 0);
    const older = withAvailable(rs("older", 2, undefined, "2024-01-01T00:00:01Z"), 0);
    const h = syncHarness();
    await cleanupUnhealthyReplicas(h.syncer, [newer, older], newDeployment("foo", 4, { maxUnavailable: 1 }), 2);
    assert.deepEqual(
      h.api.rsUpdates().map((r) => [r.metadata?.name, r.spec?.replicas]),
      [["older", 0]],
    );
  });
});

describe("scaleDownOldReplicaSetsForRollingUpdate (TestDeploymentController_scaleDownOldReplicaSetsForRollingUpdate)", () => {
  const cases: { deploymentReplicas: number; maxUnavailable: number; readyPods: number; oldReplicas: number; scaleExpected: boolean; expectedOldReplicas?: number }[] = [
    { deploymentReplicas: 10, maxUnavailable: 0, readyPods: 10, oldReplicas: 10, scaleExpected: true, expectedOldReplicas: 9 },
    { deploymentReplicas: 10, maxUnavailable: 2, readyPods: 10, oldReplicas: 10, scaleExpected: true, expectedOldReplicas: 8 },
    { deploymentReplicas: 10, maxUnavailable: 2, readyPods: 8, oldReplicas: 10, scaleExpected: false },
    { deploymentReplicas: 10, maxUnavailable: 2, readyPods: 10, oldReplicas: 0, scaleExpected: false },
    { deploymentReplicas: 10, maxUnavailable: 2, readyPods: 1, oldReplicas: 10, scaleExpected: false },
  ];
  cases.forEach((c, i) => {
    it(`scenario ${i}: ${c.readyPods} available of ${c.oldReplicas} old, maxUnavailable ${c.maxUnavailable}`, async () => {
      const oldRS = withAvailable(rs("foo-v2", c.oldReplicas, undefined, undefined), c.readyPods);
      const d = newDeployment("foo", c.deploymentReplicas, { maxSurge: 0, maxUnavailable: c.maxUnavailable });
      const h = syncHarness();
      const scaled = await scaleDownOldReplicaSetsForRollingUpdate(h.syncer, [oldRS], [oldRS], d);
      if (!c.scaleExpected) {
        assert.equal(scaled, 0);
        return;
      }
      assert.ok(scaled > 0);
      const updates = h.api.rsUpdates();
      assert.equal(updates.length, 1);
      assert.equal(updates[0]?.spec?.replicas, c.expectedOldReplicas);
    });
  });
});
