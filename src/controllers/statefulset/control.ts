/**
 * The StatefulSet update loop, as upstream's stateful_set_control.go:
 * find or record the current and update revisions; then, for OrderedReady
 * sets, create missing pods in ordinal order, each only once all before it
 * are Running, Ready and available, and remove surplus pods from the
 * highest ordinal down, one at a time; Parallel sets do both in bursts. A
 * RollingUpdate then deletes, from the highest ordinal down to the
 * partition, up to maxUnavailable pods not at the update revision, to be
 * re-created from it; OnDelete leaves that to the user. Status is written
 * whenever it changed, and revisions beyond revisionHistoryLimit that no
 * pod uses are deleted.
 */
import type { ControllerRevision, StatefulSet, StatefulSetStatus } from "kubernetes-types/apps/v1.js";
import type { Pod } from "kubernetes-types/core/v1.js";
import type { Clock } from "../../machinery/clock.js";
import { selectorFromObject } from "../../machinery/labels.js";
import type { Logger } from "../../machinery/log.js";
import { isNotFound } from "../../machinery/status-error.js";
import { getControllerOf } from "../common/controller-ref.js";
import { AggregateErrors, aggregate } from "../common/errors.js";
import type { ControllerHistory } from "../history/controller-history.js";
import { equalRevision, findEqualRevisions, sortControllerRevisions } from "../history/history.js";
import { getEndOrdinal, getOrdinal, getStartOrdinal, identityMatches, podInOrdinalRange, specReplicas, storageMatches } from "./identity.js";
import { keyOf, ON_DELETE_STRATEGY, PARALLEL_POD_MANAGEMENT, STATEFUL_SET_GVK } from "./kinds.js";
import type { StatefulPodControl } from "./pod-control.js";
import { byOrdinal, isCreated, isFailed, isPending, isRunningAndAvailable, isRunningAndReady, isSucceeded, isTerminating, isUnavailable } from "./pod-state.js";
import {
  applyRevision,
  completeRollingUpdate,
  getPodRevision,
  getStatefulSetMaxUnavailable,
  inconsistentStatus,
  newRevision,
  newVersionedStatefulSetPod,
  nextRevision,
} from "./revisions.js";
import type { StatefulSetStatusUpdater } from "./status-updater.js";

/** Upstream's `MaxBatchSize`: at most this many pod calls in flight in Parallel mode. */
export const MAX_BATCH_SIZE = 500;

