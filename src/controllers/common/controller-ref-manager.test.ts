import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import type { ObjectMeta } from "kubernetes-types/meta/v1.js";
import { parseLabelSelector } from "../../machinery/labels.js";
import { notFound, StatusError } from "../../machinery/status-error.js";
import { deleteOwnerRefStrategicMergePatch, ownerRefControllerPatch, PodControllerRefManager, recheckDeletionTimestamp } from "./controller-ref-manager.js";
import { FakePodControl } from "./testing.js";

const GVK = { apiVersion: "apps/v1", kind: "ReplicaSet" };
const DELETED = "2024-01-01T00:00:00Z";

function controller(extra: Partial<ObjectMeta> = {}): ObjectMeta {
  return { name: "rs", namespace: "default", uid: "rs-uid", ...extra };
}

function pod(name: string, labels: Record<string, string>, extra: Partial<ObjectMeta> = {}): Pod {
  return { metadata: { name, namespace: "default", uid: `${name}-uid`, labels, ...extra }, spec: { containers: [] } };
}

const ownedBy = (uid: string) => ({ ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "x", uid, controller: true }] });

const names = (pods: readonly Pod[]) => pods.map((p) => p.metadata?.name);

describe("PodControllerRefManager.claimPods (upstream TestClaimPods)", () => {
  const selector = parseLabelSelector("foo=bar");
  const matching = { foo: "bar" };
  const other = { foo: "baz" };

  const cases: {
    name: string;
    controller: ObjectMeta;
    pods: Pod[];
    claimed: string[];
    patched: string[];
    finalizers?: string[];
  }[] = [
    {
      name: "claims orphans with the right labels",
      controller: controller(),
      pods: [pod("pod1", matching), pod("pod2", other)],
      claimed: ["pod1"],
      patched: ["pod1"],
    },
    {
      name: "a controller marked for deletion claims no orphans",
      controller: controller({ deletionTimestamp: DELETED }),
      pods: [pod("pod1", matching)],
      claimed: [],
      patched: [],
    },
    {
      name: "a controller marked for deletion keeps pods it already owns",
      controller: controller({ deletionTimestamp: DELETED }),
      pods: [pod("pod1", matching, ownedBy("rs-uid")), pod("pod2", other, ownedBy("rs-uid"))],
      claimed: ["pod1"],
      patched: [],
    },
    {
      name: "releases owned pods that stopped matching",
      controller: controller(),
      pods: [pod("pod1", matching, ownedBy("rs-uid")), pod("pod2", other, ownedBy("rs-uid"))],
      claimed: ["pod1"],
      patched: ["pod2"],
    },
    {
      name: "ignores pods controlled by another controller",
      controller: controller(),
      pods: [pod("pod1", matching, ownedBy("other-uid"))],
      claimed: [],
      patched: [],
    },
    {
      name: "does not claim orphans being deleted",
      controller: controller(),
      pods: [pod("pod1", matching, { deletionTimestamp: DELETED }), pod("pod2", matching)],
      claimed: ["pod2"],
      patched: ["pod2"],
    },
    {
      name: "does not claim pods of another namespace",
      controller: controller(),
      pods: [pod("pod1", matching, { namespace: "elsewhere" })],
      claimed: [],
      patched: [],
    },
    {
      name: "adds finalizers on adoption and removes them on release",
      controller: controller(),
      pods: [pod("pod1", matching), pod("pod2", other, ownedBy("rs-uid"))],
      claimed: ["pod1"],
      patched: ["pod1", "pod2"],
      finalizers: ["batch.kubernetes.io/job-tracking"],
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const pc = new FakePodControl();
      const m = new PodControllerRefManager(pc, { controller: c.controller, selector, controllerKind: GVK, finalizers: c.finalizers });
      const r = await m.claimPods(c.pods);
      assert.equal(r.error, undefined);
      assert.deepEqual(names(r.claimed), c.claimed);
      assert.deepEqual(
        pc.patches.map((p) => p.name),
        c.patched,
      );
      if (c.finalizers) {
        assert.deepEqual(pc.patches[0]!.patch, ownerRefControllerPatch(c.controller, GVK, "pod1-uid", c.finalizers));
        assert.deepEqual(pc.patches[1]!.patch, deleteOwnerRefStrategicMergePatch("pod2-uid", ["rs-uid"], c.finalizers));
      }
    });
  }

  it("adoption patches add the controllerRef guarded by the pod's uid; release patches delete it", () => {
    assert.deepEqual(ownerRefControllerPatch(controller(), GVK, "p-uid"), {
      metadata: {
        ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "rs", uid: "rs-uid", controller: true, blockOwnerDeletion: true }],
        uid: "p-uid",
      },
    });
    assert.deepEqual(deleteOwnerRefStrategicMergePatch("p-uid", ["rs-uid"], ["f"]), {
      metadata: { uid: "p-uid", ownerReferences: [{ $patch: "delete", uid: "rs-uid" }], "$deleteFromPrimitiveList/finalizers": ["f"] },
    });
  });

  it("checks canAdopt once, and only when adopting", async () => {
    const pc = new FakePodControl();
    let checks = 0;
    const m = new PodControllerRefManager(pc, {
      controller: controller(),
      selector,
      controllerKind: GVK,
      canAdopt: async () => void checks++,
    });
    await m.claimPods([pod("owned", matching, ownedBy("rs-uid"))]);
    assert.equal(checks, 0);
    await m.claimPods([pod("a", matching), pod("b", matching)]);
    assert.equal(checks, 1);
  });

  it("refuses every adoption when the fresh read shows the controller being deleted", async () => {
    const pc = new FakePodControl();
    const canAdopt = recheckDeletionTimestamp(async () => ({ metadata: controller({ deletionTimestamp: DELETED }) }));
    const m = new PodControllerRefManager(pc, { controller: controller(), selector, controllerKind: GVK, canAdopt });
    const r = await m.claimPods([pod("a", matching), pod("b", matching)]);
    assert.deepEqual(r.claimed, []);
    assert.equal(pc.patches.length, 0);
    assert.equal(
      r.error?.message,
      "[can't adopt Pod default/a (a-uid): default/rs has just been deleted at 2024-01-01 00:00:00 +0000 UTC, can't adopt Pod default/b (b-uid): default/rs has just been deleted at 2024-01-01 00:00:00 +0000 UTC]",
    );
  });

  it("reports a failed recheck", async () => {
    const canAdopt = recheckDeletionTimestamp(async () => {
      throw notFound({ group: "apps", resource: "replicasets" }, "rs");
    });
    const m = new PodControllerRefManager(new FakePodControl(), { controller: controller(), selector, controllerKind: GVK, canAdopt });
    const r = await m.claimPods([pod("a", matching)]);
    assert.equal(r.error?.message, `can't adopt Pod default/a (a-uid): can't recheck DeletionTimestamp: replicasets.apps "rs" not found`);
  });

  it("treats a pod gone during adoption or release as not claimed, without error", async () => {
    const pc = new FakePodControl();
    pc.err = notFound({ group: "", resource: "pods" }, "x");
    const m = new PodControllerRefManager(pc, { controller: controller(), selector, controllerKind: GVK });
    const r = await m.claimPods([pod("a", matching), pod("b", other, ownedBy("rs-uid"))]);
    assert.equal(r.error, undefined);
    assert.deepEqual(r.claimed, []);
  });

  it("ignores Invalid on release (no ownerReferences left, or a re-created pod) but reports other failures", async () => {
    const invalid = new StatusError({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", reason: "Invalid", code: 422, message: "invalid" });
    const pc = new FakePodControl();
    pc.err = invalid;
    const m = new PodControllerRefManager(pc, { controller: controller(), selector, controllerKind: GVK });
    assert.equal((await m.claimPods([pod("b", other, ownedBy("rs-uid"))])).error, undefined);
    pc.err = new Error("fake Error");
    const r = await m.claimPods([pod("a", matching), pod("b", other, ownedBy("rs-uid"))]);
    assert.equal(r.error?.message, "fake Error");
    assert.deepEqual(r.claimed, []);
  });

  it("claims nothing with no selector (a nil selector selects nothing)", async () => {
    const pc = new FakePodControl();
    const m = new PodControllerRefManager(pc, { controller: controller(), selector: undefined, controllerKind: GVK });
    const r = await m.claimPods([pod("a", matching), pod("b", matching, ownedBy("rs-uid"))]);
    assert.deepEqual(r.claimed, []);
    assert.deepEqual(
      pc.patches.map((p) => p.name),
      ["b"],
      "an owned pod no selector matches is released",
    );
  });
});
