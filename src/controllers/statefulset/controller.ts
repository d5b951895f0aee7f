/**
 * The StatefulSet controller, as upstream's pkg/controller/statefulset:
 * event handlers only map changes to StatefulSet keys (`ns/name`): a set's
 * own, the owner of a changed pod, or every set that could adopt an orphan
 * pod. A few workers pull keys from one rate-limited queue; a sync adopts
 * orphaned ControllerRevisions, claims the set's pods (by selector and by
 * name) and runs {@link StatefulSetControl}.
 */
import type { ControllerRevision, StatefulSet } from "kubernetes-types/apps/v1.js";
import type { PersistentVolumeClaim, Pod } from "kubernetes-types/core/v1.js";
import type { OwnerReference } from "kubernetes-types/meta/v1.js";
import type { SharedInformer } from "../../client/informer.js";
import { PERSISTENT_VOLUME_CLAIMS, PODS, STATEFUL_SETS } from "../../client/resources.js";
import { objectKey } from "../../client/store.js";
import { sleepOn, systemTimers, type Timers } from "../../client/timers.js";
import { WorkQueue } from "../../client/work-queue.js";
import { type LabelSelector, selectorFromObject } from "../../machinery/labels.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { getControllerOf } from "../common/controller-ref.js";
import { type CanAdoptFunc, type ClaimResult, PodControllerRefManager, recheckDeletionTimestamp } from "../common/controller-ref-manager.js";
import { deepEqual } from "../common/equality.js";
import { errorMessage } from "../common/errors.js";
import { addPodControllerUIDIndexer, filterPodsByOwner } from "../common/indexers.js";
import { type PodControl, type PodEventRecorder, RealPodControl, restPodApi } from "../common/pod-control.js";
import { isPodReady, podKey } from "../common/pod-utils.js";
import { processNextWorkItem, runController } from "../common/workers.js";
import { type ControllerHistory, informerRevisionLister, RealControllerHistory, restControllerRevisionApi } from "../history/controller-history.js";
import { CONTROLLER_REVISIONS } from "../history/kinds.js";
import type { Controller, ControllerContext } from "../manager.js";
import { orphanRevisions, StatefulSetControl } from "./control.js";
import { isMemberOf, specReplicas } from "./identity.js";
import { keyOf, STATEFUL_SET_CONTROLLER_NAME, STATEFUL_SET_GVK } from "./kinds.js";
import { restStatefulPodObjectManager, StatefulPodControl, type StatefulPodObjectManager } from "./pod-control.js";
import { restStatefulSetApi, type StatefulSetApi, StatefulSetStatusUpdater } from "./status-updater.js";

/** Upstream's default `--concurrent-statefulset-syncs`. */
export const DEFAULT_WORKERS = 5;

/** Options of a {@link StatefulSetController}. */
export interface StatefulSetControllerOptions {
  readonly setInformer: SharedInformer<StatefulSet>;
  /** The shared pod informer (the controller adds the pod controller-uid index). */
  readonly podInformer: SharedInformer<Pod>;
  readonly pvcInformer: SharedInformer<PersistentVolumeClaim>;
  readonly revisionInformer: SharedInformer<ControllerRevision>;
  readonly api: StatefulSetApi;
  /** Pod and claim writes (reads should come from the informers above). */
  readonly objects: StatefulPodObjectManager;
  readonly history: ControllerHistory;
  /** Pod patches for adoption and release. */
  readonly podPatcher: PodControl;
  readonly recorder: PodEventRecorder;
  readonly logger?: Logger;
  /** Concurrent sync loops ({@link DEFAULT_WORKERS}). */
  readonly workers?: number;
  /** Time for the queue's delays and pod availability (tests). */
  readonly timers?: Timers;
}

/** Keeps StatefulSets' pods, claims and revisions in line with their specs. {@link run} until the signal aborts. */
export class StatefulSetController implements Controller {
  /** StatefulSet keys waiting to be synced. */
  readonly queue: WorkQueue<string>;
  readonly control: StatefulSetControl;
  private readonly log: Logger;
  private readonly timers: Timers;

