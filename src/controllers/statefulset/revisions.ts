/**
 * StatefulSet revisions and versioned pods, as upstream's
 * stateful_set_utils.go: a revision stores the pod template as a
 * strategic-merge patch (`{"spec":{"template":{…,"$patch":"replace"}}}`)
 * that restores it; pods are made from the set as of the current or the
 * update revision and labelled `controller-revision-hash: <revision name>`.
 */
import type { ControllerRevision, StatefulSet, StatefulSetStatus } from "kubernetes-types/apps/v1.js";
import type { Pod } from "kubernetes-types/core/v1.js";
import { newControllerRef } from "../common/controller-ref.js";
import { getPodFromTemplate } from "../common/pod-control.js";
import { type IntOrString, scaledValueFromIntOrPercent } from "../deployment/fenceposts.js";
import { newControllerRevision } from "../history/history.js";
import { getStartOrdinal, getPodName, initIdentity, specReplicas, updateStorage } from "./identity.js";
import { ROLLING_UPDATE_STRATEGY, STATEFUL_SET_GVK, STATEFUL_SET_REVISION_LABEL } from "./kinds.js";

/** Labels the pod with its revision (`setPodRevision`). */
export function setPodRevision(pod: Pod, revision: string): void {
  const meta = (pod.metadata ??= {});
  meta.labels = { ...(meta.labels ?? {}), [STATEFUL_SET_REVISION_LABEL]: revision };
}

/** The pod's revision label, or "" (`getPodRevision`). */
export function getPodRevision(pod: Pod): string {
  return pod.metadata?.labels?.[STATEFUL_SET_REVISION_LABEL] ?? "";
}

/** A pod of `set` with the identity and storage of `ordinal` (`newStatefulSetPod`). */
export function newStatefulSetPod(set: StatefulSet, ordinal: number): Pod {
  const pod = getPodFromTemplate(set.spec?.template, set.metadata?.name ?? "", newControllerRef(set.metadata, STATEFUL_SET_GVK));
  pod.metadata!.name = getPodName(set, ordinal);
  initIdentity(set, pod);
  updateStorage(set, pod);
  return pod;
}

/**
 * The pod for `ordinal` (`newVersionedStatefulSetPod`): from the current
 * revision below the partition (or, without a rollingUpdate block, below
 * status.currentReplicas), from the update revision otherwise.
 */
export function newVersionedStatefulSetPod(currentSet: StatefulSet, updateSet: StatefulSet, currentRevision: string, updateRevision: string, ordinal: number): Pod {
  const strategy = currentSet.spec?.updateStrategy;
  const start = getStartOrdinal(currentSet);
  // Go's precedence: (RollingUpdate && no rollingUpdate && below currentReplicas) || (rollingUpdate && below the partition).
  const useCurrent =
    (strategy?.type === ROLLING_UPDATE_STRATEGY && !strategy.rollingUpdate && ordinal < start + (currentSet.status?.currentReplicas ?? 0)) ||
    (!!strategy?.rollingUpdate && ordinal < start + (strategy.rollingUpdate.partition ?? 0));
  const pod = newStatefulSetPod(useCurrent ? currentSet : updateSet, ordinal);
  setPodRevision(pod, useCurrent ? currentRevision : updateRevision);
  return pod;
}

/** The patch a revision stores: the set's template, marked to replace the template it is applied to (`getPatch`). */
export function getPatch(set: StatefulSet): { spec: { template: Record<string, unknown> } } {
  return { spec: { template: { ...structuredClone(set.spec?.template ?? {}), $patch: "replace" } } };
}

/** A revision of `set` numbered `revision` (`newRevision`): the patch, the template's labels, the set's annotations. */
export function newRevision(set: StatefulSet, revision: number, collisionCount: number): ControllerRevision {
  const cr = newControllerRevision(set.metadata, STATEFUL_SET_GVK, set.spec?.template?.metadata?.labels, getPatch(set), revision, collisionCount);
  const annotations = set.metadata?.annotations;
  // Go's NewControllerRevision leaves an empty annotation map, dropped on the wire by omitempty.
  if (annotations && Object.keys(annotations).length > 0) cr.metadata!.annotations = { ...annotations };
  return cr;
}

/**
 * `set` with the template `revision` stores (`ApplyRevision`). Revisions
 * hold the `$patch: replace` template patch {@link getPatch} makes; any
 * other data is rejected rather than half applied.
 */
export function applyRevision(set: StatefulSet, revision: ControllerRevision): StatefulSet {
  const data = revision.data as { spec?: { template?: Record<string, unknown> } } | undefined;
  const keys = data && typeof data === "object" ? Object.keys(data) : [];
  const specKeys = data?.spec && typeof data.spec === "object" ? Object.keys(data.spec) : [];
  const template = data?.spec?.template;
  if (keys.length !== 1 || specKeys.length !== 1 || !template || typeof template !== "object" || template.$patch !== "replace") {
    throw new Error(`ControllerRevision ${revision.metadata?.name ?? ""} does not hold a spec.template replace patch`);
  }
  const { $patch: _directive, ...rest } = structuredClone(template);
  const clone = structuredClone(set);
  clone.spec = { ...clone.spec!, template: rest };
  return clone;
}

/** One more than the highest revision of the sorted `revisions`, or 1 (`nextRevision`). */
export function nextRevision(revisions: readonly ControllerRevision[]): number {
  return revisions.length === 0 ? 1 : revisions[revisions.length - 1]!.revision + 1;
}

/** Whether `status` differs from what the set shows (`inconsistentStatus`). */
export function inconsistentStatus(set: StatefulSet, status: StatefulSetStatus): boolean {
  const s = set.status;
  return (
    (status.observedGeneration ?? 0) > (s?.observedGeneration ?? 0) ||
    status.replicas !== (s?.replicas ?? 0) ||
    (status.currentReplicas ?? 0) !== (s?.currentReplicas ?? 0) ||
    (status.readyReplicas ?? 0) !== (s?.readyReplicas ?? 0) ||
    (status.updatedReplicas ?? 0) !== (s?.updatedReplicas ?? 0) ||
    (status.currentRevision ?? "") !== (s?.currentRevision ?? "") ||
    (status.availableReplicas ?? 0) !== (s?.availableReplicas ?? 0) ||
    (status.updateRevision ?? "") !== (s?.updateRevision ?? "")
  );
}

/** Once every replica is updated and ready, the update revision becomes current (`completeRollingUpdate`). */
export function completeRollingUpdate(set: StatefulSet, status: StatefulSetStatus): void {
  const replicas = specReplicas(set);
  if (
    set.spec?.updateStrategy?.type === ROLLING_UPDATE_STRATEGY &&
    (status.updatedReplicas ?? 0) === replicas &&
    (status.readyReplicas ?? 0) === replicas &&
    status.replicas === replicas
  ) {
    status.currentReplicas = status.updatedReplicas;
    status.currentRevision = status.updateRevision;
  }
}

/**
 * maxUnavailable resolved against the replica count, rounding a
 * percentage down but never below 1; 1 when unset (`getStatefulSetMaxUnavailable`).
 */
export function getStatefulSetMaxUnavailable(maxUnavailable: IntOrString | undefined, replicaCount: number): number {
  return Math.max(scaledValueFromIntOrPercent(maxUnavailable ?? 1, replicaCount, false), 1);
}
