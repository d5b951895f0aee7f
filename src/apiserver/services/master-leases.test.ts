import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { openMemoryStore } from "../../storage/backends/memory/memory-store.js";
import { eventually } from "../../../test/support/eventually.js";
import { MASTER_LEASES_PREFIX, MasterLeases } from "./master-leases.js";

describe("MasterLeases (upstream's lease endpoint reconciler storage)", () => {
  const store = openMemoryStore();
  after(() => store.close());

  test("each server's key lists it; refreshing keeps one key; a clean removal drops it", async () => {
    const a = new MasterLeases(store);
    const b = new MasterLeases(store);
    await a.update("10.0.0.1");
    await b.update("10.0.0.2");
    const written = (await store.get(`${MASTER_LEASES_PREFIX}10.0.0.1`)).kv!.modRevision;
    await a.update("10.0.0.1");
    assert.equal((await store.get(`${MASTER_LEASES_PREFIX}10.0.0.1`)).kv!.modRevision, written, "a refresh renews the lease without rewriting the key");
    assert.deepEqual(await a.list(), ["10.0.0.1", "10.0.0.2"]);
    const kv = (await store.get(`${MASTER_LEASES_PREFIX}10.0.0.1`)).kv!;
    assert.deepEqual(JSON.parse(new TextDecoder().decode(kv.value)).subsets, [{ addresses: [{ ip: "10.0.0.1" }] }]);
    await b.remove("10.0.0.2");
    assert.deepEqual(await a.list(), ["10.0.0.1"]);
    await a.remove("10.0.0.1");
    assert.deepEqual(await a.list(), []);
  });

  test("a server that stops refreshing drops out when its lease expires, and comes back on its next update", async () => {
    const dying = new MasterLeases(store, 1);
    await dying.update("10.0.0.9");
    assert.deepEqual(await dying.list(), ["10.0.0.9"]);
    await eventually("the lease to expire", async () => (await dying.list()).length === 0, 30_000);
    await dying.update("10.0.0.9");
    assert.deepEqual(await dying.list(), ["10.0.0.9"]);
    await dying.remove("10.0.0.9");
  });
});
