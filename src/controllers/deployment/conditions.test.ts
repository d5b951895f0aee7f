import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Deployment, DeploymentCondition, DeploymentStatus } from "kubernetes-types/apps/v1.js";
import {
  DEPLOYMENT_AVAILABLE,
  DEPLOYMENT_PROGRESSING,
  DEPLOYMENT_REPLICA_FAILURE,
  deploymentComplete,
  deploymentProgressing,
  deploymentTimedOut,
  getDeploymentCondition,
  hasProgressDeadline,
  hasRevisionHistoryLimit,
  MAX_INT32,
  NEW_RS_AVAILABLE_REASON,
  newDeploymentCondition,
  removeDeploymentCondition,
  setDeploymentCondition,
  TIMED_OUT_REASON,
} from "./conditions.js";
import { newDeployment, w } from "./fixtures.js";

const condProgressing = (): DeploymentCondition => ({ type: DEPLOYMENT_PROGRESSING, status: "False", reason: "ForSomeReason" });
const condProgressing2 = (): DeploymentCondition => ({ type: DEPLOYMENT_PROGRESSING, status: "True", reason: "BecauseItIs" });
const condAvailable = (): DeploymentCondition => ({ type: DEPLOYMENT_AVAILABLE, status: "True", reason: "AwesomeController" });
const status = (): DeploymentStatus => ({ conditions: [condProgressing(), condAvailable()] });

describe("conditions (TestGetCondition, TestSetCondition, TestRemoveCondition)", () => {
  it("finds a condition that exists, and not one that does not", () => {
    assert.ok(getDeploymentCondition(status(), DEPLOYMENT_AVAILABLE));
    assert.equal(getDeploymentCondition(status(), DEPLOYMENT_REPLICA_FAILURE), undefined);
  });

  const sets: [string, DeploymentStatus, DeploymentCondition, DeploymentStatus][] = [
    ["set for the first time", {}, condAvailable(), { conditions: [condAvailable()] }],
    ["simple set", { conditions: [condProgressing()] }, condAvailable(), status()],
    ["overwrite", { conditions: [condProgressing()] }, condProgressing2(), { conditions: [condProgressing2()] }],
  ];
  for (const [name, s, c, want] of sets) {
    it(`set: ${name}`, () => {
      setDeploymentCondition(s, c);
      assert.deepEqual(s, want);
    });
  }

  it("set: same status and reason leaves the condition (and its times) alone", () => {
    const old = newDeploymentCondition(DEPLOYMENT_AVAILABLE, "True", "R", "old", Date.UTC(2024, 0, 1));
    const s: DeploymentStatus = { conditions: [old] };
    setDeploymentCondition(s, newDeploymentCondition(DEPLOYMENT_AVAILABLE, "True", "R", "new", Date.UTC(2024, 0, 2)));
    assert.deepEqual(s.conditions, [old]);
  });

  it("set: same status, new reason keeps the transition time", () => {
    const s: DeploymentStatus = { conditions: [newDeploymentCondition(DEPLOYMENT_PROGRESSING, "True", "A", "a", Date.UTC(2024, 0, 1))] };
    setDeploymentCondition(s, newDeploymentCondition(DEPLOYMENT_PROGRESSING, "True", "B", "b", Date.UTC(2024, 0, 2)));
    assert.equal(s.conditions?.[0]?.lastTransitionTime, "2024-01-01T00:00:00Z");
    assert.equal(s.conditions?.[0]?.lastUpdateTime, "2024-01-02T00:00:00Z");
    assert.equal(s.conditions?.[0]?.reason, "B");
  });

  const removes: [string, DeploymentStatus, string, DeploymentStatus][] = [
    ["remove from empty status", {}, DEPLOYMENT_PROGRESSING, {}],
    ["simple remove", { conditions: [condProgressing()] }, DEPLOYMENT_PROGRESSING, {}],
    ["doesn't remove anything", status(), DEPLOYMENT_REPLICA_FAILURE, status()],
  ];
  for (const [name, s, type, want] of removes) {
    it(`remove: ${name}`, () => {
      removeDeploymentCondition(s, type);
      assert.deepEqual(s, want);
    });
  }
});

describe("deploymentComplete (TestDeploymentComplete)", () => {
  const deployment = (desired: number, current: number, updated: number, available: number, maxUnavailable: number, maxSurge: number): Deployment => {
    const d = newDeployment("foo", desired, { maxUnavailable, maxSurge });
    d.status = { replicas: current, updatedReplicas: updated, availableReplicas: available, observedGeneration: 1 };
    return d;
  };
  const cases: [string, Deployment, boolean][] = [
    ["not complete: min but not all pods become available", deployment(5, 5, 5, 4, 1, 0), false],
    ["not complete: min availability is not honored", deployment(5, 5, 5, 3, 1, 0), false],
    ["complete", deployment(5, 5, 5, 5, 0, 0), true],
    ["not complete: all pods are available but not updated", deployment(5, 5, 4, 5, 0, 0), false],
    ["not complete: still running old pods", deployment(1, 2, 1, 1, 0, 1), false],
    ["not complete: one replica deployment never comes up", deployment(1, 1, 1, 0, 1, 1), false],
  ];
  for (const [name, d, want] of cases) it(name, () => assert.equal(deploymentComplete(d, d.status!), want));

  it("not complete while the latest generation is unobserved", () => {
    const d = deployment(5, 5, 5, 5, 0, 0);
    w(d.metadata!).generation = 2;
    assert.equal(deploymentComplete(d, d.status!), false);
  });
});

