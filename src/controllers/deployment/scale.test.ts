import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Deployment, ReplicaSet } from "kubernetes-types/apps/v1.js";
import { notFound } from "../../machinery/status-error.js";
import { rfc3339 } from "../common/time.js";
import {
  REVISION_ANNOTATION,
  setReplicasAnnotations,
} from "./annotations.js";
import {
  MAX_INT32,
} from "./conditions.js";
import { type IntOrString, maxSurge, specReplicas } from "./fenceposts.js";
import { newDeployment, newRSWithStatus, NOW, rs, syncHarness, w } from "./fixtures.js";

const newTimestamp = "2016-05-20T02:00:00Z";
const oldTimestamp = "2016-05-20T01:00:00Z";
const olderTimestamp = "2016-05-20T00:00:00Z";

describe("scale: proportional scaling (TestScale)", () => {
  const updatedTemplate = (replicas: number): Deployment => {
    const d = newDeployment("foo", replicas, { selector: { foo: "bar" } });
    d.spec!.template.metadata!.labels!.another = "label";
    return d;
  };
  const withStatusAvailable = (r: ReplicaSet, available: number) => {
    w(r).status = { replicas: specReplicas(r), availableReplicas: available };
    return r;
  };
  interface Case {
    name: string;
    deployment: Deployment;
    oldDeployment: Deployment;
    newRS?: ReplicaSet;
    oldRSs: ReplicaSet[];
    expectedNew?: number;
    expectedOld: number[];
    wasntUpdated?: string[];
    desiredReplicasAnnotations?: Record<string, number>;
  }
  const d = (replicas: number, maxSurge?: IntOrString, maxUnavailable?: IntOrString) => newDeployment("foo", replicas, { maxSurge, maxUnavailable });
  const cases: Case[] = [
    { name: "normal scaling event: 10 -> 12", deployment: d(12), oldDeployment: d(10), newRS: rs("foo-v1", 10, undefined, newTimestamp), oldRSs: [], expectedNew: 12, expectedOld: [] },
    { name: "normal scaling event: 10 -> 5", deployment: d(5), oldDeployment: d(10), newRS: rs("foo-v1", 10, undefined, newTimestamp), oldRSs: [], expectedNew: 5, expectedOld: [] },
    {
      name: "proportional scaling: 5 -> 10",
      deployment: d(10),
      oldDeployment: d(5),
      newRS: rs("foo-v2", 2, undefined, newTimestamp),
      oldRSs: [rs("foo-v1", 3, undefined, oldTimestamp)],
      expectedNew: 4,
      expectedOld: [6],
    },
    {
      name: "proportional scaling: 5 -> 3",
      deployment: d(3),
      oldDeployment: d(5),
      newRS: rs("foo-v2", 2, undefined, newTimestamp),
      oldRSs: [rs("foo-v1", 3, undefined, oldTimestamp)],
      expectedNew: 1,
      expectedOld: [2],
    },
    {
      name: "proportional scaling: 9 -> 4",
      deployment: d(4),
      oldDeployment: d(9),
      newRS: rs("foo-v2", 8, undefined, newTimestamp),
      oldRSs: [rs("foo-v1", 1, undefined, oldTimestamp)],
      expectedNew: 4,
      expectedOld: [0],
    },
    {
      name: "proportional scaling: 7 -> 10",
      deployment: d(10),
      oldDeployment: d(7),
      newRS: rs("foo-v3", 2, undefined, newTimestamp),
      oldRSs: [rs("foo-v2", 3, undefined, oldTimestamp), rs("foo-v1", 2, undefined, olderTimestamp)],
      expectedNew: 3,
      expectedOld: [4, 3],
    },
    {
      name: "proportional scaling: 13 -> 8",
      deployment: d(8),
      oldDeployment: d(13),
      newRS: rs("foo-v3", 2, undefined, newTimestamp),
      oldRSs: [rs("foo-v2", 8, undefined, oldTimestamp), rs("foo-v1", 3, undefined, olderTimestamp)],
      expectedNew: 1,
      expectedOld: [5, 2],
    },
    // Scales up the new replica set.
    {
      name: "leftover distribution: 3 -> 4",
      deployment: d(4),
      oldDeployment: d(3),
      newRS: rs("foo-v3", 1, undefined, newTimestamp),
      oldRSs: [rs("foo-v2", 1, undefined, oldTimestamp), rs("foo-v1", 1, undefined, olderTimestamp)],
      expectedNew: 2,
      expectedOld: [1, 1],
    },
    // Scales down the older replica set.
    {
      name: "leftover distribution: 3 -> 2",
      deployment: d(2),
      oldDeployment: d(3),
      newRS: rs("foo-v3", 1, undefined, newTimestamp),
      oldRSs: [rs("foo-v2", 1, undefined, oldTimestamp), rs("foo-v1", 1, undefined, olderTimestamp)],
      expectedNew: 1,
      expectedOld: [1, 0],
    },
    // Scales up the latest replica set first.
    {
      name: "proportional scaling (no new rs): 4 -> 5",
      deployment: d(5),
      oldDeployment: d(4),
      oldRSs: [rs("foo-v2", 2, undefined, oldTimestamp), rs("foo-v1", 2, undefined, olderTimestamp)],
      expectedOld: [3, 2],
    },
    // Scales down to zero.
    {
      name: "proportional scaling: 6 -> 0",
      deployment: d(0),
      oldDeployment: d(6),
      newRS: rs("foo-v3", 3, undefined, newTimestamp),
      oldRSs: [rs("foo-v2", 2, undefined, oldTimestamp), rs("foo-v1", 1, undefined, olderTimestamp)],
      expectedNew: 0,
      expectedOld: [0, 0],
    },
    // Scales up from zero.
    {
      name: "proportional scaling: 0 -> 6",
      deployment: d(6),
      oldDeployment: d(6),
      newRS: rs("foo-v3", 0, undefined, newTimestamp),
      oldRSs: [rs("foo-v2", 0, undefined, oldTimestamp), rs("foo-v1", 0, undefined, olderTimestamp)],
      expectedNew: 6,
      expectedOld: [0, 0],
      wasntUpdated: ["foo-v2", "foo-v1"],
    },
    // deployment.spec.replicas == 3 (1 each); scaled to 5; foo-v3 and foo-v2 should grow by 1 but foo-v2's update fails.
    {
      name: "failed rs update",
      deployment: d(5),
      oldDeployment: d(5),
      newRS: rs("foo-v3", 2, undefined, newTimestamp),
      oldRSs: [rs("foo-v2", 1, undefined, oldTimestamp), rs("foo-v1", 1, undefined, olderTimestamp)],
      expectedNew: 2,
      expectedOld: [2, 1],
      wasntUpdated: ["foo-v3", "foo-v1"],
      desiredReplicasAnnotations: { "foo-v2": 3 },
    },
    {
      name: "deployment with surge pods",
      deployment: d(20, 2),
      oldDeployment: d(10, 2),
      newRS: rs("foo-v2", 6, undefined, newTimestamp),
      oldRSs: [rs("foo-v1", 6, undefined, oldTimestamp)],
      expectedNew: 11,
      expectedOld: [11],
    },
    {
      name: "change both surge and size",
      deployment: d(50, 6),
      oldDeployment: d(10, 3),
      newRS: rs("foo-v2", 5, undefined, newTimestamp),
      oldRSs: [rs("foo-v1", 8, undefined, oldTimestamp)],
      expectedNew: 22,
      expectedOld: [34],
    },
    {
      name: "change both size and template",
      deployment: updatedTemplate(14),
      oldDeployment: newDeployment("foo", 10),
      oldRSs: [rs("foo-v2", 7, undefined, newTimestamp), rs("foo-v1", 3, undefined, oldTimestamp)],
      expectedOld: [10, 4],
    },
    {
      name: "saturated but broken new replica set does not affect old pods",
      deployment: d(2, 1, 1),
      oldDeployment: d(2, 1, 1),
      newRS: withStatusAvailable(rs("foo-v2", 2, undefined, newTimestamp), 0),
      oldRSs: [rs("foo-v1", 1, undefined, oldTimestamp)],
      expectedNew: 2,
      expectedOld: [1],
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      for (const r of [c.newRS, ...c.oldRSs]) {
        if (!r) continue;
        const desired = c.desiredReplicasAnnotations?.[r.metadata!.name!] ?? specReplicas(c.oldDeployment);
        setReplicasAnnotations(r, desired, desired + maxSurge(c.oldDeployment));
      }
      const h = syncHarness();
      const oldNames = c.oldRSs.map((r) => r.metadata!.name!);
      await h.syncer.scale(c.deployment, c.newRS, [...c.oldRSs]);
      const nameToSize = new Map<string, number>();
      for (const r of [c.newRS, ...c.oldRSs]) if (r) nameToSize.set(r.metadata!.name!, specReplicas(r));
      for (const u of h.api.rsUpdates()) if (!c.wasntUpdated?.includes(u.metadata!.name!)) nameToSize.set(u.metadata!.name!, specReplicas(u));
      if (c.newRS && c.expectedNew !== undefined) assert.equal(nameToSize.get(c.newRS.metadata!.name!), c.expectedNew, "new replicas");
      assert.deepEqual(
        oldNames.map((n) => nameToSize.get(n)),
        c.expectedOld,
        "old replicas",
      );
    });
  }

  it("records each size change as a ScalingReplicaSet event about the Deployment, related to the ReplicaSet", async () => {
    const newRS = rs("foo-v2", 2, undefined, newTimestamp);
    const oldRS = rs("foo-v1", 3, undefined, oldTimestamp);
    for (const r of [newRS, oldRS]) setReplicasAnnotations(r, 5, 5);
    const h = syncHarness();
    await h.syncer.scale(newDeployment("foo", 10), newRS, [oldRS]);
    assert.deepEqual(h.recorder.lines(), ["Normal ScalingReplicaSet Scaled up replica set foo-v1 to 6 from 3", "Normal ScalingReplicaSet Scaled up replica set foo-v2 to 4 from 2"]);
    assert.equal((h.recorder.events[0]!.regarding as { kind?: string }).kind, "Deployment");
    assert.equal((h.recorder.events[0]!.related as { name?: string }).name, "foo-v1");
  });
});

