/**
 * NodeResourcesFitArgs and NodeResourcesBalancedAllocationArgs: types,
 * defaults (SetDefaults_*) and validation (validation_pluginargs.go), with
 * upstream's messages.
 */
import { qualifiedName } from "../../../apiserver/registry/meta-validation.js";
import { duplicate, goNumber, goString, invalidValue, notSupported, required } from "../../../machinery/field-errors.js";
import { fieldErrorMessage, type FieldError } from "../../../machinery/status-error.js";

export const LeastAllocated = "LeastAllocated";
export const MostAllocated = "MostAllocated";
export const RequestedToCapacityRatio = "RequestedToCapacityRatio";
const supportedScoringStrategyTypes = [LeastAllocated, MostAllocated, RequestedToCapacityRatio];

/** The highest score of a RequestedToCapacityRatio shape point. */
export const MaxCustomPriorityScore = 10;

export interface ResourceSpec {
  name: string;
  weight?: number;
}

export interface UtilizationShapePoint {
  utilization: number;
  score: number;
}

export interface ScoringStrategy {
  type?: string;
  resources?: ResourceSpec[];
  requestedToCapacityRatio?: { shape?: UtilizationShapePoint[] };
}

export interface NodeResourcesFitArgs {
  /** Extended resources Filter ignores. */
  ignoredResources?: string[];
  /** Extended resource groups (the part before "/") Filter ignores. */
  ignoredResourceGroups?: string[];
  scoringStrategy?: ScoringStrategy;
}

export interface NodeResourcesBalancedAllocationArgs {
  resources?: ResourceSpec[];
}

/** cpu and memory, weight 1 each. */
export const defaultResourceSpec: readonly ResourceSpec[] = [
  { name: "cpu", weight: 1 },
  { name: "memory", weight: 1 },
];

function withDefaultWeights(resources: readonly ResourceSpec[] | undefined): ResourceSpec[] {
  const list = resources && resources.length > 0 ? resources : defaultResourceSpec;
  return list.map((r) => ({ name: r.name, weight: r.weight || 1 }));
}

/** SetDefaults_NodeResourcesFitArgs: LeastAllocated over cpu and memory. */
export function defaultNodeResourcesFitArgs(args: NodeResourcesFitArgs = {}): NodeResourcesFitArgs {
  const strategy = args.scoringStrategy ?? { type: LeastAllocated };
  return {
    ...args,
    scoringStrategy: { ...strategy, type: strategy.type ?? LeastAllocated, resources: withDefaultWeights(strategy.resources) },
  };
}

/** SetDefaults_NodeResourcesBalancedAllocationArgs: cpu and memory. */
export function defaultBalancedAllocationArgs(args: NodeResourcesBalancedAllocationArgs = {}): NodeResourcesBalancedAllocationArgs {
  return { ...args, resources: withDefaultWeights(args.resources) };
}

function validateResources(resources: readonly ResourceSpec[] | undefined, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const seen = new Set<string>();
  (resources ?? []).forEach((r, i) => {
    if (seen.has(r.name)) errs.push(duplicate(`${path}[${i}].name`, goString(r.name)));
    else seen.add(r.name);
    const w = r.weight ?? 0;
    if (w <= 0 || w > 100) errs.push(invalidValue(`${path}[${i}].weight`, goNumber(w), `resource weight of ${r.name} not in valid range (0, 100]`));
  });
  return errs;
}

function validateFunctionShape(shape: readonly UtilizationShapePoint[] | undefined, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!shape || shape.length === 0) return [required(path, "at least one point must be specified")];
  for (let i = 1; i < shape.length; i++) {
    if (shape[i - 1]!.utilization >= shape[i]!.utilization) {
      errs.push(invalidValue(`${path}[${i}].utilization`, goNumber(shape[i]!.utilization), "utilization values must be sorted in increasing order"));
      break;
    }
  }
  shape.forEach((p, i) => {
    if (p.utilization < 0 || p.utilization > 100) errs.push(invalidValue(`${path}[${i}].utilization`, goNumber(p.utilization), "not in valid range [0, 100]"));
    if (p.score < 0 || p.score > MaxCustomPriorityScore) errs.push(invalidValue(`${path}[${i}].score`, goNumber(p.score), `not in valid range [0, ${MaxCustomPriorityScore}]`));
  });
  return errs;
}

function validateLabelName(name: string, path: string): FieldError[] {
  return qualifiedName(name).map((m) => invalidValue(path, goString(name), m));
}

/** ValidateNodeResourcesFitArgs. */
export function validateNodeResourcesFitArgs(path: string, args: NodeResourcesFitArgs): string[] {
  const errs: FieldError[] = [];
  (args.ignoredResources ?? []).forEach((r, i) => {
    errs.push(...validateLabelName(r, `${path}.ignoredResources[${i}]`));
  });
  (args.ignoredResourceGroups ?? []).forEach((g, i) => {
    const p = `${path}.ignoredResourceGroups[${i}]`;
    if (g.includes("/")) errs.push(invalidValue(p, goString(g), "resource group name can't contain '/'"));
    errs.push(...validateLabelName(g, p));
  });
  const strategy = args.scoringStrategy;
  if (strategy) {
    const sp = `${path}.scoringStrategy`;
    if (!supportedScoringStrategyTypes.includes(strategy.type ?? "")) errs.push(notSupported(`${sp}.type`, goString(strategy.type ?? ""), supportedScoringStrategyTypes));
    errs.push(...validateResources(strategy.resources, `${sp}.resources`));
    // Upstream would crash on a RequestedToCapacityRatio strategy without a shape; report it as an empty shape.
    if (strategy.requestedToCapacityRatio || strategy.type === RequestedToCapacityRatio) {
      errs.push(...validateFunctionShape(strategy.requestedToCapacityRatio?.shape, `${sp}.shape`));
    }
  }
  return errs.map(fieldErrorMessage);
}

/** ValidateNodeResourcesBalancedAllocationArgs: unique resources, each of weight 1. */
export function validateBalancedAllocationArgs(path: string, args: NodeResourcesBalancedAllocationArgs): string[] {
  const errs: FieldError[] = [];
  const seen = new Set<string>();
  (args.resources ?? []).forEach((r, i) => {
    if (seen.has(r.name)) errs.push(duplicate(`${path}.resources[${i}].name`, goString(r.name)));
    else seen.add(r.name);
    if ((r.weight ?? 0) !== 1) errs.push(invalidValue(`${path}.resources[${i}].weight`, goNumber(r.weight ?? 0), "must be 1"));
  });
  return errs.map(fieldErrorMessage);
}
