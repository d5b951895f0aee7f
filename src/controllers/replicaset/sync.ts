/**
 * One sync of one ReplicaSet (or ReplicationController seen as one), as
 * upstream's `syncReplicaSet`: re-read it from the cache, claim its pods
 * (adopt matching orphans, release owned pods that stopped matching),
 * create or delete pods toward spec.replicas once the last round's
 * expectations are met, and write the status.
 */
import type { ReplicaSet } from "kubernetes-types/apps/v1.js";
import type { Pod } from "kubernetes-types/core/v1.js";
import type { SharedInformer } from "../../client/informer.js";
import { splitKey } from "../../client/store.js";
import type { Clock } from "../../machinery/clock.js";
import { type LabelSelector, selectorFromObject } from "../../machinery/labels.js";
import type { Logger } from "../../machinery/log.js";
import { isNotFound } from "../../machinery/status-error.js";
import type { RankingFeatures } from "../common/active-pods.js";
import { getControllerOf, newControllerRef, ownerReference } from "../common/controller-ref.js";
import { type ClaimResult, PodControllerRefManager, recheckDeletionTimestamp } from "../common/controller-ref-manager.js";
import { errorMessage } from "../common/errors.js";
import type { UIDTrackingControllerExpectations } from "../common/expectations.js";
import { filterPodsByOwner } from "../common/indexers.js";
import { hasStatusCause, NAMESPACE_TERMINATING_CAUSE, type PodControl } from "../common/pod-control.js";
import { filterActivePods, podKey } from "../common/pod-utils.js";
import { SLOW_START_INITIAL_BATCH_SIZE, slowStartBatch } from "../common/slow-start.js";
import type { ReplicaSetKind } from "./kind.js";
import { getPodsToDelete } from "./pods-to-delete.js";
import { calculateStatus, type ReplicaSetApi, updateReplicaSetStatus } from "./status.js";

/** Upstream's `BurstReplicas`: at most this many creates or deletes per sync. */
export const BURST_REPLICAS = 500;

/** Cached owners, in their ReplicaSet form. */
export interface ReplicaSetLister {
  /** The owner with key `ns/name`. */
  get(key: string): ReplicaSet | undefined;
  /** Owners whose controllerRef has this uid (the ReplicaSets of one Deployment). */
  byControllerUID(uid: string): ReplicaSet[];
}

/** What a sync works with. */
export interface SyncDeps {
  readonly kind: Pick<ReplicaSetKind<never>, "gvk" | "ranksByRelatedOwners">;
  readonly rsLister: ReplicaSetLister;
  /** The shared pod informer, with the pod controller-uid index. */
  readonly pods: SharedInformer<Pod>;
  readonly podControl: PodControl;
  readonly api: ReplicaSetApi;
  readonly expectations: UIDTrackingControllerExpectations;
  readonly burstReplicas: number;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly rankingFeatures?: RankingFeatures;
  /** Queues `key` again after `ms`. */
  enqueueAfter(key: string, ms: number): void;
}

/** The sync logic of one controller (one kind). */
export class ReplicaSetSyncer {
  constructor(private readonly d: SyncDeps) {}

  /**
   * Syncs the owner with `key`. Rejects (so the key is retried with
   * backoff) when claiming, managing pods or writing status failed.
   */
  async syncReplicaSet(key: string): Promise<void> {
    const start = this.d.clock.now();
    try {
      await this.sync(key);
    } finally {
      this.d.logger.debug("finished syncing", { kind: this.d.kind.gvk.kind, key, durationMs: this.d.clock.now() - start });
    }
  }

  private async sync(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const rs = this.d.rsLister.get(key);
    if (!rs) {
      this.d.logger.debug("deleted", { kind: this.d.kind.gvk.kind, key });
      this.d.expectations.deleteExpectations(key);
      return;
    }
    const rsNeedsSync = this.d.expectations.satisfiedExpectations(key);
    let selector: LabelSelector | undefined;
    try {
      selector = selectorFromObject(rs.spec?.selector);
    } catch (err) {
      // A selector that cannot be parsed will not parse on a retry either.
      this.d.logger.error("error converting pod selector to selector", { kind: this.d.kind.gvk.kind, rs: `${namespace}/${name}`, err: errorMessage(err) });
      return;
    }
    // Pods it controls plus the namespace's orphans: everything it could claim (the index spares a namespace scan).
    const activePods = filterActivePods(filterPodsByOwner(this.d.pods, rs.metadata));
    const claim = await this.claimPods(rs, selector, activePods);
    if (claim.error) throw claim.error;
    const filteredPods = claim.claimed;

    let manageReplicasErr: unknown;
    if (rsNeedsSync && !rs.metadata?.deletionTimestamp) manageReplicasErr = await this.manageReplicas(filteredPods, rs);
    const newStatus = calculateStatus(rs, filteredPods, manageReplicasErr, this.d.clock.now());
    // Status is written on every sync that changes it, as pods come up or go.
    const updated = await updateReplicaSetStatus(this.d.api, rs, newStatus, this.d.kind.gvk.kind, this.d.logger);
    // Resync after minReadySeconds as a last line of defence against clock skew.
    const minReady = updated.spec?.minReadySeconds ?? 0;
    const replicas = updated.spec?.replicas ?? 1;
    if (
      manageReplicasErr === undefined &&
      minReady > 0 &&
      (updated.status?.readyReplicas ?? 0) === replicas &&
      (updated.status?.availableReplicas ?? 0) !== replicas
    ) {
      this.d.enqueueAfter(key, minReady * 1000);
    }
    if (manageReplicasErr !== undefined) throw manageReplicasErr;
  }

