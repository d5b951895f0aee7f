import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ReplicationController } from "kubernetes-types/core/v1.js";
import { replicaSetToReplicationController, replicationControllerToReplicaSet } from "./kind.js";

describe("ReplicationController as ReplicaSet", () => {
  const rc: ReplicationController = {
    apiVersion: "v1",
    kind: "ReplicationController",
    metadata: { name: "web", namespace: "default", uid: "rc-uid", generation: 2 },
    spec: {
      replicas: 3,
      minReadySeconds: 5,
      selector: { app: "web" },
      template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "c", image: "i" }] } },
    },
    status: { replicas: 1, readyReplicas: 1, conditions: [{ type: "ReplicaFailure", status: "True", reason: "FailedCreate" }] },
  };

  it("turns the map selector into matchLabels and keeps spec, metadata and status", () => {
    const rs = replicationControllerToReplicaSet(rc);
    assert.deepEqual(rs.spec, {
      replicas: 3,
      minReadySeconds: 5,
      selector: { matchLabels: { app: "web" } },
      template: rc.spec?.template,
    });
    assert.equal(rs.metadata, rc.metadata);
    assert.deepEqual(rs.status, rc.status);
  });

  it("round-trips", () => {
    assert.deepEqual(replicaSetToReplicationController(replicationControllerToReplicaSet(rc)), rc);
  });

  it("keeps a missing selector missing: it selects nothing", () => {
    const rs = replicationControllerToReplicaSet({ ...rc, spec: { replicas: 1 } });
    assert.equal(rs.spec?.selector, undefined);
  });
});
