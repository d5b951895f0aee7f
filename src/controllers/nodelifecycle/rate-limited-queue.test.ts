import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeClock } from "../../machinery/clock.js";
import { RateLimitedTimedQueue, TokenBucketLimiter, UniqueQueue } from "./rate-limited-queue.js";

const done = async () => ({ done: true, retryAfterMs: 0 });

describe("UniqueQueue", () => {
  it("holds a value once until removed; removeFromQueue keeps it out for good", () => {
    const q = new UniqueQueue();
    assert.equal(q.add({ value: "a", uid: "1", addedAt: 0, processAt: 5 }), true);
    assert.equal(q.add({ value: "a", uid: "1", addedAt: 0, processAt: 1 }), false);
    assert.equal(q.add({ value: "b", uid: "2", addedAt: 0, processAt: 3 }), true);
    assert.equal(q.head()?.value, "b");
    assert.equal(q.removeFromQueue("b"), true);
    assert.equal(q.add({ value: "b", uid: "2", addedAt: 0, processAt: 0 }), false, "still in the set");
    assert.equal(q.remove("b"), true);
    assert.equal(q.add({ value: "b", uid: "2", addedAt: 0, processAt: 9 }), true);
    assert.deepEqual([q.head()?.value, q.length], ["a", 2]);
  });
});

describe("RateLimitedTimedQueue", () => {
  it("processes as fast as its token bucket allows (burst 1)", async () => {
    const clock = new FakeClock(0);
    const q = new RateLimitedTimedQueue(new TokenBucketLimiter(0.1, 1, clock), clock);
    for (const v of ["a", "b", "c"]) q.add(v, v);
    const seen: string[] = [];
    const fn = async (v: { value: string }) => {
      seen.push(v.value);
      return { done: true, retryAfterMs: 0 };
    };
    await q.try(fn);
    assert.deepEqual(seen, ["a"]);
    clock.advance(9_999);
    await q.try(fn);
    assert.deepEqual(seen, ["a"]);
    clock.advance(1);
    await q.try(fn);
    assert.deepEqual(seen, ["a", "b"]);
    assert.equal(q.has("a"), true, "processed values stay known until removed");
  });

  it("retries a value that failed after the wait it asked for", async () => {
    const clock = new FakeClock(0);
    const q = new RateLimitedTimedQueue(new TokenBucketLimiter(1000, 1, clock), clock);
    q.add("a", "a");
    let tries = 0;
    const fn = async () => {
      tries++;
      return { done: tries > 1, retryAfterMs: 50 };
    };
    await q.try(fn);
    assert.equal(tries, 1);
    clock.advance(49);
    await q.try(fn);
    assert.equal(tries, 1);
    clock.advance(2);
    await q.try(fn);
    assert.equal(tries, 2);
    assert.equal(q.length, 0);
  });

  it("swaps limiters without granting a burst, and stops with a rate of 0", async () => {
    const clock = new FakeClock(0);
    const q = new RateLimitedTimedQueue(new TokenBucketLimiter(0.1, 1, clock), clock);
    q.add("a", "a");
    await q.try(done);
    q.add("b", "b");
    // The old limiter is empty: the new one starts empty too.
    q.swapLimiter(1);
    await q.try(done);
    assert.equal(q.length, 1);
    clock.advance(1_000);
    await q.try(done);
    assert.equal(q.length, 0);
    q.add("c", "c");
    q.swapLimiter(0);
    clock.advance(3_600_000);
    await q.try(done);
    assert.equal(q.length, 1);
    assert.equal(q.qps, 0);
  });
});
