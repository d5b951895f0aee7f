/**
 * One sync of one Deployment, as upstream's `syncDeployment` and sync.go:
 * re-read it from the cache, claim its ReplicaSets, then in upstream's
 * order of precedence: deletion (status only), pause (scale only),
 * rollback (the deprecated rollbackTo annotation), scaling events
 * (proportional scaling), and otherwise the rollout of its strategy
 * (rolling.ts, recreate.ts). Every write goes through the API; a failure
 * rejects so the key is retried with backoff.
 */
import type { Deployment, ReplicaSet } from "kubernetes-types/apps/v1.js";
import type { ObjectReference, Pod } from "kubernetes-types/core/v1.js";
import type { LabelSelector as MetaLabelSelector } from "kubernetes-types/meta/v1.js";
import type { Clock } from "../../machinery/clock.js";
import { type LabelSelector, selectorFromObject } from "../../machinery/labels.js";
import type { Logger } from "../../machinery/log.js";
import { ownerReference } from "../common/controller-ref.js";
import { recheckDeletionTimestamp } from "../common/controller-ref-manager.js";
import { errorMessage } from "../common/errors.js";
import { POD_CONTROLLER_UID_INDEX } from "../common/indexers.js";
import type { PodEventRecorder } from "../common/pod-control.js";
import { getDesiredReplicasAnnotation } from "./annotations.js";
import type { DeploymentApi } from "./api.js";
import { ReplicaSetControllerRefManager } from "./claim.js";
import {
  DEPLOYMENT_PROGRESSING,
  getDeploymentCondition,
  hasProgressDeadline,
  newDeploymentCondition,
  PAUSED_DEPLOY_REASON,
  RESUMED_DEPLOY_REASON,
  setDeploymentCondition,
  TIMED_OUT_REASON,
} from "./conditions.js";
import { RECREATE, ROLLING_UPDATE, specReplicas } from "./fenceposts.js";
import { DEPLOYMENT_GVK, keyOf, REPLICA_SET_GVK, SCALE_ACTION, SCALING_REPLICA_SET_REASON } from "./kinds.js";
import { getNewReplicaSet } from "./new-replica-set.js";
import { rolloutStatus, stuckRequeueDelay } from "./progress.js";
import { rolloutRecreate } from "./recreate.js";
import { filterActiveReplicaSets, findOldReplicaSets } from "./replica-sets.js";
import { getRollbackTo, rollback } from "./rollback.js";
import { rolloutRolling } from "./rolling.js";
import { cleanupDeployment, scale, scaleReplicaSetAndRecordEvent } from "./scale.js";
import { calculateStatus, statusEqual, wireStatus } from "./status.js";

/** Pods by the uid of the ReplicaSet that controls them (upstream's podMap). */
export type PodMap = Map<string, Pod[]>;

/** The cached ReplicaSets a sync reads. */
export interface ReplicaSetCache {
  /** ReplicaSets of one namespace. */
  byNamespace(namespace: string): ReplicaSet[];
  /** The ReplicaSet with key `ns/name`. */
  get(key: string): ReplicaSet | undefined;
}

/** The cached pods a sync reads: needs {@link POD_CONTROLLER_UID_INDEX}. */
export interface PodCache {
  byIndex(index: string, value: string): Pod[];
}

/** What a sync works with. */
export interface DeploymentSyncDeps {
  /** The cached Deployment with key `ns/name`. */
  readonly getDeployment: (key: string) => Deployment | undefined;
  readonly replicaSets: ReplicaSetCache;
  readonly pods: PodCache;
  readonly api: DeploymentApi;
  readonly recorder: PodEventRecorder;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Queues `key` again after `ms`. */
  enqueueAfter(key: string, ms: number): void;
  /** Queues `key` again after its rate limiter's delay. */
  enqueueRateLimited(key: string): void;
}

/**
 * Whether a selector selects everything: present, without labels or
 * expressions (upstream's `DeepEqual(selector, &LabelSelector{})`; the API
 * server's round trip turns an empty matchLabels into none).
 */
function selectsEverything(sel: MetaLabelSelector | undefined): boolean {
  return !!sel && Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0;
}

/** The sync logic of the Deployment controller. */
export class DeploymentSyncer {
  constructor(readonly deps: DeploymentSyncDeps) {}

  get log(): Logger {
    return this.deps.logger;
  }

  get api(): DeploymentApi {
    return this.deps.api;
  }

