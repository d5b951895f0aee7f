/**
 * The ReplicaSet controller and its ReplicationController twin, as
 * upstream's (pkg/controller/replicaset, pkg/controller/replication): event
 * handlers only map changes to owner keys (`ns/name`) and record observed
 * creates and deletes against expectations; a few workers pull keys from
 * one rate-limited work queue and run {@link ReplicaSetSyncer}, requeueing
 * with backoff on failure.
 */
import type { ReplicaSet } from "kubernetes-types/apps/v1.js";
import type { Pod, ReplicationController } from "kubernetes-types/core/v1.js";
import type { OwnerReference } from "kubernetes-types/meta/v1.js";
import type { SharedInformer } from "../../client/informer.js";
import { type KubeObject, ResourceClient } from "../../client/resource-client.js";
import { PODS } from "../../client/resources.js";
import type { RestClient } from "../../client/rest-client.js";
import { objectKey } from "../../client/store.js";
import { systemTimers, type Timers } from "../../client/timers.js";
import { WorkQueue } from "../../client/work-queue.js";
import { selectorFromObject } from "../../machinery/labels.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import type { RankingFeatures } from "../common/active-pods.js";
import { getControllerOf } from "../common/controller-ref.js";
import { deepEqual } from "../common/equality.js";
import { errorMessage } from "../common/errors.js";
import { ControllerExpectations, UIDTrackingControllerExpectations } from "../common/expectations.js";
import { addControllerUIDIndexer, addPodControllerUIDIndexer, CONTROLLER_UID_INDEX } from "../common/indexers.js";
import { type PodControl, RealPodControl, restPodApi } from "../common/pod-control.js";
import { isPodReady, podKey } from "../common/pod-utils.js";
import type { Controller, ControllerContext } from "../manager.js";
import { REPLICA_SET_KIND, REPLICATION_CONTROLLER_KIND, type ReplicaSetKind } from "./kind.js";
import type { ReplicaSetApi } from "./status.js";
import { BURST_REPLICAS, type ReplicaSetLister, ReplicaSetSyncer } from "./sync.js";
import { processNextWorkItem } from "../common/workers.js";

/** Upstream's default `--concurrent-replicaset-syncs` (and `--concurrent-rc-syncs`). */
export const DEFAULT_WORKERS = 5;

/** Options of a {@link ReplicaSetController}. */
export interface ReplicaSetControllerOptions<T extends KubeObject> {
  readonly kind: ReplicaSetKind<T>;
  /** The shared pod informer (the controller adds its index). */
  readonly podInformer: SharedInformer<Pod>;
  /** The shared informer of `kind`. */
  readonly ownerInformer: SharedInformer<T>;
  /** Live reads and status writes of `kind`, in ReplicaSet form ({@link restReplicaSetApi}). */
  readonly api: ReplicaSetApi;
  readonly podControl: PodControl;
  readonly logger?: Logger;
  /** Creates or deletes per sync ({@link BURST_REPLICAS}). */
  readonly burstReplicas?: number;
  /** Concurrent sync loops ({@link DEFAULT_WORKERS}). */
  readonly workers?: number;
  /** Time for the queue's delays and expectation expiry (tests). */
  readonly timers?: Timers;
  readonly rankingFeatures?: RankingFeatures;
}

/** The API of `kind` in ReplicaSet form, over REST. */
export function restReplicaSetApi<T extends KubeObject>(rest: RestClient, kind: ReplicaSetKind<T>): ReplicaSetApi {
  const client = new ResourceClient<T>(rest, kind.descriptor);
  return {
    get: async (ns, name) => kind.toReplicaSet(await client.namespace(ns).get(name)),
    updateStatus: async (rs) => kind.toReplicaSet(await client.namespace(rs.metadata?.namespace ?? "").updateStatus(kind.fromReplicaSet(rs))),
  };
}

/** Keeps ReplicaSets (or RCs) in sync with their pods. {@link run} until the signal aborts. */
export class ReplicaSetController<T extends KubeObject> implements Controller {
  /** Owner keys waiting to be synced. */
  readonly queue: WorkQueue<string>;
  readonly expectations: UIDTrackingControllerExpectations;
  readonly syncer: ReplicaSetSyncer;
  private readonly kind: ReplicaSetKind<T>;
  private readonly log: Logger;
  private readonly rsLister: ReplicaSetLister;

