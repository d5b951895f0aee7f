/**
 * The PreBind half of the volume binder (volumebinding/binder.go
 * BindPodVolumes, v1.30): writes the assumed PVs and claims through the
 * Handle's client, then polls the listers every second until the PV
 * controller (or an external provisioner) has completed every binding,
 * binding failed, or the timeout passed.
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import type { Handle } from "../../framework/types.js";
import { compareResourceVersion } from "./assume-cache.js";
import { isPVCFullyBound, type PodVolumes, type VolumeBinder } from "./binder.js";
import { AnnSelectedNode, checkNodeAffinity, claimKey } from "./pv-helpers.js";

/** Sleeps through the handle's timers. */
function sleep(handle: Handle, ms: number): Promise<void> {
  return new Promise((resolve) => {
    handle.timers.setTimeout(resolve, ms);
  });
}

/**
 * BindPodVolumes: writes the assumed PVs and claims through the API, then
 * polls the listers until every claim is fully bound (undefined), binding
 * failed or the timeout passed (an error message).
 */
export async function bindPodVolumes(
  binder: VolumeBinder,
  handle: Handle,
  pod: Pod,
  nodeName: string,
  podVolumes: PodVolumes,
  opts: { bindTimeoutMs: number; pollIntervalMs?: number },
): Promise<string | undefined> {
  const interval = opts.pollIntervalMs ?? 1000;
  const err = await bindAPIUpdate(binder, handle, podVolumes);
  if (err) return err;
  // wait.PollUntilContextTimeout, not immediate: a check after each interval until the timeout.
  for (let waited = interval; waited <= opts.bindTimeoutMs; waited += interval) {
    await sleep(handle, interval);
    const r = checkBindings(binder, handle, pod, nodeName, podVolumes);
    if (r === true) return undefined;
    if (typeof r === "string") return `binding volumes: ${r}`;
  }
  return "binding volumes: context deadline exceeded";
}

/** bindAPIUpdate: PUT the prebound PVs, then the annotated claims; unwritten ones are reverted in the caches. */
async function bindAPIUpdate(binder: VolumeBinder, handle: Handle, podVolumes: PodVolumes): Promise<string | undefined> {
  const client = handle.client;
  const bindings = podVolumes.staticBindings;
  const claims = podVolumes.dynamicProvisions;
  let doneBindings = 0;
  let doneClaims = 0;
  try {
    if ((bindings.length > 0 || claims.length > 0) && !client) return "no API client is configured for volume binding";
    for (const b of bindings) {
      // The stored object replaces ours, so the wait can tell when the informer has caught up.
      b.pv = await client!.updatePersistentVolume(b.pv);
      doneBindings++;
    }
    for (let i = 0; i < claims.length; i++) {
      claims[i] = await client!.updatePersistentVolumeClaim(claims[i]!);
      doneClaims++;
    }
    return undefined;
  } catch (e) {
    return (e as Error).message;
  } finally {
    if (doneBindings < bindings.length) binder.revertAssumedPVs(bindings.slice(doneBindings));
    if (doneClaims < claims.length) binder.revertAssumedPVCs(claims.slice(doneClaims));
  }
}

/**
 * checkBindings: true when every claim the pod's binding touched is fully
 * bound; false to keep waiting; an error message when binding must be
 * retried (pod gone, claim reference reset, provisioning failed…). Reads
 * the API objects (informers), not the assumed ones.
 */
function checkBindings(binder: VolumeBinder, handle: Handle, pod: Pod, nodeName: string, podVolumes: PodVolumes): boolean | string {
  const l = handle.listers;
  const node = l.nodes.get(nodeName);
  if (!node) return `failed to get node ${JSON.stringify(nodeName)}: nodes ${JSON.stringify(nodeName)} not found`;
  // A deleted pod cancels the binding.
  if (!l.pods.get(pod.metadata?.namespace ?? "", pod.metadata?.name ?? "")) {
    return `pod does not exist any more: pods ${JSON.stringify(pod.metadata?.name ?? "")} not found`;
  }
  for (const b of podVolumes.staticBindings) {
    const name = b.pv.metadata?.name ?? "";
    const pv = binder.pvCache.getAPI(name);
    if (!pv) return `failed to check binding: ${binder.pvCache.notFound(name)}`;
    const pvc = binder.pvcCache.getAPI(claimKey(b.pvc));
    if (!pvc) return `failed to check binding: ${binder.pvcCache.notFound(claimKey(b.pvc))}`;
    // Our own update has not reached the informer yet.
    if (compareResourceVersion(b.pv.metadata?.resourceVersion, pv.metadata?.resourceVersion) > 0) return false;
    const affinityErr = checkNodeAffinity(pv, node.metadata?.labels);
    if (affinityErr) return `pv ${JSON.stringify(name)} node affinity doesn't match node ${JSON.stringify(nodeName)}: ${affinityErr}`;
    if (!pv.spec?.claimRef?.uid) return `ClaimRef got reset for pv ${JSON.stringify(name)}`;
    if (!isPVCFullyBound(pvc)) return false;
  }
  for (const claim of podVolumes.dynamicProvisions) {
    const key = claimKey(claim);
    const pvc = binder.pvcCache.getAPI(key);
    if (!pvc) return `failed to check provisioning pvc: ${binder.pvcCache.notFound(key)}`;
    if (compareResourceVersion(claim.metadata?.resourceVersion, pvc.metadata?.resourceVersion) > 0) return false;
    const ann = pvc.metadata?.annotations;
    if (!ann) return `selectedNode annotation reset for PVC ${JSON.stringify(pvc.metadata?.name ?? "")}`;
    // A provisioner that fails removes the annotation so the scheduler retries.
    if (ann[AnnSelectedNode] !== nodeName) return `provisioning failed for PVC ${JSON.stringify(pvc.metadata?.name ?? "")}`;
    const volumeName = pvc.spec?.volumeName ?? "";
    if (volumeName !== "") {
      const pv = binder.pvCache.getAPI(volumeName);
      // The PV may not have reached the informer yet.
      if (!pv) return false;
      const affinityErr = checkNodeAffinity(pv, node.metadata?.labels);
      if (affinityErr) return `pv ${JSON.stringify(volumeName)} node affinity doesn't match node ${JSON.stringify(nodeName)}: ${affinityErr}`;
    }
    if (!isPVCFullyBound(pvc)) return false;
  }
  return true;
}
