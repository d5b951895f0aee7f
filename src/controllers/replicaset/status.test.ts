import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ReplicaSet, ReplicaSetCondition, ReplicaSetStatus } from "kubernetes-types/apps/v1.js";
import type { Pod } from "kubernetes-types/core/v1.js";
import { rfc3339 } from "../common/time.js";
import { newPod, newReplicaSet } from "./fixtures.js";
import { calculateStatus, getCondition, REPLICA_FAILURE, type ReplicaSetApi, removeCondition, setCondition, updateReplicaSetStatus } from "./status.js";

const NOW = Date.UTC(2024, 0, 1, 12);

describe("calculateStatus (upstream TestCalculateStatus)", () => {
  const labelMap = { name: "foo" };
  const fullLabelMap = { name: "foo", type: "production" };
  const notFullyLabelled = newReplicaSet(1, labelMap);
  const fullyLabelled = newReplicaSet(2, fullLabelMap);
  const longMinReady = newReplicaSet(1, fullLabelMap);
  longMinReady.spec!.minReadySeconds = 3600;
  const cases: [string, ReplicaSet, Pod[], Partial<ReplicaSetStatus>][] = [
    ["1 fully labelled pod", fullyLabelled, [newPod("pod1", fullyLabelled, "Running", true)], { replicas: 1, fullyLabeledReplicas: 1, readyReplicas: 1, availableReplicas: 1 }],
    ["1 not fully labelled pod", notFullyLabelled, [newPod("pod1", notFullyLabelled, "Running", true)], { replicas: 1, fullyLabeledReplicas: 0, readyReplicas: 1, availableReplicas: 1 }],
    [
      "2 fully labelled pods",
      fullyLabelled,
      [newPod("pod1", fullyLabelled, "Running", true), newPod("pod2", fullyLabelled, "Running", true)],
      { replicas: 2, fullyLabeledReplicas: 2, readyReplicas: 2, availableReplicas: 2 },
    ],
    [
      "2 not fully labelled pods",
      notFullyLabelled,
      [newPod("pod1", notFullyLabelled, "Running", true), newPod("pod2", notFullyLabelled, "Running", true)],
      { replicas: 2, fullyLabeledReplicas: 0, readyReplicas: 2, availableReplicas: 2 },
    ],
    [
      "1 fully labelled pod, 1 not fully labelled pod",
      notFullyLabelled,
      [newPod("pod1", notFullyLabelled, "Running", true), newPod("pod2", fullyLabelled, "Running", true)],
      { replicas: 2, fullyLabeledReplicas: 1, readyReplicas: 2, availableReplicas: 2 },
    ],
    ["1 non-ready pod", fullyLabelled, [newPod("pod1", fullyLabelled, "Pending", true)], { replicas: 1, fullyLabeledReplicas: 1, readyReplicas: 0, availableReplicas: 0 }],
    ["1 ready but non-available pod", longMinReady, [newPod("pod1", longMinReady, "Running", true)], { replicas: 1, fullyLabeledReplicas: 1, readyReplicas: 1, availableReplicas: 0 }],
    [
      "1 pod ready for longer than minReadySeconds",
      longMinReady,
      [newPod("pod1", longMinReady, "Running", true, rfc3339(NOW - 3601_000))],
      { replicas: 1, fullyLabeledReplicas: 1, readyReplicas: 1, availableReplicas: 1 },
    ],
    [
      "1 pod ready for exactly minReadySeconds (not yet available)",
      longMinReady,
      [newPod("pod1", longMinReady, "Running", true, rfc3339(NOW - 3600_000))],
      { replicas: 1, fullyLabeledReplicas: 1, readyReplicas: 1, availableReplicas: 0 },
    ],
  ];
  for (const [name, rs, pods, want] of cases) {
    it(name, () => {
      assert.deepEqual(calculateStatus(rs, pods, undefined, NOW), want);
    });
  }
});

describe("calculateStatus conditions (upstream TestCalculateStatusConditions)", () => {
  const labelMap = { name: "foo" };
  const rs = newReplicaSet(2, labelMap);
  const failing: ReplicaSet = { ...newReplicaSet(10, labelMap), status: { replicas: 0, conditions: [{ type: REPLICA_FAILURE, status: "True" }] } };
  const fake = new Error("fake manageReplicasErr");
  const cases: [string, ReplicaSet, number, Error | undefined, ReplicaSetCondition[] | undefined][] = [
    ["manageReplicasErr != nil && failureCond == nil, diff < 0", rs, 1, fake, [{ type: REPLICA_FAILURE, status: "True", reason: "FailedCreate", message: "fake manageReplicasErr" }]],
    ["manageReplicasErr != nil && failureCond == nil, diff > 0", rs, 3, fake, [{ type: REPLICA_FAILURE, status: "True", reason: "FailedDelete", message: "fake manageReplicasErr" }]],
    ["manageReplicasErr == nil && failureCond != nil", failing, 1, undefined, undefined],
    ["manageReplicasErr != nil && failureCond != nil", failing, 1, fake, [{ type: REPLICA_FAILURE, status: "True" }]],
    ["manageReplicasErr == nil && failureCond == nil", rs, 1, undefined, undefined],
  ];
  for (const [name, owner, podCount, err, want] of cases) {
    it(name, () => {
      const pods = Array.from({ length: podCount }, (_, i) => newPod(`pod${i}`, owner, "Running", true));
      const got = calculateStatus(owner, pods, err, NOW).conditions;
      const expected = want?.map((c) => (c.reason ? { ...c, lastTransitionTime: rfc3339(NOW) } : c));
      assert.deepEqual(got, expected);
    });
  }

  it("never modifies the cached status", () => {
    const before = structuredClone(failing.status);
    calculateStatus(failing, [], undefined, NOW);
    assert.deepEqual(failing.status, before);
  });
});

