import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Deployment, DeploymentCondition, ReplicaSet } from "kubernetes-types/apps/v1.js";
import {
  DEPLOYMENT_PROGRESSING,
  DEPLOYMENT_REPLICA_FAILURE,
  getDeploymentCondition,
  MAX_INT32,
  NEW_RS_AVAILABLE_REASON,
  REPLICA_SET_UPDATED_REASON,
  TIMED_OUT_REASON,
} from "./conditions.js";
import { RECREATE } from "./fenceposts.js";
import { newRSWithAvailable } from "./fixtures.js";
import { getReplicaFailures, rolloutStatus, stuckRequeueDelay } from "./progress.js";

/** Upstream's `currentDeployment`: Recreate, named progress-test, status counts as given. */
function currentDeployment(
  pds: number | undefined,
  replicas: number,
  statusReplicas: number,
  updatedReplicas: number,
  availableReplicas: number,
  conditions: DeploymentCondition[] | undefined,
): Deployment {
  return {
    metadata: { name: "progress-test" },
    spec: { replicas, strategy: { type: RECREATE }, selector: {}, template: {}, ...(pds !== undefined ? { progressDeadlineSeconds: pds } : {}) },
    status: { replicas: statusReplicas, updatedReplicas, availableReplicas, ...(conditions ? { conditions } : {}) },
  };
}

const testTime = "2017-02-15T18:49:00Z";
const NOW = Date.UTC(2024, 0, 1);

describe("requeueStuckDeployment (TestRequeueStuckDeployment)", () => {
  const failed: DeploymentCondition[] = [{ type: DEPLOYMENT_PROGRESSING, status: "False", reason: TIMED_OUT_REASON }];
  const stuck: DeploymentCondition[] = [{ type: DEPLOYMENT_PROGRESSING, status: "True", lastUpdateTime: testTime }];
  const at = (min: number, sec: number, ms = 0) => Date.UTC(2017, 1, 15, 18, min, sec, ms);
  const st = (r: number, u: number, a: number) => ({ replicas: r, updatedReplicas: u, availableReplicas: a });
  const cases: [string, Deployment, ReturnType<typeof st>, number, number][] = [
    ["nil progressDeadlineSeconds specified", currentDeployment(undefined, 4, 3, 3, 2, undefined), st(3, 3, 2), NOW, -1],
    ["infinite progressDeadlineSeconds specified", currentDeployment(MAX_INT32, 4, 3, 3, 2, undefined), st(3, 3, 2), NOW, -1],
    ["no progressing condition found", currentDeployment(60, 4, 3, 3, 2, undefined), st(3, 3, 2), NOW, -1],
    ["complete deployment does not need to be requeued", currentDeployment(60, 3, 3, 3, 3, undefined), st(3, 3, 3), NOW, -1],
    ["already failed deployment does not need to be requeued", currentDeployment(60, 3, 3, 3, 0, failed), st(3, 3, 0), NOW, -1],
    ["stuck deployment - 30s", currentDeployment(60, 3, 3, 3, 1, stuck), st(3, 3, 1), at(49, 30), 30_000],
    ["stuck deployment - 1s", currentDeployment(60, 3, 3, 3, 1, stuck), st(3, 3, 1), at(49, 59), 1000],
    ["failed deployment - less than a second => now", currentDeployment(60, 3, 3, 3, 1, stuck), st(3, 3, 1), at(49, 59, 1), 0],
    ["failed deployment - now", currentDeployment(60, 3, 3, 3, 1, stuck), st(3, 3, 1), at(50, 0), 0],
    ["failed deployment - 1s after deadline", currentDeployment(60, 3, 3, 3, 1, stuck), st(3, 3, 1), at(50, 1), 0],
    ["failed deployment - 60s after deadline", currentDeployment(60, 3, 3, 3, 1, stuck), st(3, 3, 1), at(51, 0), 0],
  ];
  for (const [name, d, s, now, want] of cases) it(name, () => assert.equal(stuckRequeueDelay(d, s, now), want));
});

