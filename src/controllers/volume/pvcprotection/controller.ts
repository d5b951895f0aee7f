/**
 * The `pvc-protection` controller (pkg/controller/volume/pvcprotection):
 * a claim being deleted keeps its `kubernetes.io/pvc-protection`
 * finalizer while a scheduled pod uses it, so data is not pulled from
 * under a running pod; once no pod does, the finalizer goes and the claim
 * with it. Claims missing the finalizer (made before the admission plugin
 * added it) get it.
 *
 * "Used" is asked of the pod informer's PVC index first and, when that
 * finds nothing, confirmed with a live list of the namespace's pods (a
 * pod may not have reached the cache yet). Pods are scheduled users only:
 * the kubelet refuses to start a pod whose claim is being deleted. A pod
 * force-deleted or finished by the kubelet (deletionTimestamp with grace
 * 0) does not hold its generic ephemeral claims.
 */
import type { PersistentVolumeClaim, Pod } from "kubernetes-types/core/v1.js";
import type { InformerFactory, SharedInformer } from "../../../client/informer.js";
import { ResourceClient } from "../../../client/resource-client.js";
import { PERSISTENT_VOLUME_CLAIMS, PODS } from "../../../client/resources.js";
import type { RestClient } from "../../../client/rest-client.js";
import { objectKey, splitKey } from "../../../client/store.js";
import { WorkQueue } from "../../../client/work-queue.js";
import { type Logger, silentLogger } from "../../../machinery/log.js";
import { ephemeralVolumeIsForPod } from "../../../scheduler/plugins/volume-binding/binder.js";
import { errorMessage } from "../../common/errors.js";
import { processNextWorkItem } from "../../common/workers.js";
import { PVCProtectionFinalizer } from "../annotations.js";
import { addPodPvcIndexer, POD_PVC_INDEX } from "../pod-pvc-index.js";
import { isDeletionCandidate, needToAddFinalizer, withoutFinalizer } from "../protection-util.js";
import { isPodTerminated } from "../storage-helpers.js";

/** The API calls the controller makes. */
export interface PvcProtectionApi {
  updateClaim(pvc: PersistentVolumeClaim): Promise<PersistentVolumeClaim>;
  listPods(namespace: string): Promise<Pod[]>;
}

/** Options of a {@link PvcProtectionController}. */
export interface PvcProtectionOptions {
  readonly rest: RestClient;
  readonly informers: InformerFactory;
  readonly logger?: Logger;
  readonly api?: PvcProtectionApi;
}

/** podIsShutDown: the kubelet is done with the pod (deletion with grace 0), or it was force-deleted. */
export function podIsShutDown(pod: Pod): boolean {
  return !!pod.metadata?.deletionTimestamp && pod.metadata.deletionGracePeriodSeconds === 0;
}

/** podUsesPVC: a scheduled pod with a volume of the claim (an ephemeral one only while the pod is not shut down). */
export function podUsesPVC(pod: Pod, pvc: PersistentVolumeClaim): boolean {
  if (!pod.spec?.nodeName) return false;
  const name = pvc.metadata?.name ?? "";
  for (const v of pod.spec.volumes ?? []) {
    if (v.persistentVolumeClaim && v.persistentVolumeClaim.claimName === name) return true;
    if (!podIsShutDown(pod) && v.ephemeral && `${pod.metadata?.name ?? ""}-${v.name}` === name && ephemeralVolumeIsForPod(pod, pvc) === undefined) return true;
  }
  return false;
}

export class PvcProtectionController {
  private readonly queue = new WorkQueue<string>();
  private readonly claims: SharedInformer<PersistentVolumeClaim>;
  private readonly pods: SharedInformer<Pod>;
  private readonly api: PvcProtectionApi;
  private readonly log: Logger;

