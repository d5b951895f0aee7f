/**
 * The annotations a Deployment and its ReplicaSets carry, as upstream's
 * pkg/controller/deployment/util: the revision of each ReplicaSet (what
 * `kubectl rollout history|undo` read), the revisions a ReplicaSet served
 * before a rollback brought it back, the desired and maximum replicas it was
 * scaled for (what tells a scaling event from a rollout), and the user's
 * own annotations (such as `kubernetes.io/change-cause`) copied from the
 * Deployment to the ReplicaSet of each rollout.
 */
import type { Deployment, ReplicaSet } from "kubernetes-types/apps/v1.js";
import type { Logger } from "../../machinery/log.js";
import { maxSurge } from "./fenceposts.js";

/** The revision of a ReplicaSet (and of its Deployment): its place in the rollout sequence. */
export const REVISION_ANNOTATION = "deployment.kubernetes.io/revision";
/** The earlier revisions a ReplicaSet served, comma-separated (set when a rollback reuses it). */
export const REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history";
/** spec.replicas of the Deployment when the ReplicaSet was last scaled. */
export const DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas";
/** spec.replicas + maxSurge of the Deployment when the ReplicaSet was last scaled (for proportional scaling). */
export const MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas";
/** Annotation round-tripping the deprecated extensions/v1beta1 `spec.rollbackTo` (apps' `DeprecatedRollbackTo`). */
export const DEPRECATED_ROLLBACK_TO_ANNOTATION = "deprecated.deployment.rollback.to";
/** kubectl's last-applied-configuration (never copied between Deployment and ReplicaSet). */
export const LAST_APPLIED_CONFIG_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration";
/** Why a revision was made; copied to the ReplicaSet, shown by `kubectl rollout history`. */
export const CHANGE_CAUSE_ANNOTATION = "kubernetes.io/change-cause";

/** Upstream's `maxRevHistoryLengthInChars`: revision-history stays within 2000 characters. */
export const MAX_REV_HISTORY_LENGTH_IN_CHARS = 2000;

/** Annotations that belong to one object and are never copied between a Deployment and its ReplicaSets. */
const ANNOTATIONS_TO_SKIP: ReadonlySet<string> = new Set([
  LAST_APPLIED_CONFIG_ANNOTATION,
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
  DESIRED_REPLICAS_ANNOTATION,
  MAX_REPLICAS_ANNOTATION,
  DEPRECATED_ROLLBACK_TO_ANNOTATION,
]);

/** Whether `key` stays with its object (upstream's `skipCopyAnnotation`). */
export function skipCopyAnnotation(key: string): boolean {
  return ANNOTATIONS_TO_SKIP.has(key);
}

/** Go's strconv.ParseInt(s, 10, 64) for the values annotations hold; NaN when it would fail. */
function parseInt64(s: string): number {
  return /^[+-]?\d+$/.test(s) ? Number(s) : Number.NaN;
}

/**
 * The revision of `obj`: 0 without the annotation; throws when the
 * annotation is not an integer (upstream's `Revision` returns that error).
 */
export function revision(obj: { metadata?: { annotations?: Record<string, string> } }): number {
  const v = obj.metadata?.annotations?.[REVISION_ANNOTATION];
  if (v === undefined) return 0;
  const n = parseInt64(v);
  if (Number.isNaN(n)) throw new Error(`strconv.ParseInt: parsing ${JSON.stringify(v)}: invalid syntax`);
  return n;
}

/** {@link revision}, or undefined when it cannot be parsed. */
export function revisionOrUndefined(obj: { metadata?: { annotations?: Record<string, string> } }): number | undefined {
  try {
    return revision(obj);
  } catch {
    return undefined;
  }
}

function logUnparsable(logger: Logger | undefined, rs: ReplicaSet): void {
  logger?.debug("Couldn't parse revision for replica set, deployment controller will skip it when reconciling revisions", {
    replicaSet: `${rs.metadata?.namespace}/${rs.metadata?.name}`,
  });
}

/** The highest revision among `replicaSets` (upstream's `MaxRevision`); unparsable ones are skipped. */
export function maxRevision(replicaSets: readonly (ReplicaSet | undefined)[], logger?: Logger): number {
  let max = 0;
  for (const rs of replicaSets) {
    if (!rs) continue;
    const v = revisionOrUndefined(rs);
    if (v === undefined) logUnparsable(logger, rs);
    else if (v > max) max = v;
  }
  return max;
}

