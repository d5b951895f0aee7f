/**
 * The node resource scoring strategies (noderesources: least_allocated.go,
 * most_allocated.go, requested_to_capacity_ratio.go, and BalancedAllocation's
 * scorer), each mapping per-resource (requested, allocatable) to [0, 100].
 * Integer arithmetic truncates as Go's int64 does.
 */
import { mulDiv } from "../../framework/normalize-score.js";
import { MaxNodeScore } from "../../framework/types.js";
import { MaxCustomPriorityScore, type ResourceSpec, type UtilizationShapePoint } from "./args.js";

export type Scorer = (requested: readonly number[], allocatable: readonly number[]) => number;

function leastRequestedScore(requested: number, capacity: number): number {
  if (capacity === 0 || requested > capacity) return 0;
  return mulDiv(capacity - requested, MaxNodeScore, capacity);
}

function mostRequestedScore(requested: number, capacity: number): number {
  if (capacity === 0) return 0;
  // Pods without requests count with defaults, so requested may exceed capacity.
  return mulDiv(Math.min(requested, capacity), MaxNodeScore, capacity);
}

function weightedAverage(resources: readonly ResourceSpec[], per: (requested: number, capacity: number) => number): Scorer {
  return (requested, allocatable) => {
    let nodeScore = 0;
    let weightSum = 0;
    for (let i = 0; i < requested.length; i++) {
      if (allocatable[i] === 0) continue;
      const weight = resources[i]!.weight ?? 1;
      nodeScore += per(requested[i]!, allocatable[i]!) * weight;
      weightSum += weight;
    }
    return weightSum === 0 ? 0 : Math.trunc(nodeScore / weightSum);
  };
}

/** LeastAllocated: favors nodes with more free resources. */
export const leastResourceScorer = (resources: readonly ResourceSpec[]): Scorer => weightedAverage(resources, leastRequestedScore);

/** MostAllocated: favors nodes with fewer free resources (bin packing). */
export const mostResourceScorer = (resources: readonly ResourceSpec[]): Scorer => weightedAverage(resources, mostRequestedScore);

interface FunctionShapePoint {
  utilization: number;
  score: number;
}

/** helper.BuildBrokenLinearFunction: piecewise-linear through the shape's points, flat outside them. */
export function buildBrokenLinearFunction(shape: readonly FunctionShapePoint[]): (p: number) => number {
  return (p) => {
    for (let i = 0; i < shape.length; i++) {
      if (p <= shape[i]!.utilization) {
        if (i === 0) return shape[0]!.score;
        const a = shape[i - 1]!;
        const b = shape[i]!;
        return a.score + Math.trunc(((b.score - a.score) * (p - a.utilization)) / (b.utilization - a.utilization));
      }
    }
    return shape[shape.length - 1]!.score;
  };
}

const maxUtilization = 100;

/** RequestedToCapacityRatio: the shape (scores 0..10, scaled to 0..100) applied to each resource's utilization. */
export function requestedToCapacityRatioScorer(resources: readonly ResourceSpec[], shape: readonly UtilizationShapePoint[]): Scorer {
  const scaled = shape.map((p) => ({ utilization: p.utilization, score: p.score * (MaxNodeScore / MaxCustomPriorityScore) }));
  const raw = buildBrokenLinearFunction(scaled);
  const resourceScore = (requested: number, capacity: number) => {
    if (capacity === 0 || requested > capacity) return raw(maxUtilization);
    return raw(mulDiv(requested, maxUtilization, capacity));
  };
  return (requested, allocatable) => {
    let nodeScore = 0;
    let weightSum = 0;
    for (let i = 0; i < requested.length; i++) {
      if (allocatable[i] === 0) continue;
      const weight = resources[i]!.weight ?? 1;
      const s = resourceScore(requested[i]!, allocatable[i]!);
      if (s > 0) {
        nodeScore += s * weight;
        weightSum += weight;
      }
    }
    if (weightSum === 0) return 0;
    // Go's math.Round rounds halves away from zero; scores are never negative.
    return Math.floor(nodeScore / weightSum + 0.5);
  };
}

/** balancedResourceScorer: 100 × (1 − the standard deviation of the requested fractions). */
export function balancedResourceScorer(requested: readonly number[], allocatable: readonly number[]): number {
  let count = 0;
  let total = 0;
  let first = 0;
  let second = 0;
  for (let i = 0; i < requested.length; i++) {
    if (allocatable[i] === 0) continue;
    const f = Math.min(requested[i]! / allocatable[i]!, 1);
    if (count === 0) first = f;
    else if (count === 1) second = f;
    total += f;
    count++;
  }
  let std = 0;
  // Two resources (the usual cpu+memory): the std is half their difference.
  if (count === 2) {
    std = Math.abs((first - second) / 2);
  } else if (count > 2) {
    const mean = total / count;
    let sum = 0;
    for (let i = 0; i < requested.length; i++) {
      if (allocatable[i] === 0) continue;
      const f = Math.min(requested[i]! / allocatable[i]!, 1);
      sum += (f - mean) * (f - mean);
    }
    std = Math.sqrt(sum / count);
  }
  return Math.trunc((1 - std) * MaxNodeScore);
}