describe("deploymentProgressing (TestDeploymentProgressing)", () => {
  const deployment = (current: number, updated: number, ready: number, available: number): Deployment => ({
    spec: { selector: {}, template: {} },
    status: { replicas: current, updatedReplicas: updated, readyReplicas: ready, availableReplicas: available },
  });
  const st = (current: number, updated: number, ready: number, available: number): DeploymentStatus => ({
    replicas: current,
    updatedReplicas: updated,
    readyReplicas: ready,
    availableReplicas: available,
  });
  const cases: [string, Deployment, DeploymentStatus, boolean][] = [
    ["progressing: updated pods", deployment(10, 4, 4, 4), st(10, 6, 4, 4), true],
    ["not progressing", deployment(10, 4, 4, 4), st(10, 4, 4, 4), false],
    ["progressing: old pods removed", deployment(10, 4, 6, 6), st(8, 4, 6, 6), true],
    ["not progressing: less new pods", deployment(10, 7, 3, 3), st(10, 6, 3, 3), false],
    ["progressing: less overall but more new pods", deployment(10, 4, 7, 7), st(8, 8, 5, 5), true],
    ["progressing: more ready pods", deployment(10, 10, 9, 8), st(10, 10, 10, 8), true],
    ["progressing: more available pods", deployment(10, 10, 10, 9), st(10, 10, 10, 10), true],
  ];
  for (const [name, d, s, want] of cases) it(name, () => assert.equal(deploymentProgressing(d, s), want));
});

describe("deploymentTimedOut (TestDeploymentTimedOut)", () => {
  const time = (min: number, sec: number) => Date.UTC(2016, 0, 1, 0, min, sec);
  const deployment = (status: string, reason: string, pds: number | undefined, fromMs: number): Deployment => ({
    spec: { selector: {}, template: {}, ...(pds !== undefined ? { progressDeadlineSeconds: pds } : {}) },
    status: { conditions: [{ type: DEPLOYMENT_PROGRESSING, status, reason, lastUpdateTime: new Date(fromMs).toISOString() }] },
  });
  const cases: [string, Deployment, number, boolean][] = [
    ["nil progressDeadlineSeconds specified - no timeout", deployment("True", "", undefined, time(1, 9)), time(1, 20), false],
    ["infinite progressDeadlineSeconds specified - no timeout", deployment("True", "", MAX_INT32, time(1, 9)), time(1, 20), false],
    ["progressDeadlineSeconds: 10s, now - started => 00:01:20 - 00:01:09 => 11s", deployment("True", "", 10, time(1, 9)), time(1, 20), true],
    ["progressDeadlineSeconds: 10s, now - started => 00:01:20 - 00:01:11 => 9s", deployment("True", "", 10, time(1, 11)), time(1, 20), false],
    ["previous status was a successful rollout w/o a deadline", deployment("True", NEW_RS_AVAILABLE_REASON, 10, time(1, 0)), time(1, 20), false],
    ["already timed out", deployment("False", TIMED_OUT_REASON, 10, time(1, 19)), time(1, 20), true],
  ];
  for (const [name, d, now, want] of cases) it(name, () => assert.equal(deploymentTimedOut(d, d.status!, now), want));

  it("no Progressing condition, no base to tell", () => {
    const d = newDeployment("x", 1);
    d.spec!.progressDeadlineSeconds = 10;
    assert.equal(deploymentTimedOut(d, {}, Date.now()), false);
  });
});

describe("limits meaning none", () => {
  it("MaxInt32 (or absence) means no progress deadline and no revision history limit", () => {
    const d = newDeployment("x", 1);
    assert.equal(hasProgressDeadline(d), false);
    d.spec!.progressDeadlineSeconds = 600;
    assert.equal(hasProgressDeadline(d), true);
    d.spec!.progressDeadlineSeconds = MAX_INT32;
    assert.equal(hasProgressDeadline(d), false);
    assert.equal(hasRevisionHistoryLimit(d), false);
    d.spec!.revisionHistoryLimit = 0;
    assert.equal(hasRevisionHistoryLimit(d), true);
    d.spec!.revisionHistoryLimit = MAX_INT32;
    assert.equal(hasRevisionHistoryLimit(d), false);
  });
});