  /** Now, on the injected clock. */
  now(): number {
    return this.deps.clock.now();
  }

  /** The reference events about `d` point at. */
  ref(d: Deployment): ObjectReference {
    return ownerReference(d.metadata, DEPLOYMENT_GVK);
  }

  /** Records an event about `d`. */
  event(d: Deployment, type: "Normal" | "Warning", reason: string, action: string, note: string, ...args: unknown[]): void {
    this.deps.recorder.eventf(this.ref(d), undefined, type, reason, action, note, ...args);
  }

  /**
   * Records a ScalingReplicaSet event about `d`, related to the scaled
   * ReplicaSet as stored by the scale. events.k8s.io merges events that
   * differ only in their note into one series; upstream's core/v1 recorder
   * keeps differently worded ones apart. Each scale stores a new version
   * of the ReplicaSet, so relating to that version keeps every scale its
   * own event, as `kubectl describe deployment` shows upstream.
   */
  scalingEvent(d: Deployment, rs: ReplicaSet, note: string, ...args: unknown[]): void {
    this.deps.recorder.eventf(this.ref(d), ownerReference(rs.metadata, REPLICA_SET_GVK), "Normal", SCALING_REPLICA_SET_REASON, SCALE_ACTION, note, ...args);
  }

  /**
   * Syncs the Deployment with `key`; never called concurrently for one key.
   * Rejects when something must be retried.
   */
  async syncDeployment(key: string): Promise<void> {
    const start = this.now();
    this.log.debug("Started syncing deployment", { deployment: key });
    try {
      await this.sync(key);
    } finally {
      this.log.debug("Finished syncing deployment", { deployment: key, durationMs: this.now() - start });
    }
  }

  private async sync(key: string): Promise<void> {
    const cached = this.deps.getDeployment(key);
    if (!cached) {
      this.log.debug("Deployment has been deleted", { deployment: key });
      return;
    }
    // The cache's objects are shared: work on a copy.
    const d = structuredClone(cached);
    d.metadata ??= {};
    if (selectsEverything(d.spec?.selector)) {
      this.event(d, "Warning", "SelectingAll", "Select", "This deployment is selecting all pods. A non-empty selector is required.");
      if ((d.status?.observedGeneration ?? 0) < (d.metadata.generation ?? 0)) {
        d.status = { ...(d.status ?? {}), observedGeneration: d.metadata.generation };
        // As upstream, a failure here is not retried: the next change of the Deployment syncs again.
        await this.api.updateDeploymentStatus(d).catch(() => undefined);
      }
      return;
    }
    // The ReplicaSets it owns, adopting and releasing by selector and controllerRef.
    const rsList = await this.getReplicaSetsForDeployment(d);
    if (d.metadata.deletionTimestamp) return this.syncStatusOnly(d, rsList);
    // Paused or resumed is recorded in Progressing, so a resumed rollout does not time out at once.
    await this.checkPausedConditions(d);
    if (d.spec?.paused) return this.syncScale(d, rsList);
    // Not re-entrant: the annotation must be gone before ReplicaSets are touched again.
    if (getRollbackTo(d) !== undefined) return rollback(this, d, rsList);
    if (await this.isScalingEvent(d, rsList)) return this.syncScale(d, rsList);
    const type = d.spec?.strategy?.type;
    switch (type) {
      case RECREATE:
        return rolloutRecreate(this, d, rsList, this.getPodMapForDeployment(d, rsList));
      case ROLLING_UPDATE:
        return rolloutRolling(this, d, rsList);
    }
    throw new Error(`unexpected deployment strategy type: ${type ?? ""}`);
  }

  /**
   * The ReplicaSets `d` owns, after adopting matching orphans and releasing
   * owned ones that stopped matching (upstream's
   * `getReplicaSetsForDeployment`). Before the first adoption the
   * Deployment is re-read live, so one deleted meanwhile adopts nothing
   * (kubernetes#42639).
   */
  async getReplicaSetsForDeployment(d: Deployment): Promise<ReplicaSet[]> {
    const m = d.metadata ?? {};
    // All of the namespace's, to find owned ones that no longer match.
    const rsList = this.deps.replicaSets.byNamespace(m.namespace ?? "");
    let selector: LabelSelector | undefined;
    try {
      selector = selectorFromObject(d.spec?.selector);
    } catch (err) {
      throw new Error(`deployment ${m.namespace}/${m.name} has invalid label selector: ${errorMessage(err)}`, { cause: err });
    }
    const canAdopt = recheckDeletionTimestamp(async () => {
      const fresh = await this.api.getDeployment(m.namespace ?? "", m.name ?? "");
      if (fresh.metadata?.uid !== m.uid) {
        throw new Error(`original Deployment ${m.namespace}/${m.name} is gone: got uid ${fresh.metadata?.uid ?? ""}, wanted ${m.uid ?? ""}`);
      }
      return fresh;
    });
    const manager = new ReplicaSetControllerRefManager(this.api, { controller: m, selector, controllerKind: DEPLOYMENT_GVK, canAdopt });
    const { claimed, error } = await manager.claimReplicaSets(rsList);
    if (error) throw error;
    return claimed;
  }

