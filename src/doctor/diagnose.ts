/**
 * `skiff doctor`'s brain: walks the pods that are not Running and Ready
 * (and the cluster around them) and returns every finding, most severe
 * first. Pure: everything comes in through the {@link ClusterView}.
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import { diagnoseDns, diagnoseNodes, diagnoseStore } from "./cluster-health.js";
import { diagnoseEtcd } from "./etcd-health.js";
import { diagnoseCrashLoop, isCrashing } from "./crash-loop.js";
import { describeEvent, eventsFor } from "./events.js";
import { diagnoseImagePull, isPullFailure } from "./image-pull.js";
import { diagnoseConfigError, diagnoseMounts } from "./mounts.js";
import { claimFindings, diagnosePending, isUnscheduled } from "./pending.js";
import { diagnoseQuota } from "./quota.js";
import { diagnoseTerminatingNamespace, diagnoseTerminatingPod } from "./terminating.js";
import { type ClusterView, type Finding, objectRef, type Report, type Severity } from "./types.js";

/** What to look at besides the pods in the view. */
export interface DiagnoseScope {
  /** Namespaces whose owners' quota failures count; undefined for all. */
  readonly namespaces?: ReadonlySet<string>;
  /** One named pod: cluster findings are narrowed to its node (no DNS, store or quota checks). */
  readonly singlePod?: boolean;
}

