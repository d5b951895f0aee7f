/**
 * The HPA's replica calculator, as upstream's replica_calculator.go: from
 * per-pod metrics and the pods a scale selects, the replica count that
 * brings the metric to its target. Pods being deleted or failed are
 * ignored; pending pods, and for cpu pods still starting up, count as
 * unready; pods without metrics are "missing". Unready and missing pods
 * only ever dampen a change (0 % on a scale-up, 100 % or the target on a
 * scale-down), and nothing changes while the ratio is within the tolerance.
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import { type Clock, systemClock } from "../../machinery/clock.js";
import type { LabelSelector } from "../../machinery/labels.js";
import { milliValue } from "../../scheduler/framework/quantity.js";
import { parseTime } from "../common/time.js";
import type { MetricsClient, PodMetricsInfo } from "./metrics.js";
import { DEFAULT_CPU_INITIALIZATION_PERIOD_MS, DEFAULT_INITIAL_READINESS_DELAY_MS, DEFAULT_TOLERANCE } from "./settings.js";

/** Options of a {@link ReplicaCalculator}. */
export interface ReplicaCalculatorOptions {
  readonly metrics: MetricsClient;
  /** The pods of `namespace` that `selector` matches (a lister over the informer cache). */
  readonly listPods: (namespace: string, selector: LabelSelector) => readonly Pod[];
  /** `--horizontal-pod-autoscaler-tolerance` (0.1). */
  readonly tolerance?: number;
  /** `--horizontal-pod-autoscaler-cpu-initialization-period` (5 min). */
  readonly cpuInitializationPeriodMs?: number;
  /** `--horizontal-pod-autoscaler-initial-readiness-delay` (30 s). */
  readonly initialReadinessDelayMs?: number;
  readonly clock?: Clock;
}

/** A resource-utilization proposal. */
export interface ResourceReplicas {
  readonly replicas: number;
  /** Average utilization, percent of request (int32 truncation as upstream). */
  readonly utilization: number;
  /** Average usage in milli-units. */
  readonly rawUtilization: number;
  readonly timestamp: number;
}

/** A plain-value proposal (average value targets and custom metrics). */
export interface UsageReplicas {
  readonly replicas: number;
  /** Milli-units. */
  readonly usage: number;
  readonly timestamp: number;
}

/** The pods of a scale sorted by how their metrics may be used (upstream's groupPods). */
export interface PodGroups {
  readyPodCount: number;
  readonly unreadyPods: Set<string>;
  readonly missingPods: Set<string>;
  readonly ignoredPods: Set<string>;
}

/** See the module comment. */
export class ReplicaCalculator {
  readonly tolerance: number;
  readonly cpuInitializationPeriodMs: number;
  readonly initialReadinessDelayMs: number;
  private readonly clock: Clock;

  constructor(private readonly opts: ReplicaCalculatorOptions) {
    this.tolerance = opts.tolerance ?? DEFAULT_TOLERANCE;
    this.cpuInitializationPeriodMs = opts.cpuInitializationPeriodMs ?? DEFAULT_CPU_INITIALIZATION_PERIOD_MS;
    this.initialReadinessDelayMs = opts.initialReadinessDelayMs ?? DEFAULT_INITIAL_READINESS_DELAY_MS;
    this.clock = opts.clock ?? systemClock;
  }

  private within(ratio: number): boolean {
    return Math.abs(1.0 - ratio) <= this.tolerance;
  }

