/**
 * AdmissionCheck and preCheckForNode (pkg/scheduler/eventhandlers.go, v1.30
 * with QueueingHints off): before a node add/update moves unschedulable pods,
 * the wiring filters out pods that still could not run on that node, so a
 * new node does not flood activeQ with pods it cannot take.
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import type { NodeInfo } from "./framework/node-info.js";
import { RequiredNodeAffinity } from "./framework/node-selector.js";
import { findMatchingUntoleratedTaint } from "./framework/taints.js";
import { Names } from "./plugins/names.js";
import { ErrReasonPod } from "./plugins/node-affinity/node-affinity.js";
import { ErrReason as NodeNameErrReason, fits as nodeNameFits } from "./plugins/node-name/node-name.js";
import { ErrReason as NodePortsErrReason, fits as nodePortsFits } from "./plugins/node-ports/node-ports.js";
import { fits as resourcesFit, type InsufficientResource } from "./plugins/node-resources-fit/fit.js";
import type { PreEnqueueCheck } from "./queue/scheduling-queue.js";

/** One reason a pod cannot be admitted to a node. */
export interface AdmissionResult {
  readonly name?: string;
  readonly reason?: string;
  readonly insufficientResource?: InsufficientResource;
}

/** AdmissionCheck: resources, node affinity, node name and host ports; stops at the first failure unless `includeAllFailures`. */
export function admissionCheck(pod: Pod, nodeInfo: NodeInfo, includeAllFailures: boolean): AdmissionResult[] {
  const out: AdmissionResult[] = [];
  const insufficient = resourcesFit(pod, nodeInfo);
  if (insufficient.length > 0) {
    for (const r of insufficient) out.push({ insufficientResource: r });
    if (!includeAllFailures) return out;
  }
  const node = nodeInfo.node();
  if (node && !new RequiredNodeAffinity(pod).match(node)) {
    out.push({ name: Names.NodeAffinity, reason: ErrReasonPod });
    if (!includeAllFailures) return out;
  }
  if (!nodeNameFits(pod, nodeInfo)) {
    out.push({ name: Names.NodeName, reason: NodeNameErrReason });
    if (!includeAllFailures) return out;
  }
  if (!nodePortsFits(pod, nodeInfo)) {
    out.push({ name: Names.NodePorts, reason: NodePortsErrReason });
    if (!includeAllFailures) return out;
  }
  return out;
}

/** preCheckForNode: pass it to moveAllToActiveOrBackoffQueue with NodeAdd and node update events. */
export function preCheckForNode(nodeInfo: NodeInfo): PreEnqueueCheck {
  return (pod) => {
    if (admissionCheck(pod, nodeInfo, false).length !== 0) return false;
    // Only NoSchedule: upstream's pre-check lets pods through a NoExecute taint here.
    return !findMatchingUntoleratedTaint(nodeInfo.node()?.spec?.taints, pod.spec?.tolerations, (t) => t.effect === "NoSchedule");
  };
}
