/**
 * One HPA sync, as upstream's reconcileAutoscaler (horizontal.go): read
 * the target's scale, compute a proposal per metric (the largest wins),
 * normalize it (stabilization, rate limits, min/max), write the new size
 * through `/scale`, and record status, conditions and events with
 * upstream's reasons and messages.
 */
import type { Scale } from "kubernetes-types/autoscaling/v1.js";
import type { HorizontalPodAutoscaler, MetricSpec, MetricStatus, MetricTarget, MetricValueStatus } from "kubernetes-types/autoscaling/v2.js";
import type { ObjectReference, Pod } from "kubernetes-types/core/v1.js";
import type { ResourceDescriptor } from "../../client/resource-client.js";
import { type Clock, systemClock } from "../../machinery/clock.js";
import { type LabelSelector, type LabelSelectorObject, parseLabelSelector, selectorFromObject } from "../../machinery/labels.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { milliValue } from "../../scheduler/framework/quantity.js";
import { deepEqual } from "../common/equality.js";
import { errorMessage } from "../common/errors.js";
import type { PodEventRecorder } from "../common/pod-control.js";
import { rfc3339 } from "../common/time.js";
import type { HpaApi } from "./api.js";
import { setCondition } from "./conditions.js";
import { defaultHorizontalPodAutoscaler } from "../../api/defaults/horizontal-pod-autoscaler.js";
import { goLabelSelector, milliQuantity } from "./format.js";
import type { Normalizer } from "./normalize.js";
import type { ReplicaCalculator } from "./replica-calculator.js";

/** What a {@link HpaReconciler} works with. */
export interface HpaReconcilerOptions {
  readonly api: HpaApi;
  readonly calculator: ReplicaCalculator;
  readonly normalizer: Normalizer;
  readonly recorder: PodEventRecorder;
  /** The pods of a namespace (the informer cache). */
  readonly podsInNamespace: (namespace: string) => readonly Pod[];
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/** A metric's proposal, or the condition and error explaining why there is none. */
interface MetricResult {
  readonly replicas: number;
  readonly metricName: string;
  readonly timestamp: number;
  readonly status?: MetricStatus;
}

/** An error computing one metric, with the ScalingActive condition it implies. */
class MetricError extends Error {
  constructor(
    message: string,
    readonly condition: { reason: string; message: string } | undefined,
  ) {
    super(message);
  }
}

/** See the module comment. Holds upstream's hpaSelectors for the ambiguity check. */
export class HpaReconciler {
  private readonly clock: Clock;
  private readonly log: Logger;
  /** HPA key → the selector of its target's scale, as last seen. */
  private readonly selectors = new Map<string, LabelSelector>();

  constructor(private readonly opts: HpaReconcilerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLogger;
  }

  /** Forgets a deleted HPA. */
  forget(key: string): void {
    this.selectors.delete(key);
    this.opts.normalizer.forget(key);
  }

  private now(): number {
    return this.clock.now();
  }

  private event(hpa: HorizontalPodAutoscaler, type: "Normal" | "Warning", reason: string, message: string): void {
    this.opts.recorder.eventf(hpaRef(hpa), undefined, type, reason, reason, "%s", message);
  }

  private setCondition(hpa: HorizontalPodAutoscaler, type: string, status: "True" | "False", reason: string, message: string): void {
    setCondition(hpa, type, status, reason, message, this.now());
  }

