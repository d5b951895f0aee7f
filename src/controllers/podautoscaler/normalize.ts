/**
 * From a metric-based proposal to the replica count the HPA sets, as
 * upstream's normalizeDesiredReplicas(WithBehaviors): recommendations are
 * remembered per HPA and stabilized over their windows (the highest of the
 * scale-down window wins, the lowest of the scale-up window), then the
 * change is capped by min/maxReplicas and by the scaling rate: without
 * `behavior` at most double (at least 4) per step; with it, by the
 * policies over the scale events of each policy's period.
 */
import type { HPAScalingRules, HorizontalPodAutoscalerBehavior } from "kubernetes-types/autoscaling/v2.js";
import { type Clock, systemClock } from "../../machinery/clock.js";
import { DEFAULT_DOWNSCALE_STABILIZATION_MS, SCALE_UP_LIMIT_FACTOR, SCALE_UP_LIMIT_MINIMUM } from "./settings.js";

interface TimestampedRecommendation {
  recommendation: number;
  timestamp: number;
}

interface TimestampedScaleEvent {
  replicaChange: number;
  timestamp: number;
  outdated: boolean;
}

/** A condition the normalization decided (type is implied by the field holding it). */
export interface ConditionDecision {
  readonly status: "True" | "False";
  readonly reason: string;
  readonly message: string;
}

/** The outcome of a normalization: the count, and the AbleToScale and ScalingLimited conditions to set. */
export interface Normalized {
  readonly desiredReplicas: number;
  readonly ableToScale: ConditionDecision;
  readonly scalingLimited: ConditionDecision;
}

/** What a normalization needs to know about the HPA and the proposal. */
export interface NormalizationArg {
  readonly key: string;
  readonly behavior?: HorizontalPodAutoscalerBehavior;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly currentReplicas: number;
  readonly desiredReplicas: number;
}

const READY_FOR_NEW_SCALE: ConditionDecision = { status: "True", reason: "ReadyForNewScale", message: "recommended size matches current size" };
const SCALE_DOWN_STABILIZED: ConditionDecision = {
  status: "True",
  reason: "ScaleDownStabilized",
  message: "recent recommendations were higher than current one, applying the highest recent recommendation",
};
const SCALE_UP_STABILIZED: ConditionDecision = {
  status: "True",
  reason: "ScaleUpStabilized",
  message: "recent recommendations were lower than current one, applying the lowest recent recommendation",
};

/** Per-HPA recommendation and scale-event memory; see the module comment. */
export class Normalizer {
  private readonly recommendations = new Map<string, TimestampedRecommendation[]>();
  private readonly scaleUpEvents = new Map<string, TimestampedScaleEvent[]>();
  private readonly scaleDownEvents = new Map<string, TimestampedScaleEvent[]>();
  private readonly clock: Clock;

  constructor(
    /** `--horizontal-pod-autoscaler-downscale-stabilization`. */
    readonly downscaleStabilizationMs: number = DEFAULT_DOWNSCALE_STABILIZATION_MS,
    clock?: Clock,
  ) {
    this.clock = clock ?? systemClock;
  }

  /** Seeds the memory with the current size the first time an HPA is seen (recordInitialRecommendation). */
  recordInitialRecommendation(currentReplicas: number, key: string): void {
    if (!this.recommendations.has(key)) this.recommendations.set(key, [{ recommendation: currentReplicas, timestamp: this.clock.now() }]);
  }

  /** Forgets a deleted HPA. */
  forget(key: string): void {
    this.recommendations.delete(key);
    this.scaleUpEvents.delete(key);
    this.scaleDownEvents.delete(key);
  }

