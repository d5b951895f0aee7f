/**
 * NodeResourcesFit (PreFilter, Filter, PreScore, Score): the node must have
 * room for the pod's requests ("Insufficient cpu", "Too many pods", …), and
 * nodes are scored by the configured strategy (LeastAllocated by default).
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import { type CycleState, readState, type StateData } from "../../framework/cycle-state.js";
import { ActionType, type ClusterEventWithHint, EventResource } from "../../framework/events.js";
import {
  type NodeInfo,
  PACK_ALLOC_CPU,
  PACK_ALLOC_EPHEMERAL,
  PACK_ALLOC_MEMORY,
  PACK_ALLOWED_PODS,
  PACK_NUM_PODS,
  PACK_REQ_CPU,
  PACK_REQ_EPHEMERAL,
  PACK_REQ_MEMORY,
} from "../../framework/node-info.js";
import { computePodResourceRequest } from "../../framework/pod-resources.js";
import type { PluginRegistration } from "../../framework/registry.js";
import { isExtendedResourceName, type Resource } from "../../framework/resource.js";
import { Code, Status } from "../../framework/status.js";
import type {
  EnqueueExtensions,
  FilterPlugin,
  PreFilterExtensions,
  PreFilterOutcome,
  PreFilterPlugin,
  PreScorePlugin,
  ScoreExtensions,
  ScorePlugin,
} from "../../framework/types.js";
import { Names } from "../names.js";
import { defaultNodeResourcesFitArgs, LeastAllocated, MostAllocated, type NodeResourcesFitArgs, RequestedToCapacityRatio, validateNodeResourcesFitArgs } from "./args.js";
import { ResourceAllocationScorer } from "./resource-allocation.js";
import { leastResourceScorer, mostResourceScorer, requestedToCapacityRatioScorer } from "./scoring.js";

const preFilterStateKey = `PreFilter${Names.NodeResourcesFit}`;
const preScoreStateKey = `PreScore${Names.NodeResourcesFit}`;

/** One resource the node lacks (InsufficientResource). */
export interface InsufficientResource {
  readonly resourceName: string;
  /** The Filter reason: "Insufficient cpu", "Too many pods", … */
  readonly reason: string;
  readonly requested: number;
  readonly used: number;
  readonly capacity: number;
}

class PreFilterState implements StateData {
  constructor(readonly request: Resource) {}
  clone(): StateData {
    return this;
  }
}

class PreScoreState implements StateData {
  constructor(readonly podRequests: readonly number[]) {}
  clone(): StateData {
    return this;
  }
}

const isPreFilterState = (d: StateData): d is PreFilterState => d instanceof PreFilterState;
const isPreScoreState = (d: StateData): d is PreScoreState => d instanceof PreScoreState;

/** fitsRequest: every resource the node lacks for the pod's request. */
const NO_NAMES: ReadonlySet<string> = new Set();
const FITS: readonly InsufficientResource[] = Object.freeze([]);

export function fitsRequest(
  podRequest: Resource,
  nodeInfo: NodeInfo,
  ignoredExtendedResources: ReadonlySet<string> = NO_NAMES,
  ignoredResourceGroups: ReadonlySet<string> = NO_NAMES,
): readonly InsufficientResource[] {
  // Most nodes fit: answer them without allocating.
  if (quickFit(podRequest, nodeInfo)) return FITS;
  const out: InsufficientResource[] = [];
  const allowedPodNumber = nodeInfo.allocatable.allowedPodNumber;
  if (nodeInfo.pods.length + 1 > allowedPodNumber) {
    out.push({ resourceName: "pods", reason: "Too many pods", requested: 1, used: nodeInfo.pods.length, capacity: allowedPodNumber });
  }
  const scalars = podRequest.scalarResources;
  if (podRequest.milliCPU === 0 && podRequest.memory === 0 && podRequest.ephemeralStorage === 0 && (!scalars || scalars.size === 0)) return out;

  const alloc = nodeInfo.allocatable;
  const used = nodeInfo.requested;
  if (podRequest.milliCPU > 0 && podRequest.milliCPU > alloc.milliCPU - used.milliCPU) {
    out.push({ resourceName: "cpu", reason: "Insufficient cpu", requested: podRequest.milliCPU, used: used.milliCPU, capacity: alloc.milliCPU });
  }
  if (podRequest.memory > 0 && podRequest.memory > alloc.memory - used.memory) {
    out.push({ resourceName: "memory", reason: "Insufficient memory", requested: podRequest.memory, used: used.memory, capacity: alloc.memory });
  }
  if (podRequest.ephemeralStorage > 0 && podRequest.ephemeralStorage > alloc.ephemeralStorage - used.ephemeralStorage) {
    out.push({
      resourceName: "ephemeral-storage",
      reason: "Insufficient ephemeral-storage",
      requested: podRequest.ephemeralStorage,
      used: used.ephemeralStorage,
      capacity: alloc.ephemeralStorage,
    });
  }
  if (scalars) {
    for (const [name, quantity] of scalars) {
      if (quantity === 0) continue;
      if (isExtendedResourceName(name)) {
        // API validation guarantees the slash in an extended resource name.
        const group = name.split("/")[0]!;
        if (ignoredExtendedResources.has(name) || ignoredResourceGroups.has(group)) continue;
      }
      if (quantity > alloc.scalar(name) - used.scalar(name)) {
        out.push({ resourceName: name, reason: `Insufficient ${name}`, requested: quantity, used: used.scalar(name), capacity: alloc.scalar(name) });
      }
    }
  }
  return out;
}

