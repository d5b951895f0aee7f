import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeClock } from "../../machinery/clock.js";
import { parseLabelSelector } from "../../machinery/labels.js";
import { COOL_START, fakeMetricsClient, metricsOf, NOW, type PodFixture, pod } from "./fixtures.js";
import { ReplicaCalculator } from "./replica-calculator.js";

const SELECTOR = "app=web";

function calculator(pods: PodFixture[], metrics: Record<string, number>, metricTimestamp?: number): ReplicaCalculator {
  const objs = pods.map(pod);
  return new ReplicaCalculator({
    metrics: fakeMetricsClient(() => metricsOf(metrics, metricTimestamp)),
    listPods: (_ns, sel) => objs.filter((p) => sel.matches(p.metadata?.labels)),
    clock: new FakeClock(NOW),
  });
}

function names(n: number, f: Partial<PodFixture> = {}): PodFixture[] {
  return Array.from({ length: n }, (_, i) => ({ name: `pod-${i}`, request: "1", ...f }));
}

describe("HPA replica calculator: cpu utilization (upstream's TestReplicaCalc* cases)", () => {
  interface Case {
    readonly name: string;
    readonly current: number;
    readonly pods: PodFixture[];
    readonly metrics: Record<string, number>;
    readonly target: number;
    readonly want: number;
    readonly wantUtilization: number;
    readonly wantRaw: number;
    readonly metricTimestamp?: number;
  }
  const cases: Case[] = [
    { name: "scale up", current: 3, pods: names(3), metrics: { "pod-0": 300, "pod-1": 500, "pod-2": 700 }, target: 30, want: 5, wantUtilization: 50, wantRaw: 500 },
    {
      // The unready pod counts as 0 % on a scale-up: 1200m over 3 cores is 40 % → 4, not 5.
      name: "scale up, unready pod dampens",
      current: 3,
      pods: [
        { name: "pod-0", request: "1", ready: "False" },
        { name: "pod-1", request: "1" },
        { name: "pod-2", request: "1" },
      ],
      metrics: { "pod-0": 300, "pod-1": 500, "pod-2": 700 },
      target: 30,
      want: 4,
      wantUtilization: 60,
      wantRaw: 600,
    },
    {
      name: "scale up, pending pod counts as unready",
      current: 3,
      pods: [{ name: "pod-0", request: "1" }, { name: "pod-1", request: "1" }, { name: "pod-2", request: "1", phase: "Pending" }],
      metrics: { "pod-0": 900, "pod-1": 900 },
      target: 50,
      want: 4,
      wantUtilization: 90,
      wantRaw: 900,
    },
    {
      name: "scale up, missing metrics count as 0 % and flip the direction: no change",
      current: 3,
      pods: names(3),
      metrics: { "pod-0": 1500, "pod-1": 1300 },
      target: 100,
      want: 3,
      wantUtilization: 140,
      wantRaw: 1400,
    },
    {
      name: "scale down",
      current: 5,
      pods: names(5),
      metrics: { "pod-0": 100, "pod-1": 300, "pod-2": 500, "pod-3": 250, "pod-4": 250 },
      target: 50,
      want: 3,
      wantUtilization: 28,
      wantRaw: 280,
    },
    {
      // Missing pods count as using their whole request on a scale-down: 2495m over 4 cores → 62 % → 3.
      name: "scale down, missing metrics count as 100 %",
      current: 4,
      pods: names(4),
      metrics: { "pod-0": 400, "pod-1": 95 },
      target: 100,
      want: 3,
      wantUtilization: 24,
      wantRaw: 247,
    },
    {
      name: "scale down, deleted and failed pods are ignored",
      current: 5,
      pods: [...names(3), { name: "pod-3", request: "1", deleting: true }, { name: "pod-4", request: "1", phase: "Failed" }],
      metrics: { "pod-0": 100, "pod-1": 300, "pod-2": 500, "pod-3": 2000, "pod-4": 2000 },
      target: 50,
      want: 2,
      wantUtilization: 30,
      wantRaw: 300,
    },
    {
      name: "within tolerance",
      current: 3,
      pods: [
        { name: "pod-0", request: "900m" },
        { name: "pod-1", request: "1" },
        { name: "pod-2", request: "1100m" },
      ],
      metrics: { "pod-0": 1010, "pod-1": 1030, "pod-2": 1020 },
      target: 100,
      want: 3,
      wantUtilization: 102,
      wantRaw: 1020,
    },
    {
      name: "requests summed over containers",
      current: 1,
      pods: [{ name: "pod-0", request: "250m", containers: 2 }],
      metrics: { "pod-0": 1000 },
      target: 50,
      want: 4,
      wantUtilization: 200,
      wantRaw: 1000,
    },
    {
      // Started 1 min ago and became ready 10 s later: a sample taken before a whole window had passed since is not trusted.
      name: "cpu initialization: a sample from before the readiness transition plus a window is unready",
      current: 2,
      pods: [
        { name: "pod-0", request: "1" },
        { name: "pod-1", request: "1", startTime: NOW - 60_000, readyTransition: NOW - 50_000 },
      ],
      metrics: { "pod-0": 2000, "pod-1": 0 },
      metricTimestamp: NOW - 30_000,
      target: 100,
      // pod-1 is unready: pod-0's 200 % scales up, with pod-1 at 0 %: 2000m/2 cores → 100 % → no change.
      want: 2,
      wantUtilization: 200,
      wantRaw: 2000,
    },
    {
      name: "after the initialization period, a pod that became ready later counts",
      current: 2,
      pods: [
        { name: "pod-0", request: "1" },
        { name: "pod-1", request: "1", readyTransition: COOL_START + 60_000 },
      ],
      metrics: { "pod-0": 2000, "pod-1": 2000 },
      target: 100,
      want: 4,
      wantUtilization: 200,
      wantRaw: 2000,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const calc = calculator(c.pods, c.metrics, c.metricTimestamp);
      const got = await calc.getResourceReplicas(c.current, c.target, "cpu", "default", SELECTOR, parseLabelSelector(SELECTOR), "");
      assert.equal(got.replicas, c.want);
      assert.equal(got.utilization, c.wantUtilization);
      assert.equal(got.rawUtilization, c.wantRaw);
    });
  }
});

