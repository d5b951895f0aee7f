/**
 * Objects stuck Terminating: the finalizers that remain (pod and
 * namespace), or a node that never confirms the pod stopped.
 */
import type { Namespace, Node, Pod } from "kubernetes-types/core/v1.js";
import { humanDuration } from "./quantity.js";
import { type Finding, objectRef } from "./types.js";

/** Slack past the grace period before a deleting pod counts as stuck. */
const STUCK_AFTER_MS = 60_000;

/** The finding for a pod deleted long ago and still there; undefined otherwise. */
export function diagnoseTerminatingPod(pod: Pod, nodes: readonly Node[], now: Date): Finding | undefined {
  const del = pod.metadata?.deletionTimestamp;
  if (!del) return undefined;
  // deletionTimestamp is already "deletion time + grace period".
  const overdue = now.getTime() - Date.parse(del);
  if (overdue < STUCK_AFTER_MS) return undefined;
  const ns = pod.metadata?.namespace ?? "";
  const name = pod.metadata?.name ?? "";
  const finalizers = pod.metadata?.finalizers ?? [];
  const evidence = [`deletionTimestamp ${del} (${humanDuration(overdue)} ago)`, ...(finalizers.length ? [`finalizers: ${finalizers.join(", ")}`] : [])];
  if (finalizers.length > 0) {
    return {
      object: objectRef("Pod", name, ns),
      severity: "error",
      cause: `The pod has been Terminating for ${humanDuration(overdue)} because finalizer(s) ${finalizers.join(", ")} remain; the controller that owns them has not removed them.`,
      fix: `Check the controller that sets ${finalizers[0]}; if it is gone for good, remove the finalizer: kubectl patch pod ${name} -n ${ns} --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]'.`,
      evidence,
    };
  }
  const nodeName = pod.spec?.nodeName;
  const node = nodes.find((n) => n.metadata?.name === nodeName);
  const ready = node?.status?.conditions?.find((c) => c.type === "Ready")?.status === "True";
  return {
    object: objectRef("Pod", name, ns),
    severity: "error",
    cause: nodeName
      ? `The pod has been Terminating for ${humanDuration(overdue)}: the kubelet on node ${nodeName}${node ? (ready ? "" : " (NotReady)") : " (the node no longer exists)"} has not confirmed that its containers stopped.`
      : `The pod has been Terminating for ${humanDuration(overdue)} without a node.`,
    fix: `${ready ? "Check the kubelet's logs on that node." : "Bring the node back, or"} force the deletion once you know the containers are gone: kubectl delete pod ${name} -n ${ns} --grace-period=0 --force.`,
    evidence,
  };
}

/** The finding for a namespace stuck Terminating; undefined otherwise. */
export function diagnoseTerminatingNamespace(ns: Namespace, now: Date): Finding | undefined {
  const del = ns.metadata?.deletionTimestamp;
  if (!del || now.getTime() - Date.parse(del) < STUCK_AFTER_MS) return undefined;
  const name = ns.metadata?.name ?? "";
  const specFinalizers = ns.spec?.finalizers ?? [];
  const metaFinalizers = ns.metadata?.finalizers ?? [];
  // The namespace controller explains itself in these conditions.
  const conds = (ns.status?.conditions ?? []).filter(
    (c) => c.status === "True" && ["NamespaceContentRemaining", "NamespaceFinalizersRemaining", "NamespaceDeletionDiscoveryFailure", "NamespaceDeletionContentFailure"].includes(c.type),
  );
  const evidence = [
    `deletionTimestamp ${del} (${humanDuration(now.getTime() - Date.parse(del))} ago)`,
    ...(specFinalizers.length ? [`spec.finalizers: ${specFinalizers.join(", ")}`] : []),
    ...(metaFinalizers.length ? [`metadata.finalizers: ${metaFinalizers.join(", ")}`] : []),
    ...conds.map((c) => `condition ${c.type}: ${c.message ?? ""}`),
  ];
  const remaining = conds.find((c) => c.type === "NamespaceFinalizersRemaining")?.message;
  const content = conds.find((c) => c.type === "NamespaceContentRemaining")?.message;
  const cause = remaining
    ? `Namespace ${name} is stuck Terminating: objects in it still carry finalizers (${remaining}).`
    : content
      ? `Namespace ${name} is stuck Terminating: objects remain in it (${content}).`
      : specFinalizers.length || metaFinalizers.length
        ? `Namespace ${name} is stuck Terminating: finalizer(s) ${[...specFinalizers, ...metaFinalizers].join(", ")} remain.`
        : `Namespace ${name} is stuck Terminating.`;
  return {
    object: objectRef("Namespace", name),
    severity: "error",
    cause,
    fix: remaining || content
      ? "Find the objects named and the controllers that own their finalizers (kubectl api-resources --namespaced -o name | xargs -n1 kubectl get -n NS); remove a finalizer by hand only when its controller is gone."
      : "Check that the namespace controller runs (skiff server logs); remove a finalizer by hand only when its owner is gone.",
    evidence,
  };
}
