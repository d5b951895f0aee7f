/**
 * Server-side rollback, as upstream's rollback.go: the annotation
 * `deprecated.deployment.rollback.to` (how extensions/v1beta1's
 * `spec.rollbackTo` round-trips) names a revision (0: the previous one);
 * its ReplicaSet's template and annotations become the Deployment's, and
 * the annotation is removed. `kubectl rollout undo` on apps/v1 does the
 * same client-side with a patch, which needs nothing from the controller
 * but correct revision annotations.
 */
import type { Deployment, ReplicaSet } from "kubernetes-types/apps/v1.js";
import { DEPRECATED_ROLLBACK_TO_ANNOTATION, lastRevision, revisionOrUndefined, setDeploymentAnnotationsTo } from "./annotations.js";
import { setFromReplicaSetTemplate } from "./replica-sets.js";
import { keyOf } from "./kinds.js";
import type { DeploymentSyncer } from "./sync.js";
import { equalIgnoreHash } from "./template.js";

/** Event reason: the revision to roll back to does not exist. */
export const ROLLBACK_REVISION_NOT_FOUND = "DeploymentRollbackRevisionNotFound";
/** Event reason: that revision's template is the current one. */
export const ROLLBACK_TEMPLATE_UNCHANGED = "DeploymentRollbackTemplateUnchanged";
/** Event reason: rolled back. */
export const ROLLBACK_DONE = "DeploymentRollback";

const ROLLBACK_ACTION = "Rollback";

/** The revision the deprecated rollbackTo annotation asks for; undefined when absent or not a number (ignored, as upstream). */
export function getRollbackTo(d: Deployment): number | undefined {
  const v = d.metadata?.annotations?.[DEPRECATED_ROLLBACK_TO_ANNOTATION];
  if (!v || !/^[+-]?\d+$/.test(v)) return undefined;
  return Number(v);
}

/** Removes the rollbackTo annotation and writes the Deployment (upstream's `updateDeploymentAndClearRollbackTo`). */
async function updateDeploymentAndClearRollbackTo(s: DeploymentSyncer, d: Deployment): Promise<void> {
  s.log.debug("Cleans up rollbackTo of deployment", { deployment: keyOf(d) });
  if (d.metadata?.annotations) delete d.metadata.annotations[DEPRECATED_ROLLBACK_TO_ANNOTATION];
  await s.api.updateDeployment(d);
}

/** Rolls `d` back to the asked revision, and in any case clears the request (upstream's `rollback`). */
export async function rollback(s: DeploymentSyncer, d: Deployment, rsList: ReplicaSet[]): Promise<void> {
  const [newRS, allOldRSs] = await s.getAllReplicaSetsAndSyncRevision(d, rsList, true);
  const allRSs = [...allOldRSs, newRS].filter((rs): rs is ReplicaSet => !!rs);
  let rollbackTo = getRollbackTo(d) ?? 0;
  if (rollbackTo === 0) {
    rollbackTo = lastRevision(allRSs, s.log);
    if (rollbackTo === 0) {
      s.event(d, "Warning", ROLLBACK_REVISION_NOT_FOUND, ROLLBACK_ACTION, "Unable to find last revision.");
      return updateDeploymentAndClearRollbackTo(s, d);
    }
  }
  for (const rs of allRSs) {
    const v = revisionOrUndefined(rs);
    if (v === undefined) {
      s.log.debug("Unable to extract revision from deployment's replica set", { replicaSet: keyOf(rs) });
      continue;
    }
    if (v === rollbackTo) {
      s.log.debug("Found replica set with desired revision", { replicaSet: keyOf(rs), revision: v });
      // The revision number moves up on the next sync; nothing happens if the template is already this one.
      const performedRollback = await rollbackToTemplate(s, d, rs);
      if (performedRollback) s.event(d, "Normal", ROLLBACK_DONE, ROLLBACK_ACTION, `Rolled back deployment "${d.metadata?.name ?? ""}" to revision ${rollbackTo}`);
      return;
    }
  }
  s.event(d, "Warning", ROLLBACK_REVISION_NOT_FOUND, ROLLBACK_ACTION, "Unable to find the revision to rollback to.");
  return updateDeploymentAndClearRollbackTo(s, d);
}

/**
 * Gives `d` the template of `rs` (and its annotations, so the rolled-back
 * revision keeps its change-cause) unless they are already equal; clears
 * the request either way (upstream's `rollbackToTemplate`).
 */
async function rollbackToTemplate(s: DeploymentSyncer, d: Deployment, rs: ReplicaSet): Promise<boolean> {
  let performedRollback = false;
  if (!equalIgnoreHash(d.spec?.template, rs.spec?.template)) {
    s.log.debug("Rolling back deployment to old template spec", { deployment: keyOf(d) });
    setFromReplicaSetTemplate(d, rs.spec?.template);
    setDeploymentAnnotationsTo(d, rs);
    performedRollback = true;
  } else {
    s.log.debug("Rolling back to a revision that contains the same template as current deployment, skipping rollback...", { deployment: keyOf(d) });
    s.event(d, "Warning", ROLLBACK_TEMPLATE_UNCHANGED, ROLLBACK_ACTION, `The rollback revision contains the same template as current deployment "${d.metadata?.name ?? ""}"`);
  }
  await updateDeploymentAndClearRollbackTo(s, d);
  return performedRollback;
}
