/**
 * The new ReplicaSet of a Deployment, as upstream's `getNewReplicaSet`
 * (sync.go): found by template and given the next revision, or created
 * under the deterministic name `<deployment>-<pod-template-hash>`, with a
 * hash collision resolved through status.collisionCount.
 */
import type { Deployment, ReplicaSet } from "kubernetes-types/apps/v1.js";
import { isAlreadyExists } from "../../machinery/status-error.js";
import { getControllerOf, newControllerRef } from "../common/controller-ref.js";
import { errorMessage } from "../common/errors.js";
import { hasStatusCause, NAMESPACE_TERMINATING_CAUSE } from "../common/pod-control.js";
import { MAX_REV_HISTORY_LENGTH_IN_CHARS, maxRevision, REVISION_ANNOTATION, setDeploymentRevision, setNewReplicaSetAnnotations } from "./annotations.js";
import {
  DEPLOYMENT_PROGRESSING,
  FAILED_RS_CREATE_REASON,
  FOUND_NEW_RS_REASON,
  getDeploymentCondition,
  hasProgressDeadline,
  NEW_REPLICA_SET_REASON,
  newDeploymentCondition,
  setDeploymentCondition,
} from "./conditions.js";
import { newRSNewReplicas } from "./fenceposts.js";
import { cloneAndAddLabel, cloneSelectorAndAddLabel, findNewReplicaSet } from "./replica-sets.js";
import { DEPLOYMENT_GVK, keyOf } from "./kinds.js";
import type { DeploymentSyncer } from "./sync.js";
import { computeHash, DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY, equalIgnoreHash } from "./template.js";

/**
 * The ReplicaSet matching `d`'s template (upstream's `getNewReplicaSet`).
 * An existing one gets revision max(old)+1 (unless higher already),
 * `d`'s annotations and minReadySeconds, and `d` its revision; a missing
 * one is created, when asked, named `<deployment>-<pod-template-hash>` and
 * sized by {@link newRSNewReplicas} (the full size when no old pods run).
 * A name taken by another template bumps status.collisionCount and
 * rejects, so the next sync tries the next name.
 */
