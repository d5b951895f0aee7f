import assert from "node:assert/strict";
import { test } from "node:test";
import { Code } from "../../framework/status.js";
import { makePod } from "../../testing/wrappers.js";
import { PodReasonSchedulingGated, SchedulingGates } from "./scheduling-gates.js";

// upstream TestPreEnqueue
test("SchedulingGates PreEnqueue", () => {
  const cases: { name: string; gates: string[]; want?: string }[] = [
    { name: "pod does not carry scheduling gates", gates: [] },
    { name: "pod carries scheduling gates", gates: ["foo", "bar"], want: "waiting for scheduling gates: [foo bar]" },
  ];
  for (const c of cases) {
    const s = new SchedulingGates().preEnqueue(makePod("p").schedulingGates(c.gates).obj());
    if (!c.want) assert.equal(s, null, c.name);
    else {
      assert.equal(s?.code, Code.UnschedulableAndUnresolvable, c.name);
      assert.equal(s?.message(), c.want, c.name);
    }
  }
  assert.equal(PodReasonSchedulingGated, "SchedulingGated");
  assert.deepEqual(new SchedulingGates().eventsToRegister(), []);
});
