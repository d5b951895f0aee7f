/**
 * Claiming ControllerRevisions for a controller, as upstream's
 * `ControllerRevisionControllerRefManager`: matching orphans are adopted,
 * owned revisions that stopped matching are released, each by a
 * strategic-merge patch of the ownerReferences guarded by the revision's
 * uid; the shared rules live in {@link BaseControllerRefManager}.
 */
import type { ControllerRevision } from "kubernetes-types/apps/v1.js";
import type { KubeObject } from "../../client/resource-client.js";
import { isInvalid, isNotFound } from "../../machinery/status-error.js";
import {
  BaseControllerRefManager,
  type ClaimResult,
  type ControllerRefManagerOptions,
  deleteOwnerRefStrategicMergePatch,
  ownerRefControllerPatch,
} from "../common/controller-ref-manager.js";
import { aggregate, errorMessage } from "../common/errors.js";

/** The one write claiming needs (upstream's `ControllerRevisionControlInterface`). */
export interface ControllerRevisionPatcher {
  /** A strategic-merge patch of a ControllerRevision. */
  patch(namespace: string, name: string, patch: unknown): Promise<unknown>;
}

/** Claims ControllerRevisions for one controller. */
export class ControllerRevisionControllerRefManager extends BaseControllerRefManager {
  constructor(
    private readonly crControl: ControllerRevisionPatcher,
    opts: ControllerRefManagerOptions,
  ) {
    super(opts);
  }

  /** Adopts and releases as needed; resolves the revisions owned afterwards with the aggregated failures (`ClaimControllerRevisions`). */
  async claimControllerRevisions(histories: readonly ControllerRevision[]): Promise<ClaimResult<ControllerRevision>> {
    const claimed: ControllerRevision[] = [];
    const errors: unknown[] = [];
    const selector = this.opts.selector;
    const match = (obj: KubeObject) => !!selector?.matches(obj.metadata?.labels);
    for (const h of histories) {
      try {
        if (
          await this.claimObject(
            h,
            match,
            (o) => this.adoptControllerRevision(o as ControllerRevision),
            (o) => this.releaseControllerRevision(o as ControllerRevision),
          )
        ) {
          claimed.push(h);
        }
      } catch (err) {
        errors.push(err);
      }
    }
    return { claimed, error: aggregate(errors) };
  }

  /** Patches the controllerRef onto `history` (after canAdopt). */
  async adoptControllerRevision(history: ControllerRevision): Promise<void> {
    const m = history.metadata ?? {};
    try {
      await this.canAdopt();
    } catch (err) {
      throw new Error(`can't adopt ControllerRevision ${m.namespace ?? ""}/${m.name ?? ""} (${m.uid ?? ""}): ${errorMessage(err)}`, { cause: err });
    }
    // The API server rejects this if another ownerReference already has controller=true.
    const patch = ownerRefControllerPatch(this.opts.controller, this.opts.controllerKind, m.uid ?? "");
    await this.crControl.patch(this.opts.controller.namespace ?? "", m.name ?? "", patch);
  }

  /** Patches the controllerRef off `history`; gone or no longer ours (NotFound, Invalid) counts as released. */
  async releaseControllerRevision(history: ControllerRevision): Promise<void> {
    const m = history.metadata ?? {};
    try {
      await this.crControl.patch(m.namespace ?? "", m.name ?? "", deleteOwnerRefStrategicMergePatch(m.uid ?? "", [this.opts.controller.uid ?? ""]));
    } catch (err) {
      if (isNotFound(err) || isInvalid(err)) return;
      throw err;
    }
  }
}