  constructor(private readonly opts: StatefulSetControllerOptions) {
    this.timers = opts.timers ?? systemTimers;
    this.log = opts.logger ?? silentLogger;
    this.queue = new WorkQueue<string>({ timers: this.timers });
    addPodControllerUIDIndexer(opts.podInformer);
    const sleep = (ms: number) => sleepOn(this.timers, ms);
    this.control = new StatefulSetControl({
      podControl: new StatefulPodControl({ objects: opts.objects, recorder: opts.recorder, logger: this.log, sleep }),
      statusUpdater: new StatefulSetStatusUpdater(opts.api, (ns, name) => opts.setInformer.get(`${ns}/${name}`), sleep),
      history: opts.history,
      clock: this.timers,
      logger: this.log,
    });
    opts.podInformer.addEventHandler({
      onAdd: (pod) => this.addPod(pod),
      onUpdate: (old, cur) => this.updatePod(old, cur),
      onDelete: (pod) => this.deletePod(pod),
    });
    opts.setInformer.addEventHandler({
      onAdd: (set) => this.enqueue(set),
      onUpdate: (old, cur) => {
        if ((old.status?.replicas ?? 0) !== (cur.status?.replicas ?? 0)) {
          this.log.debug("Observed updated replica count for StatefulSet", { statefulSet: keyOf(cur), oldReplicas: old.status?.replicas ?? 0, newReplicas: cur.status?.replicas ?? 0 });
        }
        this.enqueue(cur);
      },
      onDelete: (set) => this.enqueue(set),
    });
  }

  /** Waits for the caches, then runs the workers until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const o = this.opts;
    return runController(signal, {
      name: "statefulset",
      log: this.log,
      queues: [this.queue],
      informers: [o.podInformer, o.setInformer, o.pvcInformer, o.revisionInformer],
      workers: o.workers ?? DEFAULT_WORKERS,
      processNextWorkItem: () => this.processNextWorkItem(),
    });
  }

  /** Syncs one key from the queue; false once the queue is shut down. */
  processNextWorkItem(): Promise<boolean> {
    return processNextWorkItem(
      this.queue,
      (key) => this.sync(key),
      (key, err) => {
        this.log.error("error syncing StatefulSet, requeuing", { statefulSet: key, err: errorMessage(err) });
        this.queue.addRateLimited(key);
      },
    );
  }

  /** Syncs the set with `key` (`sync`); rejects so the key is retried with backoff. */
  async sync(key: string): Promise<void> {
    const start = this.timers.now();
    try {
      const set = this.opts.setInformer.get(key);
      if (!set) {
        this.log.info("StatefulSet has been deleted", { key });
        return;
      }
      let selector: LabelSelector | undefined;
      try {
        selector = selectorFromObject(set.spec?.selector);
      } catch (err) {
        // Not transient: a retry would fail the same way.
        this.log.error("error converting StatefulSet selector", { key, err: errorMessage(err) });
        return;
      }
      await this.adoptOrphanRevisions(set);
      const claim = await this.getPodsForStatefulSet(set, selector);
      if (claim.error) throw claim.error;
      await this.syncStatefulSet(set, claim.claimed);
    } finally {
      this.log.debug("Finished syncing statefulset", { key, durationMs: this.timers.now() - start });
    }
  }

  private async syncStatefulSet(set: StatefulSet, pods: Pod[]): Promise<void> {
    this.log.debug("Syncing StatefulSet with pods", { statefulSet: keyOf(set), pods: pods.length });
    const status = await this.control.updateStatefulSet(set, pods);
    this.log.debug("Successfully synced StatefulSet", { statefulSet: keyOf(set) });
    // One more sync against clock skew, which also picks up pods turning available.
    const minReady = set.spec?.minReadySeconds ?? 0;
    if (minReady > 0 && status && (status.availableReplicas ?? 0) !== specReplicas(set)) this.queue.addAfter(objectKey(set), minReady * 1000);
  }

