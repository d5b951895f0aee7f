import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeClock } from "../machinery/clock.js";
import { Backoff, CRASH_LOOP_RESET_MS } from "./backoff.js";
import { goDuration } from "./go-format.js";

describe("Backoff (crash loop, as upstream)", () => {
  it("doubles from 10s to the 5m cap", () => {
    const clock = new FakeClock();
    const b = new Backoff(10_000, 300_000, clock);
    const seen: string[] = [];
    for (let i = 0; i < 7; i++) {
      b.next("c", clock.now());
      seen.push(goDuration(b.get("c")));
      clock.advance(b.get("c"));
    }
    assert.deepEqual(seen, ["10s", "20s", "40s", "1m20s", "2m40s", "5m0s", "5m0s"]);
  });

  it("holds a restart back until the delay since the exit passed", () => {
    const clock = new FakeClock();
    const b = new Backoff(10_000, 300_000, clock);
    const exit1 = clock.now();
    assert.equal(b.isInBackOffSince("c", exit1), false, "the first restart is immediate");
    b.next("c", exit1);
    clock.advance(1_000);
    const exit2 = clock.now();
    assert.equal(b.isInBackOffSince("c", exit2), true);
    clock.advance(9_999);
    assert.equal(b.isInBackOffSince("c", exit2), true);
    clock.advance(1);
    assert.equal(b.isInBackOffSince("c", exit2), false);
  });

  it("starts over after ten minutes of clean running", () => {
    const clock = new FakeClock();
    const b = new Backoff(10_000, 300_000, clock);
    for (let i = 0; i < 5; i++) b.next("c", clock.now());
    assert.equal(b.get("c"), 160_000);
    clock.advance(600_001);
    const exit = clock.now();
    assert.equal(b.isInBackOffSince("c", exit), false);
    b.next("c", exit);
    assert.equal(b.get("c"), 10_000);
  });

  it("forgives a crash loop after ten minutes of running whatever the configured cap (upstream HasExpiredFunc)", () => {
    const clock = new FakeClock();
    const b = new Backoff(10_000, 60_000, clock, CRASH_LOOP_RESET_MS);
    for (let i = 0; i < 4; i++) b.next("c", clock.now());
    assert.equal(b.get("c"), 60_000, "capped at the configured one minute");
    // Two minutes (twice the cap) of running is not yet forgiveness.
    clock.advance(120_001);
    assert.equal(b.isInBackOffSince("c", clock.now() - 1), true);
    b.next("c", clock.now());
    assert.equal(b.get("c"), 60_000);
    clock.advance(600_001);
    const exit = clock.now();
    assert.equal(b.isInBackOffSince("c", exit), false);
    b.next("c", exit);
    assert.equal(b.get("c"), 10_000);
    b.next("c", clock.now());
    clock.advance(599_000);
    b.gc();
    assert.equal(b.size, 1, "kept until it could be forgiven");
    clock.advance(2_000);
    b.gc();
    assert.equal(b.size, 0);
  });

  it("image pull back-off counts from the last attempt", () => {
    const clock = new FakeClock();
    const b = new Backoff(10_000, 300_000, clock);
    assert.equal(b.isInBackOffSinceUpdate("img"), false);
    b.next("img", clock.now());
    assert.equal(b.isInBackOffSinceUpdate("img"), true);
    clock.advance(10_000);
    assert.equal(b.isInBackOffSinceUpdate("img"), false);
  });

  it("forgets idle keys and a pod's keys", () => {
    const clock = new FakeClock();
    const b = new Backoff(10_000, 300_000, clock);
    b.next("p_ns_u1_a", clock.now());
    b.next("p_ns_u2_a", clock.now());
    b.deletePrefix("p_ns_u1_");
    assert.equal(b.size, 1);
    clock.advance(600_001);
    b.gc();
    assert.equal(b.size, 0);
  });
});