  /** Adopts and releases pods for `rs`, re-reading it live before the first adoption (upstream's claimPods). */
  claimPods(rs: ReplicaSet, selector: LabelSelector | undefined, pods: readonly Pod[]): Promise<ClaimResult<Pod>> {
    const m = rs.metadata ?? {};
    const kind = this.d.kind.gvk.kind;
    // A cached owner may already be deleted: a quorum read decides before adopting (kubernetes#42639).
    const canAdopt = recheckDeletionTimestamp(async () => {
      const fresh = await this.d.api.get(m.namespace ?? "", m.name ?? "");
      if (fresh.metadata?.uid !== m.uid) {
        throw new Error(`original ${kind} ${m.namespace}/${m.name} is gone: got uid ${fresh.metadata?.uid ?? ""}, wanted ${m.uid ?? ""}`);
      }
      return fresh;
    });
    const manager = new PodControllerRefManager(this.d.podControl, { controller: m, selector, controllerKind: this.d.kind.gvk, canAdopt });
    return manager.claimPods(pods);
  }

  /**
   * Creates or deletes pods to bring `filteredPods` to spec.replicas, at
   * most {@link SyncDeps.burstReplicas} per call; resolves the first
   * failure (undefined when all went well). Never modifies `filteredPods`.
   */
  async manageReplicas(filteredPods: readonly Pod[], rs: ReplicaSet): Promise<unknown> {
    const m = rs.metadata ?? {};
    const key = `${m.namespace ?? ""}/${m.name ?? ""}`;
    const ns = m.namespace ?? "";
    const want = rs.spec?.replicas ?? 1;
    let diff = filteredPods.length - want;
    const owner = ownerReference(m, this.d.kind.gvk);
    if (diff < 0) {
      diff = Math.min(-diff, this.d.burstReplicas);
      // Expect before creating: the informer may show a new pod before its create call returns.
      this.d.expectations.expectCreations(key, diff);
      this.d.logger.debug("too few replicas", { kind: this.d.kind.gvk.kind, rs: key, need: want, creating: diff });
      const controllerRef = newControllerRef(m, this.d.kind.gvk);
      // Slow start: a create that fails (quota, admission) fails once, not `diff` times, and raises one event, not `diff`.
      const { successes, error } = await slowStartBatch(diff, SLOW_START_INITIAL_BATCH_SIZE, async () => {
        try {
          await this.d.podControl.createPods(ns, rs.spec?.template, owner, controllerRef);
        } catch (err) {
          // Every create in a terminating namespace fails: nothing to do, nothing to report.
          if (hasStatusCause(err, NAMESPACE_TERMINATING_CAUSE)) return;
          throw err;
        }
      });
      // Creates never attempted (or failed) will never be observed; the next sync retries them.
      const skipped = diff - successes;
      if (skipped > 0) {
        this.d.logger.debug("slow-start failure: skipping creation of pods, decrementing expectations", { skipped, kind: this.d.kind.gvk.kind, rs: key });
        for (let i = 0; i < skipped; i++) this.d.expectations.creationObserved(key);
      }
      return error;
    }
    if (diff > 0) {
      diff = Math.min(diff, this.d.burstReplicas);
      this.d.logger.debug("too many replicas", { kind: this.d.kind.gvk.kind, rs: key, need: want, deleting: diff });
      const relatedPods = this.getIndirectlyRelatedPods(rs);
      // Prefer pods in earlier phases of startup.
      const podsToDelete = getPodsToDelete(filteredPods, relatedPods, diff, this.d.clock.now(), this.d.rankingFeatures);
      // Remember exactly which pods go, so each is counted once: as the deletionTimestamp update or as the delete.
      this.d.expectations.expectDeletions(key, podsToDelete.map(podKey));
      const errors: unknown[] = [];
      await Promise.all(
        podsToDelete.map(async (pod) => {
          try {
            await this.d.podControl.deletePod(ns, pod.metadata?.name ?? "", owner);
          } catch (err) {
            // The informer will not observe this deletion.
            this.d.expectations.deletionObserved(key, podKey(pod));
            if (!isNotFound(err)) {
              this.d.logger.debug("failed to delete pod, decremented expectations", { pod: podKey(pod), kind: this.d.kind.gvk.kind, rs: key });
              errors.push(err);
            }
          }
        }),
      );
      // All were reported as events already and are likely alike: return the first.
      return errors[0];
    }
    return undefined;
  }

  /** The owners controlled by the same controller as `rs` (itself included). */
  getReplicaSetsWithSameController(rs: ReplicaSet): ReplicaSet[] {
    const ref = getControllerOf(rs);
    if (!ref) {
      this.d.logger.debug("ReplicaSet has no controller", { rs: `${rs.metadata?.namespace}/${rs.metadata?.name}` });
      return [];
    }
    return this.d.kind.ranksByRelatedOwners ? this.d.rsLister.byControllerUID(ref.uid) : [];
  }

  /** Active or not, the pods matched by any owner sharing `rs`'s controller, each once (upstream's getIndirectlyRelatedPods). */
  getIndirectlyRelatedPods(rs: ReplicaSet): Pod[] {
    const related: Pod[] = [];
    const seen = new Set<string>();
    for (const relatedRS of this.getReplicaSetsWithSameController(rs)) {
      let selector: LabelSelector | undefined;
      try {
        selector = selectorFromObject(relatedRS.spec?.selector);
      } catch {
        // An invalid selector matches no pods.
        continue;
      }
      if (!selector) continue;
      for (const pod of this.d.pods.byNamespace(relatedRS.metadata?.namespace ?? "")) {
        if (!selector.matches(pod.metadata?.labels)) continue;
        const uid = pod.metadata?.uid ?? podKey(pod);
        if (seen.has(uid)) continue;
        seen.add(uid);
        related.push(pod);
      }
    }
    return related;
  }
}
