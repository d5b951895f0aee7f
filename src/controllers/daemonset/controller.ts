/**
 * The DaemonSet controller, as upstream's pkg/controller/daemon: event
 * handlers only map changes to DaemonSet keys (`ns/name`) — a
 * DaemonSet's own; the owner of a changed pod or ControllerRevision (or
 * every DaemonSet that could adopt an orphan); every DaemonSet a new node
 * should run, or whose verdict a node's label or taint change flips — and
 * record observed pod creates and deletes against expectations. A few
 * workers run {@link DaemonSetSyncer}, requeueing with backoff on failure.
 */
import type { ControllerRevision, DaemonSet } from "kubernetes-types/apps/v1.js";
import type { Node, Pod } from "kubernetes-types/core/v1.js";
import type { OwnerReference } from "kubernetes-types/meta/v1.js";
import type { SharedInformer } from "../../client/informer.js";
import { DAEMON_SETS, NODES, PODS } from "../../client/resources.js";
import { objectKey } from "../../client/store.js";
import { systemTimers, type Timers } from "../../client/timers.js";
import { WorkQueue } from "../../client/work-queue.js";
import { selectorFromObject } from "../../machinery/labels.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { getControllerOf } from "../common/controller-ref.js";
import { deepEqual } from "../common/equality.js";
import { errorMessage } from "../common/errors.js";
import { ControllerExpectations } from "../common/expectations.js";
import { addPodControllerUIDIndexer } from "../common/indexers.js";
import { type PodControl, type PodEventRecorder, RealPodControl, restPodApi } from "../common/pod-control.js";
import { isPodReady, podKey } from "../common/pod-utils.js";
import { processNextWorkItem, runController } from "../common/workers.js";
import { type ControllerRevisionApi, restControllerRevisionApi } from "../history/controller-history.js";
import { CONTROLLER_REVISIONS } from "../history/kinds.js";
import type { Controller, ControllerContext } from "../manager.js";
import { type DaemonSetApi, restDaemonSetApi } from "./api.js";
import { FailedPodsBackoff } from "./failed-pods-backoff.js";
import { DAEMON_SET_CONTROLLER_NAME, DAEMON_SET_GVK, keyOf } from "./kinds.js";
import { nodeShouldRunDaemonPod } from "./node-should-run.js";
import { BURST_REPLICAS, DaemonSetSyncer } from "./sync.js";

/** Upstream's default `--concurrent-daemonset-syncs`. */
export const DEFAULT_WORKERS = 2;

/** How often expired failed-pod backoff entries are dropped (upstream's `BackoffGCInterval`). */
export const BACKOFF_GC_INTERVAL_MS = 60_000;

/** Options of a {@link DaemonSetController}. */
export interface DaemonSetControllerOptions {
  readonly dsInformer: SharedInformer<DaemonSet>;
  readonly historyInformer: SharedInformer<ControllerRevision>;
  /** The shared pod informer (the controller adds the pod controller-uid index). */
  readonly podInformer: SharedInformer<Pod>;
  readonly nodeInformer: SharedInformer<Node>;
  readonly api: DaemonSetApi;
  readonly revisions: ControllerRevisionApi;
  readonly podControl: PodControl;
  readonly recorder: PodEventRecorder;
  readonly logger?: Logger;
  /** Creates or deletes per sync ({@link BURST_REPLICAS}). */
  readonly burstReplicas?: number;
  /** Concurrent sync loops ({@link DEFAULT_WORKERS}). */
  readonly workers?: number;
  /** Time for the queue, expectations, availability and backoff (tests). */
  readonly timers?: Timers;
}

/** Keeps one pod of each DaemonSet on every node that should run it. {@link run} until the signal aborts. */
export class DaemonSetController implements Controller {
  /** DaemonSet keys waiting to be synced. */
  readonly queue: WorkQueue<string>;
  readonly expectations: ControllerExpectations;
  readonly syncer: DaemonSetSyncer;
  private readonly log: Logger;
  private readonly timers: Timers;
  private readonly failedPodsBackoff: FailedPodsBackoff;

