/**
 * TaintToleration (Filter, PreScore, Score): a node's NoSchedule/NoExecute
 * taints must be tolerated; fewer untolerated PreferNoSchedule taints score
 * higher.
 */
import type { Pod, Toleration } from "kubernetes-types/core/v1.js";
import { type CycleState, readState, type StateData } from "../../framework/cycle-state.js";
import { ActionType, type ClusterEventWithHint, EventResource } from "../../framework/events.js";
import type { NodeInfo } from "../../framework/node-info.js";
import { defaultNormalizeScore } from "../../framework/normalize-score.js";
import type { PluginRegistration } from "../../framework/registry.js";
import { Code, Status } from "../../framework/status.js";
import { doNotScheduleTaintsFilter, findMatchingUntoleratedTaint, tolerationsTolerateTaint } from "../../framework/taints.js";
import {
  type EnqueueExtensions,
  type FilterPlugin,
  MaxNodeScore,
  type NodeScore,
  type PreScorePlugin,
  type ScoreExtensions,
  type ScorePlugin,
} from "../../framework/types.js";
import { Names } from "../names.js";

const preScoreStateKey = `PreScore${Names.TaintToleration}`;

class PreScoreState implements StateData {
  constructor(readonly tolerationsPreferNoSchedule: readonly Toleration[]) {}
  clone(): StateData {
    return this;
  }
}

const isState = (d: StateData): d is PreScoreState => d instanceof PreScoreState;

/** Tolerations with effect PreferNoSchedule or no effect (which means every effect). */
function tolerationsPreferNoSchedule(tolerations: readonly Toleration[] | undefined): Toleration[] {
  return (tolerations ?? []).filter((t) => !t.effect || t.effect === "PreferNoSchedule");
}

export class TaintToleration implements FilterPlugin, PreScorePlugin, ScorePlugin, ScoreExtensions, EnqueueExtensions {
  readonly name = Names.TaintToleration;

  filter(_state: CycleState, pod: Pod, nodeInfo: NodeInfo): Status | null {
    const node = nodeInfo.node();
    if (!node) return Status.asStatus("invalid nodeInfo");
    const taint = findMatchingUntoleratedTaint(node.spec?.taints, pod.spec?.tolerations, doNotScheduleTaintsFilter);
    if (!taint) return null;
    return Status.of(Code.UnschedulableAndUnresolvable, `node(s) had untolerated taint {${taint.key}: ${taint.value ?? ""}}`);
  }

  preScore(state: CycleState, pod: Pod, nodes: readonly NodeInfo[]): Status | null {
    if (nodes.length === 0) return null;
    state.write(preScoreStateKey, new PreScoreState(tolerationsPreferNoSchedule(pod.spec?.tolerations)));
    return null;
  }

  /** The number of PreferNoSchedule taints the pod does not tolerate (normalized reversed). */
  score(state: CycleState, pod: Pod, nodeInfo: NodeInfo): number | Status {
    const node = nodeInfo.node();
    if (!node) return Status.asStatus(`getting node ${JSON.stringify(nodeInfo.name)} from Snapshot: node not found`);
    let s = readState(state, preScoreStateKey, isState);
    if (typeof s === "string") s = new PreScoreState(tolerationsPreferNoSchedule(pod.spec?.tolerations));
    let count = 0;
    for (const taint of node.spec?.taints ?? []) {
      if (taint.effect !== "PreferNoSchedule") continue;
      if (!tolerationsTolerateTaint(s.tolerationsPreferNoSchedule, taint)) count++;
    }
    return count;
  }

  scoreExtensions(): ScoreExtensions {
    return this;
  }

  normalizeScore(_state: CycleState, _pod: Pod, scores: NodeScore[]): Status | null {
    return defaultNormalizeScore(MaxNodeScore, true, scores);
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [{ event: { resource: EventResource.Node, actionType: ActionType.Add | ActionType.Update } }];
  }
}

export const taintTolerationRegistration: PluginRegistration = { factory: () => new TaintToleration() };
