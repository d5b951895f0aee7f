/**
 * configMap and secret volumes (upstream pkg/volume/configmap and
 * pkg/volume/secret): every key as a file (or the `items` chosen, at their
 * paths and modes), a missing object or key failing the mount unless
 * `optional`, with upstream's messages.
 */
import type { ConfigMap, ConfigMapVolumeSource, KeyToPath, Secret, SecretVolumeSource } from "kubernetes-types/core/v1.js";
import type { FileProjection } from "./atomic-writer.js";
import { DEFAULT_MODE, writeAtomicVolume } from "./atomic-volume.js";
import type { PluginContext, SetUpResult } from "./plugin.js";
import { setUpFailed } from "./plugin.js";

/** A payload, or upstream's error. */
export type PayloadResult = { readonly ok: true; readonly payload: Map<string, FileProjection> } | { readonly ok: false; readonly message: string };

/** upstream configmap.MakePayload. */
export function makeConfigMapPayload(items: readonly KeyToPath[] | undefined, cm: ConfigMap, defaultMode: number | undefined, optional: boolean): PayloadResult {
  const mode = defaultMode ?? DEFAULT_MODE;
  const payload = new Map<string, FileProjection>();
  if (!items || items.length === 0) {
    for (const [k, v] of Object.entries(cm.data ?? {})) payload.set(k, { data: Buffer.from(v, "utf8"), mode });
    for (const [k, v] of Object.entries(cm.binaryData ?? {})) payload.set(k, { data: Buffer.from(v, "base64"), mode });
    return { ok: true, payload };
  }
  for (const ktp of items) {
    let data: Buffer;
    const s = cm.data?.[ktp.key];
    const b = cm.binaryData?.[ktp.key];
    if (s !== undefined) data = Buffer.from(s, "utf8");
    else if (b !== undefined) data = Buffer.from(b, "base64");
    else {
      if (optional) continue;
      return { ok: false, message: `configmap references non-existent config key: ${ktp.key}` };
    }
    payload.set(ktp.path, { data, mode: ktp.mode ?? mode });
  }
  return { ok: true, payload };
}

/** upstream secret.MakePayload. */
export function makeSecretPayload(items: readonly KeyToPath[] | undefined, secret: Secret, defaultMode: number | undefined, optional: boolean): PayloadResult {
  const mode = defaultMode ?? DEFAULT_MODE;
  const payload = new Map<string, FileProjection>();
  const data = secret.data ?? {};
  if (!items || items.length === 0) {
    for (const [k, v] of Object.entries(data)) payload.set(k, { data: Buffer.from(v, "base64"), mode });
    return { ok: true, payload };
  }
  for (const ktp of items) {
    const v = data[ktp.key];
    if (v === undefined) {
      if (optional) continue;
      return { ok: false, message: `secret references non-existent secret key: ${ktp.key}` };
    }
    payload.set(ktp.path, { data: Buffer.from(v, "base64"), mode: ktp.mode ?? mode });
  }
  return { ok: true, payload };
}

const NO_CLIENT = (kind: string, ns: string, name: string) => `cannot get ${kind} ${ns}/${name}: this kubelet has no API client`;

/** The ConfigMap of a configMap volume or projection; an empty one when optional and missing. */
export async function readConfigMap(ctx: PluginContext, name: string, optional: boolean): Promise<{ ok: true; value: ConfigMap } | { ok: false; message: string }> {
  const ns = ctx.pod.metadata?.namespace ?? "";
  if (!ctx.objects) return { ok: false, message: NO_CLIENT("configmap", ns, name) };
  const r = await ctx.objects.getConfigMap(ns, name);
  if (r.ok) return r;
  if (r.notFound && optional) return { ok: true, value: { metadata: { namespace: ns, name } } };
  return { ok: false, message: r.message };
}

/** The Secret of a secret volume or projection; an empty one when optional and missing. */
export async function readSecret(ctx: PluginContext, name: string, optional: boolean): Promise<{ ok: true; value: Secret } | { ok: false; message: string }> {
  const ns = ctx.pod.metadata?.namespace ?? "";
  if (!ctx.objects) return { ok: false, message: NO_CLIENT("secret", ns, name) };
  const r = await ctx.objects.getSecret(ns, name);
  if (r.ok) return r;
  if (r.notFound && optional) return { ok: true, value: { metadata: { namespace: ns, name } } };
  return { ok: false, message: r.message };
}

/** A configMap volume. */
export async function setUpConfigMap(ctx: PluginContext, name: string, source: ConfigMapVolumeSource): Promise<SetUpResult> {
  const optional = source.optional === true;
  const cm = await readConfigMap(ctx, source.name ?? "", optional);
  if (!cm.ok) return setUpFailed(cm.message);
  const p = makeConfigMapPayload(source.items, cm.value, source.defaultMode, optional);
  if (!p.ok) return setUpFailed(p.message);
  return writeAtomicVolume(ctx, "configMap", name, p.payload);
}

/** A secret volume. */
export async function setUpSecret(ctx: PluginContext, name: string, source: SecretVolumeSource): Promise<SetUpResult> {
  const optional = source.optional === true;
  const s = await readSecret(ctx, source.secretName ?? "", optional);
  if (!s.ok) return setUpFailed(s.message);
  const p = makeSecretPayload(source.items, s.value, source.defaultMode, optional);
  if (!p.ok) return setUpFailed(p.message);
  return writeAtomicVolume(ctx, "secret", name, p.payload);
}