export async function getNewReplicaSet(s: DeploymentSyncer, d: Deployment, rsList: ReplicaSet[], oldRSs: ReplicaSet[], createIfNotExisted: boolean): Promise<ReplicaSet | undefined> {
  const existingNewRS = findNewReplicaSet(d, rsList);
  const newRevision = String(maxRevision(oldRSs, s.log) + 1);
  if (existingNewRS) {
    const rsCopy = structuredClone(existingNewRS);
    const annotationsUpdated = setNewReplicaSetAnnotations(d, rsCopy, newRevision, true, MAX_REV_HISTORY_LENGTH_IN_CHARS, s.log);
    const minReadySecondsNeedsUpdate = (rsCopy.spec?.minReadySeconds ?? 0) !== (d.spec?.minReadySeconds ?? 0);
    if (annotationsUpdated || minReadySecondsNeedsUpdate) {
      rsCopy.spec ??= { selector: {} };
      if (d.spec?.minReadySeconds) rsCopy.spec.minReadySeconds = d.spec.minReadySeconds;
      else delete rsCopy.spec.minReadySeconds;
      return s.api.updateReplicaSet(rsCopy);
    }
    // The new RS's revision was set by an earlier sync: that one is authoritative.
    let needsUpdate = setDeploymentRevision(d, rsCopy.metadata?.annotations?.[REVISION_ANNOTATION] ?? "");
    // A Deployment that starts caring about progress counts from when its new RS was first noticed.
    const cond = getDeploymentCondition(d.status, DEPLOYMENT_PROGRESSING);
    if (hasProgressDeadline(d) && !cond) {
      const msg = `Found new replica set "${rsCopy.metadata?.name ?? ""}"`;
      setDeploymentCondition((d.status ??= {}), newDeploymentCondition(DEPLOYMENT_PROGRESSING, "True", FOUND_NEW_RS_REASON, msg, s.now()));
      needsUpdate = true;
    }
    if (needsUpdate) await s.updateStatus(d);
    return rsCopy;
  }
  if (!createIfNotExisted) return undefined;

  const m = d.metadata ?? {};
  const template = d.spec?.template ?? {};
  const podTemplateSpecHash = computeHash(template, d.status?.collisionCount);
  const labels = cloneAndAddLabel(template.metadata?.labels, DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY, podTemplateSpecHash) ?? {};
  const newRSTemplate = structuredClone(template);
  newRSTemplate.metadata = { ...(newRSTemplate.metadata ?? {}), labels };
  const newRS: ReplicaSet = {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: {
      // Deterministic, so a repeated create cannot make a second one.
      name: `${m.name}-${podTemplateSpecHash}`,
      namespace: m.namespace,
      ownerReferences: [newControllerRef(m, DEPLOYMENT_GVK)],
      labels: { ...labels },
    },
    spec: {
      replicas: 0,
      ...(d.spec?.minReadySeconds ? { minReadySeconds: d.spec.minReadySeconds } : {}),
      selector: cloneSelectorAndAddLabel(d.spec?.selector ?? {}, DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY, podTemplateSpecHash),
      template: newRSTemplate,
    },
  };
  const newReplicasCount = newRSNewReplicas(d, [...oldRSs, newRS], newRS);
  newRS.spec!.replicas = newReplicasCount;
  setNewReplicaSetAnnotations(d, newRS, newRevision, false, MAX_REV_HISTORY_LENGTH_IN_CHARS, s.log);

  let createdRS: ReplicaSet;
  let alreadyExists = false;
  try {
    createdRS = await s.api.createReplicaSet(m.namespace ?? "", newRS);
  } catch (err) {
    if (isAlreadyExists(err)) {
      // A slow cache or a fast resync: the RS may be ours already. Otherwise the hash collided.
      alreadyExists = true;
      const rs = s.deps.replicaSets.get(keyOf(newRS));
      if (!rs) throw new Error(`replicaset.apps "${newRS.metadata?.name}" not found`, { cause: err });
      const controllerRef = getControllerOf(rs);
      if (controllerRef && controllerRef.uid === m.uid && equalIgnoreHash(d.spec?.template, rs.spec?.template)) {
        createdRS = rs;
      } else {
        const preCollisionCount = d.status?.collisionCount ?? 0;
        const status = (d.status ??= {});
        status.collisionCount = preCollisionCount + 1;
        // Requeue by returning the original error; the next sync hashes with the new count.
        try {
          await s.updateStatus(d);
          s.log.info("Found a hash collision for deployment - bumping collisionCount to resolve it", {
            deployment: keyOf(d),
            oldCollisionCount: preCollisionCount,
            newCollisionCount: status.collisionCount,
          });
        } catch {
          // The original error says more.
        }
        throw err;
      }
    } else if (hasStatusCause(err, NAMESPACE_TERMINATING_CAUSE)) {
      // Every create in a terminating namespace fails: nothing to report.
      throw err;
    } else {
      const msg = `Failed to create new replica set "${newRS.metadata?.name}": ${errorMessage(err)}`;
      if (hasProgressDeadline(d)) {
        setDeploymentCondition((d.status ??= {}), newDeploymentCondition(DEPLOYMENT_PROGRESSING, "False", FAILED_RS_CREATE_REASON, msg, s.now()));
        // The failed create is the bigger problem to report; this write's own failure is not.
        await s.updateStatus(d).catch(() => undefined);
      }
      s.event(d, "Warning", FAILED_RS_CREATE_REASON, "Create", msg);
      throw err;
    }
  }
  if (!alreadyExists && newReplicasCount > 0) {
    s.scalingEvent(d, createdRS, "Scaled up replica set %s to %d", createdRS.metadata?.name ?? "", newReplicasCount);
  }
  let needsUpdate = setDeploymentRevision(d, newRevision);
  if (!alreadyExists && hasProgressDeadline(d)) {
    const msg = `Created new replica set "${createdRS.metadata?.name ?? ""}"`;
    setDeploymentCondition((d.status ??= {}), newDeploymentCondition(DEPLOYMENT_PROGRESSING, "True", NEW_REPLICA_SET_REASON, msg, s.now()));
    needsUpdate = true;
  }
  if (needsUpdate) await s.updateStatus(d);
  return createdRS;
}
