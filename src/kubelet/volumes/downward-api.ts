/**
 * downwardAPI volumes (upstream pkg/volume/downwardapi CollectData): the
 * pod's metadata fields and containers' resource values as files, written
 * again on every sync so label and annotation changes show.
 */
import type { DownwardAPIVolumeFile, DownwardAPIVolumeSource, Pod } from "kubernetes-types/core/v1.js";
import { posix } from "node:path";
import { extractFieldPathAsString, type ResourceList, volumeResourceValue } from "../pod/env-fieldpath.js";
import type { FileProjection } from "./atomic-writer.js";
import { DEFAULT_MODE, writeAtomicVolume } from "./atomic-volume.js";
import { aggregate, type PluginContext, type SetUpResult, setUpFailed } from "./plugin.js";
import type { PayloadResult } from "./configmap-secret.js";

/** upstream downwardapi.CollectData. */
export function collectDownwardData(items: readonly DownwardAPIVolumeFile[] | undefined, pod: Pod, defaultMode: number | undefined, allocatable: ResourceList): PayloadResult {
  const errs: string[] = [];
  const payload = new Map<string, FileProjection>();
  for (const item of items ?? []) {
    const mode = item.mode ?? defaultMode ?? DEFAULT_MODE;
    let data = Buffer.alloc(0);
    if (item.fieldRef) {
      const r = extractFieldPathAsString(pod, item.fieldRef.fieldPath);
      if (r.ok) data = Buffer.from(r.value, "utf8");
      else errs.push(r.message);
    } else if (item.resourceFieldRef) {
      const r = volumeResourceValue(item.resourceFieldRef, pod, allocatable);
      if (r.ok) data = Buffer.from(r.value, "utf8");
      else errs.push(r.message);
    }
    payload.set(posix.normalize(item.path), { data, mode });
  }
  if (errs.length > 0) return { ok: false, message: aggregate(errs) };
  return { ok: true, payload };
}

/** A downwardAPI volume. */
export async function setUpDownwardAPI(ctx: PluginContext, name: string, source: DownwardAPIVolumeSource): Promise<SetUpResult> {
  const p = collectDownwardData(source.items, ctx.pod, source.defaultMode, ctx.nodeAllocatable);
  if (!p.ok) return setUpFailed(p.message);
  return writeAtomicVolume(ctx, "downwardAPI", name, p.payload);
}
