/**
 * What the controller last wrote to each EndpointSlice, as upstream's
 * EndpointSliceTracker, so it can tell its own writes echoed back by the
 * informer from changes someone else made, and refuse to reconcile from a
 * cache that has not caught up with its writes (which would create
 * duplicate slices).
 *
 * Upstream tracks `metadata.generation`, which its API server bumps on
 * every EndpointSlice change; skiff's API server does not maintain a
 * generation for EndpointSlices, so the tracker compares resourceVersions
 * instead (skiff's are store revisions: numbers that only grow).
 */
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";
import { SERVICE_NAME_LABEL } from "./slices.js";

const DELETION_EXPECTED = -1;

function versionOf(slice: EndpointSlice): number {
  const n = Number(slice.metadata?.resourceVersion);
  return Number.isFinite(n) ? n : 0;
}

function serviceKeyOf(slice: EndpointSlice): string {
  return `${slice.metadata?.namespace ?? ""}/${slice.metadata?.labels?.[SERVICE_NAME_LABEL] ?? ""}`;
}

/** Versions of the slices written, by Service and slice uid. */
export class EndpointSliceTracker {
  private readonly byService = new Map<string, Map<string, number>>();

  private versions(slice: EndpointSlice, create = false): Map<string, number> | undefined {
    const key = serviceKeyOf(slice);
    let m = this.byService.get(key);
    if (!m && create) this.byService.set(key, (m = new Map()));
    return m;
  }

  /** Whether the slice is tracked. */
  has(slice: EndpointSlice): boolean {
    return this.versions(slice)?.has(slice.metadata?.uid ?? "") ?? false;
  }

  /** True unless the slice is one this controller wrote, at this version or later (an echo of its own write). */
  shouldSync(slice: EndpointSlice): boolean {
    const v = this.versions(slice)?.get(slice.metadata?.uid ?? "");
    return v === undefined || versionOf(slice) > v;
  }

  /**
   * True when `slices` (the cache's view of a Service's slices) are older
   * than what was written: a tracked slice at an older version or expected
   * to be deleted, or a tracked slice missing.
   */
  staleSlices(namespace: string, serviceName: string, slices: readonly EndpointSlice[]): boolean {
    const m = this.byService.get(`${namespace}/${serviceName}`);
    if (!m) return false;
    const provided = new Set<string>();
    for (const s of slices) {
      const uid = s.metadata?.uid ?? "";
      provided.add(uid);
      const v = m.get(uid);
      if (v !== undefined && (v === DELETION_EXPECTED || v > versionOf(s))) return true;
    }
    for (const [uid, v] of m) if (v !== DELETION_EXPECTED && !provided.has(uid)) return true;
    return false;
  }

  /** Records a slice as written (from the server's answer). */
  update(slice: EndpointSlice): void {
    this.versions(slice, true)!.set(slice.metadata?.uid ?? "", versionOf(slice));
  }

  /** Records that the controller deleted the slice. */
  expectDeletion(slice: EndpointSlice): void {
    this.versions(slice, true)!.set(slice.metadata?.uid ?? "", DELETION_EXPECTED);
  }

  /** Forgets a deleted slice; false when the deletion was not this controller's (the Service needs a sync). */
  handleDeletion(slice: EndpointSlice): boolean {
    const m = this.versions(slice);
    if (!m) return true;
    const uid = slice.metadata?.uid ?? "";
    const v = m.get(uid);
    m.delete(uid);
    if (m.size === 0) this.byService.delete(serviceKeyOf(slice));
    return v === undefined || v === DELETION_EXPECTED;
  }

  /** Forgets every slice of a deleted Service. */
  deleteService(namespace: string, name: string): void {
    this.byService.delete(`${namespace}/${name}`);
  }
}
