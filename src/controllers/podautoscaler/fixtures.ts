/**
 * Test fixtures for the HPA: pods with requests and readiness, and a
 * metrics client serving fixed per-pod figures (as upstream's fake
 * metrics client in replica_calculator_test.go).
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import { rfc3339 } from "../common/time.js";
import type { MetricsClient, PodMetricsInfo } from "./metrics.js";

/** A fixed "now" for tests. */
export const NOW = Date.UTC(2026, 0, 1, 12);
/** A pod started long ago (past the cpu initialization period). */
export const COOL_START = NOW - 10 * 60_000;

export interface PodFixture {
  readonly name: string;
  /** cpu (or `resource`) request per container, as a quantity; none when undefined. */
  readonly request?: string;
  readonly resource?: string;
  readonly containers?: number;
  readonly phase?: "Pending" | "Running" | "Failed" | "Succeeded";
  readonly ready?: "True" | "False";
  readonly startTime?: number;
  readonly readyTransition?: number;
  readonly deleting?: boolean;
  readonly labels?: Record<string, string>;
}

export function pod(f: PodFixture): Pod {
  const start = f.startTime ?? COOL_START;
  const n = f.containers ?? 1;
  return {
    metadata: {
      name: f.name,
      namespace: "default",
      labels: f.labels ?? { app: "web" },
      ...(f.deleting ? { deletionTimestamp: rfc3339(NOW) } : {}),
    },
    spec: {
      containers: Array.from({ length: n }, (_, i) => ({
        name: `c${i}`,
        image: "busybox",
        resources: f.request === undefined ? {} : { requests: { [f.resource ?? "cpu"]: f.request } },
      })),
    },
    status: {
      phase: f.phase ?? "Running",
      startTime: rfc3339(start),
      conditions: [{ type: "Ready", status: f.ready ?? "True", lastTransitionTime: rfc3339(f.readyTransition ?? start) }],
    },
  };
}

/** Per-pod metrics (milli-units) sampled at `timestamp` over a 30 s window. */
export function metricsOf(values: Record<string, number>, timestamp = NOW - 15_000): PodMetricsInfo {
  return new Map(Object.entries(values).map(([name, value]) => [name, { timestamp, windowMs: 30_000, value }]));
}

/** A {@link MetricsClient} answering resource metrics from `values`; custom and external ones fail as without such APIs. */
export function fakeMetricsClient(values: () => PodMetricsInfo | Error): MetricsClient {
  return {
    async getResourceMetric() {
      const v = values();
      if (v instanceof Error) throw v;
      if (v.size === 0) throw new Error("no metrics returned from resource metrics API");
      return { metrics: new Map(v), timestamp: [...v.values()][0]!.timestamp };
    },
    async getRawMetric() {
      throw new Error("unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered");
    },
    async getObjectMetric() {
      throw new Error("unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered");
    },
    async getExternalMetric(name) {
      throw new Error(`unable to fetch metrics from external metrics API: the server could not find the requested resource (get ${name}.external.metrics.k8s.io)`);
    },
  };
}