/** What the loop works with. */
export interface StatefulSetControlOptions {
  readonly podControl: StatefulPodControl;
  readonly statusUpdater: StatefulSetStatusUpdater;
  readonly history: ControllerHistory;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** What one step over a pod decided: stop the pass here (`exit`), and whether it failed. */
interface StepResult {
  readonly exit: boolean;
  readonly err?: unknown;
}

const CONTINUE: StepResult = { exit: false };
const EXIT: StepResult = { exit: true };

/** Whether the set's pods may be created and deleted in any order, at once (`allowsBurst`). */
export function allowsBurst(set: StatefulSet): boolean {
  return set.spec?.podManagementPolicy === PARALLEL_POD_MANAGEMENT;
}

/**
 * Upstream's statefulset `slowStartBatch`: calls `fn(0…remaining-1)` in
 * concurrent batches of 1, 2, 4, … (at most {@link MAX_BATCH_SIZE}); stops
 * after a batch with failures and rejects with them.
 */
async function slowStartBatch(initialBatchSize: number, remaining: number, fn: (i: number) => Promise<StepResult>): Promise<number> {
  let successes = 0;
  let j = 0;
  for (let batchSize = Math.min(remaining, initialBatchSize); batchSize > 0; batchSize = Math.min(2 * batchSize, remaining, MAX_BATCH_SIZE)) {
    const calls: Promise<StepResult>[] = [];
    for (let i = 0; i < batchSize; i++) calls.push(fn(j++));
    const results = await Promise.all(calls);
    const errors = results.filter((r) => r.err !== undefined).map((r) => r.err);
    successes += batchSize - errors.length;
    if (errors.length > 0) throw new AggregateErrors(errors);
    remaining -= batchSize;
  }
  return successes;
}

/** Runs `fn` over every index: in order, stopping at the first exit, when monotonic; in slow-start bursts otherwise (`runForAll`). */
async function runForAll(count: number, fn: (i: number) => Promise<StepResult>, monotonic: boolean): Promise<StepResult> {
  if (monotonic) {
    for (let i = 0; i < count; i++) {
      const r = await fn(i);
      if (r.exit || r.err !== undefined) return { exit: true, err: r.err };
    }
    return CONTINUE;
  }
  try {
    await slowStartBatch(1, count, fn);
  } catch (err) {
    return { exit: true, err };
  }
  return CONTINUE;
}

/** Replica counts of one list of pods (`computeReplicaStatus`). */
function computeReplicaStatus(pods: readonly Pod[], minReadySeconds: number, now: number, current: ControllerRevision, update: ControllerRevision) {
  const s = { replicas: 0, readyReplicas: 0, availableReplicas: 0, currentReplicas: 0, updatedReplicas: 0 };
  for (const pod of pods) {
    if (isCreated(pod)) s.replicas++;
    if (isRunningAndReady(pod)) {
      s.readyReplicas++;
      if (isRunningAndAvailable(pod, minReadySeconds, now)) s.availableReplicas++;
    }
    if (isCreated(pod) && !isTerminating(pod)) {
      const revision = getPodRevision(pod);
      if (revision === current.metadata?.name) s.currentReplicas++;
      if (revision === update.metadata?.name) s.updatedReplicas++;
    }
  }
  return s;
}

/** Recounts the replica fields of `status` over the pod lists (`updateStatus`). */
function updateStatus(status: StatefulSetStatus, minReadySeconds: number, now: number, current: ControllerRevision, update: ControllerRevision, ...podLists: (readonly Pod[])[]): void {
  status.replicas = 0;
  status.readyReplicas = 0;
  status.availableReplicas = 0;
  status.currentReplicas = 0;
  status.updatedReplicas = 0;
  for (const list of podLists) {
    const r = computeReplicaStatus(list, minReadySeconds, now, current, update);
    status.replicas += r.replicas;
    status.readyReplicas += r.readyReplicas;
    status.availableReplicas += r.availableReplicas;
    status.currentReplicas += r.currentReplicas;
    status.updatedReplicas += r.updatedReplicas;
  }
}

/** The outcome of a pass: the status to record (when known) and the failure, if any. */
interface PassResult {
  readonly status?: StatefulSetStatus;
  readonly err?: unknown;
}

/** The StatefulSet update loop (upstream's `defaultStatefulSetControl`). */
export class StatefulSetControl {
  constructor(private readonly o: StatefulSetControlOptions) {}

  private get log(): Logger {
    return this.o.logger;
  }

  /**
   * Brings `set`'s pods, claims and revisions toward its spec and records
   * its status (`UpdateStatefulSet`). Resolves the status computed; rejects
   * (so the set is retried) when anything failed.
   */
  async updateStatefulSet(original: StatefulSet, pods: readonly Pod[]): Promise<StatefulSetStatus | undefined> {
    // A new revision changes the copy; the cache's object must stay as it is.
    const set = structuredClone(original);
    const revisions = sortControllerRevisions(this.listRevisions(set));
    const r = await this.performUpdate(set, pods, revisions);
    let truncateErr: unknown;
    try {
      await this.truncateHistory(set, pods, revisions, r.current, r.update);
    } catch (err) {
      truncateErr = err;
    }
    if (r.err !== undefined) {
      const errs = r.err instanceof AggregateErrors ? [...r.err.errors] : [r.err];
      if (truncateErr !== undefined) errs.push(truncateErr);
      throw aggregate(errs);
    }
    if (truncateErr !== undefined) throw truncateErr;
    return r.status;
  }