/** The second highest revision among `replicaSets`: the one before the current (upstream's `LastRevision`). */
export function lastRevision(replicaSets: readonly (ReplicaSet | undefined)[], logger?: Logger): number {
  let max = 0;
  let secMax = 0;
  for (const rs of replicaSets) {
    if (!rs) continue;
    const v = revisionOrUndefined(rs);
    if (v === undefined) logUnparsable(logger, rs);
    else if (v >= max) {
      secMax = max;
      max = v;
    } else if (v > secMax) secMax = v;
  }
  return secMax;
}

/** Sets the Deployment's revision annotation; true when it changed (upstream's `SetDeploymentRevision`). */
export function setDeploymentRevision(d: Deployment, rev: string): boolean {
  const meta = (d.metadata ??= {});
  const annotations = (meta.annotations ??= {});
  if (annotations[REVISION_ANNOTATION] === rev) return false;
  annotations[REVISION_ANNOTATION] = rev;
  return true;
}

/**
 * Copies the Deployment's annotations (all but {@link skipCopyAnnotation}
 * ones) onto `rs`; true when that changed `rs`.
 */
export function copyDeploymentAnnotationsToReplicaSet(d: Deployment, rs: ReplicaSet): boolean {
  let changed = false;
  const meta = (rs.metadata ??= {});
  const annotations = (meta.annotations ??= {});
  for (const [k, v] of Object.entries(d.metadata?.annotations ?? {})) {
    // The new RS's revision is the reliable one: the Deployment's may be stale, so it is never copied.
    if (skipCopyAnnotation(k) || (Object.hasOwn(annotations, k) && annotations[k] === v)) continue;
    annotations[k] = v;
    changed = true;
  }
  return changed;
}

/**
 * Gives the Deployment the annotations of the ReplicaSet it rolls back
 * to, keeping its own {@link skipCopyAnnotation} ones (upstream's
 * `SetDeploymentAnnotationsTo`), so the change-cause of that revision
 * comes back with its template.
 */
export function setDeploymentAnnotationsTo(d: Deployment, rollbackToRS: ReplicaSet): void {
  const kept: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.metadata?.annotations ?? {})) if (skipCopyAnnotation(k)) kept[k] = v;
  for (const [k, v] of Object.entries(rollbackToRS.metadata?.annotations ?? {})) if (!skipCopyAnnotation(k)) kept[k] = v;
  (d.metadata ??= {}).annotations = kept;
}

/** Sets the desired and max replicas annotations; true when either changed (upstream's `SetReplicasAnnotations`). */
export function setReplicasAnnotations(rs: ReplicaSet, desiredReplicas: number, maxReplicas: number): boolean {
  let updated = false;
  const annotations = ((rs.metadata ??= {}).annotations ??= {});
  const desired = String(desiredReplicas);
  if (annotations[DESIRED_REPLICAS_ANNOTATION] !== desired) {
    annotations[DESIRED_REPLICAS_ANNOTATION] = desired;
    updated = true;
  }
  const max = String(maxReplicas);
  if (annotations[MAX_REPLICAS_ANNOTATION] !== max) {
    annotations[MAX_REPLICAS_ANNOTATION] = max;
    updated = true;
  }
  return updated;
}

/** Whether {@link setReplicasAnnotations} would change anything (upstream's `ReplicasAnnotationsNeedUpdate`). */
export function replicasAnnotationsNeedUpdate(rs: ReplicaSet, desiredReplicas: number, maxReplicas: number): boolean {
  const annotations = rs.metadata?.annotations;
  if (!annotations) return true;
  return annotations[DESIRED_REPLICAS_ANNOTATION] !== String(desiredReplicas) || annotations[MAX_REPLICAS_ANNOTATION] !== String(maxReplicas);
}

/** An integer annotation of `rs`, if present and valid (upstream's `getIntFromAnnotation`, strconv.Atoi). */
function intFromAnnotation(rs: ReplicaSet, key: string, logger?: Logger): number | undefined {
  const v = rs.metadata?.annotations?.[key];
  if (v === undefined) return undefined;
  const n = parseInt64(v);
  if (Number.isNaN(n)) {
    logger?.debug("Could not convert the value with annotation key for the replica set", { annotationValue: v, annotationKey: key, replicaSet: rs.metadata?.name });
    return undefined;
  }
  return n;
}

