import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ControllerRevision } from "kubernetes-types/apps/v1.js";
import { selectorFromObject } from "../../machinery/labels.js";
import { notFound } from "../../machinery/status-error.js";
import { RealControllerHistory } from "./controller-history.js";
import {
  CONTROLLER_REVISION_HASH_LABEL,
  controllerRevisionName,
  equalRevision,
  findEqualRevisions,
  hashControllerRevision,
  newControllerRevision,
  sortControllerRevisions,
} from "./history.js";
import { fnv1_32, goJSON } from "./raw-json.js";
import { ControllerRevisionControllerRefManager } from "./ref-manager.js";
import { FakeRevisionStore } from "./testing.js";

const GVK = { apiVersion: "apps/v1", kind: "StatefulSet" };
const parent = { name: "web", namespace: "default", uid: "parent-uid" };
const data = (image: string) => ({ spec: { template: { spec: { containers: [{ name: "c", image }] }, $patch: "replace" } } });

describe("history: raw data and hashes", () => {
  it("hashes with FNV-1 (not 1a), as Go's hash/fnv.New32", () => {
    const enc = new TextEncoder();
    assert.equal(fnv1_32(enc.encode("")), 0x811c9dc5);
    assert.equal(fnv1_32(enc.encode("a")), 0x050c5d7e);
    assert.equal(fnv1_32(enc.encode("foobar")), 0x31f0b262);
  });

  it("marshals data as Go does a map: sorted keys, HTML-safe escapes", () => {
    assert.equal(goJSON({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: "<&>" } }), '{"a":{"c":"\\u003c\\u0026\\u003e","d":[2,{"y":2,"z":1}]},"b":1}');
  });

  it("names revisions <prefix>-<hash>, the prefix cut to 223 characters", () => {
    assert.equal(controllerRevisionName("web", "abc"), "web-abc");
    assert.equal(controllerRevisionName("x".repeat(300), "abc").length, 223 + 4);
  });

  it("salts the hash with the collision count", () => {
    const cr: ControllerRevision = { data: data("a"), revision: 1 };
    assert.notEqual(hashControllerRevision(cr, 0), hashControllerRevision(cr, 1));
    assert.notEqual(hashControllerRevision(cr), hashControllerRevision(cr, 0));
    assert.match(hashControllerRevision(cr), /^[bcdfghjklmnpqrstvwxz2456789]+$/);
  });

  it("makes a revision owned by its parent, labelled with the template labels and the hash", () => {
    const cr = newControllerRevision(parent, GVK, { app: "web" }, data("a"), 3, 0);
    const hash = cr.metadata?.labels?.[CONTROLLER_REVISION_HASH_LABEL];
    assert.ok(hash);
    assert.equal(cr.metadata?.name, `web-${hash}`);
    assert.deepEqual(cr.metadata?.labels, { app: "web", [CONTROLLER_REVISION_HASH_LABEL]: hash });
    assert.deepEqual(cr.metadata?.ownerReferences, [{ apiVersion: "apps/v1", kind: "StatefulSet", name: "web", uid: "parent-uid", controller: true, blockOwnerDeletion: true }]);
    assert.equal(cr.revision, 3);
  });

  it("compares revisions by data, whatever the key order", () => {
    const a: ControllerRevision = { data: { spec: { template: { $patch: "replace", spec: { containers: [{ image: "a", name: "c" }] } } } }, revision: 1 };
    const b: ControllerRevision = { data: data("a"), revision: 7 };
    assert.ok(equalRevision(a, b));
    assert.ok(!equalRevision(a, { data: data("b"), revision: 1 }));
    assert.ok(equalRevision(undefined, undefined));
    assert.ok(!equalRevision(a, undefined));
    assert.deepEqual(findEqualRevisions([a, { data: data("b"), revision: 2 }, b], b), [a, b]);
  });

  it("sorts by revision, then creation time, then name", () => {
    const r = (name: string, revision: number, t: string): ControllerRevision => ({ metadata: { name, creationTimestamp: t }, revision });
    const sorted = sortControllerRevisions([r("c", 2, "2024-01-01T00:00:00Z"), r("b", 1, "2024-01-01T00:00:01Z"), r("a", 1, "2024-01-01T00:00:01Z"), r("d", 1, "2024-01-01T00:00:00Z")]);
    assert.deepEqual(sorted.map((x) => x.metadata?.name), ["d", "a", "b", "c"]);
  });
});