  /** Upstream's normalizeDesiredReplicas (no `behavior`). */
  normalize(arg: NormalizationArg): Normalized {
    const stabilized = this.stabilizeRecommendation(arg.key, arg.desiredReplicas);
    const ableToScale = stabilized !== arg.desiredReplicas ? SCALE_DOWN_STABILIZED : READY_FOR_NEW_SCALE;
    const { replicas, reason, message } = convertDesiredReplicasWithRules(arg.currentReplicas, stabilized, arg.minReplicas, arg.maxReplicas);
    return { desiredReplicas: replicas, ableToScale, scalingLimited: { status: replicas === stabilized ? "False" : "True", reason, message } };
  }

  /** Upstream's normalizeDesiredReplicasWithBehaviors; `behavior` must be defaulted (defaults.ts). */
  normalizeWithBehaviors(arg: NormalizationArg & { readonly behavior: HorizontalPodAutoscalerBehavior }): Normalized {
    const scaleUp = arg.behavior.scaleUp ?? {};
    // maybeInitScaleDownStabilizationWindow: an unset scale-down window is the controller's.
    const scaleDown: HPAScalingRules = {
      ...(arg.behavior.scaleDown ?? {}),
      stabilizationWindowSeconds: arg.behavior.scaleDown?.stabilizationWindowSeconds ?? Math.trunc(this.downscaleStabilizationMs / 1000),
    };
    const { recommendation, decision } = this.stabilizeRecommendationWithBehaviors(arg, scaleUp, scaleDown);
    const ableToScale = recommendation !== arg.desiredReplicas ? decision : READY_FOR_NEW_SCALE;
    const { replicas, reason, message } = this.convertDesiredReplicasWithBehaviorRate({ ...arg, desiredReplicas: recommendation }, scaleUp, scaleDown);
    return { desiredReplicas: replicas, ableToScale, scalingLimited: { status: replicas === recommendation ? "False" : "True", reason, message } };
  }

  /** Remembers a rescale for the rate policies (storeScaleEvent); nothing without `behavior`. */
  storeScaleEvent(behavior: HorizontalPodAutoscalerBehavior | undefined, key: string, prevReplicas: number, newReplicas: number): void {
    if (!behavior) return;
    const now = this.clock.now();
    const up = newReplicas > prevReplicas;
    const rules = up ? behavior.scaleUp : behavior.scaleDown;
    const map = up ? this.scaleUpEvents : this.scaleDownEvents;
    const events = map.get(key) ?? [];
    const cutoff = now - getLongestPolicyPeriod(rules) * 1000;
    let oldIndex = -1;
    for (let i = 0; i < events.length; i++) {
      if (events[i]!.timestamp < cutoff) events[i]!.outdated = true;
      if (events[i]!.outdated) oldIndex = i;
    }
    const ev: TimestampedScaleEvent = { replicaChange: up ? newReplicas - prevReplicas : prevReplicas - newReplicas, timestamp: now, outdated: false };
    if (oldIndex >= 0) events[oldIndex] = ev;
    else events.push(ev);
    map.set(key, events);
  }

  private stabilizeRecommendation(key: string, prenormalized: number): number {
    const now = this.clock.now();
    let max = prenormalized;
    let oldIndex = -1;
    const cutoff = now - this.downscaleStabilizationMs;
    const recs = this.recommendations.get(key) ?? [];
    recs.forEach((rec, i) => {
      if (rec.timestamp < cutoff) oldIndex = i;
      else if (rec.recommendation > max) max = rec.recommendation;
    });
    const entry = { recommendation: prenormalized, timestamp: now };
    if (oldIndex >= 0) recs[oldIndex] = entry;
    else recs.push(entry);
    this.recommendations.set(key, recs);
    return max;
  }

