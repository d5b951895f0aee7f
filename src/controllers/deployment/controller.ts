/**
 * The Deployment controller, as upstream's (pkg/controller/deployment):
 * event handlers only map changes to Deployment keys (`ns/name`): a
 * Deployment's own, the owner of a changed ReplicaSet (or every Deployment
 * that could adopt an orphan), and, for Recreate, the owner of a deleted
 * pod once its last pod is gone. A few workers pull keys from one
 * rate-limited queue and run {@link DeploymentSyncer}; a key failing 15
 * times in a row is dropped until its next change, as upstream.
 */
import type { Deployment, ReplicaSet } from "kubernetes-types/apps/v1.js";
import type { Pod } from "kubernetes-types/core/v1.js";
import type { OwnerReference } from "kubernetes-types/meta/v1.js";
import type { SharedInformer } from "../../client/informer.js";
import { DEPLOYMENTS, PODS, REPLICA_SETS } from "../../client/resources.js";
import { objectKey } from "../../client/store.js";
import { systemTimers, type Timers } from "../../client/timers.js";
import { WorkQueue } from "../../client/work-queue.js";
import { selectorFromObject } from "../../machinery/labels.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { getControllerOf } from "../common/controller-ref.js";
import { deepEqual } from "../common/equality.js";
import { errorMessage } from "../common/errors.js";
import { addControllerUIDIndexer, addPodControllerUIDIndexer, CONTROLLER_UID_INDEX } from "../common/indexers.js";
import { hasStatusCause, NAMESPACE_TERMINATING_CAUSE, type PodEventRecorder } from "../common/pod-control.js";
import { podKey } from "../common/pod-utils.js";
import type { Controller, ControllerContext } from "../manager.js";
import { type DeploymentApi, restDeploymentApi } from "./api.js";
import { RECREATE } from "./fenceposts.js";
import { DEPLOYMENT_GVK, REPLICA_SET_GVK } from "./kinds.js";
import { DeploymentSyncer } from "./sync.js";
import { processNextWorkItem } from "../common/workers.js";

/** Upstream's default `--concurrent-deployment-syncs`. */
export const DEFAULT_WORKERS = 5;

/** Upstream's `maxRetries`: with the default rate limiter, about 82 s of backoff before a key is dropped. */
export const MAX_RETRIES = 15;

/** The component its events are reported as. */
export const DEPLOYMENT_CONTROLLER_NAME = "deployment-controller";

/** Options of a {@link DeploymentController}. */
export interface DeploymentControllerOptions {
  readonly deploymentInformer: SharedInformer<Deployment>;
  /** The shared ReplicaSet informer (the controller adds the controller-uid index). */
  readonly replicaSetInformer: SharedInformer<ReplicaSet>;
  /** The shared pod informer (the controller adds the pod controller-uid index). */
  readonly podInformer: SharedInformer<Pod>;
  readonly api: DeploymentApi;
  readonly recorder: PodEventRecorder;
  readonly logger?: Logger;
  /** Concurrent sync loops ({@link DEFAULT_WORKERS}). */
  readonly workers?: number;
  /** Time for the queue's delays and the conditions' timestamps (tests). */
  readonly timers?: Timers;
}

/** Keeps Deployments rolled out onto ReplicaSets. {@link run} until the signal aborts. */
export class DeploymentController implements Controller {
  /** Deployment keys waiting to be synced. */
  readonly queue: WorkQueue<string>;
  readonly syncer: DeploymentSyncer;
  private readonly log: Logger;

  constructor(private readonly opts: DeploymentControllerOptions) {
    const timers = opts.timers ?? systemTimers;
    this.log = opts.logger ?? silentLogger;
    this.queue = new WorkQueue<string>({ timers });
    addControllerUIDIndexer(opts.replicaSetInformer);
    addPodControllerUIDIndexer(opts.podInformer);
    this.syncer = new DeploymentSyncer({
      getDeployment: (key) => opts.deploymentInformer.get(key),
      replicaSets: opts.replicaSetInformer,
      pods: opts.podInformer,
      api: opts.api,
      recorder: opts.recorder,
      clock: timers,
      logger: this.log,
      enqueueAfter: (key, ms) => this.queue.addAfter(key, ms),
      enqueueRateLimited: (key) => this.queue.addRateLimited(key),
    });
    opts.deploymentInformer.addEventHandler({
      onAdd: (d) => this.enqueue(d),
      onUpdate: (_old, cur) => this.enqueue(cur),
      // The sync finds it gone from the cache and does nothing.
      onDelete: (d) => this.enqueue(d),
    });
    opts.replicaSetInformer.addEventHandler({
      onAdd: (rs) => this.addReplicaSet(rs),
      onUpdate: (old, cur) => this.updateReplicaSet(old, cur),
      onDelete: (rs) => this.deleteReplicaSet(rs),
    });
    opts.podInformer.addEventHandler({
      onDelete: (pod) => this.deletePod(pod),
    });
  }

