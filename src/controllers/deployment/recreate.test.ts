import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Deployment, ReplicaSet } from "kubernetes-types/apps/v1.js";
import type { Pod } from "kubernetes-types/core/v1.js";
import { setReplicasAnnotations, REVISION_ANNOTATION } from "./annotations.js";
import { RECREATE, specReplicas } from "./fenceposts.js";
import { catchUp, newDeployment, newRSWithStatus, ownedRS, rs, syncHarness, w } from "./fixtures.js";
import { oldPodsRunning } from "./recreate.js";
import type { PodMap } from "./sync.js";

function pod(phase: string, owner?: ReplicaSet): Pod {
  return {
    metadata: {
      name: `p-${Math.random().toString(36).slice(2)}`,
      namespace: "default",
      labels: { app: "web" },
      ...(owner ? { ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: owner.metadata!.name!, uid: owner.metadata!.uid!, controller: true }] } : {}),
    },
    status: { phase },
  };
}

describe("oldPodsRunning (TestOldPodsRunning)", () => {
  const withUID = (uid: string) => {
    const r = rs(uid, 0, undefined, undefined);
    w(r.metadata!).uid = uid;
    return r;
  };
  const mapOf = (entries: [string, string[]][]): PodMap => new Map(entries.map(([uid, phases]) => [uid, phases.map((p) => pod(p))]));
  const cases: [string, ReplicaSet | undefined, ReplicaSet[], PodMap, boolean][] = [
    ["no old RSs", undefined, [], new Map(), false],
    ["old RSs with running pods", undefined, [withUID("some-uid"), withUID("other-uid")], mapOf([["some-uid", ["Running"]], ["other-uid", ["Running"]]]), true],
    ["old RSs without pods but with non-zero status replicas", undefined, [newRSWithStatus("rs-1", 0, 1, {})], new Map(), true],
    ["old RSs without pods or non-zero status replicas", undefined, [newRSWithStatus("rs-1", 0, 0, {})], new Map(), false],
    ["old RSs with zero status replicas but pods in terminal state are present", undefined, [newRSWithStatus("rs-1", 0, 0, {})], mapOf([["uid-1", ["Failed", "Succeeded"]]]), false],
    ["old RSs with zero status replicas but pod in unknown phase present", undefined, [newRSWithStatus("rs-1", 0, 0, {})], mapOf([["uid-1", ["Unknown"]]]), true],
    ["old RSs with zero status replicas with pending pod present", undefined, [newRSWithStatus("rs-1", 0, 0, {})], mapOf([["uid-1", ["Pending"]]]), true],
    ["old RSs with zero status replicas with running pod present", undefined, [newRSWithStatus("rs-1", 0, 0, {})], mapOf([["uid-1", ["Running"]]]), true],
    ["old RSs with zero status replicas but pods in terminal state and pending are present", undefined, [newRSWithStatus("rs-1", 0, 0, {})], mapOf([["uid-1", ["Failed", "Succeeded", "Pending"]]]), true],
    ["pods of the new ReplicaSet do not count", withUID("new-uid"), [newRSWithStatus("rs-1", 0, 0, {})], mapOf([["new-uid", ["Running"]]]), false],
  ];
  for (const [name, newRS, oldRSs, podMap, want] of cases) it(name, () => assert.equal(oldPodsRunning(newRS, oldRSs, podMap), want));
});

function recreateDeployment(image: string): Deployment {
  const d = newDeployment("web", 3, { selector: { app: "web" } });
  d.spec!.strategy = { type: RECREATE };
  d.spec!.progressDeadlineSeconds = 600;
  d.spec!.template.spec!.containers[0]!.image = image;
  return d;
}

describe("rolloutRecreate", () => {
  it("scales old ReplicaSets to 0, waits for their pods, then creates the new one at full size", async () => {
    const d = recreateDeployment("nginx:2");
    const old = ownedRS(recreateDeployment("nginx:1"), "web-1", 3, "2024-01-01T00:00:00Z");
    old.metadata!.ownerReferences![0]!.uid = d.metadata!.uid!;
    old.metadata!.annotations = { [REVISION_ANNOTATION]: "1" };
    setReplicasAnnotations(old, 3, 3);
    w(old).status = { replicas: 3, availableReplicas: 3, readyReplicas: 3 };
    const oldPods = [pod("Running", old), pod("Running", old), pod("Running", old)];
    const h = syncHarness({ deployments: [d], replicaSets: [old], pods: oldPods });

    // 1: old scaled down, nothing created.
    await h.syncer.syncDeployment("default/web");
    catchUp(h);
    assert.deepEqual(h.recorder.lines(), ["Normal ScalingReplicaSet Scaled down replica set web-1 to 0 from 3"]);
    assert.equal(h.api.actions.filter((a) => a.verb === "create").length, 0);

    // 2: the old ReplicaSet says 0 but a pod is still terminating: wait.
    w(h.replicaSets[0]!).status = { replicas: 0 };
    h.pods.splice(0, 2);
    await h.syncer.syncDeployment("default/web");
    catchUp(h);
    w(h.replicaSets.find((r) => r.metadata?.name === "web-1")!).status = { replicas: 0 };
    assert.equal(h.api.actions.filter((a) => a.verb === "create").length, 0, "no new pods while an old one runs");

    // 3: all gone: the new ReplicaSet comes, at full size, revision 2.
    h.pods.length = 0;
    await h.syncer.syncDeployment("default/web");
    const created = h.api.actions.filter((a) => a.verb === "create").map((a) => a.object as ReplicaSet);
    assert.equal(created.length, 1);
    assert.equal(specReplicas(created[0]), 3);
    assert.equal(created[0]?.metadata?.annotations?.[REVISION_ANNOTATION], "2");
    assert.match(h.recorder.lines().at(-1) ?? "", /^Normal ScalingReplicaSet Scaled up replica set web-[a-z0-9]+ to 3$/);
  });
});