  private stabilizeRecommendationWithBehaviors(arg: NormalizationArg, scaleUp: HPAScalingRules, scaleDown: HPAScalingRules): { recommendation: number; decision: ConditionDecision } {
    const now = this.clock.now();
    let upRecommendation = arg.desiredReplicas;
    const upCutoff = now - (scaleUp.stabilizationWindowSeconds ?? 0) * 1000;
    let downRecommendation = arg.desiredReplicas;
    const downCutoff = now - (scaleDown.stabilizationWindowSeconds ?? 0) * 1000;
    const recs = this.recommendations.get(arg.key) ?? [];
    let oldIndex = -1;
    recs.forEach((rec, i) => {
      if (rec.timestamp > upCutoff) upRecommendation = Math.min(rec.recommendation, upRecommendation);
      if (rec.timestamp > downCutoff) downRecommendation = Math.max(rec.recommendation, downRecommendation);
      if (rec.timestamp < upCutoff && rec.timestamp < downCutoff) oldIndex = i;
    });
    // Bring the current size within [upRecommendation, downRecommendation].
    let recommendation = arg.currentReplicas;
    if (recommendation < upRecommendation) recommendation = upRecommendation;
    if (recommendation > downRecommendation) recommendation = downRecommendation;
    const entry = { recommendation: arg.desiredReplicas, timestamp: now };
    if (oldIndex >= 0) recs[oldIndex] = entry;
    else recs.push(entry);
    this.recommendations.set(arg.key, recs);
    return { recommendation, decision: arg.desiredReplicas >= arg.currentReplicas ? SCALE_UP_STABILIZED : SCALE_DOWN_STABILIZED };
  }

  private convertDesiredReplicasWithBehaviorRate(arg: NormalizationArg, scaleUp: HPAScalingRules, scaleDown: HPAScalingRules): { replicas: number; reason: string; message: string } {
    const up = this.scaleUpEvents.get(arg.key) ?? [];
    const down = this.scaleDownEvents.get(arg.key) ?? [];
    const now = this.clock.now();
    if (arg.desiredReplicas > arg.currentReplicas) {
      // No further scale-up until old events age out.
      const scaleUpLimit = Math.max(calculateScaleUpLimitWithScalingRules(arg.currentReplicas, up, down, scaleUp, now), arg.currentReplicas);
      let maximumAllowed = arg.maxReplicas;
      let reason: string;
      let message: string;
      if (maximumAllowed > scaleUpLimit) {
        maximumAllowed = scaleUpLimit;
        reason = "ScaleUpLimit";
        message = "the desired replica count is increasing faster than the maximum scale rate";
      } else {
        reason = "TooManyReplicas";
        message = "the desired replica count is more than the maximum replica count";
      }
      if (arg.desiredReplicas > maximumAllowed) return { replicas: maximumAllowed, reason, message };
    } else if (arg.desiredReplicas < arg.currentReplicas) {
      const scaleDownLimit = Math.min(calculateScaleDownLimitWithBehaviors(arg.currentReplicas, up, down, scaleDown, now), arg.currentReplicas);
      let minimumAllowed = arg.minReplicas;
      let reason: string;
      let message: string;
      if (minimumAllowed < scaleDownLimit) {
        minimumAllowed = scaleDownLimit;
        reason = "ScaleDownLimit";
        message = "the desired replica count is decreasing faster than the maximum scale rate";
      } else {
        reason = "TooFewReplicas";
        message = "the desired replica count is less than the minimum replica count";
      }
      if (arg.desiredReplicas < minimumAllowed) return { replicas: minimumAllowed, reason, message };
    }
    return { replicas: arg.desiredReplicas, reason: "DesiredWithinRange", message: "the desired count is within the acceptable range" };
  }
}

/** Upstream's convertDesiredReplicasWithRules (no `behavior`). */
export function convertDesiredReplicasWithRules(
  currentReplicas: number,
  desiredReplicas: number,
  minReplicas: number,
  maxReplicas: number,
): { replicas: number; reason: string; message: string } {
  // Never more than double (at least 4) per step: guards against a bogus usage spike.
  const scaleUpLimit = calculateScaleUpLimit(currentReplicas);
  let maximumAllowed: number;
  let reason: string;
  let message: string;
  if (maxReplicas > scaleUpLimit) {
    maximumAllowed = scaleUpLimit;
    reason = "ScaleUpLimit";
    message = "the desired replica count is increasing faster than the maximum scale rate";
  } else {
    maximumAllowed = maxReplicas;
    reason = "TooManyReplicas";
    message = "the desired replica count is more than the maximum replica count";
  }
  if (desiredReplicas < minReplicas) return { replicas: minReplicas, reason: "TooFewReplicas", message: "the desired replica count is less than the minimum replica count" };
  if (desiredReplicas > maximumAllowed) return { replicas: maximumAllowed, reason, message };
  return { replicas: desiredReplicas, reason: "DesiredWithinRange", message: "the desired count is within the acceptable range" };
}

