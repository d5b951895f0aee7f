import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Deployment } from "kubernetes-types/apps/v1.js";
import { rfc3339 } from "../common/time.js";
import {
  CHANGE_CAUSE_ANNOTATION,
  DEPRECATED_ROLLBACK_TO_ANNOTATION,
  DESIRED_REPLICAS_ANNOTATION,
  REVISION_ANNOTATION,
  setReplicasAnnotations,
} from "./annotations.js";
import {
  DEPLOYMENT_PROGRESSING,
  getDeploymentCondition,
  NEW_RS_AVAILABLE_REASON,
  PAUSED_DEPLOY_REASON,
  RESUMED_DEPLOY_REASON,
} from "./conditions.js";
import { specReplicas } from "./fenceposts.js";
import { catchUp, lastStatusWrite, NOW, ownedRS, rs, rsControllerRound, syncHarness, syncOnce, w, webDeployment } from "./fixtures.js";
import { DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY } from "./template.js";

const oldTimestamp = "2016-05-20T01:00:00Z";
const olderTimestamp = "2016-05-20T00:00:00Z";

describe("syncDeployment", () => {
  it("does nothing for a Deployment gone from the cache", async () => {
    const h = syncHarness();
    await h.syncer.syncDeployment("default/web");
    assert.equal(h.api.actions.length, 0);
  });

  it("refuses a selector that selects everything, with a Warning, and records the generation as observed", async () => {
    const d = webDeployment();
    d.spec!.selector = {};
    w(d.metadata!).generation = 2;
    const h = syncHarness({ deployments: [d] });
    await h.syncer.syncDeployment("default/web");
    assert.deepEqual(h.recorder.lines(), ["Warning SelectingAll This deployment is selecting all pods. A non-empty selector is required."]);
    assert.equal(lastStatusWrite(h)?.status?.observedGeneration, 2);
    assert.equal(h.api.actions.filter((a) => a.verb === "create").length, 0);
  });

  it("adopts a matching orphan ReplicaSet and releases an owned one that stopped matching", async () => {
    const d = webDeployment();
    const orphan = rs("orphan", 0, { app: "web" }, oldTimestamp);
    orphan.metadata!.labels = { app: "web" };
    const strayed = ownedRS(d, "strayed", 0, oldTimestamp);
    strayed.metadata!.labels = { app: "elsewhere" };
    const h = syncHarness({ deployments: [d], replicaSets: [orphan, strayed] });
    const claimed = await h.syncer.getReplicaSetsForDeployment(structuredClone(d));
    assert.deepEqual(
      claimed.map((r) => r.metadata?.name),
      ["orphan"],
    );
    const patches = h.api.actions.filter((a) => a.verb === "patch");
    assert.deepEqual(
      patches.map((p) => p.name),
      ["orphan", "strayed"],
    );
    assert.deepEqual((patches[0]!.patch as { metadata: { ownerReferences: unknown[] } }).metadata.ownerReferences, [
      { apiVersion: "apps/v1", kind: "Deployment", name: "web", uid: d.metadata!.uid, controller: true, blockOwnerDeletion: true },
    ]);
    assert.deepEqual((patches[1]!.patch as { metadata: { ownerReferences: unknown[] } }).metadata.ownerReferences, [{ $patch: "delete", uid: d.metadata!.uid }]);
    // The live re-read before adopting.
    assert.equal(h.api.actions[0]?.verb, "get");
  });

  it("rolls out a new Deployment: one ReplicaSet of full size, then status and revision", async () => {
    const h = syncHarness({ deployments: [webDeployment()] });
    await syncOnce(h);
    assert.equal(h.replicaSets.length, 1);
    assert.equal(h.replicaSets[0]?.spec?.replicas, 3);
    assert.equal(h.deployments.get("default/web")?.metadata?.annotations?.[REVISION_ANNOTATION], "1");
  });

  it("a paused Deployment rolls nothing out and says so; resuming says so too", async () => {
    const d = webDeployment();
    const current = ownedRS(d, "web-1", 3, oldTimestamp);
    setReplicasAnnotations(current, 3, 4);
    current.metadata!.annotations![REVISION_ANNOTATION] = "1";
    const paused = webDeployment(3, "nginx:2");
    paused.spec!.paused = true;
    const h = syncHarness({ deployments: [paused], replicaSets: [current] });
    await syncOnce(h);
    assert.equal(h.api.actions.filter((a) => a.verb === "create").length, 0, "no new ReplicaSet while paused");
    const cond = getDeploymentCondition(h.deployments.get("default/web")?.status, DEPLOYMENT_PROGRESSING);
    assert.deepEqual([cond?.status, cond?.reason, cond?.message], ["Unknown", PAUSED_DEPLOY_REASON, "Deployment is paused"]);
    h.deployments.get("default/web")!.spec!.paused = false;
    await syncOnce(h);
    assert.equal(h.api.actions.filter((a) => a.verb === "create").length, 1, "resumed: the rollout starts");
    const resumed = h.api.actions.filter((a) => a.verb === "updateStatus").map((a) => getDeploymentCondition((a.object as Deployment).status, DEPLOYMENT_PROGRESSING)?.reason);
    assert.ok(resumed.includes(RESUMED_DEPLOY_REASON), `saw ${resumed.join(",")}`);
  });

  it("a scaling event scales the only active ReplicaSet, not a rollout step", async () => {
    const d = webDeployment(5);
    const current = ownedRS(d, "web-1", 3, oldTimestamp);
    setReplicasAnnotations(current, 3, 4);
    current.metadata!.annotations![REVISION_ANNOTATION] = "1";
    const h = syncHarness({ deployments: [d], replicaSets: [current] });
    await syncOnce(h);
    assert.deepEqual(h.recorder.lines(), ["Normal ScalingReplicaSet Scaled up replica set web-1 to 5 from 3"]);
    assert.deepEqual(h.replicaSets[0]?.metadata?.annotations?.[DESIRED_REPLICAS_ANNOTATION], "5");
  });

  it("rolls back to the revision the deprecated rollbackTo annotation names", async () => {
    const v1 = webDeployment(3, "nginx:1");
    const d = webDeployment(3, "nginx:2");
    d.metadata!.annotations = { [DEPRECATED_ROLLBACK_TO_ANNOTATION]: "0", [REVISION_ANNOTATION]: "2" };
    const r1 = ownedRS(d, "web-1", 0, olderTimestamp);
    r1.spec!.template = structuredClone(v1.spec!.template);
    r1.spec!.template.metadata!.labels![DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY] = "h1";
    r1.metadata!.annotations = { [REVISION_ANNOTATION]: "1", [CHANGE_CAUSE_ANNOTATION]: "first" };
    const r2 = ownedRS(d, "web-2", 3, oldTimestamp);
    r2.metadata!.annotations = { [REVISION_ANNOTATION]: "2" };
    setReplicasAnnotations(r2, 3, 4);
    const h = syncHarness({ deployments: [d], replicaSets: [r1, r2] });
    await syncOnce(h);
    const updated = h.api.actions.find((a) => a.verb === "update" && a.resource === "deployments")?.object as Deployment;
    assert.equal(updated.spec?.template.spec?.containers[0]?.image, "nginx:1");
    assert.deepEqual(updated.spec?.template.metadata?.labels, { app: "web" }, "the hash label stays with the ReplicaSet");
    assert.deepEqual(updated.metadata?.annotations, { [REVISION_ANNOTATION]: "2", [CHANGE_CAUSE_ANNOTATION]: "first" });
    assert.ok(h.recorder.lines().includes('Normal DeploymentRollback Rolled back deployment "web" to revision 1'));
  });

  it("only writes status for a Deployment being deleted", async () => {
    const d = webDeployment();
    w(d.metadata!).deletionTimestamp = rfc3339(NOW);
    const h = syncHarness({ deployments: [d] });
    await syncOnce(h);
    assert.deepEqual(
      h.api.actions.map((a) => a.verb),
      ["updateStatus"],
    );
  });

  it("rejects an unknown strategy", async () => {
    const d = webDeployment();
    d.spec!.strategy = { type: "Canary" };
    const h = syncHarness({ deployments: [d] });
    await assert.rejects(h.syncer.syncDeployment("default/web"), /unexpected deployment strategy type: Canary/);
  });
});

