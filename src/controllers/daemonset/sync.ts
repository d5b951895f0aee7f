/**
 * One sync of one DaemonSet, as upstream's daemon_controller.go: record
 * the template as a ControllerRevision (its hash labels new pods); once
 * the last round's creates and deletes were observed, put one pod on each
 * node that should run one (pinned to it by node affinity, scheduled by
 * the scheduler) and remove pods from nodes that should not, failed and
 * succeeded pods, and duplicates; then roll out a new template within
 * maxUnavailable / maxSurge; trim history; write status.
 */
import type { ControllerRevision, DaemonSet } from "kubernetes-types/apps/v1.js";
import type { Node, Pod } from "kubernetes-types/core/v1.js";
import type { SharedInformer } from "../../client/informer.js";
import { splitKey } from "../../client/store.js";
import type { Clock } from "../../machinery/clock.js";
import { selectorFromObject } from "../../machinery/labels.js";
import type { Logger } from "../../machinery/log.js";
import { isNotFound } from "../../machinery/status-error.js";
import { newControllerRef, ownerReference } from "../common/controller-ref.js";
import { type ClaimResult, type CanAdoptFunc, PodControllerRefManager, recheckDeletionTimestamp } from "../common/controller-ref-manager.js";
import { deepEqual } from "../common/equality.js";
import { aggregate, errorMessage } from "../common/errors.js";
import type { ControllerExpectations } from "../common/expectations.js";
import { filterPodsByOwner } from "../common/indexers.js";
import { hasStatusCause, NAMESPACE_TERMINATING_CAUSE, type PodControl, type PodEventRecorder } from "../common/pod-control.js";
import { isPodAvailable, isPodReady } from "../common/pod-utils.js";
import { SLOW_START_INITIAL_BATCH_SIZE } from "../common/slow-start.js";
import { parseTime } from "../common/time.js";
import type { ControllerRevisionApi } from "../history/controller-history.js";
import { type DaemonSetApi, wireDaemonSetStatus } from "./api.js";
import type { FailedPodsBackoff } from "./failed-pods-backoff.js";
import { cleanupHistory, constructHistory } from "./history.js";
import {
  DAEMON_SET_GVK,
  DEFAULT_DAEMON_SET_UNIQUE_LABEL_KEY,
  FAILED_DAEMON_POD_REASON,
  keyOf,
  ON_DELETE_STRATEGY,
  ROLLING_UPDATE_STRATEGY,
  SELECTING_ALL_REASON,
  SUCCEEDED_DAEMON_POD_REASON,
} from "./kinds.js";
import { nodeShouldRunDaemonPod } from "./node-should-run.js";
import { rollingUpdate } from "./rolling-update.js";
import { allowsSurge, createPodTemplate, getTargetNodeName, isPodUpdated, replaceDaemonSetPodNodeNameNodeAffinity, templateGenerationOrUndefined } from "./util.js";

/** Upstream's `BurstReplicas`: at most this many creates or deletes per sync (250 spares the registry). */
export const BURST_REPLICAS = 250;

/** Upstream's `StatusUpdateRetries`: one GET-and-retry after a failed status write. */
export const STATUS_UPDATE_RETRIES = 1;

/** What a sync works with. */
export interface DaemonSetSyncDeps {
  /** The cached DaemonSet with key `ns/name`. */
  getDaemonSet(key: string): DaemonSet | undefined;
  listNodes(): Node[];
  getNode(name: string): Node | undefined;
  /** The shared pod informer, with the pod controller-uid index. */
  readonly pods: SharedInformer<Pod>;
  /** The cached ControllerRevisions of a namespace. */
  listRevisions(namespace: string): ControllerRevision[];
  readonly api: DaemonSetApi;
  readonly revisions: ControllerRevisionApi;
  /** Pod creates, deletes and patches, each recorded as an event. */
  readonly podControl: PodControl;
  readonly recorder: PodEventRecorder;
  readonly expectations: ControllerExpectations;
  readonly failedPodsBackoff: FailedPodsBackoff;
  readonly burstReplicas: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Queues `key` again after `ms`. */
  enqueueAfter(key: string, ms: number): void;
}