  /** Replicas for a utilization target (percent of request) of `resource` (GetResourceReplicas). */
  async getResourceReplicas(
    currentReplicas: number,
    targetUtilization: number,
    resource: string,
    namespace: string,
    selectorText: string,
    selector: LabelSelector,
    container: string,
  ): Promise<ResourceReplicas> {
    let got: Awaited<ReturnType<MetricsClient["getResourceMetric"]>>;
    try {
      got = await this.opts.metrics.getResourceMetric(resource, namespace, selectorText, container);
    } catch (err) {
      throw new Error(`unable to get metrics for resource ${resource}: ${(err as Error).message}`);
    }
    const { metrics, timestamp } = got;
    const pods = this.opts.listPods(namespace, selector);
    if (pods.length === 0) throw new Error("no pods returned by selector while calculating replica count");

    const groups = this.groupPods(pods, metrics, resource);
    removeMetricsForPods(metrics, groups.ignoredPods);
    removeMetricsForPods(metrics, groups.unreadyPods);
    if (metrics.size === 0) throw new Error("did not receive metrics for targeted pods (pods might be unready)");

    const requests = calculatePodRequests(pods, container, resource);
    const { ratio: usageRatio, utilization, rawAverage } = getResourceUtilizationRatio(metrics, requests, targetUtilization);

    const scaleUpWithUnready = groups.unreadyPods.size > 0 && usageRatio > 1.0;
    if (!scaleUpWithUnready && groups.missingPods.size === 0) {
      if (this.within(usageRatio)) return { replicas: currentReplicas, utilization, rawUtilization: rawAverage, timestamp };
      return { replicas: Math.ceil(usageRatio * groups.readyPodCount), utilization, rawUtilization: rawAverage, timestamp };
    }

    if (groups.missingPods.size > 0) {
      if (usageRatio < 1.0) {
        // On a scale-down missing pods count as using all of their request (or the target, above 100 %).
        const fallback = Math.max(100, targetUtilization);
        for (const name of groups.missingPods) metrics.set(name, { timestamp: 0, windowMs: 0, value: Math.trunc(((requests.get(name) ?? 0) * fallback) / 100) });
      } else if (usageRatio > 1.0) {
        // On a scale-up they count as using nothing.
        for (const name of groups.missingPods) metrics.set(name, { timestamp: 0, windowMs: 0, value: 0 });
      }
    }
    if (scaleUpWithUnready) {
      for (const name of groups.unreadyPods) metrics.set(name, { timestamp: 0, windowMs: 0, value: 0 });
    }

    const newRatio = getResourceUtilizationRatio(metrics, requests, targetUtilization).ratio;
    if (this.within(newRatio) || (usageRatio < 1.0 && newRatio > 1.0) || (usageRatio > 1.0 && newRatio < 1.0)) {
      // Too small a change, or the dampened figures point the other way.
      return { replicas: currentReplicas, utilization, rawUtilization: rawAverage, timestamp };
    }
    const newReplicas = Math.ceil(newRatio * metrics.size);
    if ((newRatio < 1.0 && newReplicas > currentReplicas) || (newRatio > 1.0 && newReplicas < currentReplicas)) {
      return { replicas: currentReplicas, utilization, rawUtilization: rawAverage, timestamp };
    }
    return { replicas: newReplicas, utilization, rawUtilization: rawAverage, timestamp };
  }

  /** Replicas for an average-value target of `resource` in milli-units (GetRawResourceReplicas). */
  async getRawResourceReplicas(
    currentReplicas: number,
    targetUsage: number,
    resource: string,
    namespace: string,
    selectorText: string,
    selector: LabelSelector,
    container: string,
  ): Promise<UsageReplicas> {
    let got: Awaited<ReturnType<MetricsClient["getResourceMetric"]>>;
    try {
      got = await this.opts.metrics.getResourceMetric(resource, namespace, selectorText, container);
    } catch (err) {
      throw new Error(`unable to get metrics for resource ${resource}: ${(err as Error).message}`);
    }
    const { replicas, usage } = this.calcPlainMetricReplicas(got.metrics, currentReplicas, targetUsage, namespace, selector, resource);
    return { replicas, usage, timestamp: got.timestamp };
  }