  /**
   * Reconciles `shared` (never mutated). Throws the error upstream's
   * reconcileAutoscaler returns (after status and events are written).
   */
  async reconcile(shared: HorizontalPodAutoscaler, key: string): Promise<void> {
    const hpa = defaultHorizontalPodAutoscaler(structuredClone(shared));
    const statusOriginal = structuredClone(shared.status ?? { desiredReplicas: 0 });
    hpa.status ??= { desiredReplicas: 0 };
    const spec = hpa.spec!;
    const ns = hpa.metadata?.namespace ?? "";
    const ref = spec.scaleTargetRef;
    const reference = `${ref.kind}/${ns}/${ref.name}`;

    const failGetScale = async (err: string, returned: string): Promise<never> => {
      this.event(hpa, "Warning", "FailedGetScale", err);
      this.setCondition(hpa, "AbleToScale", "False", "FailedGetScale", `the HPA controller was unable to get the target's current scale: ${err}`);
      await this.updateStatusIfNeeded(statusOriginal, hpa);
      throw new Error(returned);
    };

    const group = parseGroup(ref.apiVersion ?? "");
    if (group.error) await failGetScale(group.error, `invalid API version in scale target reference: ${group.error}`);
    let mappings: readonly ResourceDescriptor[];
    try {
      mappings = await this.opts.api.resourcesFor(group.group, ref.kind);
    } catch (err) {
      return failGetScale(errorMessage(err), `unable to determine resource for scale target reference: ${errorMessage(err)}`);
    }
    let scale: Scale | undefined;
    let target: ResourceDescriptor | undefined;
    let firstErr: unknown;
    for (const m of mappings) {
      try {
        scale = await this.opts.api.getScale(m, ns, ref.name);
        target = m;
        break;
      } catch (err) {
        firstErr ??= err;
      }
    }
    if (!scale || !target) return failGetScale(errorMessage(firstErr), `failed to query scale subresource for ${reference}: ${errorMessage(firstErr)}`);
    this.setCondition(hpa, "AbleToScale", "True", "SucceededGetScale", "the HPA controller was able to get the target's current scale");
    const currentReplicas = scale.spec?.replicas ?? 0;
    this.opts.normalizer.recordInitialRecommendation(currentReplicas, key);

    let metricStatuses: MetricStatus[] = [];
    let desiredReplicas = 0;
    let rescaleReason = "";
    const minReplicas = spec.minReplicas ?? 1;
    let rescale = true;
    let retErr: Error | undefined;

    if (currentReplicas === 0 && minReplicas !== 0) {
      // Autoscaling is off while the target is scaled to zero.
      desiredReplicas = 0;
      rescale = false;
      this.setCondition(hpa, "ScalingActive", "False", "ScalingDisabled", "scaling is disabled since the replica count of the target is zero");
    } else if (currentReplicas > spec.maxReplicas) {
      rescaleReason = "Current number of replicas above Spec.MaxReplicas";
      desiredReplicas = spec.maxReplicas;
    } else if (currentReplicas < minReplicas) {
      rescaleReason = "Current number of replicas below Spec.MinReplicas";
      desiredReplicas = minReplicas;
    } else {
      const computed = await this.computeReplicasForMetrics(hpa, key, scale, spec.metrics ?? []);
      metricStatuses = computed.statuses;
      if (computed.error && computed.replicas === -1) {
        this.setCurrentReplicasAndMetricsInStatus(hpa, currentReplicas, metricStatuses);
        await this.updateStatusIfNeeded(statusOriginal, hpa).catch((err) => this.log.error("updating HPA status failed", { hpa: key, err: errorMessage(err) }));
        this.event(hpa, "Warning", "FailedComputeMetricsReplicas", computed.error.message);
        throw new Error(`failed to compute desired number of replicas based on listed metrics for ${reference}: ${computed.error.message}`);
      }
      // Some metrics failed but others allow a scale-up: scale, then report the error.
      if (computed.error) retErr = computed.error;
      let rescaleMetric = "";
      if (computed.replicas > desiredReplicas) {
        desiredReplicas = computed.replicas;
        rescaleMetric = computed.metric;
      }
      if (desiredReplicas > currentReplicas) rescaleReason = `${rescaleMetric} above target`;
      if (desiredReplicas < currentReplicas) rescaleReason = "All metrics below target";
      const arg = { key, minReplicas, maxReplicas: spec.maxReplicas, currentReplicas, desiredReplicas };
      const normalized = spec.behavior ? this.opts.normalizer.normalizeWithBehaviors({ ...arg, behavior: spec.behavior }) : this.opts.normalizer.normalize(arg);
      this.setCondition(hpa, "AbleToScale", normalized.ableToScale.status, normalized.ableToScale.reason, normalized.ableToScale.message);
      this.setCondition(hpa, "ScalingLimited", normalized.scalingLimited.status, normalized.scalingLimited.reason, normalized.scalingLimited.message);
      desiredReplicas = normalized.desiredReplicas;
      rescale = desiredReplicas !== currentReplicas;
    }

    if (rescale) {
      const next: Scale = { ...scale, spec: { ...scale.spec, replicas: desiredReplicas } };
      try {
        await this.opts.api.updateScale(target, ns, next);
      } catch (err) {
        const msg = errorMessage(err);
        this.event(hpa, "Warning", "FailedRescale", `New size: ${desiredReplicas}; reason: ${rescaleReason}; error: ${msg}`);
        this.setCondition(hpa, "AbleToScale", "False", "FailedUpdateScale", `the HPA controller was unable to update the target scale: ${msg}`);
        this.setCurrentReplicasAndMetricsInStatus(hpa, currentReplicas, metricStatuses);
        await this.updateStatusIfNeeded(statusOriginal, hpa).catch((e) => this.log.error("updating HPA status failed", { hpa: key, err: errorMessage(e) }));
        throw new Error(`failed to rescale ${reference}: ${msg}`);
      }
      this.setCondition(hpa, "AbleToScale", "True", "SucceededRescale", `the HPA controller was able to update the target scale to ${desiredReplicas}`);
      this.event(hpa, "Normal", "SuccessfulRescale", `New size: ${desiredReplicas}; reason: ${rescaleReason}`);
      this.opts.normalizer.storeScaleEvent(spec.behavior, key, currentReplicas, desiredReplicas);
      this.log.info("Successfully rescaled", { HPA: key, currentReplicas, desiredReplicas, reason: rescaleReason });
    } else {
      this.log.debug("Decided not to scale", { scaleTarget: reference, desiredReplicas });
      desiredReplicas = currentReplicas;
    }

    this.setStatus(hpa, currentReplicas, desiredReplicas, metricStatuses, rescale);
    await this.updateStatusIfNeeded(statusOriginal, hpa);
    if (retErr) throw retErr;
  }

