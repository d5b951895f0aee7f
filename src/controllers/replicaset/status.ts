/**
 * ReplicaSet status, as upstream's replica_set_utils.go: counts of the
 * active pods (fully labelled, ready, available after minReadySeconds), the
 * ReplicaFailure condition while creating or deleting pods fails, and a
 * write through the status subresource only when something changed.
 */
import type { ReplicaSet, ReplicaSetCondition, ReplicaSetStatus } from "kubernetes-types/apps/v1.js";
import type { Pod } from "kubernetes-types/core/v1.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { deepEqual } from "../common/equality.js";
import { errorMessage } from "../common/errors.js";
import { isPodAvailable, isPodReady } from "../common/pod-utils.js";
import { rfc3339 } from "../common/time.js";

/** The condition type set while pods cannot be created or deleted. */
export const REPLICA_FAILURE = "ReplicaFailure";

/** Upstream's `statusUpdateRetries`: one GET-and-retry after a failed status write. */
export const STATUS_UPDATE_RETRIES = 1;

/** A new condition stamped `nowMs` (upstream's `NewReplicaSetCondition`). */
export function newReplicaSetCondition(type: string, status: string, reason: string, message: string, nowMs: number): ReplicaSetCondition {
  return { type, status, lastTransitionTime: rfc3339(nowMs), reason, message };
}

/** The condition of `type`, if present. */
export function getCondition(status: ReplicaSetStatus | undefined, type: string): ReplicaSetCondition | undefined {
  return status?.conditions?.find((c) => c.type === type);
}

/** Conditions without those of `type`; undefined when none remain (Go's nil slice). */
function filterOutCondition(conditions: readonly ReplicaSetCondition[] | undefined, type: string): ReplicaSetCondition[] | undefined {
  const out = (conditions ?? []).filter((c) => c.type !== type);
  return out.length > 0 ? out : undefined;
}

/**
 * Adds or replaces `condition` in `status` (a fresh array, never the
 * cache's); a condition of the same type, status and reason is kept as it
 * is, transition time included.
 */
export function setCondition(status: ReplicaSetStatus, condition: ReplicaSetCondition): void {
  const current = getCondition(status, condition.type);
  if (current && current.status === condition.status && current.reason === condition.reason) return;
  status.conditions = [...(filterOutCondition(status.conditions, condition.type) ?? []), condition];
}

/** Removes conditions of `type` from `status`. */
export function removeCondition(status: ReplicaSetStatus, type: string): void {
  const rest = filterOutCondition(status.conditions, type);
  if (rest) status.conditions = rest;
  else delete status.conditions;
}

/** A label map's pairs as an equality selector: every pair must be present (no pairs match everything). */
function matchesAll(required: readonly (readonly [string, string])[], labels: Readonly<Record<string, string>> | undefined): boolean {
  for (const [k, v] of required) if (labels?.[k] !== v) return false;
  return true;
}

/**
 * The status `rs` should have given its active pods and the outcome of
 * this sync's pod management (upstream's `calculateStatus`). Counts are
 * always present; observedGeneration is left as it was (the write sets it).
 */
export function calculateStatus(rs: ReplicaSet, activePods: readonly Pod[], manageReplicasErr: unknown, nowMs: number): ReplicaSetStatus {
  const newStatus: ReplicaSetStatus = { ...(rs.status ?? { replicas: 0 }) };
  // Once per sync, not once per pod: a sync may look at thousands.
  const templateLabels = Object.entries(rs.spec?.template?.metadata?.labels ?? {});
  const minReadySeconds = rs.spec?.minReadySeconds ?? 0;
  let fullyLabeled = 0;
  let ready = 0;
  let available = 0;
  for (const pod of activePods) {
    // Template labels are a superset of the selector, so fully labelled pods are among the matching ones.
    if (matchesAll(templateLabels, pod.metadata?.labels)) fullyLabeled++;
    if (isPodReady(pod)) {
      ready++;
      if (isPodAvailable(pod, minReadySeconds, nowMs)) available++;
    }
  }
  const failureCond = getCondition(rs.status, REPLICA_FAILURE);
  if (manageReplicasErr !== undefined && !failureCond) {
    const diff = activePods.length - (rs.spec?.replicas ?? 1);
    const reason = diff < 0 ? "FailedCreate" : diff > 0 ? "FailedDelete" : "";
    setCondition(newStatus, newReplicaSetCondition(REPLICA_FAILURE, "True", reason, errorMessage(manageReplicasErr), nowMs));
  } else if (manageReplicasErr === undefined && failureCond) {
    removeCondition(newStatus, REPLICA_FAILURE);
  }
  newStatus.replicas = activePods.length;
  newStatus.fullyLabeledReplicas = fullyLabeled;
  newStatus.readyReplicas = ready;
  newStatus.availableReplicas = available;
  return newStatus;
}