describe("history: RealControllerHistory", () => {
  it("creates a revision, and returns the existing one when its data is equal", async () => {
    const store = new FakeRevisionStore();
    const h = new RealControllerHistory(store.api, store);
    const collision = { count: 0 };
    const cr = newControllerRevision(parent, GVK, { app: "web" }, data("a"), 1, 0);
    const created = await h.createControllerRevision(parent, cr, collision);
    assert.equal(created.metadata?.name, cr.metadata?.name);
    assert.equal(created.metadata?.namespace, "default");
    const again = await h.createControllerRevision(parent, cr, collision);
    assert.equal(again.metadata?.uid, created.metadata?.uid);
    assert.equal(collision.count, 0);
  });

  it("bumps the collision count and renames when the name holds other data", async () => {
    const store = new FakeRevisionStore();
    const h = new RealControllerHistory(store.api, store);
    const cr = newControllerRevision(parent, GVK, { app: "web" }, data("a"), 1, 0);
    // Another revision squats on the name.
    await store.api.create("default", { ...cr, data: data("other") });
    const collision = { count: 0 };
    const created = await h.createControllerRevision(parent, cr, collision);
    assert.equal(collision.count, 1);
    assert.equal(created.metadata?.name, `web-${hashControllerRevision(cr, 1)}`);
    // The hash label keeps its first value, as upstream.
    assert.equal(created.metadata?.labels?.[CONTROLLER_REVISION_HASH_LABEL], cr.metadata?.labels?.[CONTROLLER_REVISION_HASH_LABEL]);
  });

  it("lists revisions matching the selector owned by the parent or by nobody", async () => {
    const owned = newControllerRevision(parent, GVK, { app: "web" }, data("a"), 1, 0);
    const other = newControllerRevision({ ...parent, uid: "other" }, GVK, { app: "web" }, data("b"), 1, 0);
    const orphan: ControllerRevision = { metadata: { name: "orphan", namespace: "default", labels: { app: "web" } }, data: data("c"), revision: 1 };
    const unrelated: ControllerRevision = { metadata: { name: "x", namespace: "default", labels: { app: "db" } }, data: data("d"), revision: 1 };
    const store = new FakeRevisionStore(
      [owned, { ...other, metadata: { ...other.metadata, name: "other" } }, orphan, unrelated].map((c) => ({ ...c, metadata: { ...c.metadata, namespace: "default" } })),
    );
    const h = new RealControllerHistory(store.api, store);
    const names = h.listControllerRevisions(parent, selectorFromObject({ matchLabels: { app: "web" } })!).map((c) => c.metadata?.name);
    assert.deepEqual(names.sort(), [owned.metadata?.name, "orphan"].sort());
  });

  it("renumbers a revision, and adopts only orphans", async () => {
    const store = new FakeRevisionStore([{ metadata: { name: "orphan", namespace: "default", uid: "o-uid", labels: { app: "web" } }, data: data("c"), revision: 1 }]);
    const h = new RealControllerHistory(store.api, store);
    const renumbered = await h.updateControllerRevision(store.get("default", "orphan")!, 5);
    assert.equal(renumbered.revision, 5);
    const adopted = await h.adoptControllerRevision(parent, GVK, store.get("default", "orphan")!);
    assert.equal(adopted.metadata?.ownerReferences?.[0]?.uid, "parent-uid");
    await assert.rejects(h.adoptControllerRevision(parent, GVK, adopted), /attempt to adopt revision owned by/);
    const released = await h.releaseControllerRevision(parent, adopted);
    assert.deepEqual(released?.metadata?.ownerReferences, []);
    assert.equal(await h.releaseControllerRevision(parent, { metadata: { name: "gone", namespace: "default" }, revision: 1 }), undefined);
  });
});

describe("history: ControllerRevisionControllerRefManager", () => {
  it("adopts matching orphans, releases owned revisions that stopped matching, leaves others alone", async () => {
    const patches: string[] = [];
    const crControl = {
      async patch(ns: string, name: string, patch: unknown) {
        if (name === "gone") throw notFound({ group: "apps", resource: "controllerrevisions" }, name);
        patches.push(`${ns}/${name} ${JSON.stringify(patch)}`);
        return {};
      },
    };
    const m = new ControllerRevisionControllerRefManager(crControl, {
      controller: parent,
      selector: selectorFromObject({ matchLabels: { app: "web" } }),
      controllerKind: GVK,
    });
    const ours = { apiVersion: "apps/v1", kind: "StatefulSet", name: "web", uid: "parent-uid", controller: true };
    const crs: ControllerRevision[] = [
      { metadata: { name: "orphan", namespace: "default", uid: "u1", labels: { app: "web" } }, revision: 1 },
      { metadata: { name: "owned", namespace: "default", uid: "u2", labels: { app: "web" }, ownerReferences: [ours] }, revision: 1 },
      { metadata: { name: "stray", namespace: "default", uid: "u3", labels: { app: "db" }, ownerReferences: [ours] }, revision: 1 },
      { metadata: { name: "theirs", namespace: "default", uid: "u4", labels: { app: "web" }, ownerReferences: [{ ...ours, uid: "x" }] }, revision: 1 },
      { metadata: { name: "gone", namespace: "default", uid: "u5", labels: { app: "web" } }, revision: 1 },
    ];
    const r = await m.claimControllerRevisions(crs);
    assert.equal(r.error, undefined);
    assert.deepEqual(r.claimed.map((c) => c.metadata?.name), ["orphan", "owned"]);
    assert.equal(patches.length, 2);
    assert.match(patches[0]!, /^default\/orphan .*"controller":true/);
    assert.match(patches[1]!, /^default\/stray .*"\$patch":"delete"/);
  });
});