  constructor(private readonly opts: ReplicaSetControllerOptions<T>) {
    const timers = opts.timers ?? systemTimers;
    this.kind = opts.kind;
    this.log = opts.logger ?? silentLogger;
    this.queue = new WorkQueue<string>({ timers });
    this.expectations = new UIDTrackingControllerExpectations(new ControllerExpectations({ clock: timers, logger: this.log }), this.log);
    const owners = opts.ownerInformer;
    const kind = opts.kind;
    addControllerUIDIndexer(owners);
    addPodControllerUIDIndexer(opts.podInformer);
    this.rsLister = {
      get: (key) => {
        const obj = owners.get(key);
        return obj ? kind.toReplicaSet(obj) : undefined;
      },
      byControllerUID: (uid) => owners.byIndex(CONTROLLER_UID_INDEX, uid).map((o) => kind.toReplicaSet(o)),
    };
    this.syncer = new ReplicaSetSyncer({
      kind,
      rsLister: this.rsLister,
      pods: opts.podInformer,
      podControl: opts.podControl,
      api: opts.api,
      expectations: this.expectations,
      burstReplicas: opts.burstReplicas ?? BURST_REPLICAS,
      clock: timers,
      logger: this.log,
      rankingFeatures: opts.rankingFeatures,
      enqueueAfter: (key, ms) => this.queue.addAfter(key, ms),
    });
    owners.addEventHandler({
      onAdd: (obj) => this.addRS(obj),
      onUpdate: (old, cur) => this.updateRS(old, cur),
      onDelete: (obj) => this.deleteRS(obj),
    });
    opts.podInformer.addEventHandler({
      onAdd: (pod) => this.addPod(pod),
      // Every pod change (a status, a node assignment) wakes the owner: its sync reads only the cache.
      onUpdate: (old, cur) => this.updatePod(old, cur),
      onDelete: (pod) => this.deletePod(pod),
    });
  }

  /** Waits for the caches, then runs the workers until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const name = this.kind.controllerName;
    // One listener on the caller's signal, however many waits happen below.
    const stop = new AbortController();
    const onAbort = () => {
      stop.abort();
      this.queue.shutDown();
    };
    if (signal.aborted) return;
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      this.log.info("starting controller", { controller: name });
      const synced = await Promise.all([this.opts.podInformer.waitForSync(stop.signal), this.opts.ownerInformer.waitForSync(stop.signal)]);
      if (!synced.every(Boolean)) return;
      const workers: Promise<void>[] = [];
      for (let i = 0; i < (this.opts.workers ?? DEFAULT_WORKERS); i++) workers.push(this.worker());
      await Promise.all(workers);
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.queue.shutDown();
      this.log.info("shutting down controller", { controller: name });
    }
  }

  private async worker(): Promise<void> {
    while (await this.processNextWorkItem()) {
      // Each turn handles one key.
    }
  }

  /** Syncs one key from the queue; false once the queue is shut down. */
  processNextWorkItem(): Promise<boolean> {
    return processNextWorkItem(
      this.queue,
      (key) => this.syncer.syncReplicaSet(key),
      (key, err) => {
        this.log.error("sync failed", { key, err: errorMessage(err) });
        this.queue.addRateLimited(key);
      },
    );
  }

  // ---- owner handlers ----

  private addRS(obj: T): void {
    this.queue.add(objectKey(obj));
  }

  private updateRS(old: T, cur: T): void {
    // A delete and re-create under one name can reach us as an update: treat it as the delete it hides.
    if (old.metadata?.uid !== cur.metadata?.uid) this.deleteRS(old);
    // Always sync, not only on spec changes: a resync then retries owners whose creates failed.
    this.queue.add(objectKey(cur));
  }

  private deleteRS(obj: T): void {
    const key = objectKey(obj);
    // A new owner of the same name must start without the old one's expectations.
    this.expectations.deleteExpectations(key);
    this.queue.add(key);
  }

  // ---- pod handlers ----

  /** The owner `ref` points to, if it is of our kind and still the same object (uid). */
  private resolveControllerRef(namespace: string, ref: OwnerReference): ReplicaSet | undefined {
    if (ref.kind !== this.kind.gvk.kind) return undefined;
    const rs = this.rsLister.get(`${namespace}/${ref.name}`);
    if (!rs || rs.metadata?.uid !== ref.uid) return undefined;
    return rs;
  }

  /** Owners in the pod's namespace whose selector matches it (upstream's GetPodReplicaSets). */
  private getPodReplicaSets(pod: Pod): ReplicaSet[] {
    const labels = pod.metadata?.labels;
    if (!labels || Object.keys(labels).length === 0) return [];
    const out: ReplicaSet[] = [];
    for (const obj of this.opts.ownerInformer.byNamespace(pod.metadata?.namespace ?? "")) {
      const rs = this.kind.toReplicaSet(obj);
      let matches = false;
      try {
        const sel = selectorFromObject(rs.spec?.selector);
        // An owner with a nil or empty selector must match nothing, not everything.
        matches = !!sel && !sel.empty && sel.matches(labels);
      } catch {
        // An invalid selector matches nothing.
      }
      if (matches) out.push(rs);
    }
    if (out.length > 1) {
      // ControllerRefs keep this safe, but it is still a user error worth a line.
      this.log.error(`user error! more than one ${this.kind.gvk.kind} is selecting pods with labels`, { pod: podKey(pod), labels: JSON.stringify(labels) });
    }
    return out;
  }