  /** Waits for the caches, then runs the workers until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const stop = new AbortController();
    const onAbort = () => {
      stop.abort();
      this.queue.shutDown();
    };
    if (signal.aborted) return;
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      this.log.info("Starting controller", { controller: "deployment" });
      const synced = await Promise.all([
        this.opts.deploymentInformer.waitForSync(stop.signal),
        this.opts.replicaSetInformer.waitForSync(stop.signal),
        this.opts.podInformer.waitForSync(stop.signal),
      ]);
      if (!synced.every(Boolean)) return;
      const workers: Promise<void>[] = [];
      for (let i = 0; i < (this.opts.workers ?? DEFAULT_WORKERS); i++) workers.push(this.worker());
      await Promise.all(workers);
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.queue.shutDown();
      this.log.info("Shutting down controller", { controller: "deployment" });
    }
  }

  private async worker(): Promise<void> {
    while (await this.processNextWorkItem()) {
      // Each turn handles one key.
    }
  }

  /** Syncs one key from the queue; false once the queue is shut down. */
  processNextWorkItem(): Promise<boolean> {
    return processNextWorkItem(this.queue, (key) => this.syncer.syncDeployment(key), (key, err) => this.handleErr(err, key));
  }

  /** Upstream's `handleErr` for a failed sync: forget it in a terminating namespace, back off up to {@link MAX_RETRIES}, then drop. */
  private handleErr(err: unknown, key: string): void {
    if (hasStatusCause(err, NAMESPACE_TERMINATING_CAUSE)) {
      this.queue.forget(key);
      return;
    }
    if (this.queue.numRequeues(key) < MAX_RETRIES) {
      // Routine (a stale cache's write conflicts, say): upstream logs it at V(2).
      this.log.debug("Error syncing deployment", { deployment: key, err: errorMessage(err) });
      this.queue.addRateLimited(key);
      return;
    }
    this.log.error("Dropping deployment out of the queue", { deployment: key, err: errorMessage(err) });
    this.queue.forget(key);
  }

  private enqueue(d: Deployment): void {
    this.queue.add(objectKey(d));
  }

  // ---- ReplicaSet handlers ----

  /** The Deployment a controllerRef points to, if it is one and still the same object (uid). */
  private resolveControllerRef(namespace: string, ref: OwnerReference): Deployment | undefined {
    if (ref.kind !== DEPLOYMENT_GVK.kind) return undefined;
    const d = this.opts.deploymentInformer.get(`${namespace}/${ref.name}`);
    if (!d || d.metadata?.uid !== ref.uid) return undefined;
    return d;
  }

  /** Deployments of the ReplicaSet's namespace whose selector matches its labels (upstream's `GetDeploymentsForReplicaSet`). */
  private getDeploymentsForReplicaSet(rs: ReplicaSet): Deployment[] {
    const labels = rs.metadata?.labels;
    if (!labels || Object.keys(labels).length === 0) return [];
    const out: Deployment[] = [];
    for (const d of this.opts.deploymentInformer.byNamespace(rs.metadata?.namespace ?? "")) {
      try {
        const sel = selectorFromObject(d.spec?.selector);
        // A nil or empty selector must match nothing, not everything.
        if (sel && !sel.empty && sel.matches(labels)) out.push(d);
      } catch {
        // An invalid selector matches nothing.
      }
    }
    if (out.length > 1) {
      // ControllerRefs keep this safe, but it is a user error worth a line.
      this.log.debug("user error! more than one deployment is selecting replica set", { replicaSet: objectKey(rs), deployment: objectKey(out[0]!) });
    }
    return out;
  }