  /**
   * The pods of `d`'s ReplicaSets, by ReplicaSet uid, inactive ones
   * included: Recreate must see that no old pod runs before it scales up
   * (upstream's `getPodMapForDeployment`). Read from the pod index by
   * controller uid rather than by listing the namespace.
   */
  getPodMapForDeployment(d: Deployment, rsList: readonly ReplicaSet[]): PodMap {
    let selector: LabelSelector | undefined;
    try {
      selector = selectorFromObject(d.spec?.selector);
    } catch {
      selector = undefined;
    }
    const podMap: PodMap = new Map();
    for (const rs of rsList) {
      const uid = rs.metadata?.uid ?? "";
      const pods = this.deps.pods
        .byIndex(POD_CONTROLLER_UID_INDEX, uid)
        .filter((p) => p.metadata?.namespace === d.metadata?.namespace && !!selector?.matches(p.metadata?.labels));
      podMap.set(uid, pods);
    }
    return podMap;
  }

  // ---- sync.go ----

  /** Only writes the status (a Deployment being deleted). */
  async syncStatusOnly(d: Deployment, rsList: ReplicaSet[]): Promise<void> {
    const [newRS, oldRSs] = await this.getAllReplicaSetsAndSyncRevision(d, rsList, false);
    await this.syncDeploymentStatus([...oldRSs, newRS], newRS, d);
  }

  /**
   * Reconciles a scaling event or a paused Deployment (upstream's `sync`):
   * scale proportionally, prune history while paused, write the status.
   */
  async syncScale(d: Deployment, rsList: ReplicaSet[]): Promise<void> {
    const [newRS, oldRSs] = await this.getAllReplicaSetsAndSyncRevision(d, rsList, false);
    await this.scale(d, newRS, oldRSs);
    if (d.spec?.paused && getRollbackTo(d) === undefined) await this.cleanupDeployment(oldRSs, d);
    await this.syncDeploymentStatus([...oldRSs, newRS], newRS, d);
  }

  /**
   * Records pause and resume in the Progressing condition (Unknown,
   * DeploymentPaused / DeploymentResumed), unless it already reports a
   * timeout (upstream's `checkPausedConditions`).
   */
  async checkPausedConditions(d: Deployment): Promise<void> {
    if (!hasProgressDeadline(d)) return;
    const cond = getDeploymentCondition(d.status, DEPLOYMENT_PROGRESSING);
    if (cond?.reason === TIMED_OUT_REASON) return;
    const pausedCondExists = cond?.reason === PAUSED_DEPLOY_REASON;
    const status = (d.status ??= {});
    if (d.spec?.paused && !pausedCondExists) {
      setDeploymentCondition(status, newDeploymentCondition(DEPLOYMENT_PROGRESSING, "Unknown", PAUSED_DEPLOY_REASON, "Deployment is paused", this.now()));
    } else if (!d.spec?.paused && pausedCondExists) {
      setDeploymentCondition(status, newDeploymentCondition(DEPLOYMENT_PROGRESSING, "Unknown", RESUMED_DEPLOY_REASON, "Deployment is resumed", this.now()));
    } else {
      return;
    }
    await this.updateStatus(d);
  }

  /**
   * The new ReplicaSet (created if `createIfNotExisted` and missing) and
   * all old ones, with the revisions of the new ReplicaSet and of `d`
   * brought up to date (upstream's `getAllReplicaSetsAndSyncRevision`).
   */
  async getAllReplicaSetsAndSyncRevision(d: Deployment, rsList: ReplicaSet[], createIfNotExisted: boolean): Promise<[ReplicaSet | undefined, ReplicaSet[]]> {
    const [, allOldRSs] = findOldReplicaSets(d, rsList);
    const newRS = await this.getNewReplicaSet(d, rsList, allOldRSs, createIfNotExisted);
    return [newRS, allOldRSs];
  }

