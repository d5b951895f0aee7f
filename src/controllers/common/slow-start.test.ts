import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { slowStartBatch } from "./slow-start.js";

describe("slowStartBatch (upstream TestSlowStartBatch)", () => {
  const fakeErr = new Error("fake error");
  const cases = [
    { name: "callLimit = 0 (all fail)", count: 10, callLimit: 0, successes: 0, err: fakeErr, calls: 1 },
    { name: "callLimit = count (all succeed)", count: 10, callLimit: 10, successes: 10, err: undefined, calls: 10 },
    { name: "callLimit < count (some succeed)", count: 10, callLimit: 5, successes: 5, err: fakeErr, calls: 7 },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      let calls = 0;
      const r = await slowStartBatch(c.count, 1, async () => {
        calls++;
        if (calls > c.callLimit) throw fakeErr;
      });
      assert.equal(r.successes, c.successes);
      assert.equal(r.error, c.err);
      assert.equal(calls, c.calls, "no batch starts after one failed");
    });
  }

  it("doubles batches (1, 2, 4, … capped by what remains) and runs each batch concurrently", async () => {
    // A call starting while none is running opens a new batch; the calls of a batch all start before any ends.
    const batches: number[] = [];
    let active = 0;
    const r = await slowStartBatch(20, 1, async () => {
      if (active === 0) batches.push(0);
      active++;
      batches[batches.length - 1]!++;
      await new Promise((resolve) => setImmediate(resolve));
      active--;
    });
    assert.equal(r.successes, 20);
    assert.equal(r.error, undefined);
    assert.deepEqual(batches, [1, 2, 4, 8, 5]);
  });

  it("does nothing for a count of 0", async () => {
    let calls = 0;
    const r = await slowStartBatch(0, 1, async () => void calls++);
    assert.deepEqual(r, { successes: 0 });
    assert.equal(calls, 0);
  });
});