  private addReplicaSet(rs: ReplicaSet): void {
    if (rs.metadata?.deletionTimestamp) {
      // After a restart a ReplicaSet may first appear already being deleted.
      this.deleteReplicaSet(rs);
      return;
    }
    const ref = getControllerOf(rs);
    if (ref) {
      const d = this.resolveControllerRef(rs.metadata?.namespace ?? "", ref);
      if (d) this.enqueue(d);
      return;
    }
    // An orphan: wake every Deployment that could adopt it.
    for (const d of this.getDeploymentsForReplicaSet(rs)) this.enqueue(d);
  }

  private updateReplicaSet(oldRS: ReplicaSet, curRS: ReplicaSet): void {
    // A periodic resync replays every ReplicaSet unchanged.
    if (curRS.metadata?.resourceVersion === oldRS.metadata?.resourceVersion) return;
    const curRef = getControllerOf(curRS);
    const oldRef = getControllerOf(oldRS);
    const refChanged = !deepEqual(curRef, oldRef);
    if (refChanged && oldRef) {
      // The old owner must notice it lost a ReplicaSet.
      const d = this.resolveControllerRef(oldRS.metadata?.namespace ?? "", oldRef);
      if (d) this.enqueue(d);
    }
    if (curRef) {
      const d = this.resolveControllerRef(curRS.metadata?.namespace ?? "", curRef);
      if (d) this.enqueue(d);
      return;
    }
    // An orphan: if anything changed, a Deployment may want to adopt it now.
    const labelChanged = !deepEqual(curRS.metadata?.labels, oldRS.metadata?.labels);
    if (labelChanged || refChanged) for (const d of this.getDeploymentsForReplicaSet(curRS)) this.enqueue(d);
  }

  private deleteReplicaSet(rs: ReplicaSet): void {
    // Nobody cares about orphans going away.
    const ref = getControllerOf(rs);
    if (!ref) return;
    const d = this.resolveControllerRef(rs.metadata?.namespace ?? "", ref);
    if (d) this.enqueue(d);
  }

  // ---- pod handlers ----

  /** The Deployment owning the ReplicaSet that owns `pod` (upstream's `getDeploymentForPod`). */
  private getDeploymentForPod(pod: Pod): Deployment | undefined {
    const ref = getControllerOf(pod);
    if (!ref || ref.kind !== REPLICA_SET_GVK.kind) return undefined;
    const rs = this.opts.replicaSetInformer.get(`${pod.metadata?.namespace ?? ""}/${ref.name}`);
    if (!rs || rs.metadata?.uid !== ref.uid) {
      this.log.debug("Cannot get replicaset for pod", { ownerReference: ref.name, pod: podKey(pod) });
      return undefined;
    }
    const dRef = getControllerOf(rs);
    return dRef ? this.resolveControllerRef(rs.metadata?.namespace ?? "", dRef) : undefined;
  }

  /**
   * A Recreate Deployment waits for its old pods to be gone: wake it when
   * its last pod is deleted (upstream's `deletePod`). Upstream lists the
   * ReplicaSets live; the cache's controller-uid index serves here.
   */
  private deletePod(pod: Pod): void {
    const d = this.getDeploymentForPod(pod);
    if (!d || d.spec?.strategy?.type !== RECREATE) return;
    const rsList = this.opts.replicaSetInformer.byIndex(CONTROLLER_UID_INDEX, d.metadata?.uid ?? "");
    let numPods = 0;
    for (const pods of this.syncer.getPodMapForDeployment(d, rsList).values()) numPods += pods.length;
    if (numPods === 0) this.enqueue(d);
  }
}

/** The `deployment` controller of a controller manager. */
export function newDeploymentController(ctx: ControllerContext): DeploymentController {
  const logger = ctx.logger.with({ controller: "deployment" });
  return new DeploymentController({
    deploymentInformer: ctx.informers.informerFor<Deployment>(DEPLOYMENTS),
    replicaSetInformer: ctx.informers.informerFor<ReplicaSet>(REPLICA_SETS),
    podInformer: ctx.informers.informerFor<Pod>(PODS),
    api: restDeploymentApi(ctx.rest),
    recorder: ctx.recorder(DEPLOYMENT_CONTROLLER_NAME),
    logger,
  });
}
