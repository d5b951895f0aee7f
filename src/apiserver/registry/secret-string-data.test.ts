/** Secrets' write-only `stringData`: merged into `data` on every write and never stored, as upstream. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { findResource } from "../../api/resources.js";
import { openMemoryStore } from "../../storage/backends/memory/memory-store.js";
import { codecFor } from "./codecs.js";
import { ObjectStore } from "./object-store.js";
import { strategyFor } from "./strategies.js";

function secrets(): ObjectStore {
  const resource = findResource("", "v1", "secrets")!;
  return new ObjectStore({ store: openMemoryStore(), resource, strategy: strategyFor(resource), codec: codecFor(resource) });
}

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

test("create merges stringData into data (stringData wins) and drops it", async () => {
  const store = secrets();
  const created = await store.create("expense", {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "db" },
    data: { username: b64("old"), host: b64("mysql") },
    stringData: { username: "expense", password: "Expense@1 é" },
  });
  assert.equal(created.stringData, undefined);
  assert.deepEqual(created.data, { username: b64("expense"), host: b64("mysql"), password: b64("Expense@1 é") });
  assert.equal(created.type, "Opaque");
  const read = await store.get("expense", "db");
  assert.equal(read.stringData, undefined);
  assert.deepEqual(read.data, created.data);
});

test("update merges stringData too, keeping the other keys", async () => {
  const store = secrets();
  await store.create("expense", { apiVersion: "v1", kind: "Secret", metadata: { name: "db" }, data: { username: b64("expense"), password: b64("a") } });
  const updated = await store.guaranteedUpdate("expense", "db", (cur) => ({ ...cur, stringData: { password: "wrong" } }));
  assert.equal(updated.stringData, undefined);
  assert.deepEqual(updated.data, { username: b64("expense"), password: b64("wrong") });
});

test("an invalid stringData key is rejected as a data key (upstream validates after the merge)", async () => {
  const store = secrets();
  await assert.rejects(store.create("expense", { apiVersion: "v1", kind: "Secret", metadata: { name: "bad" }, stringData: { "no/slash": "x" } }), /Secret "bad" is invalid: data\[no\/slash\]/);
});
