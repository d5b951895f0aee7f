import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ReplicaSet } from "kubernetes-types/apps/v1.js";
import {
  CHANGE_CAUSE_ANNOTATION,
  copyDeploymentAnnotationsToReplicaSet,
  DESIRED_REPLICAS_ANNOTATION,
  LAST_APPLIED_CONFIG_ANNOTATION,
  lastRevision,
  MAX_REPLICAS_ANNOTATION,
  maxRevision,
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
  replicasAnnotationsNeedUpdate,
  revision,
  setDeploymentAnnotationsTo,
  setDeploymentRevision,
  setNewReplicaSetAnnotations,
  setReplicasAnnotations,
} from "./annotations.js";
import { newDeployment, rs, w } from "./fixtures.js";
import { getProportion, getReplicaSetFraction, isSaturated } from "./proportions.js";

function withRevision(name: string, rev: string | undefined): ReplicaSet {
  const r = rs(name, 1, undefined, undefined);
  if (rev !== undefined) r.metadata!.annotations = { [REVISION_ANNOTATION]: rev };
  return r;
}

describe("revisions", () => {
  it("reads a ReplicaSet's revision (0 without one; a parse error otherwise)", () => {
    assert.equal(revision(withRevision("a", "7")), 7);
    assert.equal(revision(withRevision("a", undefined)), 0);
    assert.throws(() => revision(withRevision("a", "seven")), /invalid syntax/);
  });

  const cases: [string, (string | undefined)[], number, number][] = [
    ["no ReplicaSets", [], 0, 0],
    ["one", ["3"], 3, 0],
    ["several, unordered", ["2", "5", "3"], 5, 3],
    ["unparsable ones skipped", ["2", "x", "4"], 4, 2],
    ["missing annotations count as 0", [undefined, "1"], 1, 0],
    ["duplicates", ["4", "4"], 4, 4],
  ];
  for (const [name, revs, max, last] of cases) {
    it(`maxRevision and lastRevision: ${name}`, () => {
      const list = revs.map((r, i) => withRevision(`rs-${i}`, r));
      assert.equal(maxRevision(list), max);
      assert.equal(lastRevision(list), last);
    });
  }

  it("sets the Deployment's revision, saying whether it changed", () => {
    const d = newDeployment("nginx", 1);
    assert.equal(setDeploymentRevision(d, "2"), true);
    assert.equal(setDeploymentRevision(d, "2"), false);
    assert.equal(d.metadata?.annotations?.[REVISION_ANNOTATION], "2");
  });
});

describe("setNewReplicaSetAnnotations (TestAnnotationUtils)", () => {
  it("raises the revision and keeps the revisions served, within the history limit", () => {
    const d = newDeployment("nginx", 1);
    d.metadata!.annotations![REVISION_ANNOTATION] = "1";
    const r = rs("nginx-1", 1, undefined, undefined);
    for (let i = 10; i < 20; i++) {
      const next = String(i + 1);
      setNewReplicaSetAnnotations(d, r, next, true, 5);
      if (i >= 12) assert.equal(r.metadata?.annotations?.[REVISION_HISTORY_ANNOTATION], `${i - 1},${i}`);
      assert.equal(r.metadata?.annotations?.[REVISION_ANNOTATION], next);
    }
  });

  it("never lowers a revision", () => {
    const d = newDeployment("nginx", 1);
    const r = withRevision("nginx-1", "5");
    assert.equal(setNewReplicaSetAnnotations(d, r, "3", true, 2000), false);
    assert.equal(r.metadata?.annotations?.[REVISION_ANNOTATION], "5");
  });

  it("a first revision records no history; a ReplicaSet to be created gets replicas annotations", () => {
    const d = newDeployment("nginx", 4, { maxSurge: 1, maxUnavailable: 1 });
    const r = rs("nginx-1", 0, undefined, undefined);
    assert.equal(setNewReplicaSetAnnotations(d, r, "1", false, 2000), true);
    assert.deepEqual(r.metadata?.annotations, { [REVISION_ANNOTATION]: "1", [DESIRED_REPLICAS_ANNOTATION]: "4", [MAX_REPLICAS_ANNOTATION]: "5" });
  });

  it("refuses a ReplicaSet whose revision is not a number", () => {
    const r = withRevision("x", "abc");
    assert.equal(setNewReplicaSetAnnotations(newDeployment("nginx", 1), r, "2", true, 2000), false);
    assert.equal(r.metadata?.annotations?.[REVISION_ANNOTATION], "abc");
  });

  it("copies the Deployment's own annotations (change-cause) but not the per-object ones", () => {
    const d = newDeployment("nginx", 1);
    d.metadata!.annotations = {
      [CHANGE_CAUSE_ANNOTATION]: "kubectl set image",
      team: "a",
      [REVISION_ANNOTATION]: "9",
      [LAST_APPLIED_CONFIG_ANNOTATION]: "{}",
      [DESIRED_REPLICAS_ANNOTATION]: "7",
    };
    const r = rs("nginx-1", 1, undefined, undefined);
    assert.equal(copyDeploymentAnnotationsToReplicaSet(d, r), true);
    assert.deepEqual(r.metadata?.annotations, { [CHANGE_CAUSE_ANNOTATION]: "kubectl set image", team: "a" });
    assert.equal(copyDeploymentAnnotationsToReplicaSet(d, r), false);
  });
});