  private setStatus(hpa: HorizontalPodAutoscaler, currentReplicas: number, desiredReplicas: number, metrics: MetricStatus[], rescale: boolean): void {
    const prev = hpa.status ?? { desiredReplicas: 0 };
    hpa.status = {
      ...(prev.observedGeneration !== undefined ? { observedGeneration: prev.observedGeneration } : {}),
      currentReplicas,
      desiredReplicas,
      ...(rescale ? { lastScaleTime: rfc3339(this.now()) } : prev.lastScaleTime ? { lastScaleTime: prev.lastScaleTime } : {}),
      ...(metrics.length > 0 ? { currentMetrics: metrics } : {}),
      ...(prev.conditions ? { conditions: prev.conditions } : {}),
    };
  }

  private setCurrentReplicasAndMetricsInStatus(hpa: HorizontalPodAutoscaler, currentReplicas: number, metrics: MetricStatus[]): void {
    this.setStatus(hpa, currentReplicas, hpa.status?.desiredReplicas ?? 0, metrics, false);
  }

  private async updateStatusIfNeeded(original: HorizontalPodAutoscaler["status"], hpa: HorizontalPodAutoscaler): Promise<void> {
    if (deepEqual(stripEmpty(original), stripEmpty(hpa.status))) return;
    try {
      await this.opts.api.updateStatus(hpa);
    } catch (err) {
      this.event(hpa, "Warning", "FailedUpdateStatus", errorMessage(err));
      throw new Error(`failed to update status for ${hpa.metadata?.name}: ${errorMessage(err)}`);
    }
    this.log.debug("Successfully updated status", { HPA: `${hpa.metadata?.namespace}/${hpa.metadata?.name}` });
  }

  /** Upstream's computeReplicasForMetrics: the largest proposal; -1 when it cannot scale on what it has. */
  private async computeReplicasForMetrics(
    hpa: HorizontalPodAutoscaler,
    key: string,
    scale: Scale,
    specs: readonly MetricSpec[],
  ): Promise<{ replicas: number; metric: string; statuses: MetricStatus[]; error?: Error }> {
    const parsed = this.validateAndParseSelector(hpa, key, scale.status?.selector ?? "");
    if ("error" in parsed) return { replicas: -1, metric: "", statuses: [], error: new Error(parsed.error) };
    const specReplicas = scale.spec?.replicas ?? 0;
    const statusReplicas = scale.status?.replicas ?? 0;
    const statuses: MetricStatus[] = specs.map(() => ({ type: "" }) as MetricStatus);
    let invalidCount = 0;
    let invalidError: MetricError | undefined;
    let replicas = 0;
    let metric = "";
    for (let i = 0; i < specs.length; i++) {
      try {
        const r = await this.computeReplicasForMetric(hpa, specs[i]!, specReplicas, statusReplicas, scale.status?.selector ?? "", parsed.selector);
        if (r.status) statuses[i] = r.status;
        if (replicas === 0 || r.replicas > replicas) {
          replicas = r.replicas;
          metric = r.metricName;
        }
      } catch (err) {
        if (invalidCount <= 0) invalidError = err instanceof MetricError ? err : new MetricError(errorMessage(err), undefined);
        invalidCount++;
      }
    }
    let error: Error | undefined;
    if (invalidError) error = new Error(`invalid metrics (${invalidCount} invalid out of ${specs.length}), first error is: ${invalidError.message}`);
    // All metrics failed, or some failed and the rest would scale down: do nothing on partial knowledge.
    if (invalidCount >= specs.length || (invalidCount > 0 && replicas < specReplicas)) {
      const c = invalidError?.condition;
      if (c) this.setCondition(hpa, "ScalingActive", "False", c.reason, c.message);
      return { replicas: -1, metric: "", statuses, error };
    }
    this.setCondition(hpa, "ScalingActive", "True", "ValidMetricFound", `the HPA was able to successfully calculate a replica count from ${metric}`);
    return { replicas, metric, statuses, error };
  }