describe("a rolling update, step by step", () => {
  it("with maxSurge 1 / maxUnavailable 0 never has fewer than 3 available or more than 4 pods, and completes", async () => {
    const h = syncHarness({ deployments: [webDeployment(3, "nginx:1")] });
    const available = () => h.replicaSets.reduce((n, r) => n + (r.status?.availableReplicas ?? 0), 0);
    const pods = () => h.replicaSets.reduce((n, r) => n + (r.status?.replicas ?? 0), 0);
    for (let i = 0; i < 5; i++) {
      await syncOnce(h);
      rsControllerRound(h);
    }
    assert.equal(available(), 3);
    // kubectl set image.
    const d = h.deployments.get("default/web")!;
    d.spec!.template.spec!.containers[0]!.image = "nginx:2";
    w(d.metadata!).generation = 2;
    h.api.deployments.set("default/web", structuredClone(d));
    let done = false;
    for (let round = 0; round < 40 && !done; round++) {
      await syncOnce(h);
      rsControllerRound(h);
      assert.ok(available() >= 3, `round ${round}: ${available()} available`);
      assert.ok(pods() <= 4, `round ${round}: ${pods()} pods`);
      const s = h.deployments.get("default/web")!.status;
      done = getDeploymentCondition(s, DEPLOYMENT_PROGRESSING)?.reason === NEW_RS_AVAILABLE_REASON && s?.updatedReplicas === 3 && s.replicas === 3 && s.observedGeneration === 2;
    }
    assert.ok(done, "the rollout completed");
    const byName = new Map(h.replicaSets.map((r) => [r.metadata?.annotations?.[REVISION_ANNOTATION], specReplicas(r)]));
    assert.deepEqual(Object.fromEntries(byName), { "1": 0, "2": 3 });
    assert.equal(h.deployments.get("default/web")?.metadata?.annotations?.[REVISION_ANNOTATION], "2");
  });
});

