/**
 * The scheduler's FailedScheduling message, decoded:
 * `0/3 nodes are available: 1 node(s) had untolerated taint {k: v}, 2 Insufficient cpu. preemption: …`
 * becomes one plain explanation per reason group.
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import { quantityValue } from "./quantity.js";

/** One reason group: how many nodes and why. */
export interface ReasonGroup {
  readonly count: number;
  readonly reason: string;
}

/** The decoded message. */
export interface SchedulingFailure {
  readonly total: number;
  readonly groups: ReasonGroup[];
  readonly preemption?: string;
}

/** Parses a FailedScheduling message; undefined when it is not in the scheduler's format. */
export function parseSchedulingMessage(message: string): SchedulingFailure | undefined {
  if (/^no nodes available to schedule pods/i.test(message.trim())) return { total: 0, groups: [] };
  const m = /^0\/(\d+) nodes are available(?::\s*(.*))?$/s.exec(message.trim());
  if (!m) return undefined;
  let body = m[2] ?? "";
  let preemption: string | undefined;
  const p = body.indexOf(" preemption: ");
  if (p >= 0) {
    preemption = body.slice(p + " preemption: ".length).trim();
    body = body.slice(0, p);
  }
  body = body.trim().replace(/\.$/, "");
  // Groups are "N reason", separated by ", " before the next count.
  const groups = body
    .split(/,\s+(?=\d+ )/)
    .map((g) => /^(\d+) (.*)$/s.exec(g.trim()))
    .filter((g): g is RegExpExecArray => g !== null)
    .map((g) => ({ count: Number(g[1]), reason: g[2]!.trim() }));
  return { total: Number(m[1]), groups, preemption };
}

/** The pod's summed requests of one resource (init containers count at their max, as the scheduler does). */
export function podRequest(pod: Pod, resource: string): number {
  let sum = 0;
  for (const c of pod.spec?.containers ?? []) sum += quantityValue(c.resources?.requests?.[resource] ?? c.resources?.limits?.[resource]) ?? 0;
  let initMax = 0;
  for (const c of pod.spec?.initContainers ?? []) initMax = Math.max(initMax, quantityValue(c.resources?.requests?.[resource] ?? c.resources?.limits?.[resource]) ?? 0);
  sum = Math.max(sum, initMax);
  return sum + (quantityValue(pod.spec?.overhead?.[resource]) ?? 0);
}

function requestText(pod: Pod, resource: string): string {
  const v = podRequest(pod, resource);
  if (resource === "cpu") return `${Math.round(v * 1000)}m`;
  if (resource === "memory" || resource === "ephemeral-storage") return `${Math.round(v / 2 ** 20)}Mi`;
  return String(v);
}

/** One reason group in plain words (with the fix), given the pod that did not fit. */
export function explainReason(g: ReasonGroup, pod: Pod): { cause: string; fix: string } {
  const n = `${g.count} node(s)`;
  const r = g.reason;
  const insufficient = /^Insufficient (.+)$/.exec(r);
  if (insufficient) {
    const res = insufficient[1]!;
    return {
      cause: `${n} do not have enough unrequested ${res} for the pod's request of ${requestText(pod, res)}. Scheduling adds up the requests of the pods already on a node and compares them with its allocatable ${res}; it does not look at live usage, so a node can look idle and still be full.`,
      fix: `Lower the pod's resources.requests.${res}, remove or scale down other pods on those nodes, or add nodes (kubectl describe node shows "Allocated resources").`,
    };
  }
  const taint = /untolerated taint\(?s?\)? ?(\{.*\})?/.exec(r);
  if (taint) {
    return {
      cause: `${n} have a taint the pod does not tolerate${taint[1] ? `: ${taint[1]}` : ""}.`,
      fix: "Add a matching toleration to the pod, or remove the taint (kubectl taint nodes NODE KEY-) if it is not meant to keep this pod away.",
    };
  }
  if (/didn't match Pod's node affinity\/selector/.test(r)) {
    const sel = pod.spec?.nodeSelector ? Object.entries(pod.spec.nodeSelector).map(([k, v]) => `${k}=${v}`).join(",") : "";
    return {
      cause: `${n} do not match the pod's nodeSelector/nodeAffinity${sel ? ` (${sel})` : ""}.`,
      fix: "Fix the pod's nodeSelector/affinity, or label a node to match (kubectl label node NODE KEY=VALUE).",
    };
  }
  if (/unbound immediate PersistentVolumeClaims/.test(r)) {
    return { cause: `${n}: the pod has a PersistentVolumeClaim that is not bound yet.`, fix: "See the PersistentVolumeClaim finding: bind the claim first." };
  }
  if (/didn't find available persistent volumes to bind/.test(r)) {
    return {
      cause: `${n} have no PersistentVolume that can bind the pod's claim there.`,
      fix: "Create a PersistentVolume matching the claim's size, access modes and class (with a node affinity allowing one of the nodes), or use a class with a provisioner.",
    };
  }
  if (/volume node affinity conflict/.test(r)) {
    return {
      cause: `${n}: the pod's volume is bound to a PersistentVolume that only some other node can use.`,
      fix: "Let the pod run on the node its volume lives on (check the PV's nodeAffinity), or move the data.",
    };
  }
  if (/didn't have free ports/.test(r)) {
    return { cause: `${n} already have a pod using the hostPort this pod asks for.`, fix: "Drop the hostPort (use a Service) or pick another port." };
  }
  if (/unschedulable/.test(r)) {
    return { cause: `${n} are cordoned (unschedulable).`, fix: "Uncordon them (kubectl uncordon NODE) when their maintenance is done." };
  }
  if (/anti-affinity/.test(r)) {
    return { cause: `${n} already run a pod this pod's anti-affinity rules exclude.`, fix: "Add nodes, reduce replicas, or relax the podAntiAffinity (preferred instead of required)." };
  }
  if (/affinity rules/.test(r)) {
    return { cause: `${n} do not run a pod this pod's podAffinity requires.`, fix: "Start the pods it must sit beside first, or relax the podAffinity." };
  }
  if (/topology spread constraints/.test(r)) {
    return { cause: `${n} would break the pod's topologySpreadConstraints.`, fix: "Relax maxSkew or whenUnsatisfiable: ScheduleAnyway, or add nodes in the missing topology domains." };
  }
  if (/had condition|not-ready|unreachable/i.test(r)) {
    return { cause: `${n} are not ready (${r}).`, fix: "Bring the nodes back (see the Node findings)." };
  }
  if (/Too many pods/.test(r)) {
    return { cause: `${n} already run as many pods as they allow.`, fix: "Add nodes or remove pods." };
  }
  return { cause: `${n}: ${r}.`, fix: "See the scheduler's reason." };
}
