/**
 * The `pv-protection` controller (pkg/controller/volume/pvprotection): a
 * PersistentVolume being deleted keeps its `kubernetes.io/pv-protection`
 * finalizer while it is Bound to a claim, and loses it (and so goes) once
 * it is not; PVs missing the finalizer get it.
 */
import type { PersistentVolume } from "kubernetes-types/core/v1.js";
import type { InformerFactory, SharedInformer } from "../../../client/informer.js";
import { ResourceClient } from "../../../client/resource-client.js";
import { PERSISTENT_VOLUMES } from "../../../client/resources.js";
import type { RestClient } from "../../../client/rest-client.js";
import { WorkQueue } from "../../../client/work-queue.js";
import { type Logger, silentLogger } from "../../../machinery/log.js";
import { errorMessage } from "../../common/errors.js";
import { processNextWorkItem } from "../../common/workers.js";
import { PVProtectionFinalizer } from "../annotations.js";
import { isDeletionCandidate, needToAddFinalizer, withoutFinalizer } from "../protection-util.js";

/** Options of a {@link PvProtectionController}. */
export interface PvProtectionOptions {
  readonly rest: RestClient;
  readonly informers: InformerFactory;
  readonly logger?: Logger;
  /** PUT of a PV (tests); REST unless given. */
  readonly updateVolume?: (pv: PersistentVolume) => Promise<PersistentVolume>;
}

export class PvProtectionController {
  private readonly queue = new WorkQueue<string>();
  private readonly volumes: SharedInformer<PersistentVolume>;
  private readonly updateVolume: (pv: PersistentVolume) => Promise<PersistentVolume>;
  private readonly log: Logger;

  constructor(opts: PvProtectionOptions) {
    this.log = opts.logger ?? silentLogger;
    this.volumes = opts.informers.informerFor<PersistentVolume>(PERSISTENT_VOLUMES);
    const client = new ResourceClient<PersistentVolume>(opts.rest, PERSISTENT_VOLUMES);
    this.updateVolume = opts.updateVolume ?? ((pv) => client.update(pv));
    const onVolume = (pv: PersistentVolume) => {
      if (needToAddFinalizer(pv.metadata, PVProtectionFinalizer) || isDeletionCandidate(pv.metadata, PVProtectionFinalizer)) this.queue.add(pv.metadata?.name ?? "");
    };
    this.volumes.addEventHandler({ onAdd: onVolume, onUpdate: (_o, pv) => onVolume(pv) });
  }

  async run(signal: AbortSignal): Promise<void> {
    const stop = () => this.queue.shutDown();
    signal.addEventListener("abort", stop, { once: true });
    try {
      if (!(await this.volumes.waitForSync(signal))) return;
      this.log.info("starting PV protection controller");
      while (
        await processNextWorkItem(
          this.queue,
          (name) => this.processPV(name),
          (name, err) => {
            this.log.warn("PV protection failed; retrying", { volumeName: name, err: errorMessage(err) });
            this.queue.addRateLimited(name);
          },
        )
      ) {
        // each turn handles one volume
      }
    } finally {
      signal.removeEventListener("abort", stop);
      this.queue.shutDown();
    }
  }

  /** processPV: removes the finalizer from a volume being deleted that is not Bound; adds it where missing. */
  async processPV(name: string): Promise<void> {
    const pv = this.volumes.get(name);
    if (!pv) return;
    if (isDeletionCandidate(pv.metadata, PVProtectionFinalizer)) {
      // Bound is what the PV controller writes while a claim holds the volume.
      if (pv.status?.phase !== "Bound") {
        const clone: PersistentVolume = structuredClone(pv);
        clone.metadata!.finalizers = withoutFinalizer(clone.metadata?.finalizers, PVProtectionFinalizer);
        await this.updateVolume(clone);
        this.log.info("removed protection finalizer from PV", { volumeName: name });
        return;
      }
      this.log.debug("keeping PV because it is being used", { volumeName: name });
    }
    if (needToAddFinalizer(pv.metadata, PVProtectionFinalizer)) {
      const clone: PersistentVolume = structuredClone(pv);
      clone.metadata = { ...clone.metadata, finalizers: [...(clone.metadata?.finalizers ?? []), PVProtectionFinalizer] };
      await this.updateVolume(clone);
      this.log.debug("added protection finalizer to PV", { volumeName: name });
    }
  }
}