  /** Upstream's validateAndParseSelector, with the check that no other HPA scales the same pods. */
  private validateAndParseSelector(hpa: HorizontalPodAutoscaler, key: string, selectorText: string): { selector: LabelSelector } | { error: string } {
    if (selectorText === "") {
      const msg = "selector is required";
      this.event(hpa, "Warning", "SelectorRequired", msg);
      this.setCondition(hpa, "ScalingActive", "False", "InvalidSelector", "the HPA target's scale is missing a selector");
      return { error: msg };
    }
    let selector: LabelSelector;
    try {
      selector = parseLabelSelector(selectorText);
    } catch (err) {
      const msg = `couldn't convert selector into a corresponding internal selector object: ${errorMessage(err)}`;
      this.event(hpa, "Warning", "InvalidSelector", msg);
      this.setCondition(hpa, "ScalingActive", "False", "InvalidSelector", msg);
      return { error: msg };
    }
    this.selectors.set(key, selector);
    const ns = hpa.metadata?.namespace ?? "";
    const pods = this.opts.podsInNamespace(ns).filter((p) => selector.matches(p.metadata?.labels));
    const selecting = new Set<string>();
    for (const [other, sel] of this.selectors) {
      if (!other.startsWith(`${ns}/`)) continue;
      if (pods.some((p) => sel.matches(p.metadata?.labels))) selecting.add(other);
    }
    if (selecting.size > 1) {
      const msg = `pods by selector ${selectorText} are controlled by multiple HPAs: [${[...selecting].sort().join(" ")}]`;
      this.event(hpa, "Warning", "AmbiguousSelector", msg);
      this.setCondition(hpa, "ScalingActive", "False", "AmbiguousSelector", msg);
      return { error: msg };
    }
    return { selector };
  }

  /** The ScalingActive=False condition for a metric that could not be computed, and its event (getUnableComputeReplicaCountCondition). */
  private unable(hpa: HorizontalPodAutoscaler, reason: string, err: string): { reason: string; message: string } {
    this.event(hpa, "Warning", reason, err);
    return { reason, message: `the HPA was unable to compute the replica count: ${err}` };
  }

