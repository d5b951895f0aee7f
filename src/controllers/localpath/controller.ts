/**
 * The `local-path-provisioner` controller: skiff's counterpart of the
 * local-path-provisioner k3s runs, driven the way sig-storage-lib-
 * external-provisioner drives every external provisioner:
 *
 * - a claim whose `volume.kubernetes.io/storage-provisioner` (set by the
 *   PV controller) is `rancher.io/local-path`, not yet bound, and — for a
 *   WaitForFirstConsumer class — with the scheduler's
 *   `volume.kubernetes.io/selected-node`, gets a PV `pvc-<claim uid>`
 *   pre-bound to it (events Provisioning, then ProvisioningSucceeded or
 *   ProvisioningFailed); the PV controller completes the binding;
 * - a selected node that no longer exists sends the claim back to the
 *   scheduler (the annotation is removed);
 * - a PV of this provisioner that is Released with reclaim policy Delete
 *   has its directory removed (see provisioner.ts for which node's) and
 *   the PV object deleted (VolumeFailedDelete when that fails).
 *
 * Failures are retried with backoff (15 s doubling to 1000 s) and given
 * up after 15 attempts, as the library's defaults.
 */
import type { Node, PersistentVolume, PersistentVolumeClaim } from "kubernetes-types/core/v1.js";
import type { StorageClass } from "kubernetes-types/storage/v1.js";
import type { EventRecorder } from "../../client/event-recorder.js";
import type { InformerFactory, SharedInformer } from "../../client/informer.js";
import { ItemExponentialFailureRateLimiter } from "../../client/rate-limiter.js";
import { ResourceClient } from "../../client/resource-client.js";
import { NODES, PERSISTENT_VOLUME_CLAIMS, PERSISTENT_VOLUMES, STORAGE_CLASSES } from "../../client/resources.js";
import type { RestClient } from "../../client/rest-client.js";
import { objectKey } from "../../client/store.js";
import type { Timers } from "../../client/timers.js";
import { WorkQueue } from "../../client/work-queue.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { isAlreadyExists, isNotFound } from "../../machinery/status-error.js";
import { errorMessage } from "../common/errors.js";
import { processNextWorkItem } from "../common/workers.js";
import { AnnBetaStorageProvisioner, AnnDynamicallyProvisioned, AnnSelectedNode, AnnStorageProvisioner } from "../volume/annotations.js";
import { claimClass, claimKey } from "../volume/storage-helpers.js";
import { type LocalPathFs, LocalPathProvisioner } from "./provisioner.js";
import { LOCAL_PATH_PROVISIONER } from "./storage-class.js";

/** Attempts before a claim's provisioning or a volume's deletion is given up (the library's default). */
export const FAILED_THRESHOLD = 15;

/** The API calls the controller makes. */
export interface LocalPathApi {
  /** Live GET; undefined when gone. */
  getVolume(name: string): Promise<PersistentVolume | undefined>;
  createVolume(pv: PersistentVolume): Promise<PersistentVolume>;
  deleteVolume(name: string): Promise<void>;
  updateClaim(pvc: PersistentVolumeClaim): Promise<PersistentVolumeClaim>;
}

/** Where the controller's events go. */
export interface LocalPathEvents {
  event(regarding: PersistentVolume | PersistentVolumeClaim, kind: "PersistentVolume" | "PersistentVolumeClaim", type: "Normal" | "Warning", reason: string, note: string): void;
}

/** Options of a {@link LocalPathProvisionerController}. */
export interface LocalPathControllerOptions {
  readonly rest: RestClient;
  readonly informers: InformerFactory;
  /** Events as `rancher.io/local-path`. */
  readonly recorder?: EventRecorder;
  readonly logger?: Logger;
  /** Where volumes' directories live (`<data-dir>/storage`). */
  readonly storageDir: string;
  /** The node whose filesystem this process shares (the server's own), if any. */
  readonly localNodeName?: string;
  readonly fs?: LocalPathFs;
  readonly timers?: Timers;
  /** First retry delay after a failure (15 s), doubling to 1000 s. */
  readonly retryBaseMs?: number;
  readonly api?: LocalPathApi;
  readonly events?: LocalPathEvents;
}

