/**
 * One sync of the EndpointSlice controller (upstream's `syncService` in
 * pkg/controller/endpointslice): re-reads the Service, its pods and its
 * managed slices from the caches and hands them to the reconciler.
 */
import type { Pod, Service } from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";
import type { KubeObject } from "../../client/resource-client.js";
import { splitKey } from "../../client/store.js";
import type { Reconciler } from "./reconciler.js";
import type { EndpointSliceTracker } from "./tracker.js";
import { serviceSelects } from "./util/pods.js";
import type { TriggerTimeTracker } from "./util/trigger-time-tracker.js";

/** The slice cache is behind the controller's own writes: retry later rather than act on it. */
export class StaleInformerCacheError extends Error {
  override name = "StaleInformerCacheError";
}

/** Where a sync reads and writes. */
export interface EndpointSliceSyncDeps {
  /** The cached Service with key `ns/name`. */
  service(key: string): Service | undefined;
  /** Cached pods of a namespace. */
  podsIn(namespace: string): readonly Pod[];
  /** Cached slices labelled for the Service and managed by this controller. */
  slicesOf(namespace: string, serviceName: string): readonly EndpointSlice[];
  readonly reconciler: Reconciler;
  readonly tracker: EndpointSliceTracker;
  readonly triggerTimes: TriggerTimeTracker;
  /** Records a Warning event about `regarding`. */
  warn?(regarding: KubeObject, reason: string, action: string, note: string): void;
}

/** Syncs the slices of the Service with key `ns/name`; a thrown error means "retry". */
export async function syncEndpointSlices(deps: EndpointSliceSyncDeps, key: string): Promise<void> {
  const { namespace, name } = splitKey(key);
  const svc = deps.service(key);
  if (!svc) {
    // Its slices are owned by the Service: the garbage collector removes them.
    deps.triggerTimes.deleteService(namespace, name);
    deps.tracker.deleteService(namespace, name);
    return;
  }
  // ExternalName Services get no endpoints (https://issues.k8s.io/105986).
  if (svc.spec?.type === "ExternalName") return;
  // Without a selector the user provides the slices.
  if (!svc.spec?.selector) return;

  const pods = deps.podsIn(namespace).filter((p) => serviceSelects(svc, p.metadata?.labels));
  // Slices being deleted are ignored, so a slice held by a finalizer cannot wedge the Service.
  const slices = deps.slicesOf(namespace, name).filter((s) => !s.metadata?.deletionTimestamp);
  if (deps.tracker.staleSlices(namespace, name, slices)) throw new StaleInformerCacheError("EndpointSlice informer cache is out of date");
  const triggerTime = deps.triggerTimes.compute(namespace, svc, pods);
  try {
    await deps.reconciler.reconcile(svc, pods, slices, triggerTime);
  } catch (err) {
    deps.warn?.(svc, "FailedToUpdateEndpointSlices", "UpdateEndpointSlices", `Error updating Endpoint Slices for Service ${namespace}/${name}: ${(err as Error).message}`);
    throw err;
  }
}
