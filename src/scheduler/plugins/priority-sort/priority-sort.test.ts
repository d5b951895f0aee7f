import assert from "node:assert/strict";
import { test } from "node:test";
import { PodInfo, QueuedPodInfo } from "../../framework/pod-info.js";
import { makePod } from "../../testing/wrappers.js";
import { PrioritySort } from "./priority-sort.js";

// upstream TestLess
test("PrioritySort Less", () => {
  const q = (priority: number | undefined, timestamp: number) => {
    const w = makePod(`p${priority}-${timestamp}`);
    if (priority !== undefined) w.priority(priority);
    return new QueuedPodInfo(new PodInfo(w.obj()), timestamp);
  };
  const cases: { name: string; a: QueuedPodInfo; b: QueuedPodInfo; want: boolean }[] = [
    { name: "p1.priority less than p2.priority", a: q(1, 0), b: q(2, 0), want: false },
    { name: "p1.priority greater than p2.priority", a: q(2, 0), b: q(1, 0), want: true },
    { name: "equal priority. p1 is added to schedulingQ earlier than p2", a: q(1, 1), b: q(1, 2), want: true },
    { name: "equal priority. p2 is added to schedulingQ earlier than p1", a: q(1, 2), b: q(1, 1), want: false },
    { name: "no priority counts as 0", a: q(undefined, 0), b: q(-1, 0), want: true },
  ];
  for (const c of cases) assert.equal(new PrioritySort().less(c.a, c.b), c.want, c.name);
});
