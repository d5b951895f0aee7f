/**
 * PodTopologySpread (PreFilter, Filter, PreScore, Score, NormalizeScore;
 * PreFilterExtensions for preemption): topologySpreadConstraints with
 * maxSkew, minDomains, nodeAffinityPolicy/nodeTaintsPolicy, matchLabelKeys;
 * and cluster default constraints for pods that set none (defaultingType
 * System: hostname maxSkew 3 and zone maxSkew 5, ScheduleAnyway), whose
 * selector comes from the pod's Services and controller.
 */
import type { Pod, TopologySpreadConstraint } from "kubernetes-types/core/v1.js";
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
import { defaultPodTopologySpreadArgs, type PodTopologySpreadArgs, SystemDefaulting, validatePodTopologySpreadArgs } from "./args.js";
import { systemDefaultConstraints } from "./common.js";
import { filter, getPreFilterState, preFilter, updateWithPod } from "./filtering.js";
import { normalizeScore, preScore, score } from "./scoring.js";

export class PodTopologySpread
  implements PreFilterPlugin, PreFilterExtensions, FilterPlugin, PreScorePlugin, ScorePlugin, ScoreExtensions, EnqueueExtensions
{
  readonly name = Names.PodTopologySpread;
  /** The constraints of pods that set none. */
  readonly defaultConstraints: readonly TopologySpreadConstraint[];
  /** Whether the defaults are the system ones (then nodes without a zone still spread by hostname). */
  readonly systemDefaulted: boolean;

  constructor(
    args: PodTopologySpreadArgs,
    private readonly handle: Handle,
  ) {
    const a = defaultPodTopologySpreadArgs(args);
    this.systemDefaulted = a.defaultingType === SystemDefaulting;
    this.defaultConstraints = this.systemDefaulted ? systemDefaultConstraints : (a.defaultConstraints ?? []);
  }

  preFilter(state: CycleState, pod: Pod): PreFilterOutcome {
    return preFilter(this.handle, this.defaultConstraints, state, pod);
  }

  preFilterExtensions(): PreFilterExtensions {
    return this;
  }

  addPod(state: CycleState, podToSchedule: Pod, podInfoToAdd: PodInfo, nodeInfo: NodeInfo): Status | null {
    const s = getPreFilterState(state);
    if (s instanceof Status) return s;
    updateWithPod(s, podInfoToAdd.pod, podToSchedule, nodeInfo.node(), 1);
    return null;
  }

  removePod(state: CycleState, podToSchedule: Pod, podInfoToRemove: PodInfo, nodeInfo: NodeInfo): Status | null {
    const s = getPreFilterState(state);
    if (s instanceof Status) return s;
    updateWithPod(s, podInfoToRemove.pod, podToSchedule, nodeInfo.node(), -1);
    return null;
  }

  filter(state: CycleState, pod: Pod, nodeInfo: NodeInfo): Status | null {
    return filter(state, pod, nodeInfo);
  }

  preScore(state: CycleState, pod: Pod, nodes: readonly NodeInfo[]): Status | null {
    return preScore(this.handle, this.defaultConstraints, this.systemDefaulted, state, pod, nodes);
  }

  score(state: CycleState, pod: Pod, nodeInfo: NodeInfo): number | Status {
    return score(state, pod, nodeInfo);
  }

  scoreExtensions(): ScoreExtensions {
    return this;
  }

  normalizeScore(state: CycleState, _pod: Pod, scores: NodeScore[]): Status | null {
    return normalizeScore(state, scores);
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      // Adding, relabelling or deleting an assigned pod changes the counts.
      { event: { resource: EventResource.Pod, actionType: ActionType.All } },
      // Node changes may add or remove domains; UpdateNodeTaint catches nodes whose Add was
      // dropped by the pre-check while they were not ready (kubernetes#110175).
      {
        event: {
          resource: EventResource.Node,
          actionType: ActionType.Add | ActionType.Delete | ActionType.UpdateNodeLabel | ActionType.UpdateNodeTaint,
        },
      },
    ];
  }
}

export const podTopologySpreadRegistration: PluginRegistration = {
  factory: (args, handle) => {
    const a = defaultPodTopologySpreadArgs((args ?? {}) as PodTopologySpreadArgs);
    const errs = validatePodTopologySpreadArgs("", a);
    if (errs.length > 0) throw new Error(errs.length === 1 ? errs[0] : `[${errs.join(", ")}]`);
    return new PodTopologySpread(a, handle);
  },
  argsKind: "PodTopologySpreadArgs",
  defaultArgs: (args) => ({ ...defaultPodTopologySpreadArgs(args as PodTopologySpreadArgs) }),
  validateArgs: (path, args) => validatePodTopologySpreadArgs(path, args as PodTopologySpreadArgs),
};
