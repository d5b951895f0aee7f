/**
 * autoscaling/v2 defaulting of a HorizontalPodAutoscaler, as upstream's
 * pkg/apis/autoscaling/v2/defaults.go: minReplicas 1, a cpu utilization
 * target of 80 % when no metric is given, and, only when `behavior` is set,
 * every unset scaling rule filled in (scale-up: no stabilization, the
 * larger of +4 pods or +100 % per 15 s; scale-down: the stabilization the
 * controller is configured with, up to -100 % per 15 s). The API server
 * applies these on write; the controller applies them again to whatever
 * it reads, so an object stored without them behaves the same.
 */
import type { HorizontalPodAutoscaler, HPAScalingRules } from "kubernetes-types/autoscaling/v2.js";

/** Upstream's DefaultCPUUtilization. */
export const DEFAULT_CPU_UTILIZATION = 80;

const DEFAULT_SCALE_UP: HPAScalingRules = {
  stabilizationWindowSeconds: 0,
  selectPolicy: "Max",
  policies: [
    { type: "Pods", value: 4, periodSeconds: 15 },
    { type: "Percent", value: 100, periodSeconds: 15 },
  ],
};

const DEFAULT_SCALE_DOWN: HPAScalingRules = {
  // Left unset: the controller's --horizontal-pod-autoscaler-downscale-stabilization applies.
  selectPolicy: "Max",
  policies: [{ type: "Percent", value: 100, periodSeconds: 15 }],
};

function fill(given: HPAScalingRules | undefined, d: HPAScalingRules): HPAScalingRules {
  const out: HPAScalingRules = { ...(given ?? {}) };
  if (out.stabilizationWindowSeconds === undefined && d.stabilizationWindowSeconds !== undefined) out.stabilizationWindowSeconds = d.stabilizationWindowSeconds;
  out.selectPolicy ??= d.selectPolicy;
  out.policies ??= d.policies!.map((p) => ({ ...p }));
  return out;
}

/** Fills upstream's defaults into `hpa` (mutates and returns it). */
export function defaultHorizontalPodAutoscaler(hpa: HorizontalPodAutoscaler): HorizontalPodAutoscaler {
  const spec = (hpa.spec ??= { maxReplicas: 0, scaleTargetRef: { kind: "", name: "" } });
  spec.minReplicas ??= 1;
  if (!spec.metrics || spec.metrics.length === 0) {
    spec.metrics = [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: DEFAULT_CPU_UTILIZATION } } }];
  }
  if (spec.behavior) {
    spec.behavior = { scaleUp: fill(spec.behavior.scaleUp, DEFAULT_SCALE_UP), scaleDown: fill(spec.behavior.scaleDown, DEFAULT_SCALE_DOWN) };
  }
  return hpa;
}
