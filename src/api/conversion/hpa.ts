/**
 * autoscaling/v1 <-> autoscaling/v2 HorizontalPodAutoscaler, as upstream's
 * conversion (pkg/apis/autoscaling/v1): objects are stored as v2; v1 shows
 * the CPU utilization target as `targetCPUUtilizationPercentage` and carries
 * everything it has no field for in the `autoscaling.alpha.kubernetes.io/*`
 * annotations, so a round trip through v1 loses nothing.
 */
type Obj = Record<string, unknown>;

const METRICS = "autoscaling.alpha.kubernetes.io/metrics";
const BEHAVIOR = "autoscaling.alpha.kubernetes.io/behavior";
const CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions";
const CURRENT_METRICS = "autoscaling.alpha.kubernetes.io/current-metrics";

const isCpuUtilization = (m: Obj) => {
  const r = m.resource as { name?: string; target?: { type?: string } } | undefined;
  return m.type === "Resource" && r?.name === "cpu" && r.target?.type === "Utilization";
};

function meta(o: Obj): Obj {
  return { ...((o.metadata as Obj | undefined) ?? {}) };
}

function takeAnnotation(m: Obj, key: string): unknown {
  const ann = { ...((m.annotations as Record<string, string> | undefined) ?? {}) };
  const raw = ann[key];
  delete ann[key];
  if (Object.keys(ann).length > 0) m.annotations = ann;
  else delete m.annotations;
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

function putAnnotation(m: Obj, key: string, value: unknown): void {
  if (value === undefined || (Array.isArray(value) && value.length === 0)) return;
  m.annotations = { ...((m.annotations as Record<string, string> | undefined) ?? {}), [key]: JSON.stringify(value) };
}

/** Stored v2 -> served v1. */
export function hpaV2ToV1(o: Obj): Obj {
  const m = meta(o);
  const spec = (o.spec ?? {}) as Obj;
  const metrics = (spec.metrics as Obj[] | undefined) ?? [];
  const cpu = metrics.find(isCpuUtilization);
  putAnnotation(m, METRICS, metrics.filter((x) => x !== cpu));
  if (spec.behavior !== undefined) putAnnotation(m, BEHAVIOR, spec.behavior);
  const status = (o.status ?? {}) as Obj;
  const current = (status.currentMetrics as Obj[] | undefined) ?? [];
  const currentCpu = current.find((c) => c.type === "Resource" && (c.resource as { name?: string } | undefined)?.name === "cpu");
  putAnnotation(m, CONDITIONS, status.conditions);
  putAnnotation(m, CURRENT_METRICS, current.filter((c) => c !== currentCpu));
  const v1Spec: Obj = { scaleTargetRef: spec.scaleTargetRef, minReplicas: spec.minReplicas, maxReplicas: spec.maxReplicas };
  const target = (cpu?.resource as { target?: { averageUtilization?: number } } | undefined)?.target?.averageUtilization;
  if (target !== undefined) v1Spec.targetCPUUtilizationPercentage = target;
  const out: Obj = { apiVersion: "autoscaling/v1", kind: "HorizontalPodAutoscaler", metadata: m, spec: v1Spec };
  if (o.status !== undefined) {
    const v1Status: Obj = {
      observedGeneration: status.observedGeneration,
      lastScaleTime: status.lastScaleTime,
      currentReplicas: status.currentReplicas ?? 0,
      desiredReplicas: status.desiredReplicas ?? 0,
    };
    const util = (currentCpu?.resource as { current?: { averageUtilization?: number } } | undefined)?.current?.averageUtilization;
    if (util !== undefined) v1Status.currentCPUUtilizationPercentage = util;
    out.status = Object.fromEntries(Object.entries(v1Status).filter(([, v]) => v !== undefined));
  }
  return out;
}

/** Served v1 -> stored v2. */
export function hpaV1ToV2(o: Obj): Obj {
  const m = meta(o);
  const spec = (o.spec ?? {}) as Obj;
  const others = (takeAnnotation(m, METRICS) as Obj[] | undefined) ?? [];
  const behavior = takeAnnotation(m, BEHAVIOR);
  const conditions = takeAnnotation(m, CONDITIONS);
  const currentOthers = (takeAnnotation(m, CURRENT_METRICS) as Obj[] | undefined) ?? [];
  const metrics: Obj[] = [];
  if (typeof spec.targetCPUUtilizationPercentage === "number") {
    metrics.push({ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: spec.targetCPUUtilizationPercentage } } });
  }
  metrics.push(...others);
  const v2Spec: Obj = { scaleTargetRef: spec.scaleTargetRef, minReplicas: spec.minReplicas, maxReplicas: spec.maxReplicas };
  if (metrics.length > 0) v2Spec.metrics = metrics;
  if (behavior !== undefined) v2Spec.behavior = behavior;
  const out: Obj = { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", metadata: m, spec: v2Spec };
  if (o.status !== undefined) {
    const s = o.status as Obj;
    const current: Obj[] = [];
    if (typeof s.currentCPUUtilizationPercentage === "number") {
      current.push({ type: "Resource", resource: { name: "cpu", current: { averageUtilization: s.currentCPUUtilizationPercentage } } });
    }
    current.push(...currentOthers);
    const v2Status: Obj = {
      observedGeneration: s.observedGeneration,
      lastScaleTime: s.lastScaleTime,
      currentReplicas: s.currentReplicas,
      desiredReplicas: s.desiredReplicas,
      ...(current.length > 0 ? { currentMetrics: current } : {}),
      ...(conditions !== undefined ? { conditions } : {}),
    };
    out.status = Object.fromEntries(Object.entries(v2Status).filter(([, v]) => v !== undefined));
  }
  return out;
}
