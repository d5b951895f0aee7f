/**
 * SchedulingGates (PreEnqueue): a pod with spec.schedulingGates stays out of
 * activeQ until its gates are removed. The pod condition reason the wiring
 * reports for such a pod is `SchedulingGated`.
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import type { ClusterEventWithHint } from "../../framework/events.js";
import { goSlice } from "../../framework/go-format.js";
import type { PluginRegistration } from "../../framework/registry.js";
import { Code, Status } from "../../framework/status.js";
import type { EnqueueExtensions, PreEnqueuePlugin } from "../../framework/types.js";
import { Names } from "../names.js";

/** v1.PodReasonSchedulingGated: the PodScheduled condition reason for a gated pod. */
export const PodReasonSchedulingGated = "SchedulingGated";

export class SchedulingGates implements PreEnqueuePlugin, EnqueueExtensions {
  readonly name = Names.SchedulingGates;

  preEnqueue(pod: Pod): Status | null {
    const gates = pod.spec?.schedulingGates ?? [];
    if (gates.length === 0) return null;
    return Status.of(Code.UnschedulableAndUnresolvable, `waiting for scheduling gates: ${goSlice(gates.map((g) => g.name))}`);
  }

  /** None: with QueueingHints off (v1.30), only the pod's own update ungates it. */
  eventsToRegister(): ClusterEventWithHint[] {
    return [];
  }
}

export const schedulingGatesRegistration: PluginRegistration = { factory: () => new SchedulingGates() };