  private enqueue(rs: ReplicaSet): void {
    this.queue.add(objectKey(rs));
  }

  private addPod(pod: Pod): void {
    if (pod.metadata?.deletionTimestamp) {
      // After a restart a pod may first appear already being deleted: that is no creation.
      this.deletePod(pod);
      return;
    }
    const ref = getControllerOf(pod);
    if (ref) {
      const rs = this.resolveControllerRef(pod.metadata?.namespace ?? "", ref);
      if (!rs) return;
      const key = objectKey(rs);
      this.expectations.creationObserved(key);
      this.queue.add(key);
      return;
    }
    // An orphan: wake every matching owner so one may adopt it. No owner waits for it, so no creation is observed.
    for (const rs of this.getPodReplicaSets(pod)) this.enqueue(rs);
  }

  private updatePod(oldPod: Pod, curPod: Pod): void {
    // A periodic resync replays every pod unchanged: nothing to do.
    if (curPod.metadata?.resourceVersion === oldPod.metadata?.resourceVersion) return;
    const labelChanged = !deepEqual(curPod.metadata?.labels, oldPod.metadata?.labels);
    if (curPod.metadata?.deletionTimestamp) {
      // A graceful delete shows first as this update; replace the pod now, not when the kubelet is done.
      this.deletePod(curPod);
      // deletionTimestamp cannot be unset, so the old pod needs no check of its own.
      if (labelChanged) this.deletePod(oldPod);
      return;
    }
    const curRef = getControllerOf(curPod);
    const oldRef = getControllerOf(oldPod);
    const refChanged = !deepEqual(curRef, oldRef);
    if (refChanged && oldRef) {
      // The ControllerRef changed: the old owner must notice it lost a pod.
      const rs = this.resolveControllerRef(oldPod.metadata?.namespace ?? "", oldRef);
      if (rs) this.enqueue(rs);
    }
    if (curRef) {
      const rs = this.resolveControllerRef(curPod.metadata?.namespace ?? "", curRef);
      if (!rs) return;
      this.enqueue(rs);
      // Availability is not an event of its own: look again once minReadySeconds passed
      // (plus a second, against millisecond skew in addAfter).
      const minReady = rs.spec?.minReadySeconds ?? 0;
      if (!isPodReady(oldPod) && isPodReady(curPod) && minReady > 0) {
        this.log.debug("pod will be enqueued after a while for availability check", { kind: this.kind.gvk.kind, pod: podKey(oldPod), seconds: minReady });
        this.queue.addAfter(objectKey(rs), minReady * 1000 + 1000);
      }
      return;
    }
    // An orphan: if anything changed, matching owners may want to adopt it now.
    if (labelChanged || refChanged) for (const rs of this.getPodReplicaSets(curPod)) this.enqueue(rs);
  }

  private deletePod(pod: Pod): void {
    // No owner cares about orphans going away.
    const ref = getControllerOf(pod);
    if (!ref) return;
    const rs = this.resolveControllerRef(pod.metadata?.namespace ?? "", ref);
    if (!rs) return;
    const key = objectKey(rs);
    this.expectations.deletionObserved(key, podKey(pod));
    this.queue.add(key);
  }
}

function build<T extends KubeObject>(ctx: ControllerContext, kind: ReplicaSetKind<T>): ReplicaSetController<T> {
  const logger = ctx.logger.with({ controller: kind.controllerName });
  return new ReplicaSetController<T>({
    kind,
    podInformer: ctx.informers.informerFor<Pod>(PODS),
    ownerInformer: ctx.informers.informerFor<T>(kind.descriptor),
    api: restReplicaSetApi(ctx.rest, kind),
    podControl: new RealPodControl({ pods: restPodApi(ctx.rest), recorder: ctx.recorder(kind.eventComponent), logger }),
    logger,
  });
}

/** The `replicaset` controller of a controller manager. */
export function newReplicaSetController(ctx: ControllerContext): ReplicaSetController<ReplicaSet> {
  return build(ctx, REPLICA_SET_KIND);
}

/** The `replicationcontroller` controller of a controller manager (upstream's ReplicationManager). */
export function newReplicationManager(ctx: ControllerContext): ReplicaSetController<ReplicationController> {
  return build(ctx, REPLICATION_CONTROLLER_KIND);
}
