/**
 * projected volumes (upstream pkg/volume/projected collectData): configMap,
 * secret, downwardAPI and serviceAccountToken sources merged into one
 * directory. Every source is tried; the failures are reported together, as
 * upstream's aggregate error.
 */
import type { ProjectedVolumeSource } from "kubernetes-types/core/v1.js";
import type { FileProjection } from "./atomic-writer.js";
import { DEFAULT_MODE, writeAtomicVolume } from "./atomic-volume.js";
import { makeConfigMapPayload, makeSecretPayload, readConfigMap, readSecret } from "./configmap-secret.js";
import { collectDownwardData } from "./downward-api.js";
import { aggregate, type PluginContext, type SetUpResult, setUpFailed } from "./plugin.js";

/** upstream collectData: the merged payload, or the aggregated errors. */
export async function collectProjectedData(ctx: PluginContext, source: ProjectedVolumeSource): Promise<{ ok: true; payload: Map<string, FileProjection> } | { ok: false; message: string }> {
  const payload = new Map<string, FileProjection>();
  const errs: string[] = [];
  const defaultMode = source.defaultMode ?? DEFAULT_MODE;
  const fsGroup = ctx.pod.spec?.securityContext?.fsGroup;
  for (const s of source.sources ?? []) {
    if (s.configMap) {
      const optional = s.configMap.optional === true;
      const cm = await readConfigMap(ctx, s.configMap.name ?? "", optional);
      if (!cm.ok) {
        errs.push(cm.message);
        continue;
      }
      const p = makeConfigMapPayload(s.configMap.items, cm.value, defaultMode, optional);
      if (!p.ok) errs.push(p.message);
      else for (const [k, v] of p.payload) payload.set(k, v);
    } else if (s.secret) {
      const optional = s.secret.optional === true;
      const sec = await readSecret(ctx, s.secret.name ?? "", optional);
      if (!sec.ok) {
        errs.push(sec.message);
        continue;
      }
      const p = makeSecretPayload(s.secret.items, sec.value, defaultMode, optional);
      if (!p.ok) errs.push(p.message);
      else for (const [k, v] of p.payload) payload.set(k, v);
    } else if (s.downwardAPI) {
      const p = collectDownwardData(s.downwardAPI.items, ctx.pod, defaultMode, ctx.nodeAllocatable);
      if (!p.ok) errs.push(p.message);
      else for (const [k, v] of p.payload) payload.set(k, v);
    } else if (s.serviceAccountToken) {
      const tp = s.serviceAccountToken;
      const t = await ctx.tokens.get(ctx.pod, tp.audience, tp.expirationSeconds);
      if (!t.ok) {
        errs.push(t.message);
        continue;
      }
      // With an fsGroup the ownership pass widens 0600 to 0640, as upstream.
      payload.set(tp.path, { data: Buffer.from(t.token, "utf8"), mode: fsGroup !== undefined ? 0o600 : defaultMode });
    } else {
      const kinds = Object.keys(s).filter((k) => (s as Record<string, unknown>)[k] != null);
      errs.push(`skiff does not support ${kinds.join(", ") || "empty"} volume projections (supported: configMap, secret, downwardAPI, serviceAccountToken)`);
    }
  }
  if (errs.length > 0) return { ok: false, message: aggregate(errs) };
  return { ok: true, payload };
}

/** A projected volume. */
export async function setUpProjected(ctx: PluginContext, name: string, source: ProjectedVolumeSource): Promise<SetUpResult> {
  const p = await collectProjectedData(ctx, source);
  if (!p.ok) return setUpFailed(p.message);
  return writeAtomicVolume(ctx, "projected", name, p.payload);
}