/** The desired-replicas annotation of `rs` (upstream's `GetDesiredReplicasAnnotation`). */
export function getDesiredReplicasAnnotation(rs: ReplicaSet, logger?: Logger): number | undefined {
  return intFromAnnotation(rs, DESIRED_REPLICAS_ANNOTATION, logger);
}

/** The max-replicas annotation of `rs` (upstream's `getMaxReplicasAnnotation`). */
export function getMaxReplicasAnnotation(rs: ReplicaSet, logger?: Logger): number | undefined {
  return intFromAnnotation(rs, MAX_REPLICAS_ANNOTATION, logger);
}

/**
 * Brings the annotations of the Deployment's new ReplicaSet up to date
 * (upstream's `SetNewReplicaSetAnnotations`): the Deployment's copyable
 * annotations, the revision `newRevision` unless it already has a higher
 * one (with the revision it had appended to revision-history, kept within
 * `revHistoryLimitInChars`), and for a ReplicaSet about to be created
 * (`exists` false) the replicas annotations. True when `newRS` changed.
 */
export function setNewReplicaSetAnnotations(
  d: Deployment,
  newRS: ReplicaSet,
  newRevision: string,
  exists: boolean,
  revHistoryLimitInChars: number,
  logger?: Logger,
): boolean {
  let annotationChanged = copyDeploymentAnnotationsToReplicaSet(d, newRS);
  const annotations = ((newRS.metadata ??= {}).annotations ??= {});
  const had = Object.hasOwn(annotations, REVISION_ANNOTATION);
  const oldRevision = annotations[REVISION_ANNOTATION] ?? "";
  // Normally newRevision is the highest old revision + 1, but old RSs deleted since can make it lower: never go down.
  let oldRevisionInt = parseInt64(oldRevision);
  if (Number.isNaN(oldRevisionInt)) {
    if (oldRevision !== "") {
      logger?.info("Updating replica set revision OldRevision not int", { err: `strconv.ParseInt: parsing ${JSON.stringify(oldRevision)}: invalid syntax` });
      return false;
    }
    oldRevisionInt = 0;
  }
  const newRevisionInt = parseInt64(newRevision);
  if (Number.isNaN(newRevisionInt)) {
    logger?.info("Updating replica set revision NewRevision not int", { err: `strconv.ParseInt: parsing ${JSON.stringify(newRevision)}: invalid syntax` });
    return false;
  }
  if (oldRevisionInt < newRevisionInt) {
    annotations[REVISION_ANNOTATION] = newRevision;
    annotationChanged = true;
    logger?.debug("Updating replica set revision", { replicaSet: `${newRS.metadata?.namespace}/${newRS.metadata?.name}`, newRevision });
  }
  // A revision that existed and went up means a rollback to this RS: keep the revisions it served.
  if (had && oldRevisionInt < newRevisionInt) {
    const history = annotations[REVISION_HISTORY_ANNOTATION] ?? "";
    const oldRevisions = history.split(",");
    if (oldRevisions[0]!.length === 0) {
      annotations[REVISION_HISTORY_ANNOTATION] = oldRevision;
    } else {
      let totalLen = history.length + oldRevision.length + 1;
      let start = 0;
      while (totalLen > revHistoryLimitInChars && start < oldRevisions.length) {
        totalLen = totalLen - oldRevisions[start]!.length - 1;
        start++;
      }
      if (totalLen <= revHistoryLimitInChars) {
        annotations[REVISION_HISTORY_ANNOTATION] = [...oldRevisions.slice(start), oldRevision].join(",");
      } else {
        logger?.info("Not appending revision due to revision history length limit reached", { revisionHistoryLimit: revHistoryLimitInChars });
      }
    }
  }
  // A ReplicaSet about to be created needs the replicas annotations too.
  const replicas = d.spec?.replicas ?? 1;
  if (!exists && setReplicasAnnotations(newRS, replicas, replicas + maxSurge(d))) annotationChanged = true;
  return annotationChanged;
}