describe("HPA replica calculator: failures carry upstream's messages", () => {
  it("no pods", async () => {
    const calc = calculator([], { "pod-0": 100 });
    await assert.rejects(calc.getResourceReplicas(1, 50, "cpu", "default", SELECTOR, parseLabelSelector(SELECTOR), ""), {
      message: "no pods returned by selector while calculating replica count",
    });
  });
  it("only unready pods", async () => {
    const calc = calculator([{ name: "pod-0", request: "1", phase: "Pending" }], { "pod-0": 100 });
    await assert.rejects(calc.getResourceReplicas(1, 50, "cpu", "default", SELECTOR, parseLabelSelector(SELECTOR), ""), {
      message: "did not receive metrics for targeted pods (pods might be unready)",
    });
  });
  it("a container without a request", async () => {
    const calc = calculator([{ name: "pod-0" }], { "pod-0": 100 });
    await assert.rejects(calc.getResourceReplicas(1, 50, "cpu", "default", SELECTOR, parseLabelSelector(SELECTOR), ""), {
      message: "missing request for cpu in container c0 of Pod pod-0",
    });
  });
  it("no metrics at all", async () => {
    const calc = calculator(names(1), {});
    await assert.rejects(calc.getResourceReplicas(1, 50, "cpu", "default", SELECTOR, parseLabelSelector(SELECTOR), ""), {
      message: "unable to get metrics for resource cpu: no metrics returned from resource metrics API",
    });
  });
  it("a custom pods metric without a custom metrics API", async () => {
    const calc = calculator(names(1), {});
    await assert.rejects(calc.getMetricReplicas(1, 1000, "qps", "default", SELECTOR, parseLabelSelector(SELECTOR), ""), {
      message: "unable to get metric qps: unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered",
    });
  });
});

describe("HPA replica calculator: average value (raw) targets", () => {
  const MI = 1024 * 1024 * 1000; // 1 Mi in milli-bytes
  it("memory above its average value scales up; readiness does not matter for memory", async () => {
    const pods: PodFixture[] = [
      { name: "pod-0", request: "100Mi", resource: "memory" },
      { name: "pod-1", request: "100Mi", resource: "memory", startTime: NOW - 1000, readyTransition: NOW - 500 },
    ];
    const calc = calculator(pods, { "pod-0": 300 * MI, "pod-1": 100 * MI });
    const got = await calc.getRawResourceReplicas(2, 100 * MI, "memory", "default", SELECTOR, parseLabelSelector(SELECTOR), "");
    assert.equal(got.replicas, 4);
    assert.equal(got.usage, 200 * MI);
  });
  it("missing pods sit at the target on a scale-down", async () => {
    const calc = calculator(names(3, { request: "100Mi", resource: "memory" }), { "pod-0": 10 * MI, "pod-1": 10 * MI });
    // (10 + 10 + 100) / 3 = 40 Mi against 100 Mi → ceil(0.4 × 3) = 2.
    const got = await calc.getRawResourceReplicas(3, 100 * MI, "memory", "default", SELECTOR, parseLabelSelector(SELECTOR), "");
    assert.equal(got.replicas, 2);
    assert.equal(got.usage, 10 * MI);
  });
});
