/**
 * The `persistentvolume-binder` controller (upstream's PersistentVolume
 * controller, pv_controller_base.go): informers on PersistentVolumes,
 * claims, StorageClasses and pods feed two work queues, each drained by
 * exactly one worker, since syncClaim is not reentrant (two concurrent
 * syncs could bind two claims to one volume). Failed syncs are not
 * requeued: a conflict means a newer version is on its way through the
 * watch, and anything else is retried by the periodic resync of every
 * claim and volume (`--pvclaimbinder-sync-period`, 15 s).
 */
import type { PersistentVolume, PersistentVolumeClaim, Pod } from "kubernetes-types/core/v1.js";
import type { StorageClass } from "kubernetes-types/storage/v1.js";
import type { EventRecorder } from "../../../client/event-recorder.js";
import type { InformerFactory, SharedInformer } from "../../../client/informer.js";
import { ResourceClient } from "../../../client/resource-client.js";
import { PERSISTENT_VOLUME_CLAIMS, PERSISTENT_VOLUMES, PODS, STORAGE_CLASSES } from "../../../client/resources.js";
import type { RestClient } from "../../../client/rest-client.js";
import { objectKey } from "../../../client/store.js";
import { systemTimers, type Timers } from "../../../client/timers.js";
import { WorkQueue } from "../../../client/work-queue.js";
import { type Logger, silentLogger } from "../../../machinery/log.js";
import { isNotFound } from "../../../machinery/status-error.js";
import { addPodPvcIndexer, POD_PVC_INDEX } from "../pod-pvc-index.js";
import { type PvApi, PvController } from "./pv-controller.js";

/** Upstream's `--pvclaimbinder-sync-period` default. */
export const DEFAULT_SYNC_PERIOD_MS = 15_000;

/** Options of a {@link PersistentVolumeBinderController}. */
export interface PersistentVolumeBinderOptions {
  readonly rest: RestClient;
  readonly informers: InformerFactory;
  /** Events as `persistentvolume-controller`. */
  readonly recorder?: EventRecorder;
  readonly logger?: Logger;
  /** How often every claim and volume is synced again ({@link DEFAULT_SYNC_PERIOD_MS}). */
  readonly syncPeriodMs?: number;
  readonly timers?: Timers;
  /** The API (tests); REST through `rest` unless given. */
  readonly api?: PvApi;
}