  /** Re-reads the set live before the first adoption (kubernetes#42639) (`canAdoptFunc`). */
  private canAdoptFunc(set: StatefulSet): CanAdoptFunc {
    const m = set.metadata ?? {};
    return recheckDeletionTimestamp(async () => {
      const fresh = await this.opts.api.get(m.namespace ?? "", m.name ?? "");
      if (fresh.metadata?.uid !== m.uid) {
        throw new Error(`original StatefulSet ${m.namespace ?? ""}/${m.name ?? ""} is gone: got uid ${fresh.metadata?.uid ?? ""}, wanted ${m.uid ?? ""}`);
      }
      return fresh;
    });
  }

  /** Adopts the orphaned revisions the set's selector matches (`adoptOrphanRevisions`). */
  private async adoptOrphanRevisions(set: StatefulSet): Promise<void> {
    const orphans = orphanRevisions(this.control.listRevisions(set));
    if (orphans.length === 0) return;
    try {
      await this.canAdoptFunc(set)();
    } catch (err) {
      throw new Error(`can't adopt ControllerRevisions: ${errorMessage(err)}`, { cause: err });
    }
    await this.control.adoptOrphanRevisions(set, orphans);
  }

  /** The set's pods: adopted and released by selector, and only those named as its members (`getPodsForStatefulSet`). */
  private getPodsForStatefulSet(set: StatefulSet, selector: LabelSelector | undefined): Promise<ClaimResult<Pod>> {
    // Its own pods and the namespace's orphans: all it could claim.
    const pods = filterPodsByOwner(this.opts.podInformer, set.metadata);
    const manager = new PodControllerRefManager(this.opts.podPatcher, {
      controller: set.metadata ?? {},
      selector,
      controllerKind: STATEFUL_SET_GVK,
      canAdopt: this.canAdoptFunc(set),
    });
    return manager.claimPods(pods, (pod) => isMemberOf(set, pod));
  }

  private enqueue(set: StatefulSet): void {
    this.queue.add(objectKey(set));
  }

  // ---- pod handlers ----

  /** The set `ref` points to, if it is one and still the same object (`resolveControllerRef`). */
  private resolveControllerRef(namespace: string, ref: OwnerReference): StatefulSet | undefined {
    if (ref.kind !== STATEFUL_SET_GVK.kind) return undefined;
    const set = this.opts.setInformer.get(`${namespace}/${ref.name}`);
    return set && set.metadata?.uid === ref.uid ? set : undefined;
  }

  /** Sets of the pod's namespace whose selector matches it (`getStatefulSetsForPod`). */
  private getStatefulSetsForPod(pod: Pod): StatefulSet[] {
    const labels = pod.metadata?.labels;
    if (!labels || Object.keys(labels).length === 0) return [];
    const out: StatefulSet[] = [];
    for (const set of this.opts.setInformer.byNamespace(pod.metadata?.namespace ?? "")) {
      try {
        const sel = selectorFromObject(set.spec?.selector);
        // A nil or empty selector matches nothing, not everything.
        if (sel && !sel.empty && sel.matches(labels)) out.push(set);
      } catch {
        // An invalid selector matches nothing.
      }
    }
    if (out.length > 1) {
      // ControllerRefs keep this safe, but it is a user error worth a line.
      this.log.error("user error: more than one StatefulSet is selecting pods with labels", {
        labels: JSON.stringify(labels),
        sets: out.map((s) => s.metadata?.name ?? "").join(","),
      });
    }
    return out;
  }

