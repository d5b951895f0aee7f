/**
 * NodeAffinity (PreFilter, Filter, PreScore, Score): the pod's nodeSelector
 * and required node affinity must match the node; preferred terms add their
 * weights. Args: `addedAffinity`, a node affinity every pod of the profile
 * must also satisfy (and whose preferred terms score every pod).
 */
import type { NodeAffinity as NodeAffinityObject, Pod } from "kubernetes-types/core/v1.js";
import { type CycleState, readState, type StateData } from "../../framework/cycle-state.js";
import { ActionType, type ClusterEventWithHint, EventResource } from "../../framework/events.js";
import type { NodeInfo } from "../../framework/node-info.js";
import { ParsedNodeSelector, PreferredSchedulingTerms, RequiredNodeAffinity } from "../../framework/node-selector.js";
import { defaultNormalizeScore } from "../../framework/normalize-score.js";
import type { PluginRegistration } from "../../framework/registry.js";
import { Code, Status } from "../../framework/status.js";
import {
  type EnqueueExtensions,
  type FilterPlugin,
  MaxNodeScore,
  type NodeScore,
  type PreFilterExtensions,
  type PreFilterOutcome,
  type PreFilterPlugin,
  type PreScorePlugin,
  type ScoreExtensions,
  type ScorePlugin,
} from "../../framework/types.js";
import { Names } from "../names.js";

export const ErrReasonPod = "node(s) didn't match Pod's node affinity/selector";
export const errReasonEnforced = "node(s) didn't match scheduler-enforced node affinity";
export const errReasonConflict = "pod affinity terms conflict";

const preFilterStateKey = `PreFilter${Names.NodeAffinity}`;
const preScoreStateKey = `PreScore${Names.NodeAffinity}`;

/** NodeAffinityArgs. */
export interface NodeAffinityArgs {
  addedAffinity?: NodeAffinityObject;
}

class PreFilterState implements StateData {
  constructor(readonly required: RequiredNodeAffinity) {}
  clone(): StateData {
    return this;
  }
}

class PreScoreState implements StateData {
  constructor(readonly preferred: PreferredSchedulingTerms | undefined) {}
  clone(): StateData {
    return this;
  }
}

const isPreFilterState = (d: StateData): d is PreFilterState => d instanceof PreFilterState;
const isPreScoreState = (d: StateData): d is PreScoreState => d instanceof PreScoreState;

/** getPodPreferredNodeAffinity: the pod's parsed preferred terms (undefined when it has none), or the parse errors. */
function podPreferredNodeAffinity(pod: Pod): PreferredSchedulingTerms | undefined | string[] {
  const terms = pod.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution;
  if (!terms) return undefined;
  return PreferredSchedulingTerms.parse(terms);
}

function aggregate(errors: readonly string[]): string {
  return errors.length === 1 ? errors[0]! : `[${errors.join(", ")}]`;
}

/** ValidateNodeAffinityArgs. */
export function validateNodeAffinityArgs(path: string, args: NodeAffinityArgs): string[] {
  const added = args.addedAffinity;
  if (!added) return [];
  const errs: string[] = [];
  const required = added.requiredDuringSchedulingIgnoredDuringExecution;
  if (required) errs.push(...new ParsedNodeSelector(required, `${path}.addedAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms`).errors);
  const preferred = added.preferredDuringSchedulingIgnoredDuringExecution;
  if (preferred && preferred.length > 0) {
    const parsed = PreferredSchedulingTerms.parse(preferred, `${path}.addedAffinity.preferredDuringSchedulingIgnoredDuringExecution`);
    if (Array.isArray(parsed)) errs.push(...parsed);
  }
  return errs;
}

export class NodeAffinity implements PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin, ScoreExtensions, EnqueueExtensions {
  readonly name = Names.NodeAffinity;
  private readonly addedNodeSelector: ParsedNodeSelector | undefined;
  private readonly addedPrefSchedTerms: PreferredSchedulingTerms | undefined;

  constructor(args: NodeAffinityArgs = {}) {
    const added = args.addedAffinity;
    const required = added?.requiredDuringSchedulingIgnoredDuringExecution;
    if (required) {
      const sel = new ParsedNodeSelector(required);
      if (sel.errors.length > 0) throw new Error(`parsing addedAffinity.requiredDuringSchedulingIgnoredDuringExecution: ${aggregate(sel.errors)}`);
      this.addedNodeSelector = sel;
    }
    const preferred = added?.preferredDuringSchedulingIgnoredDuringExecution;
    if (preferred && preferred.length > 0) {
      const parsed = PreferredSchedulingTerms.parse(preferred);
      if (Array.isArray(parsed)) throw new Error(`parsing addedAffinity.preferredDuringSchedulingIgnoredDuringExecution: ${aggregate(parsed)}`);
      this.addedPrefSchedTerms = parsed;
    }
  }