  constructor(private readonly opts: DaemonSetControllerOptions) {
    this.timers = opts.timers ?? systemTimers;
    this.log = opts.logger ?? silentLogger;
    this.queue = new WorkQueue<string>({ timers: this.timers });
    this.expectations = new ControllerExpectations({ clock: this.timers, logger: this.log });
    this.failedPodsBackoff = new FailedPodsBackoff(this.timers);
    addPodControllerUIDIndexer(opts.podInformer);
    this.syncer = new DaemonSetSyncer({
      getDaemonSet: (key) => opts.dsInformer.get(key),
      listNodes: () => opts.nodeInformer.list(),
      getNode: (name) => opts.nodeInformer.get(name),
      pods: opts.podInformer,
      listRevisions: (ns) => opts.historyInformer.byNamespace(ns),
      api: opts.api,
      revisions: opts.revisions,
      podControl: opts.podControl,
      recorder: opts.recorder,
      expectations: this.expectations,
      failedPodsBackoff: this.failedPodsBackoff,
      burstReplicas: opts.burstReplicas ?? BURST_REPLICAS,
      clock: this.timers,
      logger: this.log,
      enqueueAfter: (key, ms) => this.queue.addAfter(key, ms),
    });
    opts.dsInformer.addEventHandler({
      onAdd: (ds) => {
        this.log.debug("Adding daemon set", { daemonset: keyOf(ds) });
        this.enqueue(ds);
      },
      onUpdate: (old, cur) => {
        // A delete and re-create under one name can reach us as an update: treat it as the delete it hides.
        if (old.metadata?.uid !== cur.metadata?.uid) this.deleteDaemonset(old);
        this.log.debug("Updating daemon set", { daemonset: keyOf(old) });
        this.enqueue(cur);
      },
      onDelete: (ds) => this.deleteDaemonset(ds),
    });
    opts.historyInformer.addEventHandler({
      onAdd: (h) => this.addHistory(h),
      onUpdate: (old, cur) => this.updateHistory(old, cur),
      onDelete: (h) => this.deleteHistory(h),
    });
    opts.podInformer.addEventHandler({
      onAdd: (pod) => this.addPod(pod),
      onUpdate: (old, cur) => this.updatePod(old, cur),
      onDelete: (pod) => this.deletePod(pod),
    });
    opts.nodeInformer.addEventHandler({
      onAdd: (node) => this.addNode(node),
      onUpdate: (old, cur) => this.updateNode(old, cur),
    });
  }

  /** Waits for the caches, then runs the workers until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const o = this.opts;
    return runController(signal, {
      name: "daemonset",
      log: this.log,
      queues: [this.queue],
      informers: [o.podInformer, o.nodeInformer, o.historyInformer, o.dsInformer],
      workers: o.workers ?? DEFAULT_WORKERS,
      processNextWorkItem: () => this.processNextWorkItem(),
      afterSync: () => {
        let cancelGc: (() => void) | undefined;
        const gc = () => {
          this.failedPodsBackoff.gc();
          cancelGc = this.timers.after(BACKOFF_GC_INTERVAL_MS, gc);
        };
        cancelGc = this.timers.after(BACKOFF_GC_INTERVAL_MS, gc);
        return { cleanup: () => cancelGc?.() };
      },
    });
  }

  /** Syncs one key from the queue; false once the queue is shut down. */
  processNextWorkItem(): Promise<boolean> {
    return processNextWorkItem(
      this.queue,
      (key) => this.syncer.syncDaemonSet(key),
      (key, err) => {
        this.log.error("sync failed", { daemonset: key, err: errorMessage(err) });
        this.queue.addRateLimited(key);
      },
    );
  }

  private enqueue(ds: DaemonSet): void {
    this.queue.add(objectKey(ds));
  }

  private deleteDaemonset(ds: DaemonSet): void {
    this.log.debug("Deleting daemon set", { daemonset: keyOf(ds) });
    const key = objectKey(ds);
    // A new DaemonSet of the same name must start without the old one's expectations.
    this.expectations.deleteExpectations(key);
    this.queue.add(key);
  }