/** Scheduled pods first, then oldest first, then by name (`podByCreationTimestampAndPhase`). */
export function compareByCreationTimestampAndPhase(a: Pod, b: Pod): number {
  const an = !!a.spec?.nodeName;
  const bn = !!b.spec?.nodeName;
  if (an && !bn) return -1;
  if (!an && bn) return 1;
  const ta = parseTime(a.metadata?.creationTimestamp);
  const tb = parseTime(b.metadata?.creationTimestamp);
  if (ta === tb) {
    const na = a.metadata?.name ?? "";
    const nb = b.metadata?.name ?? "";
    return na < nb ? -1 : na > nb ? 1 : 0;
  }
  return ta - tb;
}

/** Upstream's `failedPodsBackoffKey`. */
function failedPodsBackoffKey(ds: DaemonSet, nodeName: string): string {
  return `${ds.metadata?.uid ?? ""}/${ds.status?.observedGeneration ?? 0}/${nodeName}`;
}

/** Finished: Succeeded or Failed (`podutil.IsPodTerminal`). */
function isPodTerminal(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return phase === "Succeeded" || phase === "Failed";
}

/** The sync logic of the DaemonSet controller. */
export class DaemonSetSyncer {
  constructor(readonly d: DaemonSetSyncDeps) {}

  get log(): Logger {
    return this.d.logger;
  }

  /** `ds` as the subject of its events. */
  subject(ds: DaemonSet) {
    return ownerReference(ds.metadata, DAEMON_SET_GVK);
  }

  /** Re-reads the DaemonSet live before the first adoption (kubernetes#42639). */
  canAdopt(ds: DaemonSet): CanAdoptFunc {
    const m = ds.metadata ?? {};
    return recheckDeletionTimestamp(async () => {
      const fresh = await this.d.api.get(m.namespace ?? "", m.name ?? "");
      if (fresh.metadata?.uid !== m.uid) {
        throw new Error(`original DaemonSet ${m.namespace ?? ""}/${m.name ?? ""} is gone: got uid ${fresh.metadata?.uid ?? ""}, wanted ${m.uid ?? ""}`);
      }
      return fresh;
    });
  }

  /** The DaemonSet's pods, adopting and releasing by selector (`getDaemonPods`). */
  async getDaemonPods(ds: DaemonSet): Promise<Pod[]> {
    const selector = selectorFromObject(ds.spec?.selector);
    // Its own pods and the namespace's orphans: all it could claim.
    const pods = filterPodsByOwner(this.d.pods, ds.metadata);
    const manager = new PodControllerRefManager(this.d.podControl, { controller: ds.metadata ?? {}, selector, controllerKind: DAEMON_SET_GVK, canAdopt: this.canAdopt(ds) });
    const r: ClaimResult<Pod> = await manager.claimPods(pods);
    if (r.error) throw r.error;
    return r.claimed;
  }

  /**
   * The DaemonSet's pods by the node they are for (`getNodesToDaemonPods`);
   * finished pods already being deleted are left out unless asked for.
   */
  async getNodesToDaemonPods(ds: DaemonSet, includeDeletedTerminal: boolean): Promise<Map<string, Pod[]>> {
    const claimed = await this.getDaemonPods(ds);
    const byNode = new Map<string, Pod[]>();
    for (const pod of claimed) {
      // A finished pod being deleted waits for a finalizer or the pod GC: nothing left to do with it.
      if (!includeDeletedTerminal && isPodTerminal(pod) && pod.metadata?.deletionTimestamp) continue;
      let nodeName: string;
      try {
        nodeName = getTargetNodeName(pod);
      } catch {
        this.log.debug("Failed to get target node name of Pod in DaemonSet", { pod: keyOf(pod), daemonset: keyOf(ds) });
        continue;
      }
      const list = byNode.get(nodeName);
      if (list) list.push(pod);
      else byNode.set(nodeName, [pod]);
    }
    return byNode;
  }

  /**
   * Syncs the DaemonSet with `key` (`syncDaemonSet`). Rejects (so the key
   * is retried with backoff) when anything failed.
   */
  async syncDaemonSet(key: string): Promise<void> {
    const start = this.d.clock.now();
    try {
      await this.sync(key);
    } finally {
      this.log.debug("Finished syncing daemon set", { daemonset: key, durationMs: this.d.clock.now() - start });
    }
  }

