import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { FakeClock } from "../machinery/clock.js";
import { openMemoryStore } from "./backends/memory/memory-store.js";
import { COMPACT_REV_KEY, Compactor } from "./compactor.js";

describe("Compactor", () => {
  const store = openMemoryStore();
  after(() => store.close());
  const put = (k: string) => store.create(k, new TextEncoder().encode("x"));

  test("compacts to the newest revision older than the window; two servers on one store compact once per round", async () => {
    const clock = new FakeClock(0);
    const a = new Compactor({ store, windowMs: 1000, clock });
    const b = new Compactor({ store, windowMs: 1000, clock });
    await put("/k/1");
    assert.equal(await a.tick(), undefined, "nothing is older than the window yet");
    assert.equal(await b.tick(), undefined);
    const first = await store.currentRevision();
    await put("/k/2");
    clock.advance(1000);
    const round1 = [await a.tick(), await b.tick()];
    assert.deepEqual(round1, [first, undefined], "the first server takes the round, the second sits it out");
    assert.equal((await store.status()).compactRevision, first);
    assert.ok((await store.get(COMPACT_REV_KEY)).kv, "the coordination key is written");

    await put("/k/3");
    clock.advance(1000);
    // Next round: whoever swaps the key from the version both saw wins; here b ticks first.
    const round2 = [await b.tick(), await a.tick()];
    assert.equal(round2.filter((r) => r !== undefined).length, 1, "exactly one compaction per round");
    assert.equal(round2[1], undefined);
  });
});