describe("syncRolloutStatus (TestSyncRolloutStatus)", () => {
  const failedTimedOut: DeploymentCondition = { type: DEPLOYMENT_PROGRESSING, status: "False", reason: TIMED_OUT_REASON };
  const newRSAvailable: DeploymentCondition = { type: DEPLOYMENT_PROGRESSING, status: "True", reason: NEW_RS_AVAILABLE_REASON, lastUpdateTime: testTime, lastTransitionTime: testTime };
  const replicaSetUpdated: DeploymentCondition = { type: DEPLOYMENT_PROGRESSING, status: "True", reason: REPLICA_SET_UPDATED_REASON, lastUpdateTime: testTime, lastTransitionTime: testTime };
  interface Case {
    name: string;
    d: Deployment;
    allRSs: ReplicaSet[];
    newRS?: ReplicaSet;
    status?: string;
    reason?: string;
    lastUpdate?: boolean;
    lastTransition?: boolean;
  }
  const cases: Case[] = [
    {
      name: "General: remove Progressing condition and do not estimate progress if deployment has no Progress Deadline",
      d: currentDeployment(undefined, 3, 2, 2, 2, [replicaSetUpdated]),
      allRSs: [newRSWithAvailable("bar", 0, 1, 1)],
      newRS: newRSWithAvailable("foo", 3, 2, 2),
    },
    {
      name: "General: do not estimate progress of deployment with only one active ReplicaSet",
      d: currentDeployment(60, 3, 3, 3, 3, [newRSAvailable]),
      allRSs: [newRSWithAvailable("bar", 3, 3, 3)],
      status: "True",
      reason: NEW_RS_AVAILABLE_REASON,
      lastUpdate: true,
      lastTransition: true,
    },
    {
      name: "DeploymentProgressing: dont update lastTransitionTime if deployment already has Progressing=True",
      d: currentDeployment(60, 3, 2, 2, 2, [replicaSetUpdated]),
      allRSs: [newRSWithAvailable("bar", 0, 1, 1)],
      newRS: newRSWithAvailable("foo", 3, 2, 2),
      status: "True",
      reason: REPLICA_SET_UPDATED_REASON,
      lastTransition: true,
    },
    {
      name: "DeploymentProgressing: update everything if deployment has Progressing=False",
      d: currentDeployment(60, 3, 2, 2, 2, [failedTimedOut]),
      allRSs: [newRSWithAvailable("bar", 0, 1, 1)],
      newRS: newRSWithAvailable("foo", 3, 2, 2),
      status: "True",
      reason: REPLICA_SET_UPDATED_REASON,
    },
    {
      name: "DeploymentProgressing: create Progressing condition if it does not exist",
      d: currentDeployment(60, 3, 2, 2, 2, []),
      allRSs: [newRSWithAvailable("bar", 0, 1, 1)],
      newRS: newRSWithAvailable("foo", 3, 2, 2),
      status: "True",
      reason: REPLICA_SET_UPDATED_REASON,
    },
    {
      name: "DeploymentComplete: dont update lastTransitionTime if deployment already has Progressing=True",
      d: currentDeployment(60, 3, 3, 3, 3, [replicaSetUpdated]),
      allRSs: [],
      newRS: newRSWithAvailable("foo", 3, 3, 3),
      status: "True",
      reason: NEW_RS_AVAILABLE_REASON,
      lastTransition: true,
    },
    {
      name: "DeploymentComplete: update everything if deployment has Progressing=False",
      d: currentDeployment(60, 3, 3, 3, 3, [failedTimedOut]),
      allRSs: [],
      newRS: newRSWithAvailable("foo", 3, 3, 3),
      status: "True",
      reason: NEW_RS_AVAILABLE_REASON,
    },
    {
      name: "DeploymentComplete: create Progressing condition if it does not exist",
      d: currentDeployment(60, 3, 3, 3, 3, []),
      allRSs: [],
      newRS: newRSWithAvailable("foo", 3, 3, 3),
      status: "True",
      reason: NEW_RS_AVAILABLE_REASON,
    },
    {
      name: "DeploymentComplete: defend against NPE when newRS=nil",
      d: currentDeployment(60, 0, 3, 3, 3, [replicaSetUpdated]),
      allRSs: [newRSWithAvailable("foo", 0, 0, 0)],
      status: "True",
      reason: NEW_RS_AVAILABLE_REASON,
    },
    {
      name: "DeploymentTimedOut: update status if rollout exceeds Progress Deadline",
      d: currentDeployment(60, 3, 2, 2, 2, [replicaSetUpdated]),
      allRSs: [],
      newRS: newRSWithAvailable("foo", 3, 2, 2),
      status: "False",
      reason: TIMED_OUT_REASON,
    },
    {
      name: "DeploymentTimedOut: do not update status if deployment has existing timedOut condition",
      d: currentDeployment(60, 3, 2, 2, 2, [failedTimedOut]),
      allRSs: [],
      newRS: newRSWithAvailable("foo", 3, 2, 2),
      status: "False",
      reason: TIMED_OUT_REASON,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const all = c.newRS ? [...c.allRSs, c.newRS] : c.allRSs;
      const s = rolloutStatus(all, c.newRS, c.d, NOW);
      const cond = getDeploymentCondition(s, DEPLOYMENT_PROGRESSING);
      if (!c.status) {
        assert.equal(cond, undefined);
        return;
      }
      assert.ok(cond, "a Progressing condition");
      assert.equal(cond.status, c.status);
      assert.equal(cond.reason, c.reason);
      if (c.lastUpdate) assert.equal(cond.lastUpdateTime, testTime);
      if (c.lastTransition) assert.equal(cond.lastTransitionTime, testTime);
    });
  }

  it("messages name the new ReplicaSet, as kubectl shows them", () => {
    const d = currentDeployment(60, 3, 3, 3, 3, []);
    d.metadata!.name = "web";
    const done = rolloutStatus([newRSWithAvailable("web-7d9c5b", 3, 3, 3)], newRSWithAvailable("web-7d9c5b", 3, 3, 3), d, NOW);
    assert.equal(getDeploymentCondition(done, DEPLOYMENT_PROGRESSING)?.message, 'ReplicaSet "web-7d9c5b" has successfully progressed.');
    const moving = rolloutStatus([newRSWithAvailable("web-7d9c5b", 3, 1, 0)], newRSWithAvailable("web-7d9c5b", 3, 1, 0), currentDeployment(60, 3, 0, 0, 0, []), NOW);
    assert.equal(getDeploymentCondition(moving, DEPLOYMENT_PROGRESSING)?.message, 'ReplicaSet "web-7d9c5b" is progressing.');
  });
});

