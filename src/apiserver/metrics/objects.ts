/**
 * NodeMetrics and PodMetrics objects (k8s.io/metrics v1beta1) as
 * metrics-server returns them: metadata with the object's name, namespace
 * and labels and a creationTimestamp of "now", the last point's
 * `timestamp`, the `window` it was rated over (a Go duration), and usage
 * as quantities (cpu in nanocores' canonical form, memory in bytes').
 */
import { goDuration } from "../../kubelet/go-format.js";
import { rfc3339 } from "../registry/object-store.js";
import { METRICS_API_VERSION } from "./resources.js";
import { bytesQuantity, nanoCoresQuantity } from "./quantity.js";
import type { PodUsage, Usage } from "./storage.js";

/** cpu and memory, as a ResourceList. */
export interface UsageList {
  readonly cpu: string;
  readonly memory: string;
}

export interface MetricsMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly creationTimestamp: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface NodeMetrics {
  readonly kind: "NodeMetrics";
  readonly apiVersion: string;
  readonly metadata: MetricsMeta;
  readonly timestamp: string | null;
  readonly window: string;
  readonly usage: UsageList;
}

export interface ContainerMetrics {
  readonly name: string;
  readonly usage: UsageList;
}

export interface PodMetrics {
  readonly kind: "PodMetrics";
  readonly apiVersion: string;
  readonly metadata: MetricsMeta;
  readonly timestamp: string | null;
  readonly window: string;
  readonly containers: readonly ContainerMetrics[];
}

/** metav1.Time's JSON (whole seconds, UTC); Go's zero time is null. */
export function timeJson(ms: number): string | null {
  return ms > 0 ? rfc3339(ms) : null;
}

/** The metadata of the object the metrics are about. */
interface Source {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly labels?: Readonly<Record<string, string>> };
}

function meta(src: Source, now: number): MetricsMeta {
  const m = src.metadata ?? {};
  const labels = m.labels && Object.keys(m.labels).length > 0 ? m.labels : undefined;
  return { name: m.name ?? "", ...(m.namespace ? { namespace: m.namespace } : {}), creationTimestamp: timeJson(now) ?? "", ...(labels ? { labels } : {}) };
}

export function nodeMetrics(node: Source, u: Usage, now: number): NodeMetrics {
  return {
    kind: "NodeMetrics",
    apiVersion: METRICS_API_VERSION,
    metadata: meta(node, now),
    timestamp: timeJson(u.timestamp),
    window: goDuration(u.windowMs),
    usage: { cpu: nanoCoresQuantity(u.cpuNanoCores), memory: bytesQuantity(u.memoryBytes) },
  };
}

export function podMetrics(pod: Source, u: PodUsage, now: number): PodMetrics {
  return {
    kind: "PodMetrics",
    apiVersion: METRICS_API_VERSION,
    metadata: meta(pod, now),
    timestamp: timeJson(u.timestamp),
    window: goDuration(u.windowMs),
    containers: u.containers.map((c) => ({ name: c.name, usage: { cpu: nanoCoresQuantity(c.cpuNanoCores), memory: bytesQuantity(c.memoryBytes) } })),
  };
}
