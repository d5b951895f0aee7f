import assert from "node:assert/strict";
import { test } from "node:test";
import { MetricsStorage, resourceUsage } from "./storage.js";
import type { MetricsBatch, MetricsPoint } from "./summary-decode.js";

const S = 1000;
const point = (timestamp: number, cumulativeCpu: number, memory = 100, startTime = 0): MetricsPoint => ({ startTime, timestamp, cumulativeCpu, memory });
const batch = (nodes: Record<string, MetricsPoint>, pods: Record<string, Record<string, MetricsPoint>> = {}): MetricsBatch => ({
  nodes: new Map(Object.entries(nodes)),
  pods: new Map(
    Object.entries(pods).map(([k, cs]) => {
      const [namespace, name] = k.split("/") as [string, string];
      return [k, { namespace, name, containers: new Map(Object.entries(cs)) }];
    }),
  ),
});

test("usage is the counter's rate over the window (truncated nanocores) and the last working set", () => {
  assert.deepEqual(resourceUsage(point(25 * S, 3_000_000_001, 7), point(10 * S, 0)), { cpuNanoCores: 200_000_000, memoryBytes: 7, timestamp: 25 * S, windowMs: 15 * S });
  assert.equal(resourceUsage(point(25 * S, 1), point(10 * S, 2)), undefined, "a counter going backwards");
  assert.equal(resourceUsage(point(25 * S, 2, 1, 5), point(10 * S, 1, 1, 6)), undefined, "a start going backwards");
});

test("a node needs two scrapes with different times; an older or equal point keeps the stored pair", () => {
  const s = new MetricsStorage(15 * S);
  s.store(batch({ n: point(10 * S, 1e9) }));
  assert.equal(s.node("n"), undefined);
  assert.equal(s.ready, false);
  s.store(batch({ n: point(25 * S, 2.5e9) }));
  assert.equal(s.node("n")?.cpuNanoCores, 100_000_000);
  assert.equal(s.ready, true);
  // The same sample again (the kubelet had nothing newer): the previous point stays.
  s.store(batch({ n: point(25 * S, 2.5e9) }));
  assert.equal(s.node("n")?.windowMs, 15 * S);
  // A node missing from a scrape is forgotten.
  s.store(batch({}));
  assert.equal(s.node("n"), undefined);
});

test("pods: every container needs two points of the same instance; a restart starts over", () => {
  const s = new MetricsStorage(15 * S);
  const start = 1 * S;
  s.store(batch({}, { "ns/p": { a: point(10 * S, 1e9, 10, start), b: point(10 * S, 1e9, 20, start) } }));
  assert.equal(s.pod("ns", "p"), undefined);
  s.store(batch({}, { "ns/p": { a: point(20 * S, 2e9, 11, start), b: point(20 * S, 3e9, 21, start) } }));
  assert.deepEqual(s.pod("ns", "p"), {
    timestamp: 20 * S,
    windowMs: 10 * S,
    containers: [
      { name: "a", cpuNanoCores: 100_000_000, memoryBytes: 11 },
      { name: "b", cpuNanoCores: 200_000_000, memoryBytes: 21 },
    ],
  });
  // b restarted at 25 s: its old points are not comparable, so the pod waits for b's second point.
  s.store(batch({}, { "ns/p": { a: point(30 * S, 3e9, 12, start), b: point(30 * S, 1e8, 22, 25 * S) } }));
  assert.equal(s.pod("ns", "p"), undefined);
  s.store(batch({}, { "ns/p": { a: point(40 * S, 4e9, 12, start), b: point(40 * S, 2e8, 22, 25 * S) } }));
  assert.equal(s.pod("ns", "p")?.containers.length, 2);
});

test("a container started at least 10 s but less than a resolution ago is rated from its start", () => {
  const s = new MetricsStorage(60 * S);
  s.store(batch({}, { "ns/fresh": { a: point(112 * S, 6e9, 5, 100 * S) }, "ns/young": { a: point(105 * S, 1e9, 5, 100 * S) } }));
  assert.deepEqual(s.pod("ns", "fresh"), { timestamp: 112 * S, windowMs: 12 * S, containers: [{ name: "a", cpuNanoCores: 500_000_000, memoryBytes: 5 }] });
  assert.equal(s.pod("ns", "young"), undefined, "below 10 s the start-based rate is too noisy");
});