  private async sync(key: string): Promise<void> {
    const ds = this.d.getDaemonSet(key);
    if (!ds) {
      this.log.debug("Daemon set has been deleted", { daemonset: key });
      this.d.expectations.deleteExpectations(key);
      return;
    }
    const nodeList = this.d.listNodes();
    if (deepEqual(ds.spec?.selector, {})) {
      this.d.recorder.eventf(this.subject(ds), undefined, "Warning", SELECTING_ALL_REASON, "Sync", "This daemon set is selecting all pods. A non-empty selector is required.");
      return;
    }
    // A DaemonSet being deleted may have lost its history already (the garbage collector does not order
    // pods before revisions): its status cannot be computed reliably, so it is left alone.
    if (ds.metadata?.deletionTimestamp) return;
    let cur: ControllerRevision;
    let old: ControllerRevision[];
    try {
      ({ cur, old } = await constructHistory(this, ds));
    } catch (err) {
      throw new Error(`failed to construct revisions of DaemonSet: ${errorMessage(err)}`, { cause: err });
    }
    const hash = cur.metadata?.labels?.[DEFAULT_DAEMON_SET_UNIQUE_LABEL_KEY] ?? "";
    if (!this.d.expectations.satisfiedExpectations(key)) {
      // Status only; observedGeneration stays, as this generation was not acted on.
      return this.updateDaemonSetStatus(ds, nodeList, hash, false);
    }
    let err: unknown;
    try {
      await this.updateDaemonSet(ds, nodeList, hash, key, old);
    } catch (e) {
      err = e;
    }
    let statusErr: unknown;
    try {
      await this.updateDaemonSetStatus(ds, nodeList, hash, true);
    } catch (e) {
      statusErr = e;
    }
    if (err !== undefined) {
      if (statusErr !== undefined) this.log.error("Failed to update status", { daemonSet: keyOf(ds), err: errorMessage(statusErr) });
      throw err;
    }
    if (statusErr !== undefined) throw statusErr;
  }

