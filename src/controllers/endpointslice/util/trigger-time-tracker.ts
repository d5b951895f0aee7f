/**
 * The `endpoints.kubernetes.io/last-change-trigger-time` annotation's
 * source, as upstream's TriggerTimeTracker: for each Service, the earliest
 * time among the pod and Service changes not yet reflected in its
 * Endpoints/EndpointSlices, so consumers (kube-proxy, SLO probes) can
 * measure how long a change took to propagate.
 */
import type { Pod, Service } from "kubernetes-types/core/v1.js";
import { podReadyCondition } from "./pods.js";

interface ServiceState {
  lastServiceTriggerTime: number;
  lastPodTriggerTimes: Map<string, number>;
}

function parseTime(t: string | undefined): number {
  if (!t) return 0;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? 0 : ms;
}

/** The earlier of two times, 0 meaning "none". */
function minTime(a: number, b: number): number {
  if (a === 0 || b < a) return b;
  return a;
}

/** A pod's trigger time: when its Ready condition last changed. */
function podTriggerTime(pod: Pod): number {
  return parseTime(podReadyCondition(pod)?.lastTransitionTime);
}

/** A Service's trigger time: its creation (updates to it do not count, as upstream). */
function serviceTriggerTime(svc: Service): number {
  return parseTime(svc.metadata?.creationTimestamp);
}

/**
 * Formats a time as Go's `time.RFC3339Nano` in UTC does: fraction digits
 * only when non-zero, trailing zeros dropped.
 */
export function formatRFC3339Nano(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2024-01-02T03:04:05.678Z
  const [whole, frac] = iso.slice(0, -1).split(".");
  const trimmed = (frac ?? "").replace(/0+$/, "");
  return trimmed ? `${whole}.${trimmed}Z` : `${whole}Z`;
}

/** Tracks the trigger times each Service's endpoints last reflected. */
export class TriggerTimeTracker {
  private readonly states = new Map<string, ServiceState>();

  /**
   * The trigger time to publish for `service` given its selected `pods`
   * (0: none, clear the annotation), and remembers the current times. A
   * Service seen for the first time reports its creation time.
   */
  compute(namespace: string, service: Service, pods: readonly Pod[]): number {
    const key = `${namespace}/${service.metadata?.name}`;
    const state = this.states.get(key);
    let minChanged = 0;
    const podTimes = new Map<string, number>();
    for (const pod of pods) {
      const t = podTriggerTime(pod);
      if (t === 0) continue;
      const name = pod.metadata?.name ?? "";
      podTimes.set(name, t);
      if (t > (state?.lastPodTriggerTimes.get(name) ?? 0)) minChanged = minTime(minChanged, t);
    }
    const svcTime = serviceTriggerTime(service);
    if (svcTime > (state?.lastServiceTriggerTime ?? 0)) minChanged = minTime(minChanged, svcTime);
    this.states.set(key, { lastServiceTriggerTime: svcTime, lastPodTriggerTimes: podTimes });
    if (!state) return svcTime;
    return minChanged;
  }

  /** Forgets a deleted Service. */
  deleteService(namespace: string, name: string): void {
    this.states.delete(`${namespace}/${name}`);
  }
}