describe("progressDeadlineSeconds", () => {
  it("a rollout without progress is looked at again at its deadline, then reported as ProgressDeadlineExceeded", async () => {
    const d = webDeployment(1);
    d.spec!.progressDeadlineSeconds = 10;
    const h = syncHarness({ deployments: [d] });
    await syncOnce(h);
    // The ReplicaSet controller made the pod, which never becomes Ready.
    rsControllerRound(h);
    for (const r of h.api.replicaSets.values()) w(r).status = { replicas: 1 };
    catchUp(h);
    await syncOnce(h);
    await syncOnce(h);
    const cond = getDeploymentCondition(h.deployments.get("default/web")?.status, DEPLOYMENT_PROGRESSING);
    assert.equal(cond?.reason, "ReplicaSetUpdated");
    // Nothing moves: the next look is due when the deadline passes (plus a second against skew).
    const due = h.requeues.at(-1);
    assert.equal(due?.key, "default/web");
    assert.equal(due?.ms, Date.parse(cond!.lastUpdateTime!) + 10_000 - NOW + 1000);
    h.clock.advance(11_000);
    await syncOnce(h);
    const timedOut = getDeploymentCondition(h.deployments.get("default/web")?.status, DEPLOYMENT_PROGRESSING);
    assert.deepEqual([timedOut?.status, timedOut?.reason], ["False", "ProgressDeadlineExceeded"]);
    assert.match(timedOut?.message ?? "", /^ReplicaSet "web-[a-z0-9]+" has timed out progressing\.$/);
  });
});