/** Whether every requested resource (and a pod slot) is plainly available. */
function quickFit(podRequest: Resource, nodeInfo: NodeInfo): boolean {
  const pack = nodeInfo.pack;
  if (pack !== undefined) {
    // The same comparisons on the snapshot's packed numbers (see PackedResources).
    const d = pack.data;
    const o = nodeInfo.packSlot;
    if (d[o + PACK_NUM_PODS]! + 1 > d[o + PACK_ALLOWED_PODS]!) return false;
    if (podRequest.milliCPU > 0 && podRequest.milliCPU > d[o + PACK_ALLOC_CPU]! - d[o + PACK_REQ_CPU]!) return false;
    if (podRequest.memory > 0 && podRequest.memory > d[o + PACK_ALLOC_MEMORY]! - d[o + PACK_REQ_MEMORY]!) return false;
    if (podRequest.ephemeralStorage > 0 && podRequest.ephemeralStorage > d[o + PACK_ALLOC_EPHEMERAL]! - d[o + PACK_REQ_EPHEMERAL]!) return false;
    return !podRequest.scalarResources || podRequest.scalarResources.size === 0;
  }
  const alloc = nodeInfo.allocatable;
  const used = nodeInfo.requested;
  if (nodeInfo.pods.length + 1 > alloc.allowedPodNumber) return false;
  if (podRequest.milliCPU > 0 && podRequest.milliCPU > alloc.milliCPU - used.milliCPU) return false;
  if (podRequest.memory > 0 && podRequest.memory > alloc.memory - used.memory) return false;
  if (podRequest.ephemeralStorage > 0 && podRequest.ephemeralStorage > alloc.ephemeralStorage - used.ephemeralStorage) return false;
  // Extended resources (possibly ignored) take the full path.
  return !podRequest.scalarResources || podRequest.scalarResources.size === 0;
}

/** Fits: what the node lacks for the pod (the wiring's admission pre-check uses it). */
export function fits(pod: Pod, nodeInfo: NodeInfo): readonly InsufficientResource[] {
  return fitsRequest(computePodResourceRequest(pod), nodeInfo);
}

export class Fit implements PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions {
  readonly name = Names.NodeResourcesFit;
  private readonly ignoredResources: ReadonlySet<string>;
  private readonly ignoredResourceGroups: ReadonlySet<string>;
  private readonly scorer: ResourceAllocationScorer;

  /** NewFit: `args` as configured (config loading defaults them); no args means the defaults. */
  constructor(args: NodeResourcesFitArgs = defaultNodeResourcesFitArgs()) {
    const errs = validateNodeResourcesFitArgs("", args);
    if (errs.length > 0) throw new Error(errs.length === 1 ? errs[0]!.replace(/^\./, "") : `[${errs.map((e) => e.replace(/^\./, "")).join(", ")}]`);
    this.ignoredResources = new Set(args.ignoredResources ?? []);
    this.ignoredResourceGroups = new Set(args.ignoredResourceGroups ?? []);
    const strategy = args.scoringStrategy;
    if (!strategy) throw new Error("scoring strategy not specified");
    const resources = strategy.resources ?? [];
    switch (strategy.type) {
      case LeastAllocated:
        this.scorer = new ResourceAllocationScorer(LeastAllocated, false, leastResourceScorer(resources), resources);
        break;
      case MostAllocated:
        this.scorer = new ResourceAllocationScorer(MostAllocated, false, mostResourceScorer(resources), resources);
        break;
      case RequestedToCapacityRatio:
        this.scorer = new ResourceAllocationScorer(
          RequestedToCapacityRatio,
          false,
          requestedToCapacityRatioScorer(resources, strategy.requestedToCapacityRatio?.shape ?? []),
          resources,
        );
        break;
      default:
        throw new Error(`scoring strategy ${strategy.type} is not supported`);
    }
  }

  preFilter(state: CycleState, pod: Pod): PreFilterOutcome {
    state.write(preFilterStateKey, new PreFilterState(computePodResourceRequest(pod)));
    return {};
  }

  preFilterExtensions(): PreFilterExtensions | null {
    return null;
  }

  filter(state: CycleState, _pod: Pod, nodeInfo: NodeInfo): Status | null {
    const s = readState(state, preFilterStateKey, isPreFilterState);
    if (typeof s === "string") return Status.asStatus(s);
    const insufficient = fitsRequest(s.request, nodeInfo, this.ignoredResources, this.ignoredResourceGroups);
    if (insufficient.length === 0) return null;
    // Every reason is kept: the FailedScheduling histogram counts each.
    return Status.of(Code.Unschedulable, ...insufficient.map((r) => r.reason));
  }

  preScore(state: CycleState, pod: Pod): Status | null {
    state.write(preScoreStateKey, new PreScoreState(this.scorer.podRequestList(pod)));
    return null;
  }

  score(state: CycleState, pod: Pod, nodeInfo: NodeInfo): number | Status {
    const s = readState(state, preScoreStateKey, isPreScoreState);
    const requests = typeof s === "string" ? this.scorer.podRequestList(pod) : s.podRequests;
    return this.scorer.score(nodeInfo, requests);
  }

  scoreExtensions(): ScoreExtensions | null {
    return null;
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      // A deleted pod frees its requests.
      { event: { resource: EventResource.Pod, actionType: ActionType.Delete } },
      { event: { resource: EventResource.Node, actionType: ActionType.Add | ActionType.Update } },
    ];
  }
}

export const nodeResourcesFitRegistration: PluginRegistration = {
  factory: (args) => (args === undefined ? new Fit() : new Fit(args as NodeResourcesFitArgs)),
  argsKind: "NodeResourcesFitArgs",
  defaultArgs: (args) => defaultNodeResourcesFitArgs(args as NodeResourcesFitArgs) as Record<string, unknown>,
  validateArgs: (path, args) => validateNodeResourcesFitArgs(path, args as NodeResourcesFitArgs),
};
