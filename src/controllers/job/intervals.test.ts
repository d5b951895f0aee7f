import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Job } from "kubernetes-types/batch/v1.js";
import { firstPendingIndexes } from "./indexed.js";
import { hasIndex, intervalsString, parseIndexesFromString, total, withOrderedIndexes } from "./intervals.js";
import { newJob, newPod } from "./fixtures.js";

describe("ordered intervals (upstream's TestIntervalsString, TestParseIndexesFromString)", () => {
  const cases: [string, number, string, number][] = [
    // input, completions, printed back, total
    ["", 10, "", 0],
    ["1", 10, "1", 1],
    ["0,1", 10, "0,1", 2],
    ["0,1,2", 10, "0-2", 3],
    ["0-2,4,6-7,8", 10, "0-2,4,6-8", 7],
    ["0-4,5-6", 5, "0-4", 5],
    ["3-9", 6, "3-5", 3],
    ["1,x,3", 10, "1,3", 2],
    ["7,11", 10, "7", 1],
  ];
  for (const [input, completions, printed, n] of cases) {
    it(`"${input}" with completions ${completions}`, () => {
      const oi = parseIndexesFromString(input, completions);
      assert.equal(intervalsString(oi), printed);
      assert.equal(total(oi), n);
    });
  }

  it("merges new indexes in order, joining neighbours", () => {
    const oi = withOrderedIndexes(parseIndexesFromString("1,5-7", 20), [0, 2, 8, 12]);
    assert.equal(intervalsString(oi), "0-2,5-8,12");
    assert.ok(hasIndex(oi, 6));
    assert.ok(!hasIndex(oi, 4));
    assert.ok(!hasIndex(oi, 13));
  });
});

describe("firstPendingIndexes (upstream's TestFirstPendingIndexes)", () => {
  const job: Job = newJob(3, 10, 6, "Indexed");
  const cases: { name: string; active: number[]; succeeded: string; failed?: string; count: number; want: number[] }[] = [
    { name: "nothing yet", active: [], succeeded: "", count: 3, want: [0, 1, 2] },
    { name: "gaps between active and succeeded", active: [0, 4], succeeded: "1,3", count: 3, want: [2, 5, 6] },
    { name: "failed indexes are not pending", active: [], succeeded: "0", failed: "1-2", count: 2, want: [3, 4] },
    { name: "not beyond completions", active: [], succeeded: "0-7", count: 5, want: [8, 9] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const activePods = c.active.map((i) => newPod(`p${i}`, job, "Running", { index: i }));
      const got = firstPendingIndexes(
        {
          job,
          pods: activePods,
          activePods,
          succeededIndexes: parseIndexesFromString(c.succeeded, 10),
          failedIndexes: c.failed ? parseIndexesFromString(c.failed, 10) : undefined,
        },
        c.count,
        10,
      );
      assert.deepEqual(got, c.want);
    });
  }
});
