/**
 * NodeResourcesBalancedAllocation (PreScore, Score): favors nodes whose
 * resources would be used evenly with the pod on them — 100 × (1 − the
 * standard deviation of the requested/allocatable fractions).
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import { type CycleState, readState, type StateData } from "../../framework/cycle-state.js";
import type { NodeInfo } from "../../framework/node-info.js";
import type { PluginRegistration } from "../../framework/registry.js";
import type { Status } from "../../framework/status.js";
import type { PreScorePlugin, ScoreExtensions, ScorePlugin } from "../../framework/types.js";
import { Names } from "../names.js";
import { defaultBalancedAllocationArgs, type NodeResourcesBalancedAllocationArgs, validateBalancedAllocationArgs } from "../node-resources-fit/args.js";
import { ResourceAllocationScorer } from "../node-resources-fit/resource-allocation.js";
import { balancedResourceScorer } from "../node-resources-fit/scoring.js";

const preScoreStateKey = `PreScore${Names.NodeResourcesBalancedAllocation}`;

class PreScoreState implements StateData {
  constructor(readonly podRequests: readonly number[]) {}
  clone(): StateData {
    return this;
  }
}

const isState = (d: StateData): d is PreScoreState => d instanceof PreScoreState;

export class BalancedAllocation implements PreScorePlugin, ScorePlugin {
  readonly name = Names.NodeResourcesBalancedAllocation;
  private readonly scorer: ResourceAllocationScorer;

  /** `args` as configured (config loading defaults them); no args means the defaults. */
  constructor(args: NodeResourcesBalancedAllocationArgs = defaultBalancedAllocationArgs()) {
    const errs = validateBalancedAllocationArgs("", args);
    if (errs.length > 0) throw new Error(errs.map((e) => e.replace(/^\./, "")).join(", "));
    // Balance is about what pods really request, so actual requests (not non-zero defaults) count.
    this.scorer = new ResourceAllocationScorer(Names.NodeResourcesBalancedAllocation, true, balancedResourceScorer, args.resources ?? []);
  }

  preScore(state: CycleState, pod: Pod): Status | null {
    state.write(preScoreStateKey, new PreScoreState(this.scorer.podRequestList(pod)));
    return null;
  }

  score(state: CycleState, pod: Pod, nodeInfo: NodeInfo): number | Status {
    const s = readState(state, preScoreStateKey, isState);
    const requests = typeof s === "string" ? this.scorer.podRequestList(pod) : s.podRequests;
    return this.scorer.score(nodeInfo, requests);
  }

  scoreExtensions(): ScoreExtensions | null {
    return null;
  }
}

export const balancedAllocationRegistration: PluginRegistration = {
  factory: (args) => (args === undefined ? new BalancedAllocation() : new BalancedAllocation(args as NodeResourcesBalancedAllocationArgs)),
  argsKind: "NodeResourcesBalancedAllocationArgs",
  defaultArgs: (args) => defaultBalancedAllocationArgs(args as NodeResourcesBalancedAllocationArgs) as Record<string, unknown>,
  validateArgs: (path, args) => validateBalancedAllocationArgs(path, args as NodeResourcesBalancedAllocationArgs),
};
