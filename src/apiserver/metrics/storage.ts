/**
 * The last two scrapes of every node and container, and the usage they
 * give, as metrics-server's storage computes it: cpu is the rate of the
 * cumulative counter between the previous and the last point (nanocores,
 * truncated), memory the last working set; `timestamp` is the last point's
 * time and `window` the gap between the two. A point only replaces the
 * stored one when it is newer; a container whose start time changed
 * (restarted) starts over. A container started less than one resolution
 * ago but at least 10 s ago is rated against its start (counter 0 then),
 * so fresh pods show up one scrape sooner.
 */
import type { MetricsBatch, MetricsPoint } from "./summary-decode.js";

/** metrics-server's freshContainerMinMetricsResolution: below this, a start-based rate is too noisy. */
const FRESH_CONTAINER_MIN_RESOLUTION_MS = 10_000;

/** Usage over a window. */
export interface Usage {
  /** Billionths of a core. */
  readonly cpuNanoCores: number;
  readonly memoryBytes: number;
  /** Epoch ms of the last point. */
  readonly timestamp: number;
  readonly windowMs: number;
}

/** A pod's usage: per container, with the earliest container's time info. */
export interface PodUsage {
  readonly timestamp: number;
  readonly windowMs: number;
  readonly containers: readonly { readonly name: string; readonly cpuNanoCores: number; readonly memoryBytes: number }[];
}

/** Usage between two points of one node or container; undefined when they cannot be compared (metrics-server skips them). */
export function resourceUsage(last: MetricsPoint, prev: MetricsPoint): Usage | undefined {
  if (last.startTime < prev.startTime) return undefined;
  if (last.cumulativeCpu < prev.cumulativeCpu) return undefined;
  const windowMs = last.timestamp - prev.timestamp;
  if (windowMs <= 0) return undefined;
  return {
    cpuNanoCores: Math.trunc(((last.cumulativeCpu - prev.cumulativeCpu) * 1000) / windowMs),
    memoryBytes: last.memory,
    timestamp: last.timestamp,
    windowMs,
  };
}

/** See the module comment. */
export class MetricsStorage {
  private lastNodes = new Map<string, MetricsPoint>();
  private prevNodes = new Map<string, MetricsPoint>();
  private lastPods = new Map<string, Map<string, MetricsPoint>>();
  private prevPods = new Map<string, Map<string, MetricsPoint>>();

  /** @param resolutionMs the scrape interval (metrics-server's --metric-resolution). */
  constructor(private readonly resolutionMs: number) {}

  /** Whether any node or container has two points (metrics-server's readiness). */
  get ready(): boolean {
    return this.prevNodes.size > 0 || this.prevPods.size > 0;
  }

  /** Takes one scrape of every node; what it lacks is forgotten. */
  store(batch: MetricsBatch): void {
    const lastNodes = new Map<string, MetricsPoint>();
    const prevNodes = new Map<string, MetricsPoint>();
    for (const [name, point] of batch.nodes) {
      lastNodes.set(name, point);
      const last = this.lastNodes.get(name);
      if (!last) continue;
      if (point.timestamp > last.timestamp) prevNodes.set(name, last);
      else {
        const prev = this.prevNodes.get(name);
        if (prev && prev.timestamp < point.timestamp) prevNodes.set(name, prev);
      }
    }
    this.lastNodes = lastNodes;
    this.prevNodes = prevNodes;

    const lastPods = new Map<string, Map<string, MetricsPoint>>();
    const prevPods = new Map<string, Map<string, MetricsPoint>>();
    for (const [key, pod] of batch.pods) {
      const newLast = new Map<string, MetricsPoint>();
      const newPrev = new Map<string, MetricsPoint>();
      for (const [name, point] of pod.containers) {
        newLast.set(name, point);
        const age = point.timestamp - point.startTime;
        if (point.startTime < point.timestamp && age < this.resolutionMs && age >= FRESH_CONTAINER_MIN_RESOLUTION_MS) {
          newPrev.set(name, { ...point, timestamp: point.startTime, cumulativeCpu: 0 });
          continue;
        }
        const last = this.lastPods.get(key)?.get(name);
        // Same instance only: a start after the stored point means the container restarted.
        if (!last || !(point.startTime < last.timestamp)) continue;
        if (point.timestamp > last.timestamp) newPrev.set(name, last);
        else {
          const prev = this.prevPods.get(key)?.get(name);
          if (prev && prev.timestamp < point.timestamp) newPrev.set(name, prev);
        }
      }
      if (newPrev.size > 0) prevPods.set(key, newPrev);
      lastPods.set(key, newLast);
    }
    this.lastPods = lastPods;
    this.prevPods = prevPods;
  }

  /** The node's usage, or undefined without two comparable points. */
  node(name: string): Usage | undefined {
    const last = this.lastNodes.get(name);
    const prev = this.prevNodes.get(name);
    return last && prev ? resourceUsage(last, prev) : undefined;
  }

  /**
   * The pod's usage, or undefined unless every container it last reported
   * has two points (a partial pod is no pod, as for metrics-server).
   */
  pod(namespace: string, name: string): PodUsage | undefined {
    const key = `${namespace}/${name}`;
    const last = this.lastPods.get(key);
    const prev = this.prevPods.get(key);
    if (!last || !prev) return undefined;
    const containers: { name: string; cpuNanoCores: number; memoryBytes: number }[] = [];
    let earliest: Usage | undefined;
    for (const [c, point] of last) {
      const p = prev.get(c);
      if (!p) return undefined;
      const u = resourceUsage(point, p);
      if (!u) continue;
      containers.push({ name: c, cpuNanoCores: u.cpuNanoCores, memoryBytes: u.memoryBytes });
      if (!earliest || earliest.timestamp > u.timestamp) earliest = u;
    }
    return { timestamp: earliest?.timestamp ?? 0, windowMs: earliest?.windowMs ?? 0, containers };
  }
}