  constructor(opts: PvcProtectionOptions) {
    this.log = opts.logger ?? silentLogger;
    this.claims = opts.informers.informerFor<PersistentVolumeClaim>(PERSISTENT_VOLUME_CLAIMS);
    this.pods = opts.informers.informerFor<Pod>(PODS);
    addPodPvcIndexer(this.pods);
    if (opts.api) this.api = opts.api;
    else {
      const pvcs = new ResourceClient<PersistentVolumeClaim>(opts.rest, PERSISTENT_VOLUME_CLAIMS);
      const pods = new ResourceClient<Pod>(opts.rest, PODS);
      this.api = { updateClaim: (pvc) => pvcs.update(pvc), listPods: async (ns) => (await pods.namespace(ns).listAll()).items };
    }
    const onClaim = (pvc: PersistentVolumeClaim) => {
      if (needToAddFinalizer(pvc.metadata, PVCProtectionFinalizer) || isDeletionCandidate(pvc.metadata, PVCProtectionFinalizer)) this.queue.add(objectKey(pvc));
    };
    this.claims.addEventHandler({ onAdd: onClaim, onUpdate: (_o, pvc) => onClaim(pvc) });
    this.pods.addEventHandler({
      onAdd: (pod) => this.enqueuePVCs(pod, false),
      onUpdate: (old, pod) => {
        this.enqueuePVCs(pod, false);
        // An update may hide a delete and re-create under one name: the old pod may block claims the new one does not use.
        if (old.metadata?.uid !== pod.metadata?.uid) this.enqueuePVCs(old, true);
      },
      onDelete: (pod) => this.enqueuePVCs(pod, true),
    });
  }

  /** enqueuePVCs: the claims of a pod that may no longer hold them (deleted, finished, or never scheduled). */
  private enqueuePVCs(pod: Pod, deleted: boolean): void {
    if (!deleted && !isPodTerminated(pod) && pod.spec?.nodeName) return;
    const ns = pod.metadata?.namespace ?? "";
    for (const v of pod.spec?.volumes ?? []) {
      if (v.persistentVolumeClaim) this.queue.add(`${ns}/${v.persistentVolumeClaim.claimName}`);
      else if (v.ephemeral) this.queue.add(`${ns}/${pod.metadata?.name ?? ""}-${v.name}`);
    }
  }

  async run(signal: AbortSignal): Promise<void> {
    const stop = () => this.queue.shutDown();
    signal.addEventListener("abort", stop, { once: true });
    try {
      if (!(await this.claims.waitForSync(signal)) || !(await this.pods.waitForSync(signal))) return;
      this.log.info("starting PVC protection controller");
      while (
        await processNextWorkItem(
          this.queue,
          (key) => this.processPVC(key),
          (key, err) => {
            this.log.warn("PVC protection failed; retrying", { PVC: key, err: errorMessage(err) });
            this.queue.addRateLimited(key);
          },
        )
      ) {
        // each turn handles one claim
      }
    } finally {
      signal.removeEventListener("abort", stop);
      this.queue.shutDown();
    }
  }

  /** processPVC: removes the finalizer from an unused claim being deleted; adds it where missing. */
  async processPVC(key: string): Promise<void> {
    const pvc = this.claims.get(key);
    if (!pvc) return;
    if (isDeletionCandidate(pvc.metadata, PVCProtectionFinalizer)) {
      if (!(await this.isBeingUsed(pvc))) {
        const clone: PersistentVolumeClaim = structuredClone(pvc);
        clone.metadata!.finalizers = withoutFinalizer(clone.metadata?.finalizers, PVCProtectionFinalizer);
        await this.api.updateClaim(clone);
        this.log.info("removed protection finalizer from PVC", { PVC: key });
        return;
      }
      this.log.debug("keeping PVC because it is being used", { PVC: key });
    }
    if (needToAddFinalizer(pvc.metadata, PVCProtectionFinalizer)) {
      const clone: PersistentVolumeClaim = structuredClone(pvc);
      clone.metadata = { ...clone.metadata, finalizers: [...(clone.metadata?.finalizers ?? []), PVCProtectionFinalizer] };
      await this.api.updateClaim(clone);
      this.log.debug("added protection finalizer to PVC", { PVC: key });
    }
  }

  /** isBeingUsed: a pod in the cache uses it, or else one in a live list does. */
  private async isBeingUsed(pvc: PersistentVolumeClaim): Promise<boolean> {
    for (const pod of this.pods.byIndex(POD_PVC_INDEX, objectKey(pvc))) if (podUsesPVC(pod, pvc)) return true;
    // Not in the cache does not mean no such pod: it may not have arrived yet.
    const pods = await this.api.listPods(splitKey(objectKey(pvc)).namespace);
    return pods.some((pod) => podUsesPVC(pod, pvc));
  }
}
