/**
 * Claiming ReplicaSets for a Deployment, as upstream's
 * `ReplicaSetControllerRefManager` (controller_ref_manager.go): matching
 * orphans are adopted and owned ReplicaSets that stopped matching are
 * released, each by a strategic-merge patch of its ownerReferences guarded
 * by its uid; the shared rules live in {@link BaseControllerRefManager}.
 */
import type { ReplicaSet } from "kubernetes-types/apps/v1.js";
import { isInvalid, isNotFound } from "../../machinery/status-error.js";
import { type ClaimResult, BaseControllerRefManager, type ControllerRefManagerOptions, deleteOwnerRefStrategicMergePatch, ownerRefControllerPatch } from "../common/controller-ref-manager.js";
import { aggregate, errorMessage } from "../common/errors.js";
import type { KubeObject } from "../../client/resource-client.js";

/** The one write claiming needs. */
export interface ReplicaSetPatcher {
  /** A strategic-merge patch of a ReplicaSet. */
  patchReplicaSet(namespace: string, name: string, patch: unknown): Promise<unknown>;
}

/** Claims ReplicaSets for one Deployment. */
export class ReplicaSetControllerRefManager extends BaseControllerRefManager {
  constructor(
    private readonly rsControl: ReplicaSetPatcher,
    opts: ControllerRefManagerOptions,
  ) {
    super(opts);
  }

  /**
   * Adopts matching orphans and releases owned ReplicaSets that stopped
   * matching (upstream's `ClaimReplicaSets`); resolves those the
   * Deployment owns afterwards, with the aggregated failures.
   */
  async claimReplicaSets(sets: readonly ReplicaSet[]): Promise<ClaimResult<ReplicaSet>> {
    const claimed: ReplicaSet[] = [];
    const errors: unknown[] = [];
    const selector = this.opts.selector;
    const match = (obj: KubeObject) => !!selector?.matches(obj.metadata?.labels);
    for (const rs of sets) {
      try {
        if (
          await this.claimObject(
            rs,
            match,
            (o) => this.adoptReplicaSet(o as ReplicaSet),
            (o) => this.releaseReplicaSet(o as ReplicaSet),
          )
        ) {
          claimed.push(rs);
        }
      } catch (err) {
        errors.push(err);
      }
    }
    return { claimed, error: aggregate(errors) };
  }

  /** Patches the controllerRef onto `rs` (after canAdopt). */
  async adoptReplicaSet(rs: ReplicaSet): Promise<void> {
    const m = rs.metadata ?? {};
    try {
      await this.canAdopt();
    } catch (err) {
      throw new Error(`can't adopt ReplicaSet ${m.namespace ?? ""}/${m.name ?? ""} (${m.uid ?? ""}): ${errorMessage(err)}`, { cause: err });
    }
    // The API server rejects this if another ownerReference already has controller=true.
    await this.rsControl.patchReplicaSet(m.namespace ?? "", m.name ?? "", ownerRefControllerPatch(this.opts.controller, this.opts.controllerKind, m.uid ?? ""));
  }

  /** Patches the controllerRef off `rs`; a ReplicaSet gone or replaced (NotFound, Invalid) counts as released. */
  async releaseReplicaSet(rs: ReplicaSet): Promise<void> {
    const m = rs.metadata ?? {};
    try {
      await this.rsControl.patchReplicaSet(m.namespace ?? "", m.name ?? "", deleteOwnerRefStrategicMergePatch(m.uid ?? "", [this.opts.controller.uid ?? ""]));
    } catch (err) {
      // Invalid: no ownerReferences left, or the uid changed (deleted and re-created).
      if (isNotFound(err) || isInvalid(err)) return;
      throw err;
    }
  }
}
