import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Deployment } from "kubernetes-types/apps/v1.js";
import {
  type IntOrString,
  maxSurge,
  maxUnavailable,
  minAvailable,
  newRSNewReplicas,
  RECREATE,
  ROLLING_UPDATE,
  resolveFenceposts,
  scaledValueFromIntOrPercent,
} from "./fenceposts.js";
import { newDeployment, rs } from "./fixtures.js";

describe("scaledValueFromIntOrPercent (intstr.GetScaledValueFromIntOrPercent)", () => {
  const cases: [IntOrString | undefined, number, boolean, number | RegExp][] = [
    [5, 10, true, 5],
    ["25%", 10, true, 3],
    ["25%", 10, false, 2],
    ["39%", 10, true, 4],
    ["39%", 10, false, 3],
    ["100%", 7, false, 7],
    ["0%", 0, true, 0],
    ["oops", 10, true, /string is not a percentage/],
    ["x%", 10, true, /invalid value "x%"/],
    [undefined, 10, true, /nil value for IntOrString/],
  ];
  for (const [v, total, up, want] of cases) {
    it(`${JSON.stringify(v)} of ${total} rounded ${up ? "up" : "down"}`, () => {
      if (want instanceof RegExp) assert.throws(() => scaledValueFromIntOrPercent(v, total, up), want);
      else assert.equal(scaledValueFromIntOrPercent(v, total, up), want);
    });
  }
});

describe("resolveFenceposts (TestResolveFenceposts)", () => {
  const cases: { maxSurge?: string; maxUnavailable?: string; desired: number; surge: number; unavailable: number; error?: boolean }[] = [
    { maxSurge: "0%", maxUnavailable: "0%", desired: 0, surge: 0, unavailable: 1 },
    { maxSurge: "39%", maxUnavailable: "39%", desired: 10, surge: 4, unavailable: 3 },
    { maxSurge: "oops", maxUnavailable: "39%", desired: 10, surge: 0, unavailable: 0, error: true },
    { maxSurge: "55%", maxUnavailable: "urg", desired: 10, surge: 0, unavailable: 0, error: true },
    { maxUnavailable: "39%", desired: 10, surge: 0, unavailable: 3 },
    { maxSurge: "39%", desired: 10, surge: 4, unavailable: 0 },
    { desired: 10, surge: 0, unavailable: 1 },
  ];
  cases.forEach((c, i) => {
    it(`case ${i}: surge ${c.maxSurge ?? "nil"} unavailable ${c.maxUnavailable ?? "nil"} of ${c.desired}`, () => {
      if (c.error) {
        assert.throws(() => resolveFenceposts(c.maxSurge, c.maxUnavailable, c.desired));
        return;
      }
      assert.deepEqual(resolveFenceposts(c.maxSurge, c.maxUnavailable, c.desired), [c.surge, c.unavailable]);
    });
  });
});

describe("maxUnavailable (TestMaxUnavailable)", () => {
  const deployment = (replicas: number, mu: IntOrString): Deployment => newDeployment("foo", replicas, { maxSurge: 0, maxUnavailable: mu });
  const recreate: Deployment = { spec: { strategy: { type: RECREATE }, selector: {}, template: {} } };
  const cases: [string, Deployment, number][] = [
    ["maxUnavailable less than replicas", deployment(10, 5), 5],
    ["maxUnavailable equal replicas", deployment(10, 10), 10],
    ["maxUnavailable greater than replicas", deployment(5, 10), 5],
    ["maxUnavailable with replicas is 0", deployment(0, 10), 0],
    ["maxUnavailable with Recreate deployment strategy", recreate, 0],
    ["maxUnavailable less than replicas with percents", deployment(10, "50%"), 5],
    ["maxUnavailable equal replicas with percents", deployment(10, "100%"), 10],
    ["maxUnavailable greater than replicas with percents", deployment(5, "100%"), 5],
  ];
  for (const [name, d, want] of cases) {
    it(name, () => assert.equal(maxUnavailable(d), want));
  }

  it("defaults of 25% / 25% on 10 replicas: surge 3 (rounded up), unavailable 2 (rounded down), 8 must stay available", () => {
    const d = newDeployment("foo", 10, { maxSurge: "25%", maxUnavailable: "25%" });
    assert.equal(maxSurge(d), 3);
    assert.equal(maxUnavailable(d), 2);
    assert.equal(minAvailable(d), 8);
  });

  it("0 / 0 resolves maxUnavailable to 1 so the rollout can move", () => {
    assert.equal(maxUnavailable(newDeployment("foo", 3, { maxSurge: 0, maxUnavailable: 0 })), 1);
  });

  it("Recreate has no surge and no unavailability budget", () => {
    assert.equal(maxSurge(recreate), 0);
    assert.equal(minAvailable(recreate), 0);
  });
});

describe("newRSNewReplicas (TestNewRSNewReplicas)", () => {
  const cases: [string, string, number, number, number, number][] = [
    ["can not scale up - to newRSReplicas", ROLLING_UPDATE, 1, 5, 1, 5],
    ["scale up - to depReplicas", ROLLING_UPDATE, 6, 2, 10, 6],
    ["recreate - to depReplicas", RECREATE, 3, 1, 1, 3],
  ];
  for (const [name, type, depReplicas, newRSReplicas, surge, want] of cases) {
    it(name, () => {
      const d = newDeployment("nginx", depReplicas, { maxSurge: surge, maxUnavailable: 1 });
      d.spec!.strategy!.type = type;
      const rs5 = rs("rs5", 5, undefined, undefined);
      const newRS = rs("new", newRSReplicas, undefined, undefined);
      assert.equal(newRSNewReplicas(d, [rs5], newRS), want);
    });
  }

  it("without old ReplicaSets a new one gets the full size at once (1,000 replicas, 25% surge)", () => {
    const d = newDeployment("big", 1000, { maxSurge: "25%", maxUnavailable: "25%" });
    const newRS = rs("big-1", 0, undefined, undefined);
    assert.equal(newRSNewReplicas(d, [newRS], newRS), 1000);
  });

  it("with old pods at the limit it waits (maxSurge 1 over 3 replicas, 3 old + 1 new)", () => {
    const d = newDeployment("web", 3, { maxSurge: 1, maxUnavailable: 0 });
    const newRS = rs("new", 1, undefined, undefined);
    assert.equal(newRSNewReplicas(d, [rs("old", 3, undefined, undefined), newRS], newRS), 1);
  });

  it("rejects an unknown strategy", () => {
    const d = newDeployment("x", 1);
    d.spec!.strategy!.type = "Canary";
    assert.throws(() => newRSNewReplicas(d, [], rs("n", 0, undefined, undefined)), /deployment type Canary isn't supported/);
  });
});