  /** Replicas for a per-pod custom metric's average-value target (GetMetricReplicas). */
  async getMetricReplicas(
    currentReplicas: number,
    targetUsage: number,
    metricName: string,
    namespace: string,
    selectorText: string,
    selector: LabelSelector,
    metricSelector: string,
  ): Promise<UsageReplicas> {
    let got: Awaited<ReturnType<MetricsClient["getRawMetric"]>>;
    try {
      got = await this.opts.metrics.getRawMetric(metricName, namespace, selectorText, metricSelector);
    } catch (err) {
      throw new Error(`unable to get metric ${metricName}: ${(err as Error).message}`);
    }
    const { replicas, usage } = this.calcPlainMetricReplicas(got.metrics, currentReplicas, targetUsage, namespace, selector, "");
    return { replicas, usage, timestamp: got.timestamp };
  }

  /** Upstream's calcPlainMetricReplicas: the average of per-pod values against a target value. */
  calcPlainMetricReplicas(
    metrics: PodMetricsInfo,
    currentReplicas: number,
    targetUsage: number,
    namespace: string,
    selector: LabelSelector,
    resource: string,
  ): { replicas: number; usage: number } {
    const pods = this.opts.listPods(namespace, selector);
    if (pods.length === 0) throw new Error("no pods returned by selector while calculating replica count");
    const groups = this.groupPods(pods, metrics, resource);
    removeMetricsForPods(metrics, groups.ignoredPods);
    removeMetricsForPods(metrics, groups.unreadyPods);
    if (metrics.size === 0) throw new Error("did not receive metrics for targeted pods (pods might be unready)");

    const { ratio: usageRatio, usage } = getMetricUsageRatio(metrics, targetUsage);
    const scaleUpWithUnready = groups.unreadyPods.size > 0 && usageRatio > 1.0;
    if (!scaleUpWithUnready && groups.missingPods.size === 0) {
      if (this.within(usageRatio)) return { replicas: currentReplicas, usage };
      return { replicas: Math.ceil(usageRatio * groups.readyPodCount), usage };
    }
    if (groups.missingPods.size > 0) {
      // Scale-down: missing pods sit exactly at the target; scale-up: at zero.
      const value = usageRatio < 1.0 ? targetUsage : 0;
      for (const name of groups.missingPods) metrics.set(name, { timestamp: 0, windowMs: 0, value });
    }
    if (scaleUpWithUnready) {
      for (const name of groups.unreadyPods) metrics.set(name, { timestamp: 0, windowMs: 0, value: 0 });
    }
    const newRatio = getMetricUsageRatio(metrics, targetUsage).ratio;
    if (this.within(newRatio) || (usageRatio < 1.0 && newRatio > 1.0) || (usageRatio > 1.0 && newRatio < 1.0)) {
      return { replicas: currentReplicas, usage };
    }
    const newReplicas = Math.ceil(newRatio * metrics.size);
    if ((newRatio < 1.0 && newReplicas > currentReplicas) || (newRatio > 1.0 && newReplicas < currentReplicas)) {
      return { replicas: currentReplicas, usage };
    }
    return { replicas: newReplicas, usage };
  }

  /** Replicas for an object metric's value target (GetObjectMetricReplicas). */
  async getObjectMetricReplicas(
    currentReplicas: number,
    targetUsage: number,
    metricName: string,
    namespace: string,
    objectRef: { kind: string; name: string; apiVersion?: string },
    selector: LabelSelector,
    metricSelector: string,
  ): Promise<UsageReplicas> {
    let usage: number;
    try {
      usage = (await this.opts.metrics.getObjectMetric(metricName, namespace, objectRef, metricSelector)).value;
    } catch (err) {
      // Upstream's message, argument order included.
      throw new Error(`unable to get metric ${metricName}: ${objectRef.kind} on ${namespace} ${objectRef.name}/${(err as Error).message}`);
    }
    const { replicas, timestamp } = this.getUsageRatioReplicaCount(currentReplicas, usage / targetUsage, namespace, selector);
    return { replicas, usage, timestamp };
  }

