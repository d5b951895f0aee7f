/**
 * The writes the Deployment controller makes, behind one interface so unit
 * tests can record them: Deployments (live reads, rollback updates, status
 * with the revision annotation) and ReplicaSets (create, scale, adopt or
 * release, delete).
 */
import type { Deployment, ReplicaSet } from "kubernetes-types/apps/v1.js";
import { ResourceClient } from "../../client/resource-client.js";
import { DEPLOYMENTS, REPLICA_SETS } from "../../client/resources.js";
import type { RestClient } from "../../client/rest-client.js";

/** What the controller asks of the API server; {@link restDeploymentApi} for a real one. */
export interface DeploymentApi {
  /** A live GET (never the cache), for the adoption recheck. */
  getDeployment(namespace: string, name: string): Promise<Deployment>;
  /** A PUT of the whole Deployment (rollbacks); conditional on its resourceVersion. */
  updateDeployment(d: Deployment): Promise<Deployment>;
  /**
   * Upstream's `UpdateStatus`, which for Deployments also stores metadata
   * changes but labels (the revision annotation travels this way);
   * conditional on the resourceVersion. Resolves the stored object.
   */
  updateDeploymentStatus(d: Deployment): Promise<Deployment>;
  createReplicaSet(namespace: string, rs: ReplicaSet): Promise<ReplicaSet>;
  /** A PUT of the whole ReplicaSet; conditional on its resourceVersion. */
  updateReplicaSet(rs: ReplicaSet): Promise<ReplicaSet>;
  /** A strategic-merge patch (adoption and release). */
  patchReplicaSet(namespace: string, name: string, patch: unknown): Promise<ReplicaSet>;
  deleteReplicaSet(namespace: string, name: string): Promise<void>;
}

/** Annotation changes from `from` to `to` as a JSON merge patch map (null deletes). */
function annotationPatch(from: Record<string, string> | undefined, to: Record<string, string> | undefined): Record<string, string | null> {
  const patch: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(to ?? {})) if (from?.[k] !== v) patch[k] = v;
  for (const k of Object.keys(from ?? {})) if (!Object.hasOwn(to ?? {}, k)) patch[k] = null;
  return patch;
}

/** {@link DeploymentApi} over REST. */
export function restDeploymentApi(rest: RestClient): DeploymentApi {
  const deployments = new ResourceClient<Deployment>(rest, DEPLOYMENTS);
  const replicaSets = new ResourceClient<ReplicaSet>(rest, REPLICA_SETS);
  return {
    getDeployment: (ns, name) => deployments.namespace(ns).get(name),
    updateDeployment: (d) => deployments.namespace(d.metadata?.namespace ?? "").update(d),
    async updateDeploymentStatus(d) {
      const client = deployments.namespace(d.metadata?.namespace ?? "");
      const stored = await client.updateStatus(d);
      // skiff's status subresource keeps status only, where upstream's Deployment status strategy also
      // keeps annotations: apply those with a merge patch, conditional on the version just written.
      const patch = annotationPatch(stored.metadata?.annotations, d.metadata?.annotations);
      if (Object.keys(patch).length === 0) return stored;
      return client.patch(d.metadata?.name ?? "", { metadata: { annotations: patch, resourceVersion: stored.metadata?.resourceVersion } }, { type: "merge" });
    },
    createReplicaSet: (ns, rs) => replicaSets.namespace(ns).create(rs),
    updateReplicaSet: (rs) => replicaSets.namespace(rs.metadata?.namespace ?? "").update(rs),
    patchReplicaSet: (ns, name, patch) => replicaSets.namespace(ns).patch(name, patch, { type: "strategic" }),
    deleteReplicaSet: (ns, name) => replicaSets.namespace(ns).delete(name),
  };
}