  /** Upstream's computeReplicasForMetric; throws a {@link MetricError}. */
  private async computeReplicasForMetric(
    hpa: HorizontalPodAutoscaler,
    spec: MetricSpec,
    specReplicas: number,
    statusReplicas: number,
    selectorText: string,
    selector: LabelSelector,
  ): Promise<MetricResult> {
    const ns = hpa.metadata?.namespace ?? "";
    const calc = this.opts.calculator;
    switch (spec.type) {
      case "Object": {
        const o = spec.object;
        let metricSelector: string;
        try {
          metricSelector = selectorString(o?.metric.selector);
        } catch (err) {
          throw new MetricError(`failed to get object metric value: ${errorMessage(err)}`, this.unable(hpa, "FailedGetObjectMetric", errorMessage(err)));
        }
        const obj = { kind: o?.describedObject.kind ?? "", name: o?.describedObject.name ?? "", apiVersion: o?.describedObject.apiVersion };
        const name = o?.metric.name ?? "";
        if (o?.target.type === "Value" && o.target.value !== undefined) {
          try {
            const r = await calc.getObjectMetricReplicas(specReplicas, milliValue(o.target.value), name, ns, obj, selector, metricSelector);
            return {
              replicas: r.replicas,
              metricName: `${obj.kind} metric ${name}`,
              timestamp: r.timestamp,
              status: { type: "Object", object: { describedObject: o.describedObject, metric: o.metric, current: { value: milliQuantity(r.usage) } } },
            };
          } catch (err) {
            const msg = errorMessage(err);
            throw new MetricError(`failed to get object metric value: ${msg}`, this.unable(hpa, "FailedGetObjectMetric", msg));
          }
        }
        if (o?.target.type === "AverageValue" && o.target.averageValue !== undefined) {
          try {
            const r = await calc.getObjectPerPodMetricReplicas(statusReplicas, milliValue(o.target.averageValue), name, ns, obj, metricSelector);
            return {
              replicas: r.replicas,
              metricName: `external metric ${name}(${goLabelSelector(o.metric.selector)})`,
              timestamp: r.timestamp,
              status: { type: "Object", object: { describedObject: o.describedObject, metric: o.metric, current: { averageValue: milliQuantity(r.usage) } } },
            };
          } catch (err) {
            const msg = errorMessage(err);
            const cond = this.unable(hpa, "FailedGetObjectMetric", msg);
            throw new MetricError(`failed to get object metric value: failed to get ${name} object metric: ${msg}`, cond);
          }
        }
        const msg = "invalid object metric source: neither a value target nor an average value target was set";
        throw new MetricError(`failed to get object metric value: ${msg}`, this.unable(hpa, "FailedGetObjectMetric", msg));
      }
      case "Pods": {
        const p = spec.pods;
        let metricSelector: string;
        try {
          metricSelector = selectorString(p?.metric.selector);
        } catch (err) {
          throw new MetricError(`failed to get pods metric value: ${errorMessage(err)}`, this.unable(hpa, "FailedGetPodsMetric", errorMessage(err)));
        }
        const name = p?.metric.name ?? "";
        try {
          const r = await calc.getMetricReplicas(specReplicas, milliValue(p?.target.averageValue), name, ns, selectorText, selector, metricSelector);
          return {
            replicas: r.replicas,
            metricName: `pods metric ${name}`,
            timestamp: r.timestamp,
            status: { type: "Pods", pods: { metric: p!.metric, current: { averageValue: milliQuantity(r.usage) } } },
          };
        } catch (err) {
          const msg = errorMessage(err);
          throw new MetricError(`failed to get pods metric value: ${msg}`, this.unable(hpa, "FailedGetPodsMetric", msg));
        }
      }
      case "Resource":
      case "ContainerResource": {
        const container = spec.type === "ContainerResource" ? (spec.containerResource?.container ?? "") : "";
        const src = spec.type === "Resource" ? spec.resource : spec.containerResource;
        const resource = src?.name ?? "";
        try {
          const r = await this.computeStatusForResourceMetricGeneric(specReplicas, src?.target, resource, ns, container, selectorText, selector, spec.type);
          const status: MetricStatus =
            spec.type === "Resource"
              ? { type: "Resource", resource: { name: resource, current: r.current } }
              : { type: "ContainerResource", containerResource: { name: resource, container, current: r.current } };
          return { replicas: r.replicas, metricName: r.metricName, timestamp: r.timestamp, status };
        } catch (err) {
          const msg = errorMessage(err);
          const reason = spec.type === "Resource" ? "FailedGetResourceMetric" : "FailedGetContainerResourceMetric";
          const kind = spec.type === "Resource" ? "resource" : "container";
          throw new MetricError(`failed to get ${resource} ${kind} metric value: ${msg}`, this.unable(hpa, reason, msg));
        }
      }
      case "External": {
        const e = spec.external;
        const name = e?.metric.name ?? "";
        let metricSelector: string;
        try {
          metricSelector = selectorString(e?.metric.selector);
        } catch (err) {
          throw new MetricError(errorMessage(err), this.unable(hpa, "FailedGetExternalMetric", errorMessage(err)));
        }
        const goSel = goLabelSelector(e?.metric.selector);
        if (e?.target.averageValue !== undefined) {
          try {
            const r = await calc.getExternalPerPodMetricReplicas(statusReplicas, milliValue(e.target.averageValue), name, ns, metricSelector, goSel);
            return {
              replicas: r.replicas,
              metricName: `external metric ${name}(${goSel})`,
              timestamp: r.timestamp,
              status: { type: "External", external: { metric: e.metric, current: { averageValue: milliQuantity(r.usage) } } },
            };
          } catch (err) {
            const msg = errorMessage(err);
            const cond = this.unable(hpa, "FailedGetExternalMetric", msg);
            throw new MetricError(`failed to get ${name} external metric: ${msg}`, cond);
          }
        }
        if (e?.target.value !== undefined) {
          try {
            const r = await calc.getExternalMetricReplicas(specReplicas, milliValue(e.target.value), name, ns, metricSelector, goSel, selector);
            return {
              replicas: r.replicas,
              metricName: `external metric ${name}(${goSel})`,
              timestamp: r.timestamp,
              status: { type: "External", external: { metric: e.metric, current: { value: milliQuantity(r.usage) } } },
            };
          } catch (err) {
            const msg = errorMessage(err);
            const cond = this.unable(hpa, "FailedGetExternalMetric", msg);
            throw new MetricError(`failed to get external metric ${name}: ${msg}`, cond);
          }
        }
        const msg = "invalid external metric source: neither a value target nor an average value target was set";
        throw new MetricError(msg, this.unable(hpa, "FailedGetExternalMetric", msg));
      }
      default: {
        const msg = `unknown metric source type "${spec.type}"`;
        throw new MetricError(msg, this.unable(hpa, "InvalidMetricSourceType", msg));
      }
    }
  }

