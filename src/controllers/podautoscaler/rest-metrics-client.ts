/**
 * The HPA's metrics over the API server, as upstream's REST metrics
 * client: resource metrics from `metrics.k8s.io/v1beta1` PodMetrics (which
 * skiff's API server serves itself). skiff serves no custom or external
 * metrics API, so those calls fail the way upstream's clients do when the
 * group is not registered; the HPA then reports FailedGetPodsMetric,
 * FailedGetObjectMetric or FailedGetExternalMetric.
 */
import type { RestClient } from "../../client/rest-client.js";
import { parseDuration } from "../../machinery/duration.js";
import { milliValue } from "../../scheduler/framework/quantity.js";
import { parseTime } from "../common/time.js";
import type { MetricsClient, PodMetricsInfo } from "./metrics.js";

interface PodMetricsWire {
  metadata?: { name?: string; namespace?: string };
  timestamp?: string | null;
  window?: string;
  containers?: { name: string; usage?: Record<string, string> }[];
}

function windowMs(w: string | undefined): number {
  if (!w) return 0;
  try {
    return parseDuration(w);
  } catch {
    return 0;
  }
}

/** {@link MetricsClient} over the API server's metrics.k8s.io. */
export function restMetricsClient(rest: RestClient): MetricsClient {
  return {
    async getResourceMetric(resource, namespace, selector, container) {
      let list: { items?: PodMetricsWire[] };
      try {
        list = await rest.request<{ items?: PodMetricsWire[] }>("GET", `/apis/metrics.k8s.io/v1beta1/namespaces/${encodeURIComponent(namespace)}/pods`, {
          query: { labelSelector: selector || undefined },
        });
      } catch (err) {
        throw new Error(`unable to fetch metrics from resource metrics API: ${(err as Error).message}`);
      }
      const items = list.items ?? [];
      if (items.length === 0) throw new Error("no metrics returned from resource metrics API");
      const metrics = container ? containerMetrics(items, resource, container) : podMetrics(items, resource);
      return { metrics, timestamp: parseTime(items[0]!.timestamp) };
    },
    async getRawMetric() {
      throw new Error("unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered");
    },
    async getObjectMetric() {
      throw new Error("unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered");
    },
    async getExternalMetric(metricName) {
      throw new Error(`unable to fetch metrics from external metrics API: the server could not find the requested resource (get ${metricName}.external.metrics.k8s.io)`);
    },
  };
}

/** Per pod, the sum over its containers; a pod with any container lacking the resource is left out (getPodMetrics). */
function podMetrics(items: readonly PodMetricsWire[], resource: string): PodMetricsInfo {
  const res: PodMetricsInfo = new Map();
  for (const m of items) {
    const containers = m.containers ?? [];
    let missing = containers.length === 0;
    let sum = 0;
    for (const c of containers) {
      const v = c.usage?.[resource];
      if (v === undefined) {
        missing = true;
        break;
      }
      sum += milliValue(v);
    }
    if (!missing) res.set(m.metadata?.name ?? "", { timestamp: parseTime(m.timestamp), windowMs: windowMs(m.window), value: sum });
  }
  return res;
}

/** Per pod, the one named container's usage (getContainerMetrics). */
function containerMetrics(items: readonly PodMetricsWire[], resource: string, container: string): PodMetricsInfo {
  const res: PodMetricsInfo = new Map();
  for (const m of items) {
    for (const c of m.containers ?? []) {
      if (c.name !== container) continue;
      const v = c.usage?.[resource];
      if (v === undefined) throw new Error(`failed to get container metrics: missing resource metric ${resource} for container ${container} in pod ${m.metadata?.namespace}/${m.metadata?.name}`);
      res.set(m.metadata?.name ?? "", { timestamp: parseTime(m.timestamp), windowMs: windowMs(m.window), value: milliValue(v) });
    }
  }
  return res;
}
