/**
 * The autoscaling HorizontalPodAutoscaler strategy, as upstream's
 * pkg/registry/autoscaling/horizontalpodautoscaler with
 * pkg/apis/autoscaling/v2/defaults.go and pkg/apis/autoscaling/validation:
 * objects are stored as autoscaling/v2 and defaulted there (upstream
 * defaults on decode too, so a v1 object without a target reads back with
 * the 80 % cpu target); specs are validated on create and update (replica
 * bounds, the scale target, each metric's source and target, behavior).
 */
import type { HorizontalPodAutoscaler } from "kubernetes-types/autoscaling/v2.js";
import { defaultHorizontalPodAutoscaler } from "../../api/defaults/horizontal-pod-autoscaler.js";
import { forbidden, goNumber, goString, invalidValue, notSupported, required } from "../../machinery/field-errors.js";
import type { FieldError } from "../../machinery/status-error.js";
import type { KObject, Strategy } from "./types.js";

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** Upstream's validMetricSourceTypesList, in its order. */
const METRIC_SOURCE_TYPES = ["Object", "Pods", "Resource", "External", "ContainerResource"];
/** The field that carries each source type's details. */
const SOURCE_FIELD: Record<string, string> = { Object: "object", Pods: "pods", Resource: "resource", External: "external", ContainerResource: "containerResource" };
const TARGET_TYPES = ["Utilization", "Value", "AverageValue"];
const SELECT_POLICIES = ["Max", "Min", "Disabled"];
const POLICY_TYPES = ["Pods", "Percent"];
const MAX_PERIOD_SECONDS = 1800;
const MAX_STABILIZATION_WINDOW_SECONDS = 3600;

/** Upstream's path-segment name check (used for the scale target's kind and name). */
function pathSegmentErrors(name: string): string[] {
  for (const bad of [".", ".."]) if (name === bad) return [`may not be '${bad}'`];
  for (const bad of ["/", "%"]) if (name.includes(bad)) return [`may not contain '${bad}'`];
  return [];
}

function validateCrossVersionObjectReference(ref: unknown, path: string): FieldError[] {
  const r = isObj(ref) ? ref : {};
  const errs: FieldError[] = [];
  for (const key of ["kind", "name"] as const) {
    const v = typeof r[key] === "string" ? (r[key] as string) : "";
    if (v === "") errs.push(required(`${path}.${key}`, ""));
    else for (const msg of pathSegmentErrors(v)) errs.push(invalidValue(`${path}.${key}`, goString(v), msg));
  }
  return errs;
}

function validateTarget(target: unknown, path: string): FieldError[] {
  const t = isObj(target) ? target : {};
  const errs: FieldError[] = [];
  const type = typeof t.type === "string" ? t.type : "";
  if (type === "") errs.push(required(`${path}.type`, "must specify a metric target type"));
  else if (!TARGET_TYPES.includes(type)) errs.push(notSupported(`${path}.type`, goString(type), TARGET_TYPES));
  if (typeof t.averageUtilization === "number" && t.averageUtilization < 1) {
    errs.push(invalidValue(`${path}.averageUtilization`, goNumber(t.averageUtilization), "must be greater than 0"));
  }
  const setCount = ["value", "averageValue", "averageUtilization"].filter((k) => t[k] !== undefined && t[k] !== null).length;
  if (type === "Utilization" && t.averageUtilization === undefined) errs.push(required(`${path}.averageUtilization`, "must set either a target raw value or a target utilization"));
  if (type === "Value" && t.value === undefined) errs.push(required(`${path}.value`, "must set either a target raw value or a target utilization"));
  if (type === "AverageValue" && t.averageValue === undefined) errs.push(required(`${path}.averageValue`, "must set either a target raw value or a target utilization"));
  if (setCount > 1) errs.push(forbidden(path, "may not set more than one of value, averageValue and averageUtilization"));
  return errs;
}

function validateMetric(m: Obj, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const type = typeof m.type === "string" ? m.type : "";
  if (type === "") errs.push(required(`${path}.type`, "must specify a metric source type"));
  if (!METRIC_SOURCE_TYPES.includes(type)) errs.push(notSupported(`${path}.type`, goString(type), METRIC_SOURCE_TYPES));
  const present = Object.values(SOURCE_FIELD).filter((f) => isObj(m[f]));
  const expected = SOURCE_FIELD[type];
  if (expected !== undefined && !isObj(m[expected])) errs.push(required(`${path}.${expected}`, "must populate information for the given metric source"));
  if (present.length !== 1) {
    for (const f of present) if (f !== expected) errs.push(forbidden(`${path}.${f}`, "must populate the given metric source only"));
  }
  if (present.length === 1) {
    const f = present[0]!;
    const src = m[f] as Obj;
    if (f === "resource" || f === "containerResource") {
      if (!src.name) errs.push(required(`${path}.${f}.name`, "must specify a resource name"));
      if (f === "containerResource" && !src.container) errs.push(required(`${path}.${f}.container`, "must specify a container"));
    } else {
      const metric = isObj(src.metric) ? src.metric : {};
      if (!metric.name) errs.push(required(`${path}.${f}.metric.name`, "must specify a metric name"));
      if (f === "object") errs.push(...validateCrossVersionObjectReference(src.describedObject, `${path}.${f}.describedObject`));
    }
    errs.push(...validateTarget(src.target, `${path}.${f}.target`));
  }
  return errs;
}