describe("conditions (upstream TestGetCondition, TestSetCondition, TestRemoveCondition)", () => {
  const imagePullBackOff = (): ReplicaSetCondition => ({ type: "ImagePullBackOff", status: "True", reason: "NonExistentImage" });
  const replicaFailure = (): ReplicaSetCondition => ({ type: REPLICA_FAILURE, status: "True", reason: "OtherFailure" });
  const replicaFailure2 = (): ReplicaSetCondition => ({ type: REPLICA_FAILURE, status: "True", reason: "AnotherFailure" });

  it("gets", () => {
    const status: ReplicaSetStatus = { replicas: 0, conditions: [replicaFailure()] };
    assert.ok(getCondition(status, REPLICA_FAILURE));
    assert.equal(getCondition(status, "ImagePullBackOff"), undefined);
  });

  it("sets for the first time, alongside others, and overwrites", () => {
    const s1: ReplicaSetStatus = { replicas: 0 };
    setCondition(s1, replicaFailure());
    assert.deepEqual(s1.conditions, [replicaFailure()]);
    const s2: ReplicaSetStatus = { replicas: 0, conditions: [imagePullBackOff()] };
    setCondition(s2, replicaFailure());
    assert.deepEqual(s2.conditions, [imagePullBackOff(), replicaFailure()]);
    const s3: ReplicaSetStatus = { replicas: 0, conditions: [replicaFailure()] };
    setCondition(s3, replicaFailure2());
    assert.deepEqual(s3.conditions, [replicaFailure2()]);
  });

  it("removes", () => {
    const empty: ReplicaSetStatus = { replicas: 0 };
    removeCondition(empty, REPLICA_FAILURE);
    assert.deepEqual(empty, { replicas: 0 });
    const one: ReplicaSetStatus = { replicas: 0, conditions: [replicaFailure()] };
    removeCondition(one, REPLICA_FAILURE);
    assert.deepEqual(one, { replicas: 0 });
    const other: ReplicaSetStatus = { replicas: 0, conditions: [replicaFailure()] };
    removeCondition(other, "ImagePullBackOff");
    assert.deepEqual(other, { replicas: 0, conditions: [replicaFailure()] });
  });
});

describe("updateReplicaSetStatus", () => {
  function fakeApi(opts: { failUpdates?: number; fresh?: ReplicaSet } = {}) {
    const writes: ReplicaSet[] = [];
    let failures = opts.failUpdates ?? 0;
    let gets = 0;
    const api: ReplicaSetApi = {
      async get() {
        gets++;
        return opts.fresh!;
      },
      async updateStatus(rs) {
        writes.push(rs);
        if (failures-- > 0) throw new Error("conflict");
        return { ...rs, metadata: { ...rs.metadata, resourceVersion: "99" } };
      },
    };
    return { api, writes, gets: () => gets };
  }

  it("writes nothing when counts, conditions and observedGeneration are current", async () => {
    const rs: ReplicaSet = { ...newReplicaSet(1, { a: "b" }), status: { replicas: 1, readyReplicas: 1, observedGeneration: 1 } };
    const f = fakeApi();
    const got = await updateReplicaSetStatus(f.api, rs, { replicas: 1, fullyLabeledReplicas: 0, readyReplicas: 1, availableReplicas: 0 }, "ReplicaSet");
    assert.equal(got, rs);
    assert.equal(f.writes.length, 0);
  });

  it("writes a changed status with observedGeneration, leaving zero counts out as Go's omitempty", async () => {
    const base = newReplicaSet(1, { a: "b" });
    const rs: ReplicaSet = { ...base, metadata: { ...base.metadata, generation: 3 } };
    const f = fakeApi();
    await updateReplicaSetStatus(f.api, rs, { replicas: 1, fullyLabeledReplicas: 1, readyReplicas: 0, availableReplicas: 0 }, "ReplicaSet");
    assert.deepEqual(f.writes[0]?.status, { replicas: 1, fullyLabeledReplicas: 1, observedGeneration: 3 });
  });

  it("retries once on a fresh GET, then gives up with the write's error", async () => {
    const rs = newReplicaSet(1, { a: "b" });
    const fresh = { ...rs, metadata: { ...rs.metadata, resourceVersion: "50" } };
    const ok = fakeApi({ failUpdates: 1, fresh });
    const got = await updateReplicaSetStatus(ok.api, rs, { replicas: 1 }, "ReplicaSet");
    assert.equal(ok.writes.length, 2);
    assert.equal(ok.writes[1]?.metadata?.resourceVersion, "50");
    assert.equal(got.metadata?.resourceVersion, "99");
    const bad = fakeApi({ failUpdates: 5, fresh });
    await assert.rejects(updateReplicaSetStatus(bad.api, rs, { replicas: 1 }, "ReplicaSet"), /conflict/);
    assert.equal(bad.writes.length, 2);
    assert.equal(bad.gets(), 1);
  });
});
