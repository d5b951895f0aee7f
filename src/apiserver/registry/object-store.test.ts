import assert from "node:assert/strict";
import { test } from "node:test";
import { findResource } from "../../api/resources.js";
import { parseLabelSelector } from "../../machinery/labels.js";
import { openMemoryStore } from "../../storage/backends/memory/memory-store.js";
import { codecFor } from "./codecs.js";
import { ObjectStore } from "./object-store.js";
import { strategyFor } from "./strategies.js";

function storeFor(group: string, version: string, plural: string, backing = openMemoryStore()) {
  const resource = findResource(group, version, plural)!;
  return new ObjectStore({ store: backing, resource, strategy: strategyFor(resource), codec: codecFor(resource) });
}

test("listJson is the same list as list(), built from stored bytes", async () => {
  const cms = storeFor("", "v1", "configmaps");
  for (let i = 0; i < 12; i++) {
    // Keys in an unusual order: the stored layout is normalised anyway.
    await cms.create("default", { data: { i: String(i) }, metadata: { name: `cm-${String(i).padStart(2, "0")}`, labels: { even: String(i % 2 === 0) } }, kind: "ConfigMap", apiVersion: "v1" });
  }
  const all = await cms.list("default");
  assert.deepEqual(JSON.parse((await cms.listJson("default")).toString()), all);
  assert.equal(all.items[3]!.metadata!.resourceVersion !== undefined, true);
  const page = await cms.list("default", { limit: 5 });
  assert.deepEqual(JSON.parse((await cms.listJson("default", { limit: 5 })).toString()), page);
  assert.equal(page.metadata.remainingItemCount, 7);
  const next = JSON.parse((await cms.listJson("default", { limit: 5, continue: page.metadata.continue })).toString());
  assert.deepEqual(next.items.map((c: { metadata: { name: string } }) => c.metadata.name), ["cm-05", "cm-06", "cm-07", "cm-08", "cm-09"]);
  const even = JSON.parse((await cms.listJson("default", { labelSelector: parseLabelSelector("even=true") })).toString());
  assert.equal(even.items.length, 6);
});

test("listJson converts resources stored in another shape", async () => {
  const backing = openMemoryStore();
  const core = storeFor("", "v1", "events", backing);
  const v1 = storeFor("events.k8s.io", "v1", "events", backing);
  await core.create("default", { metadata: { name: "e1" }, involvedObject: { kind: "Pod", name: "p" }, message: "hello", reason: "R" });
  const list = JSON.parse((await v1.listJson("default")).toString());
  assert.equal(list.kind, "EventList");
  assert.equal(list.apiVersion, "events.k8s.io/v1");
  assert.equal(list.items[0].note, "hello");
  assert.equal(list.items[0].regarding.name, "p");
});

test("validation errors read as upstream's", async () => {
  const pods = storeFor("", "v1", "pods");
  await assert.rejects(
    pods.create("default", { metadata: { name: "p" }, spec: { containers: [{ name: "c", image: "a" }, { name: "c", image: "b" }] } }),
    (err: Error) => {
      assert.equal(err.message, 'Pod "p" is invalid: spec.containers[1].name: Duplicate value: "c"');
      return true;
    },
  );
});

test("guaranteedUpdate re-applies a mutation that lost a race, unless a version was pinned", async () => {
  const cms = storeFor("", "v1", "configmaps");
  await cms.create("default", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "counter" }, data: { n: "0" } });
  // Twenty unpinned read-modify-writes at once: every one lands, none is lost.
  await Promise.all(
    Array.from({ length: 20 }, () =>
      cms.guaranteedUpdate("default", "counter", (cur) => ({ ...cur, data: { n: String(Number((cur.data as { n: string }).n) + 1) } })),
    ),
  );
  const after = await cms.get("default", "counter");
  assert.equal((after.data as { n: string }).n, "20");
  // A pinned, stale version is a 409.
  await assert.rejects(
    cms.guaranteedUpdate("default", "counter", (cur) => ({ ...cur, metadata: { ...cur.metadata, resourceVersion: "1" } })),
    (e: Error) => /the object has been modified/.test(e.message),
  );
});

test("storedJson: a written object's JSON from the bytes stored, once, and only while its resourceVersion is the stored one", async () => {
  const pods = storeFor("", "v1", "pods");
  const created = await pods.create("default", {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p", annotations: { note: "é\u2028\"quoted\"" } },
    spec: { containers: [{ name: "c", image: "busybox" }] },
  });
  const json = pods.storedJson(created);
  assert.ok(json);
  assert.deepEqual(JSON.parse(json.toString()), JSON.parse(JSON.stringify(created)));
  // Used once: the caller keeps the bytes; a second call has none.
  assert.equal(pods.storedJson(created), undefined);

  const updated = await pods.guaranteedUpdate("default", "p", (cur) => ({ ...cur, metadata: { ...cur.metadata, labels: { app: "b" } } }));
  const copy = structuredClone(updated);
  assert.equal(pods.storedJson(copy), undefined, "only the object the store returned");
  updated.metadata!.resourceVersion = "1";
  assert.equal(pods.storedJson(updated), undefined, "a changed resourceVersion is not the stored one");

  // Converted resources are stored in another shape: no bytes to reuse.
  const v1 = storeFor("events.k8s.io", "v1", "events");
  const ev = await v1.create("default", { metadata: { name: "e" }, regarding: { kind: "Pod", name: "p" }, note: "n", reason: "R", eventTime: "2024-01-01T00:00:00.000000Z", reportingController: "c", reportingInstance: "i", action: "A", type: "Normal" });
  assert.equal(v1.storedJson(ev), undefined);
});

test("a pod binding skips the no-op comparison but still writes and bumps the resourceVersion", async () => {
  const pods = storeFor("", "v1", "pods");
  const created = await pods.create("default", { apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: { containers: [{ name: "c", image: "busybox" }] } });
  const bound = await pods.guaranteedUpdate(
    "default",
    "p",
    (cur) => {
      (cur.spec as { nodeName?: string }).nodeName = "n1";
      return cur;
    },
    { subresource: "binding" },
  );
  assert.notEqual(bound.metadata!.resourceVersion, created.metadata!.resourceVersion);
  assert.equal(((await pods.get("default", "p")).spec as { nodeName?: string }).nodeName, "n1");
  // A no-op update through the main resource keeps the resourceVersion.
  const same = await pods.guaranteedUpdate("default", "p", (cur) => cur);
  assert.equal(same.metadata!.resourceVersion, bound.metadata!.resourceVersion);
});