  private async updateDaemonSet(ds: DaemonSet, nodeList: Node[], hash: string, key: string, old: ControllerRevision[]): Promise<void> {
    await this.manage(ds, nodeList, hash);
    // Roll out only once this round's creates and deletes were observed.
    if (this.d.expectations.satisfiedExpectations(key)) {
      const type = ds.spec?.updateStrategy?.type;
      if (type === ROLLING_UPDATE_STRATEGY) await rollingUpdate(this, ds, nodeList, hash);
      else if (type !== ON_DELETE_STRATEGY) this.log.debug("unknown update strategy: no rollout", { daemonset: keyOf(ds), type: type ?? "" });
    }
    try {
      await cleanupHistory(this, ds, old);
    } catch (err) {
      throw new Error(`failed to clean up revisions of DaemonSet: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Works out which nodes need a pod and which pods must go, then does it (`manage`). */
  private async manage(ds: DaemonSet, nodeList: Node[], hash: string): Promise<void> {
    let nodeToDaemonPods: Map<string, Pod[]>;
    try {
      nodeToDaemonPods = await this.getNodesToDaemonPods(ds, false);
    } catch (err) {
      throw new Error(`couldn't get node to daemon pod mapping for daemon set ${JSON.stringify(ds.metadata?.name ?? "")}: ${errorMessage(err)}`, { cause: err });
    }
    const nodesNeedingDaemonPods: string[] = [];
    const podsToDelete: string[] = [];
    for (const node of nodeList) {
      const r = this.podsShouldBeOnNode(node, nodeToDaemonPods, ds, hash);
      nodesNeedingDaemonPods.push(...r.nodesNeedingDaemonPods);
      podsToDelete.push(...r.podsToDelete);
    }
    // Pods for nodes that are gone were never scheduled, and the pod GC will not remove them.
    podsToDelete.push(...getUnscheduledPodsWithoutNode(nodeList, nodeToDaemonPods));
    await this.syncNodes(ds, podsToDelete, nodesNeedingDaemonPods, hash);
  }

  /** The pods to create on and delete from one node (`podsShouldBeOnNode`). */
  podsShouldBeOnNode(node: Node, nodeToDaemonPods: Map<string, Pod[]>, ds: DaemonSet, hash: string): { nodesNeedingDaemonPods: string[]; podsToDelete: string[] } {
    const nodeName = node.metadata?.name ?? "";
    const { shouldRun, shouldContinueRunning } = nodeShouldRunDaemonPod(node, ds);
    const daemonPods = nodeToDaemonPods.get(nodeName);
    const exists = daemonPods !== undefined;
    const nodesNeedingDaemonPods: string[] = [];
    const podsToDelete: string[] = [];
    if (shouldRun && !exists) {
      nodesNeedingDaemonPods.push(nodeName);
    } else if (shouldContinueRunning) {
      // Failed and succeeded pods go; a replacement comes on the next sync.
      const running: Pod[] = [];
      for (const pod of daemonPods ?? []) {
        if (pod.metadata?.deletionTimestamp) continue;
        const phase = pod.status?.phase;
        if (phase === "Failed") {
          // The kubelet may keep rejecting the pod: back off instead of looping hot.
          const backoffKey = failedPodsBackoffKey(ds, nodeName);
          const now = this.d.failedPodsBackoff.clock.now();
          if (this.d.failedPodsBackoff.isInBackOffSinceUpdate(backoffKey, now)) {
            const delay = this.d.failedPodsBackoff.get(backoffKey);
            this.log.debug("Deleting failed pod on node has been limited by backoff", { pod: keyOf(pod), node: nodeName, currentDelayMs: delay });
            this.d.enqueueAfter(keyOf(ds), delay);
            continue;
          }
          this.d.failedPodsBackoff.next(backoffKey, now);
          const msg = `Found failed daemon pod ${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""} on node ${nodeName}, will try to kill it`;
          this.log.info("Found failed daemon pod on node, will try to kill it", { pod: keyOf(pod), node: nodeName });
          this.d.recorder.eventf(this.subject(ds), undefined, "Warning", FAILED_DAEMON_POD_REASON, "Delete", "%s", msg);
          podsToDelete.push(pod.metadata?.name ?? "");
        } else if (phase === "Succeeded") {
          const msg = `Found succeeded daemon pod ${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""} on node ${nodeName}, will try to delete it`;
          this.log.info("Found succeeded daemon pod on node, will try to delete it", { pod: keyOf(pod), node: nodeName });
          this.d.recorder.eventf(this.subject(ds), undefined, "Normal", SUCCEEDED_DAEMON_POD_REASON, "Delete", "%s", msg);
          podsToDelete.push(pod.metadata?.name ?? "");
        } else {
          running.push(pod);
        }
      }
      running.sort(compareByCreationTimestampAndPhase);
      if (!allowsSurge(ds)) {
        // Without surge, keep only the oldest running pod.
        for (let i = 1; i < running.length; i++) podsToDelete.push(running[i]!.metadata?.name ?? "");
      } else if (running.length <= 1) {
        // Surging needs at least one pod not being deleted on the node.
        if (running.length === 0 && shouldRun) nodesNeedingDaemonPods.push(nodeName);
      } else {
        // With surge, two pods may run only while the oldest old one is ready and the oldest new one is
        // not yet available; everything else goes. If neither is ready, the new one is kept.
        let oldestNewPod: Pod | undefined;
        let oldestOldPod: Pod | undefined;
        for (const pod of running) {
          if (pod.metadata?.labels?.[DEFAULT_DAEMON_SET_UNIQUE_LABEL_KEY] === hash) {
            if (!oldestNewPod) {
              oldestNewPod = pod;
              continue;
            }
          } else if (!oldestOldPod) {
            oldestOldPod = pod;
            continue;
          }
          podsToDelete.push(pod.metadata?.name ?? "");
        }
        if (oldestNewPod && oldestOldPod) {
          if (!isPodReady(oldestOldPod)) {
            this.log.debug("Pod from daemonset is no longer ready and will be replaced with newer pod", { oldPod: keyOf(oldestOldPod), daemonset: keyOf(ds), newPod: keyOf(oldestNewPod) });
            podsToDelete.push(oldestOldPod.metadata?.name ?? "");
          } else if (isPodAvailable(oldestNewPod, ds.spec?.minReadySeconds ?? 0, this.d.failedPodsBackoff.clock.now())) {
            this.log.debug("Pod from daemonset is now ready and will replace older pod", { newPod: keyOf(oldestNewPod), daemonset: keyOf(ds), oldPod: keyOf(oldestOldPod) });
            podsToDelete.push(oldestOldPod.metadata?.name ?? "");
          }
        }
      }
    } else if (exists) {
      // No pod belongs on this node: every one there goes.
      for (const pod of daemonPods ?? []) if (!pod.metadata?.deletionTimestamp) podsToDelete.push(pod.metadata?.name ?? "");
    }
    return { nodesNeedingDaemonPods, podsToDelete };
  }

  /**
   * Deletes `podsToDelete` and creates a pod pinned to each of
   * `nodesNeedingDaemonPods`, at most {@link BURST_REPLICAS} each, creates
   * in slow-start batches (`syncNodes`). Rejects with the failures.
   */
  async syncNodes(ds: DaemonSet, podsToDelete: readonly string[], nodesNeedingDaemonPods: readonly string[], hash: string): Promise<void> {
    const dsKey = keyOf(ds);
    const ns = ds.metadata?.namespace ?? "";
    const createDiff = Math.min(nodesNeedingDaemonPods.length, this.d.burstReplicas);
    const deleteDiff = Math.min(podsToDelete.length, this.d.burstReplicas);
    // Expect before acting: the informer may show a new pod before its create call returns.
    this.d.expectations.setExpectations(dsKey, createDiff, deleteDiff);
    const errors: unknown[] = [];
    if (createDiff > 0) {
      this.log.debug("Nodes needing daemon pods for daemon set, creating", { daemonset: dsKey, needCount: nodesNeedingDaemonPods.length, createCount: createDiff });
    }
    // A generation that does not parse is left out: the hash tells pods apart.
    const template = createPodTemplate(ds.spec?.template, templateGenerationOrUndefined(ds), hash);
    const owner = this.subject(ds);
    const controllerRef = newControllerRef(ds.metadata, DAEMON_SET_GVK);
    // Slow start: creates that will all fail (quota, admission) fail once, not once per node.
    let batchSize = Math.min(createDiff, SLOW_START_INITIAL_BATCH_SIZE);
    for (let pos = 0; createDiff > pos; ) {
      const errorCount = errors.length;
      const batch: Promise<void>[] = [];
      for (let i = pos; i < pos + batchSize; i++) {
        const nodeName = nodesNeedingDaemonPods[i]!;
        batch.push(
          (async () => {
            const podTemplate = structuredClone(template);
            // Safe: nothing in the template's affinity may conflict with its own node.
            podTemplate.spec!.affinity = replaceDaemonSetPodNodeNameNodeAffinity(podTemplate.spec!.affinity, nodeName);
            try {
              await this.d.podControl.createPods(ns, podTemplate, owner, controllerRef);
            } catch (err) {
              // Every create in a terminating namespace fails: nothing to report.
              if (hasStatusCause(err, NAMESPACE_TERMINATING_CAUSE)) return;
              this.log.debug("Failed creation, decrementing expectations for daemon set", { daemonset: dsKey });
              this.d.expectations.creationObserved(dsKey);
              errors.push(err);
            }
          })(),
        );
      }
      await Promise.all(batch);
      const skippedPods = createDiff - (batchSize + pos);
      if (errors.length > errorCount && skippedPods > 0) {
        // Creates never attempted will never be observed; the next sync retries them.
        this.log.debug("Slow-start failure. Skipping creation pods, decrementing expectations for daemon set", { skippedPods, daemonset: dsKey });
        this.d.expectations.lowerExpectations(dsKey, skippedPods, 0);
        break;
      }
      pos += batchSize;
      batchSize = Math.min(2 * batchSize, createDiff - pos);
    }
    if (deleteDiff > 0) this.log.debug("Pods to delete for daemon set, deleting", { daemonset: dsKey, toDeleteCount: podsToDelete.length, deleteCount: deleteDiff });
    await Promise.all(
      podsToDelete.slice(0, deleteDiff).map(async (name) => {
        try {
          await this.d.podControl.deletePod(ns, name, owner);
        } catch (err) {
          // The informer will not observe this deletion.
          this.d.expectations.deletionObserved(dsKey);
          if (!isNotFound(err)) {
            this.log.debug("Failed deletion, decremented expectations for daemon set", { daemonset: dsKey });
            errors.push(err);
          }
        }
      }),
    );
    const agg = aggregate(errors);
    if (agg) throw agg;
  }

  /** Counts the DaemonSet's pods per node and writes the status if it changed (`updateDaemonSetStatus`). */
  async updateDaemonSetStatus(ds: DaemonSet, nodeList: Node[], hash: string, updateObservedGen: boolean): Promise<void> {
    this.log.debug("Updating daemon set status", { daemonset: keyOf(ds) });
    let nodeToDaemonPods: Map<string, Pod[]>;
    try {
      nodeToDaemonPods = await this.getNodesToDaemonPods(ds, false);
    } catch (err) {
      throw new Error(`couldn't get node to daemon pod mapping for daemon set ${JSON.stringify(ds.metadata?.name ?? "")}: ${errorMessage(err)}`, { cause: err });
    }
    let desired = 0;
    let current = 0;
    let misscheduled = 0;
    let ready = 0;
    let updated = 0;
    let available = 0;
    const now = this.d.failedPodsBackoff.clock.now();
    const minReady = ds.spec?.minReadySeconds ?? 0;
    const generation = templateGenerationOrUndefined(ds);
    for (const node of nodeList) {
      const { shouldRun } = nodeShouldRunDaemonPod(node, ds);
      const pods = nodeToDaemonPods.get(node.metadata?.name ?? "") ?? [];
      const scheduled = pods.length > 0;
      if (shouldRun) {
        desired++;
        if (!scheduled) continue;
        current++;
        // The oldest pod speaks for the node.
        const pod = [...pods].sort(compareByCreationTimestampAndPhase)[0]!;
        if (isPodReady(pod)) {
          ready++;
          if (isPodAvailable(pod, minReady, now)) available++;
        }
        if (isPodUpdated(pod, hash, generation)) updated++;
      } else if (scheduled) {
        misscheduled++;
      }
    }
    const unavailable = desired - available;
    try {
      await this.storeDaemonSetStatus(ds, { desired, current, misscheduled, ready, updated, available, unavailable }, updateObservedGen);
    } catch (err) {
      throw new Error(`error storing status for daemon set ${keyOf(ds)}: ${errorMessage(err)}`, { cause: err });
    }
    // A last line of defence against clock skew: look again once the ready pods should be available.
    if (minReady > 0 && ready !== available) this.d.enqueueAfter(keyOf(ds), minReady * 1000);
  }

  /** Writes the counts unless the status already has them, retrying once after a fresh GET (`storeDaemonSetStatus`). */
  private async storeDaemonSetStatus(
    ds: DaemonSet,
    c: { desired: number; current: number; misscheduled: number; ready: number; updated: number; available: number; unavailable: number },
    updateObservedGen: boolean,
  ): Promise<void> {
    const s = ds.status;
    if (
      (s?.desiredNumberScheduled ?? 0) === c.desired &&
      (s?.currentNumberScheduled ?? 0) === c.current &&
      (s?.numberMisscheduled ?? 0) === c.misscheduled &&
      (s?.numberReady ?? 0) === c.ready &&
      (s?.updatedNumberScheduled ?? 0) === c.updated &&
      (s?.numberAvailable ?? 0) === c.available &&
      (s?.numberUnavailable ?? 0) === c.unavailable &&
      (s?.observedGeneration ?? 0) >= (ds.metadata?.generation ?? 0)
    ) {
      return;
    }
    let toUpdate = structuredClone(ds);
    let updateErr: unknown;
    for (let i = 0; ; i++) {
      const status = { ...(toUpdate.status ?? { currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0 }) };
      if (updateObservedGen) status.observedGeneration = ds.metadata?.generation ?? 0;
      status.desiredNumberScheduled = c.desired;
      status.currentNumberScheduled = c.current;
      status.numberMisscheduled = c.misscheduled;
      status.numberReady = c.ready;
      status.updatedNumberScheduled = c.updated;
      status.numberAvailable = c.available;
      status.numberUnavailable = c.unavailable;
      try {
        await this.d.api.updateStatus({ ...toUpdate, status: wireDaemonSetStatus(status) });
        return;
      } catch (err) {
        updateErr = err;
      }
      // Give up after the retries; the DaemonSet is requeued with backoff.
      if (i >= STATUS_UPDATE_RETRIES) break;
      const { namespace, name } = splitKey(keyOf(ds));
      // A failed GET makes the counts untrustworthy: that error says more than the update's.
      toUpdate = await this.d.api.get(namespace, name);
    }
    throw updateErr;
  }
}

/** Unscheduled pods for nodes that no longer exist (`getUnscheduledPodsWithoutNode`). */
export function getUnscheduledPodsWithoutNode(runningNodes: readonly Node[], nodeToDaemonPods: ReadonlyMap<string, readonly Pod[]>): string[] {
  const running = new Set(runningNodes.map((n) => n.metadata?.name ?? ""));
  const out: string[] = [];
  for (const [node, pods] of nodeToDaemonPods) {
    if (running.has(node)) continue;
    for (const pod of pods) if (!pod.spec?.nodeName) out.push(pod.metadata?.name ?? "");
  }
  return out;
}
