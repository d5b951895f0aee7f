import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BucketRateLimiter, defaultControllerRateLimiter, ItemExponentialFailureRateLimiter, MaxOfRateLimiter } from "./rate-limiter.js";
import { FakeTimers } from "./timers.js";
import { WorkQueue } from "./work-queue.js";

describe("WorkQueue", () => {
  it("holds an item at most once and hands items out in order", async () => {
    const q = new WorkQueue<string>({ timers: new FakeTimers() });
    q.add("a");
    q.add("b");
    q.add("a");
    assert.equal(q.len(), 2);
    assert.equal(await q.get(), "a");
    assert.equal(await q.get(), "b");
    assert.equal(q.len(), 0);
  });

  it("requeues an item re-added while processing only after done", async () => {
    const q = new WorkQueue<string>({ timers: new FakeTimers() });
    q.add("a");
    assert.equal(await q.get(), "a");
    q.add("a");
    q.add("a");
    assert.equal(q.len(), 0, "not handed out twice while processing");
    q.done("a");
    assert.equal(q.len(), 1);
    assert.equal(await q.get(), "a");
    q.done("a");
    assert.equal(q.len(), 0);
  });

  it("get waits for an add", async () => {
    const q = new WorkQueue<string>({ timers: new FakeTimers() });
    const waiting = q.get();
    q.add("x");
    assert.equal(await waiting, "x");
    // Handed out, so a re-add waits for done.
    q.add("x");
    assert.equal(q.len(), 0);
    q.done("x");
    assert.equal(await q.get(), "x");
  });

  it("addAfter adds when the delay passes; an earlier deadline wins", () => {
    const timers = new FakeTimers();
    const q = new WorkQueue<string>({ timers });
    q.addAfter("a", 1000);
    assert.equal(q.len(), 0);
    timers.advance(999);
    assert.equal(q.len(), 0);
    timers.advance(1);
    assert.equal(q.len(), 1);

    q.addAfter("b", 500);
    q.addAfter("b", 100);
    timers.advance(100);
    assert.equal(q.len(), 2, "the shorter delay replaced the longer one");
    timers.advance(1000);
    assert.equal(q.len(), 2, "no second add of b from the superseded deadline");

    q.addAfter("c", 100);
    q.addAfter("c", 5000);
    timers.advance(100);
    assert.equal(q.len(), 3, "a later deadline does not postpone an earlier one");
    q.addAfter("d", 0);
    assert.equal(q.len(), 4, "no delay adds at once");
  });

  it("addRateLimited backs off per item and forget resets", () => {
    const timers = new FakeTimers();
    const q = new WorkQueue<string>({ timers, rateLimiter: new ItemExponentialFailureRateLimiter<string>(5, 1000_000) });
    q.addRateLimited("k");
    timers.advance(4);
    assert.equal(q.len(), 0);
    timers.advance(1);
    assert.equal(q.len(), 1);
    assert.equal(q.numRequeues("k"), 1);
    q.addRateLimited("j");
    q.addRateLimited("j");
    assert.equal(q.numRequeues("j"), 2);
    q.forget("j");
    assert.equal(q.numRequeues("j"), 0);
  });

  it("shutDown hands out what is queued, then undefined; adds are ignored", async () => {
    const timers = new FakeTimers();
    const q = new WorkQueue<string>({ timers });
    const idle = new WorkQueue<string>({ timers });
    const waiter = idle.get();
    idle.shutDown();
    assert.equal(await waiter, undefined);

    q.add("a");
    q.addAfter("late", 10);
    q.shutDown();
    q.add("b");
    timers.advance(100);
    assert.equal(await q.get(), "a");
    assert.equal(await q.get(), undefined);
    assert.equal(q.isShuttingDown(), true);
    assert.equal(timers.pendingCount, 0, "no timers left behind");
  });

  it("shutDownWithDrain waits until processing items are done", async () => {
    const q = new WorkQueue<string>({ timers: new FakeTimers() });
    q.add("a");
    const item = await q.get();
    let drained = false;
    const p = q.shutDownWithDrain().then(() => {
      drained = true;
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(drained, false);
    q.done(item!);
    await p;
    assert.equal(drained, true);
  });

  it("stays O(1) under many items (no duplicates, order kept)", async () => {
    const q = new WorkQueue<string>({ timers: new FakeTimers() });
    for (let i = 0; i < 5000; i++) q.add(`k${i}`);
    for (let i = 0; i < 5000; i++) q.add(`k${i}`);
    assert.equal(q.len(), 5000);
    for (let i = 0; i < 5000; i++) {
      const k = await q.get();
      assert.equal(k, `k${i}`);
      q.done(k!);
    }
    assert.equal(q.len(), 0);
  });
});

describe("rate limiters", () => {
  it("item exponential: 5 ms doubling, capped at 1000 s", () => {
    const rl = new ItemExponentialFailureRateLimiter<string>(5, 1000_000);
    const got = Array.from({ length: 6 }, () => rl.when("x"));
    assert.deepEqual(got, [5, 10, 20, 40, 80, 160]);
    for (let i = 0; i < 40; i++) rl.when("x");
    assert.equal(rl.when("x"), 1000_000);
    assert.equal(rl.when("y"), 5, "items back off independently");
    rl.forget("x");
    assert.equal(rl.when("x"), 5);
  });

  it("bucket: 100 at once, then 10 per second", () => {
    const timers = new FakeTimers();
    const rl = new BucketRateLimiter<string>(10, 100, timers);
    for (let i = 0; i < 100; i++) assert.equal(rl.when(`i${i}`), 0);
    assert.equal(rl.when("a"), 100);
    assert.equal(rl.when("b"), 200, "reservations queue behind each other");
    timers.advance(1000);
    // 10 tokens came back; 2 were owed.
    for (let i = 0; i < 8; i++) assert.equal(rl.when(`j${i}`), 0);
    assert.equal(rl.when("c"), 100);
  });

  it("default controller limiter is the max of both", () => {
    const timers = new FakeTimers();
    const rl = defaultControllerRateLimiter<string>(timers);
    assert.ok(rl instanceof MaxOfRateLimiter);
    assert.equal(rl.when("x"), 5);
    assert.equal(rl.when("x"), 10);
    assert.equal(rl.numRequeues("x"), 2);
    for (let i = 0; i < 98; i++) rl.when(`i${i}`);
    // Bucket exhausted: the overall limit dominates the 20 ms item backoff.
    assert.equal(rl.when("x"), 100);
    rl.forget("x");
    assert.equal(rl.numRequeues("x"), 0);
  });
});
