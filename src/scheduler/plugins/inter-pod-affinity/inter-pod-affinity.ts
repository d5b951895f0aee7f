/**
 * InterPodAffinity (PreFilter, Filter, PreScore, Score; PreFilterExtensions
 * for preemption): required pod affinity and anti-affinity — the incoming
 * pod's and existing pods' against it — by topology domain, and preferred
 * terms as scores. Args: `hardPodAffinityWeight` (default 1),
 * `ignorePreferredTermsOfExistingPods` (default false).
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import type { CycleState } from "../../framework/cycle-state.js";
import { ActionType, type ClusterEventWithHint, EventResource } from "../../framework/events.js";
import type { NodeInfo } from "../../framework/node-info.js";
import type { PodInfo } from "../../framework/pod-info.js";
import type { PluginRegistration } from "../../framework/registry.js";
import { Status } from "../../framework/status.js";
import type {
  EnqueueExtensions,
  FilterPlugin,
  Handle,
  NodeScore,
  PreFilterExtensions,
  PreFilterOutcome,
  PreFilterPlugin,
  PreScorePlugin,
  ScoreExtensions,
  ScorePlugin,
} from "../../framework/types.js";
import { Names } from "../names.js";
import { defaultInterPodAffinityArgs, type InterPodAffinityArgs, validateInterPodAffinityArgs } from "./args.js";
import { filter, getPreFilterState, preFilter } from "./filtering.js";
import { normalizeScore, preScore, score } from "./scoring.js";

export class InterPodAffinity
  implements PreFilterPlugin, PreFilterExtensions, FilterPlugin, PreScorePlugin, ScorePlugin, ScoreExtensions, EnqueueExtensions
{
  readonly name = Names.InterPodAffinity;
  readonly args: Required<InterPodAffinityArgs>;

  constructor(
    args: InterPodAffinityArgs,
    private readonly handle: Handle,
  ) {
    this.args = defaultInterPodAffinityArgs(args);
  }

  preFilter(state: CycleState, pod: Pod): PreFilterOutcome {
    return preFilter(this.handle, state, pod);
  }

  preFilterExtensions(): PreFilterExtensions {
    return this;
  }

  addPod(state: CycleState, _podToSchedule: Pod, podInfoToAdd: PodInfo, nodeInfo: NodeInfo): Status | null {
    const s = getPreFilterState(state);
    if (s instanceof Status) return s;
    s.updateWithPod(podInfoToAdd, nodeInfo.node(), 1);
    return null;
  }

  removePod(state: CycleState, _podToSchedule: Pod, podInfoToRemove: PodInfo, nodeInfo: NodeInfo): Status | null {
    const s = getPreFilterState(state);
    if (s instanceof Status) return s;
    s.updateWithPod(podInfoToRemove, nodeInfo.node(), -1);
    return null;
  }

  filter(state: CycleState, _pod: Pod, nodeInfo: NodeInfo): Status | null {
    return filter(state, nodeInfo);
  }

  preScore(state: CycleState, pod: Pod, _nodes: readonly NodeInfo[]): Status | null {
    return preScore(this.handle, this.args, state, pod);
  }

  score(state: CycleState, _pod: Pod, nodeInfo: NodeInfo): number | Status {
    return score(state, nodeInfo);
  }

  scoreExtensions(): ScoreExtensions {
    return this;
  }

  normalizeScore(state: CycleState, _pod: Pod, scores: NodeScore[]): Status | null {
    return normalizeScore(state, scores);
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      // Adding, updating (labels) or deleting an assigned pod can satisfy affinity or lift anti-affinity.
      { event: { resource: EventResource.Pod, actionType: ActionType.All } },
      // A new or relabelled node may bring the topology domain; UpdateNodeTaint catches nodes
      // whose Add was dropped by the pre-check while they were not ready (kubernetes#110175).
      { event: { resource: EventResource.Node, actionType: ActionType.Add | ActionType.UpdateNodeLabel | ActionType.UpdateNodeTaint } },
    ];
  }
}

export const interPodAffinityRegistration: PluginRegistration = {
  factory: (args, handle) => {
    const a = (args ?? {}) as InterPodAffinityArgs;
    const errs = validateInterPodAffinityArgs("", a);
    if (errs.length > 0) throw new Error(errs.length === 1 ? errs[0] : `[${errs.join(", ")}]`);
    return new InterPodAffinity(a, handle);
  },
  argsKind: "InterPodAffinityArgs",
  defaultArgs: (args) => ({ ...defaultInterPodAffinityArgs(args as InterPodAffinityArgs) }),
  validateArgs: (path, args) => validateInterPodAffinityArgs(path, args as InterPodAffinityArgs),
};