  /** The revisions of `set`: owned by it or by no controller, matching its selector (`ListRevisions`). */
  listRevisions(set: StatefulSet): ControllerRevision[] {
    const selector = selectorFromObject(set.spec?.selector);
    if (!selector) return [];
    return this.o.history.listControllerRevisions(set.metadata ?? {}, selector);
  }

  /** Adopts the orphans among `revisions` (`AdoptOrphanRevisions`). */
  async adoptOrphanRevisions(set: StatefulSet, revisions: ControllerRevision[]): Promise<void> {
    for (let i = 0; i < revisions.length; i++) {
      revisions[i] = await this.o.history.adoptControllerRevision(set.metadata ?? {}, STATEFUL_SET_GVK, revisions[i]!);
    }
  }

  private async performUpdate(
    set: StatefulSet,
    pods: readonly Pod[],
    revisions: ControllerRevision[],
  ): Promise<{ current?: ControllerRevision; update?: ControllerRevision; status?: StatefulSetStatus; err?: unknown }> {
    let revs: { current: ControllerRevision; update: ControllerRevision; collisionCount: number };
    try {
      revs = await this.getStatefulSetRevisions(set, revisions);
    } catch (err) {
      return { err };
    }
    const { current, update } = revs;
    const pass = await this.updateStatefulSetPods(set, current, update, revs.collisionCount, pods);
    if (pass.err !== undefined && !pass.status) return { current, update, err: pass.err };
    const status = pass.status!;
    let statusErr: unknown;
    try {
      await this.updateStatefulSetStatus(set, status);
      this.log.debug("Updated status", {
        statefulSet: keyOf(set),
        replicas: status.replicas,
        readyReplicas: status.readyReplicas ?? 0,
        currentReplicas: status.currentReplicas ?? 0,
        updatedReplicas: status.updatedReplicas ?? 0,
      });
    } catch (err) {
      statusErr = err;
    }
    if (pass.err !== undefined) {
      if (statusErr !== undefined) this.log.error("Could not update status", { statefulSet: keyOf(set), err: String(statusErr) });
      return { current, update, status, err: pass.err };
    }
    if (statusErr !== undefined) return { current, update, status, err: statusErr };
    this.log.debug("StatefulSet revisions", { statefulSet: keyOf(set), currentRevision: status.currentRevision ?? "", updateRevision: status.updateRevision ?? "" });
    return { current, update, status };
  }

  /**
   * Deletes history beyond revisionHistoryLimit, oldest first, sparing
   * the current and update revisions and any a pod still uses
   * (`truncateHistory`). `revisions` must be sorted.
   */
  async truncateHistory(
    set: StatefulSet,
    pods: readonly Pod[],
    revisions: readonly ControllerRevision[],
    current: ControllerRevision | undefined,
    update: ControllerRevision | undefined,
  ): Promise<void> {
    const live = new Set<string>();
    if (current) live.add(current.metadata?.name ?? "");
    if (update) live.add(update.metadata?.name ?? "");
    for (const pod of pods) live.add(getPodRevision(pod));
    const history = revisions.filter((r) => !live.has(r.metadata?.name ?? ""));
    const limit = set.spec?.revisionHistoryLimit ?? 10;
    if (limit < 0 || history.length <= limit) return;
    for (const r of history.slice(0, history.length - limit)) await this.o.history.deleteControllerRevision(r);
  }

  /**
   * The current and update revisions of `set` (`getStatefulSetRevisions`):
   * the update revision is the set's template as a revision, reusing the
   * latest equal one (renumbered to the next revision when it is not the
   * newest: a rollback) or created; the current one is status.currentRevision,
   * or the update revision for a new set. Also the collision count used.
   */
  async getStatefulSetRevisions(
    set: StatefulSet,
    revisions: ControllerRevision[],
  ): Promise<{ current: ControllerRevision; update: ControllerRevision; collisionCount: number }> {
    const revisionCount = revisions.length;
    sortControllerRevisions(revisions);
    // A local copy of the count; it reaches the status through the return value.
    const collision = { count: set.status?.collisionCount ?? 0 };
    let update = newRevision(set, nextRevision(revisions), collision.count);
    const equal = findEqualRevisions(revisions, update);
    const equalCount = equal.length;
    if (equalCount > 0 && equalRevision(revisions[revisionCount - 1], equal[equalCount - 1])) {
      // The newest revision already is this template: nothing changed.
      update = revisions[revisionCount - 1]!;
    } else if (equalCount > 0) {
      // An older revision holds this template: roll back by making it the newest.
      update = await this.o.history.updateControllerRevision(equal[equalCount - 1]!, update.revision);
    } else {
      update = await this.o.history.createControllerRevision(set.metadata ?? {}, update, collision);
    }
    const current = revisions.find((r) => r.metadata?.name === set.status?.currentRevision) ?? update;
    return { current, update, collisionCount: collision.count };
  }