describe("setDeploymentAnnotationsTo (rollback)", () => {
  it("takes the ReplicaSet's annotations, keeping the Deployment's per-object ones", () => {
    const d = newDeployment("nginx", 1);
    d.metadata!.annotations = { [REVISION_ANNOTATION]: "3", [CHANGE_CAUSE_ANNOTATION]: "edit", stale: "x" };
    const r = rs("nginx-1", 1, undefined, undefined);
    r.metadata!.annotations = { [REVISION_ANNOTATION]: "1", [CHANGE_CAUSE_ANNOTATION]: "create", [DESIRED_REPLICAS_ANNOTATION]: "1" };
    setDeploymentAnnotationsTo(d, r);
    assert.deepEqual(d.metadata?.annotations, { [REVISION_ANNOTATION]: "3", [CHANGE_CAUSE_ANNOTATION]: "create" });
  });
});

describe("replicas annotations (TestReplicasAnnotationsNeedUpdate)", () => {
  const make = (a: Record<string, string> | undefined) => {
    const r = rs("hello", 1, undefined, undefined);
    if (a) r.metadata!.annotations = a;
    return r;
  };
  const cases: [string, ReplicaSet, boolean][] = [
    ["test Annotations nil", make(undefined), true],
    ["test desiredReplicas update", make({ [DESIRED_REPLICAS_ANNOTATION]: "8", [MAX_REPLICAS_ANNOTATION]: "20" }), true],
    ["test maxReplicas update", make({ [DESIRED_REPLICAS_ANNOTATION]: "10", [MAX_REPLICAS_ANNOTATION]: "16" }), true],
    ["test needn't update", make({ [DESIRED_REPLICAS_ANNOTATION]: "10", [MAX_REPLICAS_ANNOTATION]: "20" }), false],
  ];
  for (const [name, r, want] of cases) it(name, () => assert.equal(replicasAnnotationsNeedUpdate(r, 10, 20), want));

  it("setReplicasAnnotations reports a change once", () => {
    const r = make(undefined);
    assert.equal(setReplicasAnnotations(r, 10, 11), true);
    assert.equal(setReplicasAnnotations(r, 10, 11), false);
    assert.deepEqual(r.metadata?.annotations, { [DESIRED_REPLICAS_ANNOTATION]: "10", [MAX_REPLICAS_ANNOTATION]: "11" });
  });
});

describe("saturation and proportions", () => {
  it("a new ReplicaSet sized, annotated and available for all replicas is saturated (IsSaturated)", () => {
    const d = newDeployment("nginx", 1);
    const r = rs("nginx-1", 1, undefined, undefined);
    r.metadata!.annotations = { [DESIRED_REPLICAS_ANNOTATION]: "1" };
    w(r).status = { replicas: 1, availableReplicas: 1 };
    assert.equal(isSaturated(d, r), true);
    r.status!.availableReplicas = 0;
    assert.equal(isSaturated(d, r), false, "not all available");
    r.status!.availableReplicas = 1;
    r.metadata!.annotations = { [DESIRED_REPLICAS_ANNOTATION]: "2" };
    assert.equal(isSaturated(d, r), false, "annotated for another size");
    assert.equal(isSaturated(d, undefined), false);
  });

  const annotated = (replicas: number, max: number | undefined) => {
    const r = rs("r", replicas, undefined, undefined);
    if (max !== undefined) r.metadata!.annotations = { [MAX_REPLICAS_ANNOTATION]: String(max) };
    return r;
  };
  const cases: [string, number, number, number | undefined, number, number, number][] = [
    // name, deployment replicas, rs replicas, rs max annotation, toAdd, added, want proportion
    ["half of a doubling", 10, 3, 5, 5, 0, 3],
    ["capped by what is left to add", 10, 3, 5, 5, 4, 1],
    ["rounding half away from zero (2*7/4 = 3.5 -> 4)", 7, 2, 4, 3, 0, 2],
    ["scaling down takes its share (3*3/5 = 1.8 -> 2)", 3, 3, 5, -2, 0, -1],
    ["scaling down never beyond what is left", 3, 3, 5, -2, -2, 0],
    ["scaling to zero removes all", 0, 4, 6, -6, 0, -4],
    ["without the annotation the current status size is used", 10, 3, undefined, 5, 0, 3],
    ["an empty ReplicaSet gets nothing", 10, 0, 5, 5, 0, 0],
  ];
  for (const [name, dReplicas, rsReplicas, max, toAdd, added, want] of cases) {
    it(`getProportion: ${name}`, () => {
      const d = newDeployment("foo", dReplicas);
      d.status = { replicas: 5 };
      assert.equal(getProportion(annotated(rsReplicas, max), d, toAdd, added), want);
    });
  }

  it("getReplicaSetFraction uses replicas + maxSurge as the new size", () => {
    const d = newDeployment("foo", 20, { maxSurge: 2 });
    // 6 * 22 / 12 = 11 -> +5.
    assert.equal(getReplicaSetFraction(annotated(6, 12), d), 5);
  });
});