describe("replica failures", () => {
  const failing = (name: string, message: string) => {
    const r = newRSWithAvailable(name, 1, 0, 0);
    r.status!.conditions = [{ type: DEPLOYMENT_REPLICA_FAILURE, status: "True", reason: "FailedCreate", message, lastTransitionTime: testTime }];
    return r;
  };

  it("surface as the Deployment's ReplicaFailure, the new ReplicaSet's first", () => {
    const oldRS = failing("old", "old broke");
    const newRS = failing("new", "new broke");
    assert.equal(getReplicaFailures([oldRS, newRS], newRS)[0]?.message, "new broke");
    assert.equal(getReplicaFailures([oldRS, newRSWithAvailable("ok", 1, 1, 1)], newRSWithAvailable("ok", 1, 1, 1))[0]?.message, "old broke");
    const s = rolloutStatus([oldRS, newRS], newRS, currentDeployment(undefined, 1, 0, 0, 0, []), NOW);
    const cond = getDeploymentCondition(s, DEPLOYMENT_REPLICA_FAILURE);
    assert.deepEqual(cond, { type: DEPLOYMENT_REPLICA_FAILURE, status: "True", reason: "FailedCreate", message: "new broke", lastTransitionTime: testTime, lastUpdateTime: testTime });
  });

  it("and go away once the ReplicaSets recover", () => {
    const d = currentDeployment(undefined, 1, 1, 1, 1, [{ type: DEPLOYMENT_REPLICA_FAILURE, status: "True", reason: "FailedCreate" }]);
    const healthy = newRSWithAvailable("ok", 1, 1, 1);
    assert.equal(getDeploymentCondition(rolloutStatus([healthy], healthy, d, NOW), DEPLOYMENT_REPLICA_FAILURE), undefined);
  });
});
