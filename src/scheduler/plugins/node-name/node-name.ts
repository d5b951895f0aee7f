/** NodeName (Filter): a pod with spec.nodeName fits only that node. */
import type { Pod } from "kubernetes-types/core/v1.js";
import { ActionType, type ClusterEventWithHint, EventResource } from "../../framework/events.js";
import type { NodeInfo } from "../../framework/node-info.js";
import type { PluginRegistration } from "../../framework/registry.js";
import { Code, Status } from "../../framework/status.js";
import type { EnqueueExtensions, FilterPlugin } from "../../framework/types.js";
import type { CycleState } from "../../framework/cycle-state.js";
import { Names } from "../names.js";

export const ErrReason = "node(s) didn't match the requested node name";

/** Fits: no nodeName, or the node's name. */
export function fits(pod: Pod, nodeInfo: NodeInfo): boolean {
  const want = pod.spec?.nodeName ?? "";
  return want === "" || want === nodeInfo.name;
}

export class NodeName implements FilterPlugin, EnqueueExtensions {
  readonly name = Names.NodeName;

  filter(_state: CycleState, pod: Pod, nodeInfo: NodeInfo): Status | null {
    return fits(pod, nodeInfo) ? null : Status.of(Code.UnschedulableAndUnresolvable, ErrReason);
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [{ event: { resource: EventResource.Node, actionType: ActionType.Add | ActionType.Update } }];
  }
}

export const nodeNameRegistration: PluginRegistration = { factory: () => new NodeName() };