  /** See {@link getNewReplicaSet}. */
  getNewReplicaSet(d: Deployment, rsList: ReplicaSet[], oldRSs: ReplicaSet[], createIfNotExisted: boolean): Promise<ReplicaSet | undefined> {
    return getNewReplicaSet(this, d, rsList, oldRSs, createIfNotExisted);
  }

  /** See {@link scale}. */
  scale(d: Deployment, newRS: ReplicaSet | undefined, oldRSs: ReplicaSet[]): Promise<void> {
    return scale(this, d, newRS, oldRSs);
  }

  /** See {@link scaleReplicaSetAndRecordEvent}. */
  scaleReplicaSetAndRecordEvent(rs: ReplicaSet, newScale: number, d: Deployment): Promise<[scaled: boolean, rs: ReplicaSet]> {
    return scaleReplicaSetAndRecordEvent(this, rs, newScale, d);
  }

  /** See {@link cleanupDeployment}. */
  cleanupDeployment(oldRSs: readonly ReplicaSet[], d: Deployment): Promise<void> {
    return cleanupDeployment(this, oldRSs, d);
  }

  /** Writes the status computed from the ReplicaSets if it changed (upstream's `syncDeploymentStatus`). */
  async syncDeploymentStatus(allRSs: readonly (ReplicaSet | undefined)[], newRS: ReplicaSet | undefined, d: Deployment): Promise<void> {
    const newStatus = calculateStatus(allRSs, newRS, d, this.now());
    if (statusEqual(d.status, newStatus)) return;
    d.status = newStatus;
    await this.updateStatus(d);
  }

  /**
   * Writes the rollout status (upstream's `syncRolloutStatus`); when
   * nothing changed, schedules the look that tells a stuck rollout from a
   * slow one.
   */
  async syncRolloutStatus(allRSs: readonly (ReplicaSet | undefined)[], newRS: ReplicaSet | undefined, d: Deployment): Promise<void> {
    const now = this.now();
    const newStatus = rolloutStatus(allRSs, newRS, d, now);
    if (statusEqual(d.status, newStatus)) {
      this.requeueStuckDeployment(d, newStatus, now);
      return;
    }
    d.status = newStatus;
    await this.updateStatus(d);
  }

  /** See {@link stuckRequeueDelay}; returns the delay it queued with (-1: none). */
  requeueStuckDeployment(d: Deployment, newStatus: Deployment["status"], now: number): number {
    const after = stuckRequeueDelay(d, newStatus ?? {}, now);
    if (after < 0) return after;
    const key = keyOf(d);
    if (after === 0) {
      // Rate-limited, to stay on the safe side: it turns Complete or TimedOut soon.
      this.log.debug("Queueing up deployment for a progress check now", { deployment: key });
      this.deps.enqueueRateLimited(key);
      return 0;
    }
    this.log.debug("Queueing up deployment for a progress check", { deployment: key, queueAfterSeconds: Math.trunc(after / 1000) });
    // A second more, against millisecond skew in addAfter (kubernetes#39785).
    this.deps.enqueueAfter(key, after + 1000);
    return after;
  }

  /**
   * Whether `d` was scaled since its active ReplicaSets were last sized:
   * their desired-replicas annotation differs from spec.replicas (upstream's
   * `isScalingEvent`).
   */
  async isScalingEvent(d: Deployment, rsList: ReplicaSet[]): Promise<boolean> {
    const [newRS, oldRSs] = await this.getAllReplicaSetsAndSyncRevision(d, rsList, false);
    for (const rs of filterActiveReplicaSets([...oldRSs, newRS])) {
      const desired = getDesiredReplicasAnnotation(rs, this.log);
      if (desired === undefined) continue;
      if (desired !== specReplicas(d)) return true;
    }
    return false;
  }

  /**
   * Upstream's `UpdateStatus(d)`. Later writes of the same sync build on
   * the version just stored instead of failing on the stale cached one.
   */
  async updateStatus(d: Deployment): Promise<void> {
    // Zero counts left out, as Go's omitempty writes them.
    const stored = await this.api.updateDeploymentStatus({ ...d, status: wireStatus(d.status) });
    const rv = stored.metadata?.resourceVersion;
    // metadata.resourceVersion is read-only in kubernetes-types: replace the metadata object instead.
    if (rv) d.metadata = { ...(d.metadata ?? {}), resourceVersion: rv };
  }
}