/** PVs and claims over REST. */
export function restLocalPathApi(rest: RestClient): LocalPathApi {
  const pvs = new ResourceClient<PersistentVolume>(rest, PERSISTENT_VOLUMES);
  const pvcs = new ResourceClient<PersistentVolumeClaim>(rest, PERSISTENT_VOLUME_CLAIMS);
  return {
    async getVolume(name) {
      try {
        return await pvs.get(name);
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    createVolume: (pv) => pvs.create(pv),
    async deleteVolume(name) {
      try {
        await pvs.delete(name);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    },
    updateClaim: (pvc) => pvcs.update(pvc),
  };
}

function recorderEvents(recorder: EventRecorder): LocalPathEvents {
  return {
    event(obj, kind, type, reason, note) {
      const m = obj.metadata ?? {};
      const regarding = { apiVersion: "v1", kind, name: m.name, uid: m.uid, resourceVersion: m.resourceVersion, ...(m.namespace ? { namespace: m.namespace } : {}) };
      recorder.event(regarding, undefined, type, reason, reason.startsWith("Provision") ? "Provisioning" : "Deleting", note);
    },
  };
}

/** The local-path provisioner's control loops; {@link run} until the signal aborts. */
export class LocalPathProvisionerController {
  private readonly claimQueue: WorkQueue<string>;
  private readonly volumeQueue: WorkQueue<string>;
  private readonly claims: SharedInformer<PersistentVolumeClaim>;
  private readonly volumes: SharedInformer<PersistentVolume>;
  private readonly classes: SharedInformer<StorageClass>;
  private readonly nodes: SharedInformer<Node>;
  private readonly api: LocalPathApi;
  private readonly events: LocalPathEvents | undefined;
  private readonly log: Logger;
  readonly provisioner: LocalPathProvisioner;

  constructor(opts: LocalPathControllerOptions) {
    this.log = opts.logger ?? silentLogger;
    const base = opts.retryBaseMs ?? 15_000;
    this.claimQueue = new WorkQueue<string>({ timers: opts.timers, rateLimiter: new ItemExponentialFailureRateLimiter(base, 1_000_000) });
    this.volumeQueue = new WorkQueue<string>({ timers: opts.timers, rateLimiter: new ItemExponentialFailureRateLimiter(base, 1_000_000) });
    this.claims = opts.informers.informerFor<PersistentVolumeClaim>(PERSISTENT_VOLUME_CLAIMS);
    this.volumes = opts.informers.informerFor<PersistentVolume>(PERSISTENT_VOLUMES);
    this.classes = opts.informers.informerFor<StorageClass>(STORAGE_CLASSES);
    this.nodes = opts.informers.informerFor<Node>(NODES);
    this.api = opts.api ?? restLocalPathApi(opts.rest);
    this.events = opts.events ?? (opts.recorder ? recorderEvents(opts.recorder) : undefined);
    this.provisioner = new LocalPathProvisioner({ storageDir: opts.storageDir, localNodeName: opts.localNodeName, fs: opts.fs });
    this.claims.addEventHandler({ onAdd: (c) => this.claimQueue.add(objectKey(c)), onUpdate: (_o, c) => this.claimQueue.add(objectKey(c)) });
    this.volumes.addEventHandler({ onAdd: (v) => this.volumeQueue.add(v.metadata?.name ?? ""), onUpdate: (_o, v) => this.volumeQueue.add(v.metadata?.name ?? "") });
  }

  async run(signal: AbortSignal): Promise<void> {
    const stop = () => {
      this.claimQueue.shutDown();
      this.volumeQueue.shutDown();
    };
    signal.addEventListener("abort", stop, { once: true });
    try {
      const synced = await Promise.all([this.claims, this.volumes, this.classes, this.nodes].map((i) => i.waitForSync(signal)));
      if (!synced.every(Boolean)) return;
      this.log.info("starting local-path provisioner", { provisioner: LOCAL_PATH_PROVISIONER });
      await Promise.all([this.worker(this.claimQueue, (k) => this.syncClaim(k), "PVC"), this.worker(this.volumeQueue, (k) => this.syncVolume(k), "volumeName")]);
    } finally {
      signal.removeEventListener("abort", stop);
      stop();
    }
  }

  private async worker(queue: WorkQueue<string>, sync: (key: string) => Promise<void>, field: string): Promise<void> {
    const onError = (key: string, err: unknown) => {
      if (queue.numRequeues(key) < FAILED_THRESHOLD) {
        this.log.info("local-path operation failed; retrying", { [field]: key, err: errorMessage(err) });
        queue.addRateLimited(key);
        return;
      }
      this.log.warn("local-path operation failed too often; giving up", { [field]: key, err: errorMessage(err) });
      queue.forget(key);
    };
    while (await processNextWorkItem(queue, sync, onError)) {
      // each turn handles one key
    }
  }

  private event(obj: PersistentVolume | PersistentVolumeClaim, kind: "PersistentVolume" | "PersistentVolumeClaim", type: "Normal" | "Warning", reason: string, note: string): void {
    this.events?.event(obj, kind, type, reason, note);
  }

  // ---- provisioning ----

  /** shouldProvision: an unbound claim handed to this provisioner, with a node chosen when its class waits for one. Throws when its class is missing. */
  shouldProvision(claim: PersistentVolumeClaim): boolean {
    if (claim.spec?.volumeName) return false;
    const ann = claim.metadata?.annotations ?? {};
    const provisioner = ann[AnnStorageProvisioner] ?? ann[AnnBetaStorageProvisioner];
    if (provisioner !== LOCAL_PATH_PROVISIONER) return false;
    const className = claimClass(claim);
    const cls = this.classes.get(className);
    if (!cls) throw new Error(`storageclass.storage.k8s.io ${JSON.stringify(className)} not found`);
    // With delayed binding the scheduler's choice is needed; it removes it again to reschedule.
    if (cls.volumeBindingMode === "WaitForFirstConsumer") return !!ann[AnnSelectedNode];
    return true;
  }

  /** syncClaim: provisions the claim when it is this provisioner's to provision. */
  async syncClaim(key: string): Promise<void> {
    const claim = this.claims.get(key);
    if (!claim || !this.shouldProvision(claim)) return;
    await this.provisionClaimOperation(claim);
  }

  private async provisionClaimOperation(claim: PersistentVolumeClaim): Promise<void> {
    const key = claimKey(claim);
    const pvName = `pvc-${claim.metadata?.uid ?? ""}`;
    // A previous attempt may have finished meanwhile: the PV name is deterministic.
    if (this.volumes.get(pvName)) return;
    const className = claimClass(claim);
    const cls = this.classes.get(className);
    if (!cls) throw new Error(`storageclass.storage.k8s.io ${JSON.stringify(className)} not found`);
    if (cls.provisioner !== LOCAL_PATH_PROVISIONER) return;
    let selectedNode: Node | undefined;
    const nodeName = claim.metadata?.annotations?.[AnnSelectedNode];
    if (nodeName) {
      selectedNode = this.nodes.get(nodeName);
      if (!selectedNode) {
        // The node went away: give the claim back to the scheduler.
        this.event(claim, "PersistentVolumeClaim", "Warning", "ProvisioningFailed", `nodes ${JSON.stringify(nodeName)} not found`);
        await this.rescheduleProvisioning(claim);
        this.log.info("volume rescheduled because its node is gone", { PVC: key, node: nodeName });
        return;
      }
    }
    this.event(claim, "PersistentVolumeClaim", "Normal", "Provisioning", `External provisioner is provisioning volume for claim ${JSON.stringify(key)}`);
    const r = await this.provisioner.provision({ storageClass: cls, pvName, pvc: claim, selectedNode });
    if (!r.ok) {
      const msg = `failed to provision volume with StorageClass ${JSON.stringify(className)}: ${r.error}`;
      this.event(claim, "PersistentVolumeClaim", "Warning", "ProvisioningFailed", msg);
      throw new Error(msg);
    }
    const m = claim.metadata ?? {};
    const pv: PersistentVolume = {
      ...r.pv,
      metadata: { ...r.pv.metadata, annotations: { ...r.pv.metadata?.annotations, [AnnDynamicallyProvisioned]: cls.provisioner } },
      spec: {
        ...r.pv.spec,
        claimRef: { kind: "PersistentVolumeClaim", namespace: m.namespace, name: m.name, uid: m.uid, apiVersion: "v1", resourceVersion: m.resourceVersion },
        storageClassName: className,
        ...(cls.mountOptions?.length ? { mountOptions: [...cls.mountOptions] } : {}),
      },
    };
    try {
      await this.api.createVolume(pv);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      this.log.info("volume for claim already exists, reusing", { PVC: key, volumeName: pvName });
      return;
    }
    this.log.info("volume provisioned for claim", { PVC: key, volumeName: pvName, node: nodeName });
    this.event(claim, "PersistentVolumeClaim", "Normal", "ProvisioningSucceeded", `Successfully provisioned volume ${pvName}`);
  }

  /** rescheduleProvisioning: removes the scheduler's node choice so it chooses again. */
  private async rescheduleProvisioning(claim: PersistentVolumeClaim): Promise<void> {
    const clone: PersistentVolumeClaim = structuredClone(claim);
    const ann = { ...clone.metadata?.annotations };
    delete ann[AnnSelectedNode];
    clone.metadata = { ...clone.metadata, annotations: ann };
    await this.api.updateClaim(clone);
  }

  // ---- deleting ----

  /** shouldDelete: a Released volume of this provisioner whose policy is Delete, not already going. */
  shouldDelete(pv: PersistentVolume): boolean {
    if (pv.metadata?.deletionTimestamp) return false;
    if (pv.status?.phase !== "Released") return false;
    if (pv.spec?.persistentVolumeReclaimPolicy !== "Delete") return false;
    return pv.metadata?.annotations?.[AnnDynamicallyProvisioned] === LOCAL_PATH_PROVISIONER;
  }

  /** syncVolume: deletes the volume (storage, then object) when it is this provisioner's to delete. */
  async syncVolume(name: string): Promise<void> {
    const cached = this.volumes.get(name);
    if (!cached || !this.shouldDelete(cached)) return;
    // Trust only the live object: the PV controller may have changed its mind.
    const pv = await this.api.getVolume(name);
    if (!pv || !this.shouldDelete(pv)) return;
    let result: Awaited<ReturnType<LocalPathProvisioner["delete"]>>;
    try {
      result = await this.provisioner.delete(pv);
    } catch (err) {
      this.event(pv, "PersistentVolume", "Warning", "VolumeFailedDelete", errorMessage(err));
      throw err;
    }
    if ("leftOn" in result) {
      const note =
        `the directory ${result.path} on node ${JSON.stringify(result.leftOn)} was not removed: skiff's local-path provisioner removes directories ` +
        "only on the server's own node; remove it on that node";
      this.event(pv, "PersistentVolume", "Warning", "VolumeDirectoryNotRemoved", note);
      this.log.warn("local-path volume directory left on its node", { volumeName: name, node: result.leftOn, path: result.path });
    } else {
      this.log.info("local-path volume directory removed", { volumeName: name, path: result.removed });
    }
    await this.api.deleteVolume(name);
  }
}