describe("cleanupDeployment (TestDeploymentController_cleanupDeployment)", () => {
  const selector = { foo: "bar" };
  const alreadyDeleted = () => {
    const r = newRSWithStatus("foo-1", 0, 0, selector);
    w(r.metadata!).deletionTimestamp = rfc3339(NOW);
    return r;
  };
  const cases: [string, () => ReplicaSet[], number, number][] = [
    ["keeps one of three scaled-down ones", () => [newRSWithStatus("foo-1", 0, 0, selector), newRSWithStatus("foo-2", 0, 0, selector), newRSWithStatus("foo-3", 0, 0, selector)], 1, 2],
    [
      "only deletes those with spec and status replicas 0",
      () => [newRSWithStatus("foo-1", 0, 0, selector), newRSWithStatus("foo-2", 0, 1, selector), newRSWithStatus("foo-3", 1, 0, selector), newRSWithStatus("foo-4", 1, 1, selector)],
      0,
      1,
    ],
    ["limit 0 deletes all scaled-down ones", () => [newRSWithStatus("foo-1", 0, 0, selector), newRSWithStatus("foo-2", 0, 0, selector)], 0, 2],
    ["never one with replicas", () => [newRSWithStatus("foo-1", 1, 1, selector), newRSWithStatus("foo-2", 1, 1, selector)], 0, 0],
    ["never one already being deleted", () => [alreadyDeleted()], 0, 0],
    ["unlimited revisionHistoryLimit", () => [newRSWithStatus("foo-1", 0, 0, selector), newRSWithStatus("foo-2", 0, 0, selector), newRSWithStatus("foo-3", 0, 0, selector)], MAX_INT32, 0],
  ];
  for (const [name, oldRSs, limit, deletions] of cases) {
    it(name, async () => {
      const h = syncHarness();
      await h.syncer.cleanupDeployment(oldRSs(), newDeployment("foo", 1, { revisionHistoryLimit: limit, selector }));
      assert.equal(h.api.actions.filter((a) => a.verb === "delete").length, deletions);
    });
  }

  it("deletes the lowest revisions first, and not one whose spec change is unobserved", async () => {
    const mk = (name: string, rev: string, gen = 1, observed = 1) => {
      const r = newRSWithStatus(name, 0, 0, selector);
      r.metadata!.annotations = { [REVISION_ANNOTATION]: rev };
      w(r.metadata!).generation = gen;
      r.status!.observedGeneration = observed;
      return r;
    };
    const h = syncHarness();
    await h.syncer.cleanupDeployment([mk("c", "3"), mk("a", "1", 2, 1), mk("b", "2"), mk("d", "4")], newDeployment("foo", 1, { revisionHistoryLimit: 1, selector }));
    assert.deepEqual(
      h.api.actions.filter((a) => a.verb === "delete").map((a) => a.name),
      ["b", "c"],
    );
  });

  it("ignores NotFound, stops at other errors", async () => {
    const h = syncHarness();
    h.api.fail = (a) => (a.verb === "delete" ? notFound({ group: "apps", resource: "replicasets" }, a.name) : undefined);
    await h.syncer.cleanupDeployment([newRSWithStatus("foo-1", 0, 0, selector)], newDeployment("foo", 1, { revisionHistoryLimit: 0, selector }));
    h.api.fail = (a) => (a.verb === "delete" ? new Error("boom") : undefined);
    await assert.rejects(h.syncer.cleanupDeployment([newRSWithStatus("foo-1", 0, 0, selector)], newDeployment("foo", 1, { revisionHistoryLimit: 0, selector })), /boom/);
  });
});
