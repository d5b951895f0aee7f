/**
 * HPA status conditions as upstream's setConditionInList: one per type,
 * updated in place; lastTransitionTime moves only when the status does
 * (a new condition records when it appeared).
 */
import type { HorizontalPodAutoscaler, HorizontalPodAutoscalerCondition } from "kubernetes-types/autoscaling/v2.js";
import { rfc3339 } from "../common/time.js";

export type HpaConditionType = "AbleToScale" | "ScalingActive" | "ScalingLimited";

/** Sets (or adds) the condition `type` on `hpa.status` at time `now` (epoch ms). */
export function setCondition(hpa: HorizontalPodAutoscaler, type: HpaConditionType | string, status: "True" | "False" | "Unknown", reason: string, message: string, now: number): void {
  const st = (hpa.status ??= { desiredReplicas: 0 });
  const list: HorizontalPodAutoscalerCondition[] = [...(st.conditions ?? [])];
  const i = list.findIndex((c) => c.type === type);
  if (i < 0) {
    list.push({ type, status, lastTransitionTime: rfc3339(now), reason, message });
  } else {
    const existing = list[i]!;
    list[i] = { ...existing, status, reason, message, ...(existing.status !== status ? { lastTransitionTime: rfc3339(now) } : {}) };
  }
  st.conditions = list;
}