  /**
   * PreFilter: Skip when there is nothing to check; otherwise parses the
   * requirements once, and when every required term pins metadata.name,
   * returns just those nodes.
   */
  preFilter(state: CycleState, pod: Pod): PreFilterOutcome {
    const required = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
    const noNodeAffinity = !required;
    if (noNodeAffinity && !this.addedNodeSelector && pod.spec?.nodeSelector === undefined) return { status: Status.of(Code.Skip) };
    state.write(preFilterStateKey, new PreFilterState(new RequiredNodeAffinity(pod)));
    const terms = required?.nodeSelectorTerms ?? [];
    if (noNodeAffinity || terms.length === 0) return {};

    let nodeNames: Set<string> | undefined;
    for (const t of terms) {
      let termNodeNames: Set<string> | undefined;
      for (const r of t.matchFields ?? []) {
        if (r.key === "metadata.name" && r.operator === "In") {
          // Requirements within a term are ANDed: intersect.
          const s = new Set(r.values ?? []);
          termNodeNames = termNodeNames ? new Set([...termNodeNames].filter((n) => s.has(n))) : s;
        }
      }
      // A term without a node name allows every node, since terms are ORed.
      if (!termNodeNames) return {};
      nodeNames = new Set([...(nodeNames ?? []), ...termNodeNames]);
    }
    if (nodeNames && nodeNames.size === 0) return { status: Status.of(Code.UnschedulableAndUnresolvable, errReasonConflict) };
    if (nodeNames && nodeNames.size > 0) return { result: { nodeNames } };
    return {};
  }

  preFilterExtensions(): PreFilterExtensions | null {
    return null;
  }

  filter(state: CycleState, pod: Pod, nodeInfo: NodeInfo): Status | null {
    const node = nodeInfo.node();
    if (!node) return Status.asStatus("node not found");
    if (this.addedNodeSelector && !this.addedNodeSelector.match(node)) return Status.of(Code.UnschedulableAndUnresolvable, errReasonEnforced);
    const s = readState(state, preFilterStateKey, isPreFilterState);
    // Without PreFilter (disabled), compute the requirements here.
    const required = typeof s === "string" ? new RequiredNodeAffinity(pod) : s.required;
    return required.match(node) ? null : Status.of(Code.UnschedulableAndUnresolvable, ErrReasonPod);
  }

  preScore(state: CycleState, pod: Pod, nodes: readonly NodeInfo[]): Status | null {
    if (nodes.length === 0) return null;
    const preferred = podPreferredNodeAffinity(pod);
    if (Array.isArray(preferred)) return Status.asStatus(aggregate(preferred));
    if (!preferred && !this.addedPrefSchedTerms) return Status.of(Code.Skip);
    state.write(preScoreStateKey, new PreScoreState(preferred));
    return null;
  }

  score(state: CycleState, pod: Pod, nodeInfo: NodeInfo): number | Status {
    const node = nodeInfo.node();
    if (!node) return Status.asStatus(`getting node ${JSON.stringify(nodeInfo.name)} from Snapshot: node not found`);
    let count = this.addedPrefSchedTerms ? this.addedPrefSchedTerms.score(node) : 0;
    const s = readState(state, preScoreStateKey, isPreScoreState);
    let preferred: PreferredSchedulingTerms | undefined;
    if (typeof s === "string") {
      const p = podPreferredNodeAffinity(pod);
      if (Array.isArray(p)) return Status.asStatus(aggregate(p));
      preferred = p;
    } else {
      preferred = s.preferred;
    }
    if (preferred) count += preferred.score(node);
    return count;
  }

  scoreExtensions(): ScoreExtensions {
    return this;
  }

  normalizeScore(_state: CycleState, _pod: Pod, scores: NodeScore[]): Status | null {
    return defaultNormalizeScore(MaxNodeScore, false, scores);
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [{ event: { resource: EventResource.Node, actionType: ActionType.Add | ActionType.Update } }];
  }
}

export const nodeAffinityRegistration: PluginRegistration = {
  factory: (args) => new NodeAffinity((args ?? {}) as NodeAffinityArgs),
  argsKind: "NodeAffinityArgs",
  defaultArgs: (args) => args,
  validateArgs: (path, args) => validateNodeAffinityArgs(path, args as NodeAffinityArgs),
};
