import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BackoffStore, getRemainingTime } from "./backoff.js";
import { DEFAULT_POD_FAILURE_BACKOFF_MS, MAX_POD_FAILURE_BACKOFF_MS } from "./constants.js";
import { NOW, newJob, newPod } from "./fixtures.js";
import { matchPodFailurePolicy } from "./pod-failure-policy.js";

describe("pod failure backoff (upstream's TestGetRemainingBackoffTime)", () => {
  const cases: { failures: number; sinceMs: number; want: number }[] = [
    { failures: 0, sinceMs: 0, want: 0 },
    { failures: 1, sinceMs: 0, want: 10_000 },
    { failures: 1, sinceMs: 4000, want: 6000 },
    { failures: 1, sinceMs: 11_000, want: 0 },
    { failures: 2, sinceMs: 5000, want: 15_000 },
    { failures: 3, sinceMs: 0, want: 40_000 },
    { failures: 7, sinceMs: 0, want: 600_000 },
    { failures: 50, sinceMs: 60_000, want: 540_000 },
  ];
  for (const c of cases) {
    it(`${c.failures} failure(s), last ${c.sinceMs} ms ago: ${c.want} ms left`, () => {
      const rec = { key: "ns/j", failuresAfterLastSuccess: c.failures, lastFailureTime: NOW - c.sinceMs };
      assert.equal(getRemainingTime(rec, NOW, DEFAULT_POD_FAILURE_BACKOFF_MS, MAX_POD_FAILURE_BACKOFF_MS), c.want);
    });
  }

  it("counts failures since the last success", () => {
    const job = newJob(1, 5);
    const store = new BackoffStore();
    // Finish times in seconds ago (the API's times have whole seconds).
    const f = (t: number) => newPod(`f${t}`, job, "Failed", { finishedAt: NOW - t * 1000 });
    const s = (t: number) => newPod(`s${t}`, job, "Succeeded", { finishedAt: NOW - t * 1000 });
    let rec = store.newBackoffRecord("k", [], [f(30), f(20)]);
    assert.deepEqual([rec.failuresAfterLastSuccess, rec.lastFailureTime], [2, NOW - 20_000]);
    store.updateBackoffRecord(rec);
    rec = store.newBackoffRecord("k", [], [f(10)]);
    assert.equal(rec.failuresAfterLastSuccess, 3);
    // A success resets; only failures after it count.
    rec = store.newBackoffRecord("k", [s(15)], [f(25), f(5)]);
    assert.deepEqual([rec.failuresAfterLastSuccess, rec.lastFailureTime], [1, NOW - 5000]);
    rec = store.newBackoffRecord("k", [s(1)], []);
    assert.deepEqual([rec.failuresAfterLastSuccess, rec.lastFailureTime], [0, undefined]);
  });
});

describe("matchPodFailurePolicy (upstream's TestMatchPodFailurePolicy)", () => {
  const job = newJob(1, 1);
  const failed = (code: number) => newPod("p", job, "Failed", { exitCode: code });
  const rules = [
    { action: "Ignore", onExitCodes: { operator: "In", values: [1, 2] } },
    { action: "Count", onExitCodes: { operator: "In", values: [3] } },
    { action: "FailJob", onExitCodes: { operator: "NotIn", values: [0, 1, 2, 3] } },
  ];
  const cases: [number, string | undefined, boolean, boolean][] = [
    // exit code, action, counted, fails the Job
    [1, "Ignore", false, false],
    [3, "Count", true, false],
    [7, "FailJob", true, true],
  ];
  for (const [code, action, counted, failsJob] of cases) {
    it(`exit code ${code}: ${action}`, () => {
      const m = matchPodFailurePolicy({ rules }, failed(code));
      assert.equal(m.action, action);
      assert.equal(m.countFailed, counted);
      assert.equal(m.jobFailureMessage !== undefined, failsJob);
    });
  }

  it("ignores exit code 0 and unnamed containers when a name is given", () => {
    const named = [{ action: "FailJob", onExitCodes: { containerName: "other", operator: "NotIn", values: [] } }];
    assert.deepEqual(matchPodFailurePolicy({ rules: named }, failed(5)), { countFailed: true });
    const any = [{ action: "FailJob", onExitCodes: { operator: "NotIn", values: [] } }];
    assert.deepEqual(matchPodFailurePolicy({ rules: any }, failed(0)), { countFailed: true });
  });
});