/** Reads and writes the owner through the API, in its ReplicaSet form. */
export interface ReplicaSetApi {
  /** A live GET (not the cache). */
  get(namespace: string, name: string): Promise<ReplicaSet>;
  /** A PUT to the status subresource; resolves the stored object. */
  updateStatus(rs: ReplicaSet): Promise<ReplicaSet>;
}

const n = (v: number | undefined) => v ?? 0;

/** Whether writing `next` would change nothing upstream's check looks at. */
export function statusUnchanged(rs: ReplicaSet, next: ReplicaSetStatus): boolean {
  const cur = rs.status;
  return (
    n(cur?.replicas) === n(next.replicas) &&
    n(cur?.fullyLabeledReplicas) === n(next.fullyLabeledReplicas) &&
    n(cur?.readyReplicas) === n(next.readyReplicas) &&
    n(cur?.availableReplicas) === n(next.availableReplicas) &&
    n(rs.metadata?.generation) === n(cur?.observedGeneration) &&
    deepEqual(cur?.conditions, next.conditions)
  );
}

/** The status as Go serializes it: zero counts left out (omitempty), `replicas` always present. */
function wireStatus(s: ReplicaSetStatus): ReplicaSetStatus {
  const out: ReplicaSetStatus = { replicas: s.replicas };
  if (s.fullyLabeledReplicas) out.fullyLabeledReplicas = s.fullyLabeledReplicas;
  if (s.readyReplicas) out.readyReplicas = s.readyReplicas;
  if (s.availableReplicas) out.availableReplicas = s.availableReplicas;
  if (s.observedGeneration) out.observedGeneration = s.observedGeneration;
  if (s.conditions && s.conditions.length > 0) out.conditions = s.conditions;
  return out;
}

/**
 * Writes `newStatus` (with observedGeneration = generation) unless nothing
 * changed, retrying once on a fresh GET after a failed write (upstream's
 * `updateReplicaSetStatus`). Resolves the object as stored; rejects with
 * the write's error (or the GET's, which is more telling).
 */
export async function updateReplicaSetStatus(
  api: ReplicaSetApi,
  rs: ReplicaSet,
  newStatus: ReplicaSetStatus,
  kind: string,
  logger: Logger = silentLogger,
): Promise<ReplicaSet> {
  if (statusUnchanged(rs, newStatus)) return rs;
  // Record the generation acted on, so a retry cannot claim a spec it never saw.
  const status: ReplicaSetStatus = { ...newStatus, observedGeneration: rs.metadata?.generation };
  let cur = rs;
  let updateErr: unknown;
  for (let i = 0; ; i++) {
    const c = cur.status;
    logger.debug(`Updating status for ${kind}: ${cur.metadata?.namespace}/${cur.metadata?.name}`, {
      replicas: `${n(c?.replicas)}->${status.replicas} (need ${cur.spec?.replicas ?? 1})`,
      fullyLabeledReplicas: `${n(c?.fullyLabeledReplicas)}->${n(status.fullyLabeledReplicas)}`,
      readyReplicas: `${n(c?.readyReplicas)}->${n(status.readyReplicas)}`,
      availableReplicas: `${n(c?.availableReplicas)}->${n(status.availableReplicas)}`,
      observedGeneration: `${n(c?.observedGeneration)}->${n(status.observedGeneration)}`,
    });
    try {
      return await api.updateStatus({ ...cur, status: wireStatus(status) });
    } catch (err) {
      updateErr = err;
    }
    // Give up after the retries; the caller requeues with backoff.
    if (i >= STATUS_UPDATE_RETRIES) break;
    // The GET's failure says more than the update's: status.replicas can no longer be trusted.
    cur = await api.get(rs.metadata?.namespace ?? "", rs.metadata?.name ?? "");
  }
  throw updateErr;
}