/** PersistentVolume and claim objects over REST. */
export function restPvApi(rest: RestClient): PvApi {
  const pvs = new ResourceClient<PersistentVolume>(rest, PERSISTENT_VOLUMES);
  const pvcs = new ResourceClient<PersistentVolumeClaim>(rest, PERSISTENT_VOLUME_CLAIMS);
  const orUndefined = async <T>(p: Promise<T>): Promise<T | undefined> => {
    try {
      return await p;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };
  return {
    getVolume: (name) => orUndefined(pvs.get(name)),
    updateVolume: (pv) => pvs.update(pv),
    updateVolumeStatus: (pv) => pvs.updateStatus(pv),
    deleteVolume: (name) => pvs.delete(name),
    getClaim: (ns, name) => orUndefined(pvcs.namespace(ns).get(name)),
    updateClaim: (pvc) => pvcs.update(pvc),
    updateClaimStatus: (pvc) => pvcs.updateStatus(pvc),
  };
}

/** The PersistentVolume binder; {@link run} until the signal aborts. */
export class PersistentVolumeBinderController {
  private readonly volumeQueue = new WorkQueue<string>();
  private readonly claimQueue = new WorkQueue<string>();
  private readonly volumeInformer: SharedInformer<PersistentVolume>;
  private readonly claimInformer: SharedInformer<PersistentVolumeClaim>;
  private readonly classInformer: SharedInformer<StorageClass>;
  private readonly podInformer: SharedInformer<Pod>;
  private readonly log: Logger;
  private readonly timers: Timers;
  /** The state machines (exposed for tests). */
  readonly ctrl: PvController;

  constructor(private readonly opts: PersistentVolumeBinderOptions) {
    this.log = opts.logger ?? silentLogger;
    this.timers = opts.timers ?? systemTimers;
    this.volumeInformer = opts.informers.informerFor<PersistentVolume>(PERSISTENT_VOLUMES);
    this.claimInformer = opts.informers.informerFor<PersistentVolumeClaim>(PERSISTENT_VOLUME_CLAIMS);
    this.classInformer = opts.informers.informerFor<StorageClass>(STORAGE_CLASSES);
    this.podInformer = opts.informers.informerFor<Pod>(PODS);
    addPodPvcIndexer(this.podInformer);

    const enqueueVolume = (pv: PersistentVolume) => this.volumeQueue.add(pv.metadata?.name ?? "");
    const enqueueClaim = (pvc: PersistentVolumeClaim) => this.claimQueue.add(objectKey(pvc));
    this.volumeInformer.addEventHandler({ onAdd: enqueueVolume, onUpdate: (_o, pv) => enqueueVolume(pv), onDelete: enqueueVolume });
    this.claimInformer.addEventHandler({ onAdd: enqueueClaim, onUpdate: (_o, pvc) => enqueueClaim(pvc), onDelete: enqueueClaim });

    const recorder = opts.recorder;
    this.ctrl = new PvController({
      api: opts.api ?? restPvApi(opts.rest),
      classes: { get: (name) => this.classInformer.get(name), list: () => this.classInformer.list() },
      claimLister: { get: (key) => this.claimInformer.get(key) },
      podsForClaim: (key) => this.podInformer.byIndex(POD_PVC_INDEX, key),
      enqueueClaim: (key) => this.claimQueue.add(key),
      enqueueVolume: (name) => this.volumeQueue.add(name),
      events: recorder ? { event: (regarding, type, reason, action, note) => recorder.event(regarding, undefined, type, reason, action, note) } : undefined,
      logger: this.log,
      timers: this.timers,
    });
  }

  /** Waits for the caches, fills the controller's own, then runs both workers and the resync until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const local = new AbortController();
    const stop = () => {
      local.abort();
      this.volumeQueue.shutDown();
      this.claimQueue.shutDown();
    };
    signal.addEventListener("abort", stop, { once: true });
    let cancelResync = () => {};
    try {
      const synced = await Promise.all(
        [this.volumeInformer, this.claimInformer, this.classInformer, this.podInformer].map((i) => i.waitForSync(local.signal)),
      );
      if (!synced.every(Boolean)) return;
      this.log.info("starting persistent volume controller");
      this.ctrl.initializeCaches(this.volumeInformer.list(), this.claimInformer.list());
      const period = this.opts.syncPeriodMs ?? DEFAULT_SYNC_PERIOD_MS;
      const resync = () => {
        this.resync();
        cancelResync = this.timers.after(period, resync);
      };
      cancelResync = this.timers.after(period, resync);
      await Promise.all([this.volumeWorker(), this.claimWorker()]);
    } finally {
      cancelResync();
      signal.removeEventListener("abort", stop);
      stop();
      await this.ctrl.operations.idle();
      this.log.info("shutting down persistent volume controller");
    }
  }

  /** resync: every claim and volume queued again (our own period, so the shared informers need none). */
  private resync(): void {
    for (const pvc of this.claimInformer.list()) this.claimQueue.add(objectKey(pvc));
    for (const pv of this.volumeInformer.list()) this.volumeQueue.add(pv.metadata?.name ?? "");
  }

  /** volumeWorker: a key in the informer is an add/update/resync; one only in our cache is a delete. */
  private async volumeWorker(): Promise<void> {
    for (;;) {
      const key = await this.volumeQueue.get();
      if (key === undefined) return;
      try {
        const pv = this.volumeInformer.get(key);
        if (pv) await this.ctrl.updateVolume(pv);
        else {
          const cached = this.ctrl.volumes.get(key);
          if (cached) this.ctrl.deleteVolume(cached);
        }
      } catch (err) {
        this.log.error("volume worker failed", { volumeName: key, err: (err as Error).message });
      } finally {
        this.volumeQueue.done(key);
      }
    }
  }

  /** claimWorker: as the volume worker, for claims. */
  private async claimWorker(): Promise<void> {
    for (;;) {
      const key = await this.claimQueue.get();
      if (key === undefined) return;
      try {
        const pvc = this.claimInformer.get(key);
        if (pvc) await this.ctrl.updateClaim(pvc);
        else {
          const cached = this.ctrl.claims.get(key);
          if (cached) this.ctrl.deleteClaim(cached);
        }
      } catch (err) {
        this.log.error("claim worker failed", { PVC: key, err: (err as Error).message });
      } finally {
        this.claimQueue.done(key);
      }
    }
  }
}