  /** Replicas for an object metric's average-value target (GetObjectPerPodMetricReplicas). */
  async getObjectPerPodMetricReplicas(
    statusReplicas: number,
    targetAverageUsage: number,
    metricName: string,
    namespace: string,
    objectRef: { kind: string; name: string; apiVersion?: string },
    metricSelector: string,
  ): Promise<UsageReplicas> {
    let got: { value: number; timestamp: number };
    try {
      got = await this.opts.metrics.getObjectMetric(metricName, namespace, objectRef, metricSelector);
    } catch (err) {
      throw new Error(`unable to get metric ${metricName}: ${objectRef.kind} on ${namespace} ${objectRef.name}/${(err as Error).message}`);
    }
    return this.perPodReplicas(statusReplicas, got.value, targetAverageUsage, got.timestamp);
  }

  /** Replicas for an external metric's value target (GetExternalMetricReplicas). */
  async getExternalMetricReplicas(
    currentReplicas: number,
    targetUsage: number,
    metricName: string,
    namespace: string,
    metricSelectorText: string,
    metricSelectorGo: string,
    podSelector: LabelSelector,
  ): Promise<UsageReplicas> {
    let values: number[];
    try {
      values = (await this.opts.metrics.getExternalMetric(metricName, namespace, metricSelectorText)).values;
    } catch (err) {
      throw new Error(`unable to get external metric ${namespace}/${metricName}/${metricSelectorGo}: ${(err as Error).message}`);
    }
    const usage = values.reduce((a, b) => a + b, 0);
    const { replicas, timestamp } = this.getUsageRatioReplicaCount(currentReplicas, usage / targetUsage, namespace, podSelector);
    return { replicas, usage, timestamp };
  }

  /** Replicas for an external metric's average-value target (GetExternalPerPodMetricReplicas). */
  async getExternalPerPodMetricReplicas(
    statusReplicas: number,
    targetUsagePerPod: number,
    metricName: string,
    namespace: string,
    metricSelectorText: string,
    metricSelectorGo: string,
  ): Promise<UsageReplicas> {
    let got: { values: number[]; timestamp: number };
    try {
      got = await this.opts.metrics.getExternalMetric(metricName, namespace, metricSelectorText);
    } catch (err) {
      throw new Error(`unable to get external metric ${namespace}/${metricName}/${metricSelectorGo}: ${(err as Error).message}`);
    }
    return this.perPodReplicas(statusReplicas, got.values.reduce((a, b) => a + b, 0), targetUsagePerPod, got.timestamp);
  }

  private perPodReplicas(statusReplicas: number, usage: number, targetPerPod: number, timestamp: number): UsageReplicas {
    let replicas = statusReplicas;
    const ratio = usage / (targetPerPod * replicas);
    if (!this.within(ratio)) replicas = Math.ceil(usage / targetPerPod);
    return { replicas, usage: Math.ceil(usage / statusReplicas), timestamp };
  }

  /** Upstream's getUsageRatioReplicaCount: scaled from the ready pods, or from 1 at zero replicas. */
  private getUsageRatioReplicaCount(currentReplicas: number, usageRatio: number, namespace: string, selector: LabelSelector): { replicas: number; timestamp: number } {
    if (currentReplicas === 0) return { replicas: Math.ceil(usageRatio), timestamp: 0 };
    if (this.within(usageRatio)) return { replicas: currentReplicas, timestamp: 0 };
    let ready: number;
    try {
      ready = this.getReadyPodsCount(namespace, selector);
    } catch (err) {
      throw new Error(`unable to calculate ready pods: ${(err as Error).message}`);
    }
    return { replicas: Math.ceil(usageRatio * ready), timestamp: 0 };
  }