  /** The DaemonSet `ref` points to, if it is one and still the same object (`resolveControllerRef`). */
  private resolveControllerRef(namespace: string, ref: OwnerReference): DaemonSet | undefined {
    if (ref.kind !== DAEMON_SET_GVK.kind) return undefined;
    const ds = this.opts.dsInformer.get(`${namespace}/${ref.name}`);
    return ds && ds.metadata?.uid === ref.uid ? ds : undefined;
  }

  /** DaemonSets of the namespace whose selector matches `labels` (`GetPodDaemonSets`, `GetHistoryDaemonSets`). */
  private daemonSetsSelecting(namespace: string, labels: Readonly<Record<string, string>> | undefined): DaemonSet[] {
    if (!labels || Object.keys(labels).length === 0) return [];
    const out: DaemonSet[] = [];
    for (const ds of this.opts.dsInformer.byNamespace(namespace)) {
      try {
        const sel = selectorFromObject(ds.spec?.selector);
        // A nil or empty selector matches nothing, not everything.
        if (sel && !sel.empty && sel.matches(labels)) out.push(ds);
      } catch {
        // An invalid selector matches nothing.
      }
    }
    return out;
  }

  // ---- ControllerRevision handlers ----

  private addHistory(history: ControllerRevision): void {
    if (history.metadata?.deletionTimestamp) {
      this.deleteHistory(history);
      return;
    }
    const ref = getControllerOf(history);
    if (ref) {
      if (this.resolveControllerRef(history.metadata?.namespace ?? "", ref)) this.log.debug("Observed a ControllerRevision", { controllerRevision: keyOf(history) });
      return;
    }
    // An orphan: wake every DaemonSet that could adopt it.
    const dss = this.daemonSetsSelecting(history.metadata?.namespace ?? "", history.metadata?.labels);
    if (dss.length > 1) this.log.debug("Found more than one DaemonSet selecting the ControllerRevision. This is potentially a user error", { controllerRevision: keyOf(history) });
    for (const ds of dss) this.enqueue(ds);
  }

  private updateHistory(old: ControllerRevision, cur: ControllerRevision): void {
    if (cur.metadata?.resourceVersion === old.metadata?.resourceVersion) return;
    const curRef = getControllerOf(cur);
    const oldRef = getControllerOf(old);
    const refChanged = !deepEqual(curRef, oldRef);
    if (refChanged && oldRef) {
      const ds = this.resolveControllerRef(old.metadata?.namespace ?? "", oldRef);
      if (ds) this.enqueue(ds);
    }
    if (curRef) {
      const ds = this.resolveControllerRef(cur.metadata?.namespace ?? "", curRef);
      if (!ds) return;
      this.log.debug("Observed an update to a ControllerRevision", { controllerRevision: keyOf(cur) });
      this.enqueue(ds);
      return;
    }
    const labelChanged = !deepEqual(cur.metadata?.labels, old.metadata?.labels);
    if (labelChanged || refChanged) for (const ds of this.daemonSetsSelecting(cur.metadata?.namespace ?? "", cur.metadata?.labels)) this.enqueue(ds);
  }

  private deleteHistory(history: ControllerRevision): void {
    const ref = getControllerOf(history);
    if (!ref) return;
    const ds = this.resolveControllerRef(history.metadata?.namespace ?? "", ref);
    if (!ds) return;
    this.log.debug("ControllerRevision deleted", { controllerRevision: keyOf(history) });
    this.enqueue(ds);
  }

  // ---- pod handlers ----

  private addPod(pod: Pod): void {
    if (pod.metadata?.deletionTimestamp) {
      // After a restart a pod may first appear already being deleted: that is no creation.
      this.deletePod(pod);
      return;
    }
    const ref = getControllerOf(pod);
    if (ref) {
      const ds = this.resolveControllerRef(pod.metadata?.namespace ?? "", ref);
      if (!ds) return;
      this.log.debug("Pod added", { pod: podKey(pod) });
      this.expectations.creationObserved(objectKey(ds));
      this.enqueue(ds);
      return;
    }
    // An orphan: no DaemonSet waits for it, so no creation is observed.
    const dss = this.daemonSetsSelecting(pod.metadata?.namespace ?? "", pod.metadata?.labels);
    if (dss.length > 1) this.log.error("user error! more than one daemon is selecting pods with labels", { labels: JSON.stringify(pod.metadata?.labels ?? {}) });
    for (const ds of dss) this.enqueue(ds);
  }