/** Whether a pod needs no explanation: Running and Ready, or finished successfully. */
export function isHealthy(pod: Pod): boolean {
  if (pod.metadata?.deletionTimestamp) return false;
  const phase = pod.status?.phase;
  if (phase === "Succeeded") return true;
  if (phase !== "Running") return false;
  return pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

/** The findings for one pod that is not healthy. */
export function diagnosePod(pod: Pod, view: ClusterView): Finding[] {
  const ns = pod.metadata?.namespace ?? "";
  const name = pod.metadata?.name ?? "";
  const object = objectRef("Pod", name, ns);
  const podEvents = eventsFor(view.events, "Pod", ns, name, pod.metadata?.uid);
  const terminating = diagnoseTerminatingPod(pod, view.nodes, view.now);
  if (terminating) return [terminating];
  if (pod.metadata?.deletionTimestamp) return [];
  if (isUnscheduled(pod)) return diagnosePending(pod, podEvents, view);

  const out: Finding[] = [];
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  for (const cs of statuses) {
    const reason = cs.state?.waiting?.reason;
    if (isPullFailure(cs)) out.push(diagnoseImagePull(pod, cs, podEvents));
    else if (reason === "CreateContainerConfigError") out.push(diagnoseConfigError(pod, cs));
    else if (reason === "CreateContainerError") {
      out.push({
        object,
        severity: "error",
        cause: `Container ${cs.name} cannot be created: ${cs.state?.waiting?.message ?? ""}`,
        fix: "Fix the container configuration named in the message.",
        evidence: [`container ${cs.name} waiting: CreateContainerError`],
      });
    } else if (isCrashing(cs)) out.push(...diagnoseCrashLoop(pod, cs, podEvents, view));
    else if (cs.lastState?.terminated?.reason === "OOMKilled" && !cs.ready) out.push(...diagnoseCrashLoop(pod, cs, podEvents, view));
  }
  if (pod.status?.phase === "Failed") {
    out.push({
      object,
      severity: "error",
      cause: `The pod failed${pod.status.reason ? ` (${pod.status.reason})` : ""}: ${pod.status.message ?? "its containers exited with errors"}.`,
      fix: pod.status.reason === "Evicted" ? "The node ran short of a resource: see the node's pressure conditions; the owner makes a new pod." : "Read the containers' logs (kubectl logs --previous) and fix the error.",
      evidence: statuses.filter((c) => c.state?.terminated).map((c) => `container ${c.name}: exit code ${c.state?.terminated?.exitCode}`),
    });
  }
  if (out.length === 0) {
    // Still creating: mount failures are the usual reason.
    out.push(...diagnoseMounts(pod, podEvents));
    if (out.length === 0 && pod.status?.phase === "Pending") out.push(...claimFindings(pod, view).filter((f) => f.severity !== "info"));
  }
  if (out.length === 0) out.push(...notReady(pod, podEvents));
  if (out.length === 0 && pod.spec?.nodeName) {
    const node = view.nodes.find((n) => n.metadata?.name === pod.spec?.nodeName);
    const ready = node?.status?.conditions?.find((c) => c.type === "Ready")?.status === "True";
    out.push({
      object,
      severity: "warning",
      cause: ready
        ? `The pod is ${pod.status?.phase ?? "Pending"} on node ${pod.spec.nodeName} and the kubelet has not said why yet (${waitingSummary(pod)}).`
        : `The pod is on node ${pod.spec.nodeName}, which is ${node ? "NotReady" : "gone"}, so nothing runs it.`,
      fix: ready ? "Wait a little; images may still be pulling (kubectl describe pod shows the events)." : "See the Node finding.",
      evidence: podEvents.slice(0, 3).map(describeEvent),
    });
  }
  return out;
}

function waitingSummary(pod: Pod): string {
  const waits = (pod.status?.containerStatuses ?? []).map((c) => `${c.name}: ${c.state?.waiting?.reason ?? (c.state?.running ? "running" : "terminated")}`);
  return waits.length > 0 ? waits.join(", ") : "no container status yet";
}

/** Running but not Ready: a failing readiness probe, or a readiness gate. */
function notReady(pod: Pod, podEvents: readonly import("kubernetes-types/core/v1.js").Event[]): Finding[] {
  if (pod.status?.phase !== "Running") return [];
  const object = objectRef("Pod", pod.metadata?.name, pod.metadata?.namespace);
  const probe = podEvents.find((e) => e.reason === "Unhealthy" && /^Readiness probe/i.test(e.message ?? ""));
  const unready = (pod.status.containerStatuses ?? []).filter((c) => !c.ready).map((c) => c.name);
  if (probe || unready.length > 0) {
    return [
      {
        object,
        severity: "warning",
        cause: `The pod runs but is not Ready${unready.length ? ` (container(s) ${unready.join(", ")})` : ""}${probe ? `: its readiness probe fails (${probe.message})` : ""}; Services send it no traffic.`,
        fix: "Check the readiness probe's path/port/command against what the program serves, and the program's logs.",
        evidence: probe ? [describeEvent(probe)] : [],
      },
    ];
  }
  const gates = (pod.spec?.readinessGates ?? []).map((g) => g.conditionType);
  const unmet = gates.filter((g) => pod.status?.conditions?.find((c) => c.type === g)?.status !== "True");
  if (unmet.length > 0) {
    return [
      {
        object,
        severity: "warning",
        cause: `The pod's readiness gate(s) ${unmet.join(", ")} are not True.`,
        fix: "Check the controller that sets those conditions.",
        evidence: [],
      },
    ];
  }
  return [];
}

const RANK: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

/** Every finding for the view, most severe first, and whether the cluster is healthy. */
export function diagnose(view: ClusterView, scope: DiagnoseScope = {}): Report {
  const findings: Finding[] = [];
  const nodeNames = new Set(view.pods.map((p) => p.spec?.nodeName).filter(Boolean));
  const nodes = scope.singlePod ? view.nodes.filter((n) => nodeNames.has(n.metadata?.name)) : view.nodes;
  if (!scope.singlePod || nodes.length > 0) findings.push(...diagnoseNodes(nodes, view.now));
  if (!scope.singlePod) {
    findings.push(...diagnoseDns(view.services, view.endpointSlices));
    if (view.store) findings.push(...diagnoseStore(view.store, view.now));
    if (view.store?.etcd) findings.push(...diagnoseEtcd(view.store.etcd));
    for (const ns of view.namespaces) {
      if (scope.namespaces && !scope.namespaces.has(ns.metadata?.name ?? "")) continue;
      const f = diagnoseTerminatingNamespace(ns, view.now);
      if (f) findings.push(f);
    }
    findings.push(...diagnoseQuota(view.events, view.resourceQuotas, scope.namespaces, view.now));
  }
  const seen = new Set<string>();
  for (const pod of view.pods) {
    if (isHealthy(pod)) continue;
    for (const f of diagnosePod(pod, view)) {
      // A claim shared by several pods is explained once.
      const key = `${f.object}\n${f.cause}`;
      if (seen.has(key)) continue;
      seen.add(key);
      findings.push(f);
    }
  }
  findings.sort((a, b) => RANK[a.severity] - RANK[b.severity]);
  return { healthy: !findings.some((f) => f.severity !== "info"), findings };
}