function validateScalingRules(rules: unknown, path: string): FieldError[] {
  if (!isObj(rules)) return [];
  const errs: FieldError[] = [];
  const window = rules.stabilizationWindowSeconds;
  if (typeof window === "number") {
    if (window < 0) errs.push(invalidValue(`${path}.stabilizationWindowSeconds`, goNumber(window), "must be greater than or equal to zero"));
    if (window > MAX_STABILIZATION_WINDOW_SECONDS) errs.push(invalidValue(`${path}.stabilizationWindowSeconds`, goNumber(window), `must be less than or equal to ${MAX_STABILIZATION_WINDOW_SECONDS}`));
  }
  if (typeof rules.selectPolicy === "string" && !SELECT_POLICIES.includes(rules.selectPolicy)) {
    errs.push(notSupported(`${path}.selectPolicy`, goString(rules.selectPolicy), SELECT_POLICIES));
  }
  const policies = Array.isArray(rules.policies) ? rules.policies : [];
  if (policies.length === 0) errs.push(required(`${path}.policies`, "must specify at least one Policy"));
  policies.forEach((p: unknown, i) => {
    const pp = isObj(p) ? p : {};
    const at = `${path}.policies[${i}]`;
    if (typeof pp.type !== "string" || !POLICY_TYPES.includes(pp.type)) errs.push(notSupported(`${at}.type`, goString(String(pp.type ?? "")), POLICY_TYPES));
    const period = typeof pp.periodSeconds === "number" ? pp.periodSeconds : 0;
    if (period <= 0) errs.push(invalidValue(`${at}.periodSeconds`, goNumber(period), "must be greater than zero"));
    if (period > MAX_PERIOD_SECONDS) errs.push(invalidValue(`${at}.periodSeconds`, goNumber(period), `must be less than or equal to ${MAX_PERIOD_SECONDS}`));
    const value = typeof pp.value === "number" ? pp.value : 0;
    if (value <= 0) errs.push(invalidValue(`${at}.value`, goNumber(value), "must be greater than zero"));
  });
  return errs;
}

/** Upstream's ValidateHorizontalPodAutoscaler spec checks (v2, after defaulting). */
export function validateHorizontalPodAutoscaler(o: KObject): FieldError[] {
  const spec = isObj(o.spec) ? o.spec : {};
  const errs: FieldError[] = [];
  const min = spec.minReplicas;
  const max = typeof spec.maxReplicas === "number" ? spec.maxReplicas : 0;
  if (typeof min === "number" && min < 1) errs.push(invalidValue("spec.minReplicas", goNumber(min), "must be greater than or equal to 1"));
  if (max < 1) errs.push(invalidValue("spec.maxReplicas", goNumber(max), "must be greater than 0"));
  if (typeof min === "number" && max < min) errs.push(invalidValue("spec.maxReplicas", goNumber(max), "must be greater than or equal to `minReplicas`"));
  errs.push(...validateCrossVersionObjectReference(spec.scaleTargetRef, "spec.scaleTargetRef"));
  const metrics = Array.isArray(spec.metrics) ? spec.metrics : [];
  metrics.forEach((m: unknown, i) => {
    errs.push(...validateMetric(isObj(m) ? m : {}, `spec.metrics[${i}]`));
  });
  if (isObj(spec.behavior)) {
    errs.push(...validateScalingRules(spec.behavior.scaleUp, "spec.behavior.scaleUp"), ...validateScalingRules(spec.behavior.scaleDown, "spec.behavior.scaleDown"));
  }
  return errs;
}

/** The HorizontalPodAutoscaler strategy. */
export const horizontalPodAutoscalerStrategy: Strategy = {
  defaults: (o) => void defaultHorizontalPodAutoscaler(o as HorizontalPodAutoscaler),
  validateCreate: (o) => validateHorizontalPodAutoscaler(o),
  validateUpdate: (o) => validateHorizontalPodAutoscaler(o),
};
