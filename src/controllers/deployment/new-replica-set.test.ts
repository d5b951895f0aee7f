import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ReplicaSet } from "kubernetes-types/apps/v1.js";
import {
  CHANGE_CAUSE_ANNOTATION,
  DESIRED_REPLICAS_ANNOTATION,
  MAX_REPLICAS_ANNOTATION,
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
} from "./annotations.js";
import {
  DEPLOYMENT_PROGRESSING,
  FAILED_RS_CREATE_REASON,
  FOUND_NEW_RS_REASON,
  getDeploymentCondition,
  NEW_REPLICA_SET_REASON,
} from "./conditions.js";
import { lastStatusWrite, ownedRS, rs, syncHarness, webDeployment } from "./fixtures.js";
import { computeHash, DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY } from "./template.js";

const oldTimestamp = "2016-05-20T01:00:00Z";
const olderTimestamp = "2016-05-20T00:00:00Z";

describe("getNewReplicaSet", () => {
  it("creates the new ReplicaSet at full size, named and labelled by the pod-template-hash", async () => {
    const d = webDeployment(1000);
    const h = syncHarness({ deployments: [d] });
    const created = await h.syncer.getNewReplicaSet(structuredClone(d), [], [], true);
    const hash = computeHash(d.spec!.template, undefined);
    assert.equal(created?.metadata?.name, `web-${hash}`);
    const sent = h.api.actions.find((a) => a.verb === "create")?.object as ReplicaSet;
    assert.equal(sent.spec?.replicas, 1000, "no slow ramp without old pods");
    assert.deepEqual(sent.metadata?.labels, { app: "web", [DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY]: hash });
    assert.deepEqual(sent.spec?.selector, { matchLabels: { app: "web", [DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY]: hash } });
    assert.deepEqual(sent.spec?.template?.metadata?.labels, { app: "web", [DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY]: hash });
    assert.deepEqual(sent.metadata?.ownerReferences, [{ apiVersion: "apps/v1", kind: "Deployment", name: "web", uid: d.metadata!.uid, controller: true, blockOwnerDeletion: true }]);
    assert.deepEqual(sent.metadata?.annotations, { [REVISION_ANNOTATION]: "1", [DESIRED_REPLICAS_ANNOTATION]: "1000", [MAX_REPLICAS_ANNOTATION]: "1001" });
    assert.deepEqual(h.recorder.lines(), [`Normal ScalingReplicaSet Scaled up replica set web-${hash} to 1000`]);
    const written = lastStatusWrite(h);
    assert.equal(written?.metadata?.annotations?.[REVISION_ANNOTATION], "1");
    const cond = getDeploymentCondition(written?.status, DEPLOYMENT_PROGRESSING);
    assert.equal(cond?.reason, NEW_REPLICA_SET_REASON);
    assert.equal(cond?.message, `Created new replica set "web-${hash}"`);
  });

  it("gives a new ReplicaSet the next revision and the Deployment's change-cause", async () => {
    const d = webDeployment(3, "nginx:2");
    d.metadata!.annotations = { [CHANGE_CAUSE_ANNOTATION]: "upgrade to 2" };
    const old = ownedRS(webDeployment(3, "nginx:1"), "web-old", 3, oldTimestamp);
    old.metadata!.annotations = { [REVISION_ANNOTATION]: "4" };
    const h = syncHarness({ deployments: [d], replicaSets: [old] });
    await h.syncer.getNewReplicaSet(structuredClone(d), [old], [old], true);
    const sent = h.api.actions.find((a) => a.verb === "create")?.object as ReplicaSet;
    assert.equal(sent.metadata?.annotations?.[REVISION_ANNOTATION], "5");
    assert.equal(sent.metadata?.annotations?.[CHANGE_CAUSE_ANNOTATION], "upgrade to 2");
    // 3 old + maxSurge 1: room for one new pod.
    assert.equal(sent.spec?.replicas, 1);
  });

  it("an existing ReplicaSet taken back by a rollback gets the next revision and keeps the old one in history", async () => {
    const d = webDeployment(3, "nginx:1");
    const back = ownedRS(d, "web-1", 0, olderTimestamp);
    back.metadata!.annotations = { [REVISION_ANNOTATION]: "1" };
    const current = ownedRS(webDeployment(3, "nginx:2"), "web-2", 3, oldTimestamp);
    current.metadata!.annotations = { [REVISION_ANNOTATION]: "2" };
    const h = syncHarness({ deployments: [d], replicaSets: [back, current] });
    const got = await h.syncer.getNewReplicaSet(structuredClone(d), [back, current], [current], false);
    assert.equal(got?.metadata?.annotations?.[REVISION_ANNOTATION], "3");
    assert.equal(got?.metadata?.annotations?.[REVISION_HISTORY_ANNOTATION], "1");
    assert.deepEqual(
      h.api.actions.map((a) => a.verb),
      ["update"],
      "the Deployment's revision follows on the next sync",
    );
  });

  it("an up-to-date ReplicaSet syncs the Deployment's revision and notes it was found", async () => {
    const d = webDeployment();
    const mine = ownedRS(d, "web-1", 3, oldTimestamp);
    mine.metadata!.annotations = { [REVISION_ANNOTATION]: "1" };
    const h = syncHarness({ deployments: [d], replicaSets: [mine] });
    await h.syncer.getNewReplicaSet(structuredClone(d), [mine], [], false);
    const written = lastStatusWrite(h);
    assert.equal(written?.metadata?.annotations?.[REVISION_ANNOTATION], "1");
    const cond = getDeploymentCondition(written?.status, DEPLOYMENT_PROGRESSING);
    assert.equal(cond?.reason, FOUND_NEW_RS_REASON);
    assert.equal(cond?.message, 'Found new replica set "web-1"');
  });

  it("a name taken by another template bumps collisionCount and retries under a new name", async () => {
    const d = webDeployment();
    const hash = computeHash(d.spec!.template, undefined);
    const squatter = rs(`web-${hash}`, 1, { app: "other" }, oldTimestamp);
    squatter.spec!.template = { metadata: { labels: { app: "other" } }, spec: { containers: [{ name: "x", image: "x" }] } };
    const h = syncHarness({ deployments: [d], replicaSets: [squatter] });
    await assert.rejects(h.syncer.getNewReplicaSet(structuredClone(d), [], [], true), /already exists/);
    const written = lastStatusWrite(h);
    assert.equal(written?.status?.collisionCount, 1);
    // The next sync sees collisionCount 1 and so another hash.
    const next = structuredClone(d);
    next.status = { collisionCount: 1 };
    const created = await h.syncer.getNewReplicaSet(next, [], [], true);
    assert.equal(created?.metadata?.name, `web-${computeHash(d.spec!.template, 1)}`);
    assert.notEqual(created?.metadata?.name, squatter.metadata?.name);
  });

  it("an existing ReplicaSet of its own (a slow cache) is taken as created, without an event", async () => {
    const d = webDeployment();
    const hash = computeHash(d.spec!.template, undefined);
    const mine = ownedRS(d, `web-${hash}`, 3, oldTimestamp);
    mine.spec!.template!.metadata!.labels![DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY] = hash;
    const h = syncHarness({ deployments: [d], replicaSets: [mine] });
    // Not in the list the sync works from (the cache lagged), but in the API and the cache by name.
    const got = await h.syncer.getNewReplicaSet(structuredClone(d), [], [], true);
    assert.equal(got?.metadata?.name, mine.metadata?.name);
    assert.equal(h.recorder.events.length, 0);
  });

  it("a failed create is reported in Progressing and as a Warning event", async () => {
    const d = webDeployment();
    const h = syncHarness({ deployments: [d] });
    h.api.fail = (a) => (a.verb === "create" ? new Error("quota exceeded") : undefined);
    await assert.rejects(h.syncer.getNewReplicaSet(structuredClone(d), [], [], true), /quota exceeded/);
    const cond = getDeploymentCondition(lastStatusWrite(h)?.status, DEPLOYMENT_PROGRESSING);
    assert.equal(cond?.status, "False");
    assert.equal(cond?.reason, FAILED_RS_CREATE_REASON);
    assert.match(cond?.message ?? "", /^Failed to create new replica set "web-[a-z0-9]+": quota exceeded$/);
    assert.match(h.recorder.lines()[0] ?? "", /^Warning ReplicaSetCreateError Failed to create new replica set/);
  });
});
