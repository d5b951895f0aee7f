/**
 * A pod that is not scheduled: the scheduler's reasons decoded per node
 * group, plus the state of the claims it mounts.
 */
import type { Event, Pod } from "kubernetes-types/core/v1.js";
import { describeEvent, eventsFor } from "./events.js";
import { explainReason, parseSchedulingMessage } from "./scheduling.js";
import { type ClusterView, type Finding, objectRef } from "./types.js";
import { diagnoseClaim } from "./volumes.js";

/** Whether the pod waits for the scheduler. */
export function isUnscheduled(pod: Pod): boolean {
  return (pod.status?.phase ?? "Pending") === "Pending" && !pod.spec?.nodeName && !pod.metadata?.deletionTimestamp;
}

/** Findings for an unscheduled pod: the scheduling reasons, then its unbound claims. */
export function diagnosePending(pod: Pod, podEvents: readonly Event[], view: ClusterView): Finding[] {
  const ns = pod.metadata?.namespace ?? "";
  const object = objectRef("Pod", pod.metadata?.name, ns);
  const findings: Finding[] = [];
  const failed = podEvents.find((e) => e.reason === "FailedScheduling");
  const cond = pod.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False");
  const message = failed?.message ?? cond?.message ?? "";
  const evidence = failed ? [describeEvent(failed)] : cond ? [`condition PodScheduled=False ${cond.reason ?? ""}: ${cond.message ?? ""}`] : [];
  const decoded = parseSchedulingMessage(message);
  if (decoded && decoded.total === 0) {
    findings.push({
      object,
      severity: "error",
      cause: "The pod cannot be scheduled: the cluster has no nodes.",
      fix: "Join a node (skiff agent --server … --token …), or start skiff server without --disable-agent.",
      evidence,
    });
  } else if (decoded) {
    for (const g of decoded.groups) {
      const { cause, fix } = explainReason(g, pod);
      findings.push({ object, severity: "error", cause: `The pod cannot be scheduled on ${g.count} of ${decoded.total} node(s): ${cause}`, fix, evidence });
    }
    if (decoded.groups.length === 0) {
      findings.push({ object, severity: "error", cause: `The pod cannot be scheduled: ${message}`, fix: "See the scheduler's message.", evidence });
    }
  } else if (message) {
    findings.push({ object, severity: "error", cause: `The pod cannot be scheduled: ${message}`, fix: "See the scheduler's message.", evidence });
  } else if (pod.spec?.schedulerName && pod.spec.schedulerName !== "default-scheduler") {
    findings.push({
      object,
      severity: "warning",
      cause: `The pod waits for scheduler "${pod.spec.schedulerName}", which has not acted on it.`,
      fix: `Check that scheduler ${pod.spec.schedulerName} runs, or remove spec.schedulerName to use the default scheduler.`,
      evidence,
    });
  } else {
    findings.push({
      object,
      severity: "warning",
      cause: "The pod is not scheduled yet and the scheduler has not reported why.",
      fix: "Wait a few seconds; if it stays so, check that the scheduler runs (skiff server logs).",
      evidence,
    });
  }
  findings.push(...claimFindings(pod, view));
  return findings;
}

/** One finding per claim the pod mounts that is missing or unbound. */
export function claimFindings(pod: Pod, view: ClusterView): Finding[] {
  const ns = pod.metadata?.namespace ?? "";
  const out: Finding[] = [];
  for (const v of pod.spec?.volumes ?? []) {
    const claimName = v.persistentVolumeClaim?.claimName;
    if (!claimName) continue;
    const pvc = view.pvcs.find((c) => c.metadata?.namespace === ns && c.metadata?.name === claimName);
    if (!pvc) {
      out.push({
        object: objectRef("Pod", pod.metadata?.name, ns),
        severity: "error",
        cause: `Volume "${v.name}" uses PersistentVolumeClaim "${claimName}", which does not exist in namespace ${ns}.`,
        fix: `Create the claim ${claimName} in ${ns}, or fix claimName in the pod's owner.`,
        evidence: [`volume ${v.name}: persistentVolumeClaim.claimName=${claimName}`],
      });
      continue;
    }
    const f = diagnoseClaim(pvc, view.storageClasses, view.pvs, eventsFor(view.events, "PersistentVolumeClaim", ns, claimName, pvc.metadata?.uid));
    if (f) out.push(f);
  }
  return out;
}