  private addPod(pod: Pod): void {
    if (pod.metadata?.deletionTimestamp) {
      // After a restart a pod may first appear already being deleted: that is no creation.
      this.deletePod(pod);
      return;
    }
    const ref = getControllerOf(pod);
    if (ref) {
      const set = this.resolveControllerRef(pod.metadata?.namespace ?? "", ref);
      if (!set) return;
      this.log.debug("Pod created with labels", { pod: podKey(pod), labels: JSON.stringify(pod.metadata?.labels ?? {}) });
      this.enqueue(set);
      return;
    }
    // An orphan: wake every matching set so one may adopt it.
    for (const set of this.getStatefulSetsForPod(pod)) this.enqueue(set);
  }

  private updatePod(oldPod: Pod, curPod: Pod): void {
    // A relist replays every pod unchanged.
    if (curPod.metadata?.resourceVersion === oldPod.metadata?.resourceVersion) return;
    const labelChanged = !deepEqual(curPod.metadata?.labels, oldPod.metadata?.labels);
    const curRef = getControllerOf(curPod);
    const oldRef = getControllerOf(oldPod);
    const refChanged = !deepEqual(curRef, oldRef);
    if (refChanged && oldRef) {
      // The old owner must notice it lost a pod.
      const set = this.resolveControllerRef(oldPod.metadata?.namespace ?? "", oldRef);
      if (set) this.enqueue(set);
    }
    if (curRef) {
      const set = this.resolveControllerRef(curPod.metadata?.namespace ?? "", curRef);
      if (!set) return;
      if (oldPod.status?.phase !== curPod.status?.phase) {
        this.log.debug("StatefulSet Pod phase changed", { pod: podKey(curPod), statefulSet: keyOf(set), podPhase: curPod.status?.phase ?? "" });
      }
      this.enqueue(set);
      // Availability is no event of its own: look again once minReadySeconds passed (plus a second against skew).
      const minReady = set.spec?.minReadySeconds ?? 0;
      if (!isPodReady(oldPod) && isPodReady(curPod) && minReady > 0) {
        this.log.debug("StatefulSet will be enqueued after minReadySeconds for availability check", { statefulSet: keyOf(set), minReadySeconds: minReady });
        this.queue.addAfter(objectKey(set), minReady * 1000 + 1000);
      }
      return;
    }
    // An orphan: if anything changed, a matching set may want to adopt it now.
    if (labelChanged || refChanged) for (const set of this.getStatefulSetsForPod(curPod)) this.enqueue(set);
  }

  private deletePod(pod: Pod): void {
    // No set cares about orphans going away.
    const ref = getControllerOf(pod);
    if (!ref) return;
    const set = this.resolveControllerRef(pod.metadata?.namespace ?? "", ref);
    if (!set) return;
    this.log.debug("Pod deleted", { pod: podKey(pod) });
    this.enqueue(set);
  }
}

/** The `statefulset` controller of a controller manager. */
export function newStatefulSetController(ctx: ControllerContext): StatefulSetController {
  const logger = ctx.logger.with({ controller: "statefulset" });
  const podInformer = ctx.informers.informerFor<Pod>(PODS);
  const pvcInformer = ctx.informers.informerFor<PersistentVolumeClaim>(PERSISTENT_VOLUME_CLAIMS);
  const revisionInformer = ctx.informers.informerFor<ControllerRevision>(CONTROLLER_REVISIONS);
  const recorder = ctx.recorder(STATEFUL_SET_CONTROLLER_NAME);
  const key = (ns: string, name: string) => `${ns}/${name}`;
  return new StatefulSetController({
    setInformer: ctx.informers.informerFor<StatefulSet>(STATEFUL_SETS),
    podInformer,
    pvcInformer,
    revisionInformer,
    api: restStatefulSetApi(ctx.rest),
    objects: restStatefulPodObjectManager(ctx.rest, {
      getPod: (ns, name) => podInformer.get(key(ns, name)),
      getClaim: (ns, name) => pvcInformer.get(key(ns, name)),
    }),
    history: new RealControllerHistory(restControllerRevisionApi(ctx.rest), informerRevisionLister(revisionInformer)),
    podPatcher: new RealPodControl({ pods: restPodApi(ctx.rest), recorder, logger }),
    recorder,
    logger,
  });
}