  /** Upstream's computeStatusForResourceMetricGeneric. */
  private async computeStatusForResourceMetricGeneric(
    currentReplicas: number,
    target: MetricTarget | undefined,
    resource: string,
    namespace: string,
    container: string,
    selectorText: string,
    selector: LabelSelector,
    sourceType: string,
  ): Promise<{ replicas: number; current: MetricValueStatus; timestamp: number; metricName: string }> {
    const calc = this.opts.calculator;
    if (target?.averageValue !== undefined) {
      let r: Awaited<ReturnType<ReplicaCalculator["getRawResourceReplicas"]>>;
      try {
        r = await calc.getRawResourceReplicas(currentReplicas, milliValue(target.averageValue), resource, namespace, selectorText, selector, container);
      } catch (err) {
        throw new Error(`failed to get ${resource} usage: ${errorMessage(err)}`);
      }
      return { replicas: r.replicas, current: { averageValue: milliQuantity(r.usage) }, timestamp: r.timestamp, metricName: `${resource} resource` };
    }
    if (target?.averageUtilization === undefined) {
      throw new Error("invalid resource metric source: neither an average utilization target nor an average value (usage) target was set");
    }
    let r: Awaited<ReturnType<ReplicaCalculator["getResourceReplicas"]>>;
    try {
      r = await calc.getResourceReplicas(currentReplicas, target.averageUtilization, resource, namespace, selectorText, selector, container);
    } catch (err) {
      throw new Error(`failed to get ${resource} utilization: ${errorMessage(err)}`);
    }
    const metricName =
      sourceType === "ContainerResource" ? `${resource} container resource utilization (percentage of request)` : `${resource} resource utilization (percentage of request)`;
    return { replicas: r.replicas, current: { averageUtilization: r.utilization, averageValue: milliQuantity(r.rawUtilization) }, timestamp: r.timestamp, metricName };
  }
}

/** The group of a scaleTargetRef's apiVersion (schema.ParseGroupVersion). */
function parseGroup(apiVersion: string): { group: string; error?: string } {
  if (apiVersion === "" || apiVersion === "/") return { group: "" };
  const parts = apiVersion.split("/");
  if (parts.length === 1) return { group: "" };
  if (parts.length === 2) return { group: parts[0]! };
  return { group: "", error: `unexpected GroupVersion string: ${apiVersion}` };
}

/** A metric's label selector as a query string (metav1.LabelSelectorAsSelector(...).String()); nil selects everything. */
function selectorString(sel: LabelSelectorObject | undefined | null): string {
  if (!sel) return "";
  selectorFromObject(sel);
  const parts: string[] = [];
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) parts.push(`${k}=${v}`);
  for (const e of sel.matchExpressions ?? []) {
    const op = e.operator.toLowerCase();
    if (op === "in" || op === "notin") parts.push(`${e.key} ${op} (${[...(e.values ?? [])].sort().join(",")})`);
    else if (op === "exists") parts.push(e.key);
    else parts.push(`!${e.key}`);
  }
  return parts.sort().join(",");
}

/** A status without the empty fields a JSON round trip drops, for comparisons. */
function stripEmpty(s: HorizontalPodAutoscaler["status"]): unknown {
  return JSON.parse(JSON.stringify(s ?? {}));
}

/** The reference events about an HPA point to. */
export function hpaRef(hpa: HorizontalPodAutoscaler): ObjectReference {
  return {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    namespace: hpa.metadata?.namespace,
    name: hpa.metadata?.name,
    uid: hpa.metadata?.uid,
    resourceVersion: hpa.metadata?.resourceVersion,
  };
}