/** Upstream's calculateScaleUpLimit. */
export function calculateScaleUpLimit(currentReplicas: number): number {
  return Math.trunc(Math.max(SCALE_UP_LIMIT_FACTOR * currentReplicas, SCALE_UP_LIMIT_MINIMUM));
}

function getLongestPolicyPeriod(rules: HPAScalingRules | undefined): number {
  let longest = 0;
  for (const p of rules?.policies ?? []) if (p.periodSeconds > longest) longest = p.periodSeconds;
  return longest;
}

function getReplicasChangePerPeriod(periodSeconds: number, events: readonly TimestampedScaleEvent[], now: number): number {
  const cutoff = now - periodSeconds * 1000;
  let replicas = 0;
  for (const e of events) if (e.timestamp > cutoff) replicas += e.replicaChange;
  return replicas;
}

const MAX_INT32 = 2147483647;
const MIN_INT32 = -2147483648;

/** Upstream's calculateScaleUpLimitWithScalingRules. */
export function calculateScaleUpLimitWithScalingRules(
  currentReplicas: number,
  scaleUpEvents: readonly TimestampedScaleEvent[],
  scaleDownEvents: readonly TimestampedScaleEvent[],
  rules: HPAScalingRules,
  now: number,
): number {
  if (rules.selectPolicy === "Disabled") return currentReplicas;
  // For a scale-up the smallest change ("Min") is the smallest limit.
  const minChange = rules.selectPolicy === "Min";
  let result = minChange ? MAX_INT32 : MIN_INT32;
  for (const policy of rules.policies ?? []) {
    const added = getReplicasChangePerPeriod(policy.periodSeconds, scaleUpEvents, now);
    const deleted = getReplicasChangePerPeriod(policy.periodSeconds, scaleDownEvents, now);
    const periodStart = currentReplicas - added + deleted;
    let proposed = 0;
    if (policy.type === "Pods") proposed = periodStart + policy.value;
    // Rounded up, or a small percentage of few pods would never add one.
    else if (policy.type === "Percent") proposed = Math.ceil(periodStart * (1 + policy.value / 100));
    result = minChange ? Math.min(result, proposed) : Math.max(result, proposed);
  }
  return result;
}

/** Upstream's calculateScaleDownLimitWithBehaviors. */
export function calculateScaleDownLimitWithBehaviors(
  currentReplicas: number,
  scaleUpEvents: readonly TimestampedScaleEvent[],
  scaleDownEvents: readonly TimestampedScaleEvent[],
  rules: HPAScalingRules,
  now: number,
): number {
  if (rules.selectPolicy === "Disabled") return currentReplicas;
  // For a scale-down the smallest change ("Min") is the largest limit.
  const minChange = rules.selectPolicy === "Min";
  let result = minChange ? MIN_INT32 : MAX_INT32;
  for (const policy of rules.policies ?? []) {
    const added = getReplicasChangePerPeriod(policy.periodSeconds, scaleUpEvents, now);
    const deleted = getReplicasChangePerPeriod(policy.periodSeconds, scaleDownEvents, now);
    const periodStart = currentReplicas - added + deleted;
    let proposed = 0;
    if (policy.type === "Pods") proposed = periodStart - policy.value;
    else if (policy.type === "Percent") proposed = Math.trunc(periodStart * (1 - policy.value / 100));
    result = minChange ? Math.max(result, proposed) : Math.min(result, proposed);
  }
  return result;
}

export type { TimestampedScaleEvent };
