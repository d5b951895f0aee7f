/**
 * NodeUnschedulable (Filter): a cordoned node (spec.unschedulable) fits only
 * pods tolerating node.kubernetes.io/unschedulable:NoSchedule.
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import type { CycleState } from "../../framework/cycle-state.js";
import { ActionType, type ClusterEventWithHint, EventResource } from "../../framework/events.js";
import type { NodeInfo } from "../../framework/node-info.js";
import type { PluginRegistration } from "../../framework/registry.js";
import { Code, Status } from "../../framework/status.js";
import { tolerationsTolerateTaint } from "../../framework/taints.js";
import type { EnqueueExtensions, FilterPlugin } from "../../framework/types.js";
import { Names } from "../names.js";

export const ErrReasonUnknownCondition = "node(s) had unknown conditions";
export const ErrReasonUnschedulable = "node(s) were unschedulable";
export const TaintNodeUnschedulable = "node.kubernetes.io/unschedulable";

export class NodeUnschedulable implements FilterPlugin, EnqueueExtensions {
  readonly name = Names.NodeUnschedulable;

  filter(_state: CycleState, pod: Pod, nodeInfo: NodeInfo): Status | null {
    const node = nodeInfo.node();
    if (!node) return Status.of(Code.UnschedulableAndUnresolvable, ErrReasonUnknownCondition);
    if (!node.spec?.unschedulable) return null;
    // Tolerating the unschedulable taint also tolerates spec.unschedulable.
    if (tolerationsTolerateTaint(pod.spec?.tolerations, { key: TaintNodeUnschedulable, effect: "NoSchedule" })) return null;
    return Status.of(Code.UnschedulableAndUnresolvable, ErrReasonUnschedulable);
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [{ event: { resource: EventResource.Node, actionType: ActionType.Add | ActionType.UpdateNodeTaint } }];
  }
}

export const nodeUnschedulableRegistration: PluginRegistration = { factory: () => new NodeUnschedulable() };