  /** Deletes finished pods, creates missing ones, repairs identities (`processReplica`). */
  private async processReplica(set: StatefulSet, updateSet: StatefulSet, monotonic: boolean, replicas: Pod[], i: number): Promise<StepResult> {
    const pod = replicas[i]!;
    const pc = this.o.podControl;
    // Succeeded counts too: evicted or node-rebooted pods end with their containers' exit code. Restart regardless.
    if (isFailed(pod) || isSucceeded(pod)) {
      if (!pod.metadata?.deletionTimestamp) {
        try {
          await pc.deleteStatefulPod(set, pod);
        } catch (err) {
          return { exit: true, err };
        }
      }
      // The new pod is made on a later sync, once this one is gone.
      return EXIT;
    }
    if (!isCreated(pod)) {
      // A claim still owned by an earlier pod of this name blocks the pass.
      if (pc.podClaimIsStale(set, pod)) return EXIT;
      try {
        await pc.createStatefulPod(set, pod);
      } catch (err) {
        return { exit: true, err };
      }
      if (monotonic) return EXIT;
    }
    if (isPending(pod)) {
      this.log.debug("StatefulSet is triggering PVC creation for pending Pod", { statefulSet: keyOf(set), pod: keyOf(pod) });
      try {
        await pc.createMissingPersistentVolumeClaims(set, pod);
      } catch (err) {
        return { exit: true, err };
      }
    }
    const minReady = set.spec?.minReadySeconds ?? 0;
    if (isTerminating(pod) && monotonic) {
      this.log.debug("StatefulSet is waiting for Pod to Terminate", { statefulSet: keyOf(set), pod: keyOf(pod) });
      return EXIT;
    }
    // Each pod is created only once all its predecessors are Running, Ready and available.
    if (!isRunningAndReady(pod) && monotonic) {
      this.log.debug("StatefulSet is waiting for Pod to be Running and Ready", { statefulSet: keyOf(set), pod: keyOf(pod) });
      return EXIT;
    }
    if (!isRunningAndAvailable(pod, minReady, this.o.clock.now()) && monotonic) {
      this.log.debug("StatefulSet is waiting for Pod to be Available", { statefulSet: keyOf(set), pod: keyOf(pod) });
      return EXIT;
    }
    // A pod not yet fully updated may fail this check: that counts as matching.
    let retentionMatch = true;
    try {
      retentionMatch = pc.claimsMatchRetentionPolicy(updateSet, pod);
    } catch {
      retentionMatch = true;
    }
    if (identityMatches(set, pod) && storageMatches(set, pod) && retentionMatch) return CONTINUE;
    try {
      await pc.updateStatefulPod(updateSet, pod);
    } catch (err) {
      return { exit: true, err };
    }
    return CONTINUE;
  }

