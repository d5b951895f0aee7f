import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeSummary } from "./summary-decode.js";

const T = "2026-01-01T00:00:10Z";
const ms = Date.parse(T);
const cpu = (n: number | undefined, time = T) => ({ time, ...(n !== undefined ? { usageCoreNanoSeconds: n } : {}) });
const mem = (n: number | undefined) => ({ time: T, ...(n !== undefined ? { workingSetBytes: n } : {}) });
const container = (name: string, c: number | undefined, m: number | undefined, startTime = "2026-01-01T00:00:00Z") => ({ name, startTime, cpu: cpu(c), memory: mem(m) });

test("a node and complete pods become points: cpu counter at the cpu time, working set", () => {
  const b = decodeSummary({
    node: { nodeName: "n1", startTime: T, cpu: cpu(5e9), memory: mem(1e6) },
    pods: [{ podRef: { name: "a", namespace: "ns", uid: "u" }, startTime: T, containers: [container("x", 100, 200), container("y", 300, 400)] }],
  });
  assert.deepEqual(b.nodes.get("n1"), { startTime: 0, timestamp: ms, cumulativeCpu: 5e9, memory: 1e6 });
  const pod = b.pods.get("ns/a")!;
  assert.deepEqual([...pod.containers.keys()], ["x", "y"]);
  assert.deepEqual(pod.containers.get("y"), { startTime: Date.parse("2026-01-01T00:00:00Z"), timestamp: ms, cumulativeCpu: 300, memory: 400 });
});

test("bad data is dropped: zero or missing counters, missing times, and a pod with one bad container", () => {
  const b = decodeSummary({
    node: { nodeName: "n1", startTime: T, cpu: cpu(0), memory: mem(1) },
    pods: [
      { podRef: { name: "zero-cpu", namespace: "ns" }, containers: [container("x", 0, 1)] },
      { podRef: { name: "no-mem", namespace: "ns" }, containers: [container("x", 1, undefined)] },
      { podRef: { name: "no-start", namespace: "ns" }, containers: [container("x", 1, 1, "")] },
      { podRef: { name: "zero-time", namespace: "ns" }, containers: [{ ...container("x", 1, 1), cpu: cpu(1, "0001-01-01T00:00:00Z") }] },
      { podRef: { name: "partial", namespace: "ns" }, containers: [container("ok", 1, 1), container("bad", undefined, 1)] },
      { podRef: { name: "empty", namespace: "ns" }, containers: [] },
      { containers: [] },
    ],
  });
  assert.equal(b.nodes.size, 0);
  assert.deepEqual([...b.pods.keys()], ["ns/empty"]);
  assert.deepEqual(decodeSummary("garbage"), { nodes: new Map(), pods: new Map() });
});
