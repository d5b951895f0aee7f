/**
 * Claiming objects for a controller, as upstream's ControllerRefManager
 * (pkg/controller/controller_ref_manager.go):
 * - an orphan matching the selector is adopted (a patch adding the
 *   controllerRef), unless the controller is being deleted, the object is
 *   being deleted, or it lives in another namespace; before the first
 *   adoption of a pass, `canAdopt` re-reads the controller from the API
 *   (upstream's RecheckDeletionTimestamp) so a controller deleted after
 *   the cache was read adopts nothing;
 * - an owned object that no longer matches is released (a patch removing
 *   the controllerRef), unless the controller is being deleted;
 * - objects controlled by anyone else are left alone.
 * Both patches carry the object's uid, so they fail rather than touch a
 * same-named successor.
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import type { ObjectMeta } from "kubernetes-types/meta/v1.js";
import type { KubeObject } from "../../client/resource-client.js";
import type { LabelSelector } from "../../machinery/labels.js";
import { isInvalid, isNotFound } from "../../machinery/status-error.js";
import { getControllerOf, type GroupVersionKind } from "./controller-ref.js";
import { aggregate, errorMessage } from "./errors.js";
import type { PodControl } from "./pod-control.js";
import { goTimeString } from "./time.js";

/** A check run at most once per manager before the first adoption; rejects to forbid adoption. */
export type CanAdoptFunc = () => Promise<void>;

/**
 * A canAdopt function that re-reads the controller (a live GET, not the
 * cache) and refuses adoption if it is being deleted (upstream's
 * `RecheckDeletionTimestamp`).
 */
export function recheckDeletionTimestamp(getObject: () => Promise<KubeObject>): CanAdoptFunc {
  return async () => {
    let obj: KubeObject;
    try {
      obj = await getObject();
    } catch (err) {
      throw new Error(`can't recheck DeletionTimestamp: ${errorMessage(err)}`, { cause: err });
    }
    const m = obj.metadata;
    if (m?.deletionTimestamp) throw new Error(`${m.namespace ?? ""}/${m.name ?? ""} has just been deleted at ${goTimeString(m.deletionTimestamp)}`);
  };
}

/** The adoption patch (upstream's `ownerRefControllerPatch`): a strategic merge adding the controllerRef, guarded by uid. */
export function ownerRefControllerPatch(controller: ObjectMeta, gvk: GroupVersionKind, uid: string, finalizers: readonly string[] = []): unknown {
  return {
    metadata: {
      ownerReferences: [
        { apiVersion: gvk.apiVersion, kind: gvk.kind, name: controller.name ?? "", uid: controller.uid ?? "", controller: true, blockOwnerDeletion: true },
      ],
      uid,
      ...(finalizers.length > 0 ? { finalizers: [...finalizers] } : {}),
    },
  };
}

/** The release patch (upstream's `GenerateDeleteOwnerRefStrategicMergeBytes`): deletes the owners' references, guarded by uid. */
export function deleteOwnerRefStrategicMergePatch(dependentUID: string, ownerUIDs: readonly string[], finalizers: readonly string[] = []): unknown {
  return {
    metadata: {
      uid: dependentUID,
      ownerReferences: ownerUIDs.map((uid) => ({ $patch: "delete", uid })),
      ...(finalizers.length > 0 ? { "$deleteFromPrimitiveList/finalizers": [...finalizers] } : {}),
    },
  };
}

/** What a claim pass ended with: the objects now owned, and the failures, if any (the caller should retry later). */
export interface ClaimResult<T> {
  readonly claimed: T[];
  readonly error?: Error;
}

/** Options of a controller ref manager. */
export interface ControllerRefManagerOptions {
  /** The controller's metadata (uid, namespace, name, deletionTimestamp). */
  readonly controller: ObjectMeta;
  /** Its selector: undefined selects nothing. */
  readonly selector: LabelSelector | undefined;
  readonly controllerKind: GroupVersionKind;
  readonly canAdopt?: CanAdoptFunc;
  /** Finalizers added on adoption and removed on release (Job's tracking finalizer; none for ReplicaSets). */
  readonly finalizers?: readonly string[];
}

/** The claim logic for any kind of dependent (upstream's `BaseControllerRefManager`). */
export class BaseControllerRefManager {
  private canAdoptOnce: Promise<void> | undefined;

  constructor(readonly opts: ControllerRefManagerOptions) {}