  private getReadyPodsCount(namespace: string, selector: LabelSelector): number {
    const pods = this.opts.listPods(namespace, selector);
    if (pods.length === 0) throw new Error("no pods returned by selector while calculating replica count");
    return pods.filter((p) => p.status?.phase === "Running" && p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True")).length;
  }

  /** Upstream's groupPods. */
  groupPods(pods: readonly Pod[], metrics: PodMetricsInfo, resource: string): PodGroups {
    const g: PodGroups = { readyPodCount: 0, unreadyPods: new Set(), missingPods: new Set(), ignoredPods: new Set() };
    const now = this.clock.now();
    for (const pod of pods) {
      const name = pod.metadata?.name ?? "";
      if (pod.metadata?.deletionTimestamp || pod.status?.phase === "Failed") {
        g.ignoredPods.add(name);
        continue;
      }
      if (pod.status?.phase === "Pending") {
        g.unreadyPods.add(name);
        continue;
      }
      const metric = metrics.get(name);
      if (!metric) {
        g.missingPods.add(name);
        continue;
      }
      if (resource === "cpu") {
        const ready = pod.status?.conditions?.find((c) => c.type === "Ready");
        const start = parseTime(pod.status?.startTime);
        let unready: boolean;
        if (!ready || !pod.status?.startTime) {
          unready = true;
        } else {
          const transition = parseTime(ready.lastTransitionTime);
          if (start + this.cpuInitializationPeriodMs > now) {
            // Still initializing: skip an unready pod, or a sample not a whole window after the last transition.
            unready = ready.status === "False" || metric.timestamp < transition + metric.windowMs;
          } else {
            // Past initialization: skip only a pod unready since it started (never ready yet).
            unready = ready.status === "False" && start + this.initialReadinessDelayMs > transition;
          }
        }
        if (unready) {
          g.unreadyPods.add(name);
          continue;
        }
      }
      g.readyPodCount++;
    }
    return g;
  }
}

function removeMetricsForPods(metrics: PodMetricsInfo, pods: ReadonlySet<string>): void {
  for (const p of pods) metrics.delete(p);
}

/** Per pod, the sum of its containers' requests of `resource` in milli-units (calculatePodRequests). */
export function calculatePodRequests(pods: readonly Pod[], container: string, resource: string): Map<string, number> {
  const requests = new Map<string, number>();
  for (const pod of pods) {
    let sum = 0;
    // Regular containers and restartable (sidecar) init containers run alongside each other.
    const containers = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === "Always")];
    for (const c of containers) {
      if (container !== "" && container !== c.name) continue;
      const req = c.resources?.requests?.[resource];
      if (req === undefined) throw new Error(`missing request for ${resource} in container ${c.name} of Pod ${pod.metadata?.name ?? ""}`);
      sum += milliValue(req);
    }
    requests.set(pod.metadata?.name ?? "", sum);
  }
  return requests;
}

/** Upstream's GetResourceUtilizationRatio. */
export function getResourceUtilizationRatio(
  metrics: PodMetricsInfo,
  requests: ReadonlyMap<string, number>,
  targetUtilization: number,
): { ratio: number; utilization: number; rawAverage: number } {
  let metricsTotal = 0;
  let requestsTotal = 0;
  let entries = 0;
  for (const [name, m] of metrics) {
    const req = requests.get(name);
    // Metrics of pods we hold no request for are extraneous.
    if (req === undefined) continue;
    metricsTotal += m.value;
    requestsTotal += req;
    entries++;
  }
  if (requestsTotal === 0) throw new Error("no metrics returned matched known pods");
  const utilization = Math.trunc((metricsTotal * 100) / requestsTotal);
  return { ratio: utilization / targetUtilization, utilization, rawAverage: Math.trunc(metricsTotal / entries) };
}

/** Upstream's GetMetricUsageRatio. */
export function getMetricUsageRatio(metrics: PodMetricsInfo, targetUsage: number): { ratio: number; usage: number } {
  let total = 0;
  for (const m of metrics.values()) total += m.value;
  const usage = Math.trunc(total / metrics.size);
  return { ratio: usage / targetUsage, usage };
}