  private updatePod(oldPod: Pod, curPod: Pod): void {
    if (curPod.metadata?.resourceVersion === oldPod.metadata?.resourceVersion) return;
    if (curPod.metadata?.deletionTimestamp) {
      // A graceful delete shows first as this update: replace the pod now, not when the kubelet is done.
      this.deletePod(curPod);
      return;
    }
    const curRef = getControllerOf(curPod);
    const oldRef = getControllerOf(oldPod);
    const refChanged = !deepEqual(curRef, oldRef);
    if (refChanged && oldRef) {
      const ds = this.resolveControllerRef(oldPod.metadata?.namespace ?? "", oldRef);
      if (ds) this.enqueue(ds);
    }
    if (curRef) {
      const ds = this.resolveControllerRef(curPod.metadata?.namespace ?? "", curRef);
      if (!ds) return;
      this.log.debug("Pod updated", { pod: podKey(curPod) });
      this.enqueue(ds);
      const minReady = ds.spec?.minReadySeconds ?? 0;
      // Availability is no event of its own: look again once minReadySeconds passed (plus a second against skew).
      if (!isPodReady(oldPod) && isPodReady(curPod) && minReady > 0) this.queue.addAfter(objectKey(ds), minReady * 1000 + 1000);
      return;
    }
    const labelChanged = !deepEqual(curPod.metadata?.labels, oldPod.metadata?.labels);
    if (labelChanged || refChanged) for (const ds of this.daemonSetsSelecting(curPod.metadata?.namespace ?? "", curPod.metadata?.labels)) this.enqueue(ds);
  }

  private deletePod(pod: Pod): void {
    // No DaemonSet cares about orphans going away.
    const ref = getControllerOf(pod);
    if (!ref) return;
    const ds = this.resolveControllerRef(pod.metadata?.namespace ?? "", ref);
    if (!ds) return;
    this.log.debug("Pod deleted", { pod: podKey(pod) });
    this.expectations.deletionObserved(objectKey(ds));
    this.enqueue(ds);
  }

  // ---- node handlers ----

  private addNode(node: Node): void {
    for (const ds of this.opts.dsInformer.list()) if (nodeShouldRunDaemonPod(node, ds).shouldRun) this.enqueue(ds);
  }

  private updateNode(oldNode: Node, curNode: Node): void {
    // Only labels and taints decide where daemon pods run; heartbeats change neither.
    if (deepEqual(oldNode.metadata?.labels ?? {}, curNode.metadata?.labels ?? {}) && deepEqual(oldNode.spec?.taints ?? [], curNode.spec?.taints ?? [])) return;
    for (const ds of this.opts.dsInformer.list()) {
      const before = nodeShouldRunDaemonPod(oldNode, ds);
      const after = nodeShouldRunDaemonPod(curNode, ds);
      if (before.shouldRun !== after.shouldRun || before.shouldContinueRunning !== after.shouldContinueRunning) this.enqueue(ds);
    }
  }
}

/** The `daemonset` controller of a controller manager. */
export function newDaemonSetController(ctx: ControllerContext): DaemonSetController {
  const logger = ctx.logger.with({ controller: "daemonset" });
  const recorder = ctx.recorder(DAEMON_SET_CONTROLLER_NAME);
  return new DaemonSetController({
    dsInformer: ctx.informers.informerFor<DaemonSet>(DAEMON_SETS),
    historyInformer: ctx.informers.informerFor<ControllerRevision>(CONTROLLER_REVISIONS),
    podInformer: ctx.informers.informerFor<Pod>(PODS),
    nodeInformer: ctx.informers.informerFor<Node>(NODES),
    api: restDaemonSetApi(ctx.rest),
    revisions: restControllerRevisionApi(ctx.rest),
    podControl: new RealPodControl({ pods: restPodApi(ctx.rest), recorder, logger }),
    recorder,
    logger,
  });
}
