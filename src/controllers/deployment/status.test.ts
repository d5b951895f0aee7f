import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ReplicaSet } from "kubernetes-types/apps/v1.js";
import { DEPLOYMENT_AVAILABLE, getDeploymentCondition, MINIMUM_REPLICAS_AVAILABLE, MINIMUM_REPLICAS_UNAVAILABLE } from "./conditions.js";
import { RECREATE } from "./fenceposts.js";
import { newDeployment, rs, w } from "./fixtures.js";
import { calculateStatus, MINIMUM_AVAILABILITY_MESSAGE, NO_MINIMUM_AVAILABILITY_MESSAGE, statusEqual, wireStatus } from "./status.js";

const NOW = Date.UTC(2024, 0, 1);

function withStatus(name: string, spec: number, replicas: number, ready: number, available: number): ReplicaSet {
  const r = rs(name, spec, undefined, undefined);
  w(r).status = { replicas, readyReplicas: ready, availableReplicas: available };
  return r;
}

describe("calculateStatus", () => {
  interface Case {
    name: string;
    replicas: number;
    maxUnavailable: number;
    newRS?: ReplicaSet;
    oldRSs: ReplicaSet[];
    want: { replicas: number; updatedReplicas: number; readyReplicas: number; availableReplicas: number; unavailableReplicas: number };
    available: boolean;
  }
  const cases: Case[] = [
    {
      name: "a fresh rollout: nothing ready yet",
      replicas: 3,
      maxUnavailable: 0,
      newRS: withStatus("new", 3, 3, 0, 0),
      oldRSs: [],
      want: { replicas: 3, updatedReplicas: 3, readyReplicas: 0, availableReplicas: 0, unavailableReplicas: 3 },
      available: false,
    },
    {
      name: "mid-rollout with surge: updated counts the new ReplicaSet only",
      replicas: 3,
      maxUnavailable: 0,
      newRS: withStatus("new", 1, 1, 0, 0),
      oldRSs: [withStatus("old", 3, 3, 3, 3)],
      want: { replicas: 4, updatedReplicas: 1, readyReplicas: 3, availableReplicas: 3, unavailableReplicas: 1 },
      available: true,
    },
    {
      name: "within maxUnavailable is still minimum availability",
      replicas: 10,
      maxUnavailable: 2,
      newRS: withStatus("new", 10, 10, 8, 8),
      oldRSs: [],
      want: { replicas: 10, updatedReplicas: 10, readyReplicas: 8, availableReplicas: 8, unavailableReplicas: 2 },
      available: true,
    },
    {
      name: "more available than wanted while scaling down: unavailable is 0, not negative",
      replicas: 2,
      maxUnavailable: 0,
      newRS: withStatus("new", 2, 4, 4, 4),
      oldRSs: [],
      want: { replicas: 4, updatedReplicas: 4, readyReplicas: 4, availableReplicas: 4, unavailableReplicas: 0 },
      available: true,
    },
    {
      name: "no new ReplicaSet yet",
      replicas: 2,
      maxUnavailable: 1,
      oldRSs: [withStatus("old", 2, 2, 2, 2)],
      want: { replicas: 2, updatedReplicas: 0, readyReplicas: 2, availableReplicas: 2, unavailableReplicas: 0 },
      available: true,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = newDeployment("web", c.replicas, { maxSurge: 1, maxUnavailable: c.maxUnavailable });
      w(d.metadata!).generation = 4;
      const s = calculateStatus([...c.oldRSs, c.newRS], c.newRS, d, NOW);
      const { conditions, observedGeneration, ...counts } = s;
      assert.deepEqual(counts, c.want);
      assert.equal(observedGeneration, 4);
      const cond = getDeploymentCondition(s, DEPLOYMENT_AVAILABLE);
      assert.equal(cond?.status, c.available ? "True" : "False");
      assert.equal(cond?.reason, c.available ? MINIMUM_REPLICAS_AVAILABLE : MINIMUM_REPLICAS_UNAVAILABLE);
      assert.equal(cond?.message, c.available ? MINIMUM_AVAILABILITY_MESSAGE : NO_MINIMUM_AVAILABILITY_MESSAGE);
      assert.equal(conditions?.length, 1);
    });
  }

  it("Recreate needs every replica available", () => {
    const d = newDeployment("web", 3);
    d.spec!.strategy = { type: RECREATE };
    assert.equal(getDeploymentCondition(calculateStatus([withStatus("n", 3, 3, 2, 2)], undefined, d, NOW), DEPLOYMENT_AVAILABLE)?.status, "False");
  });

  it("carries collisionCount and copies conditions instead of sharing them", () => {
    const d = newDeployment("web", 1);
    d.status = { collisionCount: 2, conditions: [{ type: "Progressing", status: "True", reason: "X" }] };
    const s = calculateStatus([], undefined, d, NOW);
    assert.equal(s.collisionCount, 2);
    s.conditions![0]!.reason = "changed";
    assert.equal(d.status.conditions?.[0]?.reason, "X");
  });
});

describe("wire status", () => {
  it("leaves zero counts out as Go's omitempty, but keeps a collisionCount of 0", () => {
    assert.deepEqual(wireStatus({ replicas: 0, updatedReplicas: 2, readyReplicas: 0, availableReplicas: 0, unavailableReplicas: 0, observedGeneration: 0, collisionCount: 0, conditions: [] }), {
      updatedReplicas: 2,
      collisionCount: 0,
    });
  });

  it("compares statuses as written", () => {
    assert.equal(statusEqual({ replicas: 0 }, {}), true);
    assert.equal(statusEqual({ replicas: 1 }, {}), false);
    assert.equal(statusEqual({ collisionCount: 0 }, {}), false);
  });
});