  /** Runs canAdopt at most once for this manager; rejects when adoption is not allowed. */
  canAdopt(): Promise<void> {
    this.canAdoptOnce ??= this.opts.canAdopt ? this.opts.canAdopt() : Promise.resolve();
    return this.canAdoptOnce;
  }

  /**
   * Reconciles ownership of one object; resolves whether the controller
   * now owns it. Rejects when an adoption or release was attempted and
   * failed (NotFound is not a failure: the object is simply gone).
   */
  async claimObject(
    obj: KubeObject,
    match: (obj: KubeObject) => boolean,
    adopt: (obj: KubeObject) => Promise<void>,
    release: (obj: KubeObject) => Promise<void>,
  ): Promise<boolean> {
    const controller = this.opts.controller;
    const ref = getControllerOf(obj);
    if (ref) {
      // Owned by someone else: not ours to touch.
      if (ref.uid !== controller.uid) return false;
      // Already ours and matching; still fine while being deleted, as it takes no action.
      if (match(obj)) return true;
      // Ours but no longer matching: release, unless we are being deleted.
      if (controller.deletionTimestamp) return false;
      try {
        await release(obj);
      } catch (err) {
        if (isNotFound(err)) return false;
        throw err;
      }
      return false;
    }
    // An orphan.
    if (controller.deletionTimestamp || !match(obj)) return false;
    if (obj.metadata?.deletionTimestamp) return false;
    if (controller.namespace && controller.namespace !== obj.metadata?.namespace) return false;
    try {
      await adopt(obj);
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
    return true;
  }
}

/** Claims pods for a controller (upstream's `PodControllerRefManager`). */
export class PodControllerRefManager extends BaseControllerRefManager {
  constructor(
    private readonly podControl: PodControl,
    opts: ControllerRefManagerOptions,
  ) {
    super(opts);
  }

  /**
   * Adopts matching orphans and releases owned pods that stopped matching,
   * one pod at a time; `filters` narrow what matches. Returns the pods the
   * controller owns afterwards, and the aggregated failures.
   */
  async claimPods(pods: readonly Pod[], ...filters: ((pod: Pod) => boolean)[]): Promise<ClaimResult<Pod>> {
    const claimed: Pod[] = [];
    const errors: unknown[] = [];
    const selector = this.opts.selector;
    const match = (obj: KubeObject) => {
      const pod = obj as Pod;
      // Selector first, so filters only run on pods that could match.
      if (!selector?.matches(pod.metadata?.labels)) return false;
      return filters.every((f) => f(pod));
    };
    const uid = this.opts.controller.uid;
    for (const pod of pods) {
      // The common cases decided in place (claimObject's first branch), without an await per pod:
      // with thousands of pods per sync the promise turns alone would dominate.
      const ref = getControllerOf(pod);
      if (ref) {
        if (ref.uid !== uid) continue;
        if (match(pod)) {
          claimed.push(pod);
          continue;
        }
      }
      try {
        if (
          await this.claimObject(
            pod,
            match,
            (o) => this.adoptPod(o as Pod),
            (o) => this.releasePod(o as Pod),
          )
        ) {
          claimed.push(pod);
        }
      } catch (err) {
        errors.push(err);
      }
    }
    return { claimed, error: aggregate(errors) };
  }

  /** Patches the controllerRef onto `pod` (after canAdopt). */
  async adoptPod(pod: Pod): Promise<void> {
    const m = pod.metadata ?? {};
    try {
      await this.canAdopt();
    } catch (err) {
      throw new Error(`can't adopt Pod ${m.namespace ?? ""}/${m.name ?? ""} (${m.uid ?? ""}): ${errorMessage(err)}`, { cause: err });
    }
    // The API server rejects this if another ownerReference already has controller=true.
    const patch = ownerRefControllerPatch(this.opts.controller, this.opts.controllerKind, m.uid ?? "", this.opts.finalizers);
    await this.podControl.patchPod(m.namespace ?? "", m.name ?? "", patch);
  }

  /** Patches the controllerRef off `pod`; a pod gone or replaced (NotFound, Invalid) counts as released. */
  async releasePod(pod: Pod): Promise<void> {
    const m = pod.metadata ?? {};
    const patch = deleteOwnerRefStrategicMergePatch(m.uid ?? "", [this.opts.controller.uid ?? ""], this.opts.finalizers);
    try {
      await this.podControl.patchPod(m.namespace ?? "", m.name ?? "", patch);
    } catch (err) {
      // Invalid: the pod has no ownerReferences left, or its uid changed (deleted and re-created).
      if (isNotFound(err) || isInvalid(err)) return;
      throw err;
    }
  }
}
