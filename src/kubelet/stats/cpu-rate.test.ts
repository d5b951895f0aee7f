import assert from "node:assert/strict";
import { test } from "node:test";
import { CpuRateTracker } from "./cpu-rate.js";

test("a rate needs two samples and is the average over the interval between them", () => {
  const t = new CpuRateTracker();
  t.record("/a", 1_000, 5_000_000_000);
  assert.equal(t.nanoCores("/a"), undefined);
  // 1.5 cores over 2 s.
  t.record("/a", 3_000, 8_000_000_000);
  assert.equal(t.nanoCores("/a"), 1_500_000_000);
  // The rate is the last interval's, not an average since the start.
  t.record("/a", 13_000, 8_000_000_000);
  assert.equal(t.nanoCores("/a"), 0);
});

test("a counter that went backwards (a new cgroup under the same path) starts over", () => {
  const t = new CpuRateTracker();
  t.record("/a", 1_000, 9_000);
  t.record("/a", 2_000, 10_000);
  assert.equal(t.nanoCores("/a"), 1_000);
  t.record("/a", 3_000, 50);
  assert.equal(t.nanoCores("/a"), undefined);
});

test("retain forgets cgroups that are gone", () => {
  const t = new CpuRateTracker();
  t.record("/a", 1, 1);
  t.record("/b", 1, 1);
  t.retain(new Set(["/b"]));
  assert.equal(t.size, 1);
});