  /** Deletes a surplus pod, highest ordinal first, once its predecessors are healthy (`processCondemned`). */
  private async processCondemned(set: StatefulSet, firstUnhealthyPod: Pod | undefined, monotonic: boolean, condemned: Pod[], i: number): Promise<StepResult> {
    const pod = condemned[i]!;
    if (isTerminating(pod)) {
      if (monotonic) {
        this.log.debug("StatefulSet is waiting for Pod to Terminate prior to scale down", { statefulSet: keyOf(set), pod: keyOf(pod) });
        return EXIT;
      }
      return CONTINUE;
    }
    if (!isRunningAndReady(pod) && monotonic && pod !== firstUnhealthyPod) {
      this.log.debug("StatefulSet is waiting for Pod to be Running and Ready prior to scale down", { statefulSet: keyOf(set), pod: keyOf(firstUnhealthyPod ?? pod) });
      return EXIT;
    }
    if (!isRunningAndAvailable(pod, set.spec?.minReadySeconds ?? 0, this.o.clock.now()) && monotonic && pod !== firstUnhealthyPod) {
      this.log.debug("StatefulSet is waiting for Pod to be Available prior to scale down", { statefulSet: keyOf(set), pod: keyOf(firstUnhealthyPod ?? pod) });
      return EXIT;
    }
    this.log.info("Pod of StatefulSet is terminating for scale down", { statefulSet: keyOf(set), pod: keyOf(pod) });
    try {
      await this.o.podControl.deleteStatefulPod(set, pod);
    } catch (err) {
      return { exit: true, err };
    }
    return EXIT;
  }

  /**
   * One pass over the pods (`updateStatefulSet`): resolves the status to
   * record and, when a step failed, the failure (with the status counted
   * so far, or without a status when the revisions could not be applied).
   */
  async updateStatefulSetPods(set: StatefulSet, current: ControllerRevision, update: ControllerRevision, collisionCount: number, pods: readonly Pod[]): Promise<PassResult> {
    let currentSet: StatefulSet;
    let updateSet: StatefulSet;
    try {
      currentSet = applyRevision(set, current);
      updateSet = applyRevision(set, update);
    } catch (err) {
      return { err };
    }
    const now = this.o.clock.now();
    const minReady = set.spec?.minReadySeconds ?? 0;
    const status: StatefulSetStatus = {
      replicas: 0,
      observedGeneration: set.metadata?.generation ?? 0,
      currentRevision: current.metadata?.name ?? "",
      updateRevision: update.metadata?.name ?? "",
      collisionCount,
    };
    updateStatus(status, minReady, now, current, update, pods);

    const replicaCount = specReplicas(set);
    const start = getStartOrdinal(set);
    const end = getEndOrdinal(set);
    // Pods whose ordinal is in range, at their place; the others with a valid ordinal are condemned.
    const slots: (Pod | undefined)[] = new Array(Math.max(0, replicaCount)).fill(undefined);
    const condemned: Pod[] = [];
    for (const pod of pods) {
      if (podInOrdinalRange(pod, set)) slots[getOrdinal(pod) - start] = pod;
      else if (getOrdinal(pod) >= 0) condemned.push(pod);
      // A pod whose ordinal does not parse is ignored.
    }
    for (let ord = start; ord <= end; ord++) {
      if (!slots[ord - start]) slots[ord - start] = newVersionedStatefulSetPod(currentSet, updateSet, current.metadata?.name ?? "", update.metadata?.name ?? "", ord);
    }
    const replicas = slots as Pod[];
    condemned.sort(byOrdinal(getOrdinal, true));

    // The first unhealthy pod: among the replicas, else the lowest condemned one.
    let unavailable = 0;
    let firstUnavailablePod: Pod | undefined;
    for (const pod of replicas) {
      if (isUnavailable(pod, minReady, now)) {
        unavailable++;
        firstUnavailablePod ??= pod;
      }
    }
    for (let i = condemned.length - 1; i >= 0; i--) {
      if (isUnavailable(condemned[i]!, minReady, now)) {
        unavailable++;
        firstUnavailablePod ??= condemned[i];
      }
    }
    if (unavailable > 0) {
      this.log.debug("StatefulSet has unavailable Pods", { statefulSet: keyOf(set), unavailableReplicas: unavailable, pod: keyOf(firstUnavailablePod!) });
    }

    // A set being deleted only gets its status updated.
    if (set.metadata?.deletionTimestamp) return { status };

    const monotonic = !allowsBurst(set);
    const recount = () => updateStatus(status, minReady, this.o.clock.now(), current, update, replicas, condemned);

    // First the live replicas; stop at an error, or at anything blocking in monotonic mode.
    let r = await runForAll(replicas.length, (i) => this.processReplica(set, updateSet, monotonic, replicas, i), monotonic);
    if (r.exit || r.err !== undefined) {
      recount();
      return { status, err: r.err };
    }

    // Condemned pods' claims get the owners the retention policy asks for.
    r = await runForAll(
      condemned.length,
      async (i) => {
        try {
          if (!this.o.podControl.claimsMatchRetentionPolicy(updateSet, condemned[i]!)) {
            await this.o.podControl.updatePodClaimForRetentionPolicy(updateSet, condemned[i]!);
          }
        } catch (err) {
          return { exit: true, err };
        }
        return CONTINUE;
      },
      monotonic,
    );
    if (r.exit || r.err !== undefined) {
      recount();
      return { status, err: r.err };
    }

    // In monotonic mode every replica is now Running, Ready and available: scale down, highest ordinal first.
    // Scaling takes precedence over updates.
    r = await runForAll(condemned.length, (i) => this.processCondemned(set, firstUnavailablePod, monotonic, condemned, i), monotonic);
    if (r.exit || r.err !== undefined) {
      recount();
      return { status, err: r.err };
    }

    recount();
    // OnDelete: pods are updated when the user deletes them.
    if (set.spec?.updateStrategy?.type === ON_DELETE_STRATEGY) return { status };
    return this.rollingUpdate(set, replicas, update, status);
  }

