/**
 * NodePorts (PreFilter, Filter): the pod's host ports must be free on the
 * node, with 0.0.0.0 conflicting with every address.
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import { type CycleState, readState, type StateData } from "../../framework/cycle-state.js";
import { ActionType, type ClusterEventWithHint, EventResource } from "../../framework/events.js";
import type { NodeInfo } from "../../framework/node-info.js";
import type { PluginRegistration } from "../../framework/registry.js";
import { Code, Status } from "../../framework/status.js";
import type { EnqueueExtensions, FilterPlugin, PreFilterExtensions, PreFilterOutcome, PreFilterPlugin } from "../../framework/types.js";
import { Names } from "../names.js";

export const ErrReason = "node(s) didn't have free ports for the requested pod ports";
const preFilterStateKey = `PreFilter${Names.NodePorts}`;

interface WantedPort {
  readonly hostIP: string;
  readonly protocol: string;
  readonly hostPort: number;
}

class PreFilterState implements StateData {
  constructor(readonly ports: readonly WantedPort[]) {}
  // The ports are never mutated after PreFilter.
  clone(): StateData {
    return this;
  }
}

const isState = (d: StateData): d is PreFilterState => d instanceof PreFilterState;

/** getContainerPorts: the containers' ports that set a host port. */
export function getContainerPorts(pod: Pod): WantedPort[] {
  const out: WantedPort[] = [];
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) {
      if ((p.hostPort ?? 0) <= 0) continue;
      out.push({ hostIP: p.hostIP ?? "", protocol: p.protocol ?? "", hostPort: p.hostPort! });
    }
  }
  return out;
}

function fitsPorts(want: readonly WantedPort[], nodeInfo: NodeInfo): boolean {
  for (const p of want) if (nodeInfo.usedPorts.checkConflict(p.hostIP, p.protocol, p.hostPort)) return false;
  return true;
}

/** Fits: the pod's host ports are free on the node. */
export function fits(pod: Pod, nodeInfo: NodeInfo): boolean {
  return fitsPorts(getContainerPorts(pod), nodeInfo);
}

export class NodePorts implements PreFilterPlugin, FilterPlugin, EnqueueExtensions {
  readonly name = Names.NodePorts;

  preFilter(state: CycleState, pod: Pod): PreFilterOutcome {
    const ports = getContainerPorts(pod);
    // A pod without host ports conflicts with nothing.
    if (ports.length === 0) return { status: Status.of(Code.Skip) };
    state.write(preFilterStateKey, new PreFilterState(ports));
    return {};
  }

  preFilterExtensions(): PreFilterExtensions | null {
    return null;
  }

  filter(state: CycleState, _pod: Pod, nodeInfo: NodeInfo): Status | null {
    const s = readState(state, preFilterStateKey, isState);
    if (typeof s === "string") return Status.asStatus(s.replace("error reading", "reading"));
    return fitsPorts(s.ports, nodeInfo) ? null : Status.of(Code.Unschedulable, ErrReason);
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      // Deleting a pod frees its ports.
      { event: { resource: EventResource.Pod, actionType: ActionType.Delete } },
      { event: { resource: EventResource.Node, actionType: ActionType.Add | ActionType.Update } },
    ];
  }
}

export const nodePortsRegistration: PluginRegistration = { factory: () => new NodePorts() };