  /**
   * Deletes up to maxUnavailable (less the replicas already unavailable)
   * pods not at the update revision, from the highest ordinal down to the
   * partition (`updateStatefulSetAfterInvariantEstablished`).
   */
  private async rollingUpdate(set: StatefulSet, replicas: readonly Pod[], update: ControllerRevision, status: StatefulSetStatus): Promise<PassResult> {
    const now = this.o.clock.now();
    const minReady = set.spec?.minReadySeconds ?? 0;
    const ru = set.spec?.updateStrategy?.rollingUpdate;
    let updateMin = 0;
    let maxUnavailable = 1;
    if (ru) {
      updateMin = ru.partition ?? 0;
      try {
        maxUnavailable = getStatefulSetMaxUnavailable(ru.maxUnavailable, specReplicas(set));
      } catch (err) {
        return { status, err };
      }
    }
    let unavailablePods = 0;
    for (const pod of replicas) if (isUnavailable(pod, minReady, now)) unavailablePods++;
    if (unavailablePods > maxUnavailable) {
      this.log.debug("StatefulSet found unavailablePods, more than the allowed maxUnavailable", { statefulSet: keyOf(set), unavailablePods, maxUnavailable });
      return { status };
    }
    const podsToDelete = maxUnavailable - unavailablePods;
    let deleted = 0;
    for (let target = replicas.length - 1; target >= updateMin && deleted < podsToDelete; target--) {
      const pod = replicas[target]!;
      if (getPodRevision(pod) === update.metadata?.name || isTerminating(pod)) continue;
      this.log.info("StatefulSet terminating Pod for update", { statefulSet: keyOf(set), pod: keyOf(pod) });
      try {
        await this.o.podControl.deleteStatefulPod(set, pod);
      } catch (err) {
        if (!isNotFound(err)) return { status, err };
      }
      deleted++;
      status.currentReplicas = (status.currentReplicas ?? 0) - 1;
    }
    return { status };
  }

  /** Completes a finished rolling update and writes the status if it changed (`updateStatefulSetStatus`). */
  private async updateStatefulSetStatus(set: StatefulSet, status: StatefulSetStatus): Promise<void> {
    completeRollingUpdate(set, status);
    if (!inconsistentStatus(set, status)) return;
    await this.o.statusUpdater.updateStatefulSetStatus(structuredClone(set), status);
  }
}

/** Revisions with no controller among `revisions` (for adoption). */
export function orphanRevisions(revisions: readonly ControllerRevision[]): ControllerRevision[] {
  return revisions.filter((r) => !getControllerOf(r));
}
