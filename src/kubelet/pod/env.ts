/**
 * A container's environment, as upstream's kubelet makeEnvironmentVariables
 * (kubelet_pods.go): `envFrom` first (ConfigMaps and Secrets, optional
 * prefix, invalid names skipped with an event), then `env` in order —
 * literal values with `$(VAR)` expansion against the variables declared
 * before and the service variables, or `valueFrom` (configMapKeyRef,
 * secretKeyRef, fieldRef, resourceFieldRef) — then the Service variables
 * not already set. A missing non-optional source is an error whose message
 * becomes the CreateContainerConfigError message, verbatim as upstream's.
 */
import type { ConfigMap, Container, Pod, Secret } from "kubernetes-types/core/v1.js";
import type { KeyValue } from "../../runtime/types.js";
import type { Fetched, PodObjects } from "../volumes/objects.js";
import { expand, mappingFuncFor } from "./env-expansion.js";
import { containerResourceRuntimeValue, type PodRuntimeFacts, podFieldSelectorRuntimeValue, type ResourceList } from "./env-fieldpath.js";
import { serviceEnvVarMap } from "./env-services.js";

/** Upstream's event reason for envFrom keys that are not valid variable names. */
export const INVALID_ENVIRONMENT_VARIABLE_NAMES = "InvalidEnvironmentVariableNames";

/** What building an environment needs besides the pod. */
export interface EnvContext {
  /** ConfigMaps, Secrets and Services; without it, references fail as upstream's kubelet without a client. */
  readonly objects?: PodObjects;
  readonly facts: PodRuntimeFacts;
  /** The node's allocatable resources: the limits of containers that set none (resourceFieldRef). */
  readonly nodeAllocatable: ResourceList;
  /** Records a Warning event about the pod. */
  readonly warn?: (reason: string, message: string) => void;
}

/** The environment, or why the container cannot be configured. */
export type EnvResult = { readonly ok: true; readonly envs: KeyValue[] } | { readonly ok: false; readonly message: string };

/**
 * upstream IsRelaxedEnvVarName (RelaxedEnvironmentVariableValidation, on by
 * default since v1.32): printable ASCII other than `=`.
 */
export function isEnvVarName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x3d) return false;
  }
  return true;
}

/** Secret data is base64 in the API; the environment gets the bytes as a string, as Go's string(b). */
export function secretValue(b64: string): string {
  return Buffer.from(b64, "base64").toString("utf8");
}

/** The env of `container` in `pod` (see the file comment). */
export async function makeEnvironmentVariables(pod: Pod, container: Container, ctx: EnvContext): Promise<EnvResult> {
  const ns = pod.metadata?.namespace ?? "";
  const objects = ctx.objects;

  let serviceEnv = new Map<string, string>();
  if (objects) {
    const links = pod.spec?.enableServiceLinks !== false;
    const def = await objects.listServices("default");
    const own = links && ns !== "default" ? await objects.listServices(ns) : def;
    if (!def.ok || !own.ok) return { ok: false, message: "failed to list services when setting up env vars" };
    serviceEnv = serviceEnvVarMap(ns, links, def.value, links ? own.value : []);
  }

  const configMaps = new Map<string, ConfigMap>();
  const secrets = new Map<string, Secret>();
  const tmpEnv = new Map<string, string>();

  /** The named object, from this call's cache or the API; `skip` when optional and missing. */
  async function load<T>(
    cache: Map<string, T>,
    kind: "configMap" | "secret",
    name: string,
    optional: boolean,
    get: (o: PodObjects) => Promise<Fetched<T>>,
  ): Promise<{ obj: T } | { skip: true } | { error: string }> {
    const hit = cache.get(name);
    if (hit) return { obj: hit };
    if (!objects) return { error: `couldn't get ${kind} ${ns}/${name}, no kubeClient defined` };
    const r = await get(objects);
    if (!r.ok) return r.notFound && optional ? { skip: true } : { error: r.message };
    cache.set(name, r.value);
    return { obj: r.value };
  }

  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? "";
    if (from.configMapRef) {
      const name = from.configMapRef.name ?? "";
      const got = await load(configMaps, "configMap", name, from.configMapRef.optional === true, (o) => o.getConfigMap(ns, name));
      if ("error" in got) return { ok: false, message: got.error };
      if ("skip" in got) continue;
      addAll(Object.entries(got.obj.data ?? {}), prefix, `configMap ${ns}/${name}`);
    } else if (from.secretRef) {
      const name = from.secretRef.name ?? "";
      const got = await load(secrets, "secret", name, from.secretRef.optional === true, (o) => o.getSecret(ns, name));
      if ("error" in got) return { ok: false, message: got.error };
      if ("skip" in got) continue;
      addAll(
        Object.entries(got.obj.data ?? {}).map(([k, v]) => [k, secretValue(v)] as [string, string]),
        prefix,
        `secret ${ns}/${name}`,
      );
    }
  }

  function addAll(entries: [string, string][], prefix: string, what: string): void {
    const invalid: string[] = [];
    for (const [key, v] of entries) {
      const k = prefix + key;
      if (!isEnvVarName(k)) {
        invalid.push(k);
        continue;
      }
      tmpEnv.set(k, v);
    }
    if (invalid.length > 0) {
      invalid.sort();
      ctx.warn?.(
        INVALID_ENVIRONMENT_VARIABLE_NAMES,
        `Keys [${invalid.join(", ")}] from the EnvFrom ${what} were skipped since they are considered invalid environment variable names.`,
      );
    }
  }

  // tmpEnv grows as variables are declared, so a value sees only the ones before it (and envFrom's).
  const mapping = mappingFuncFor(tmpEnv, serviceEnv);
  for (const e of container.env ?? []) {
    let value = e.value ?? "";
    if (value !== "") value = expand(value, mapping);
    else if (e.valueFrom) {
      const vf = e.valueFrom;
      if (vf.fieldRef) {
        const r = podFieldSelectorRuntimeValue(vf.fieldRef, pod, ctx.facts);
        if (!r.ok) return { ok: false, message: r.message };
        value = r.value;
      } else if (vf.resourceFieldRef) {
        const r = containerResourceRuntimeValue(vf.resourceFieldRef, pod, container, ctx.nodeAllocatable);
        if (!r.ok) return { ok: false, message: r.message };
        value = r.value;
      } else if (vf.configMapKeyRef) {
        const { name = "", key, optional } = vf.configMapKeyRef;
        const got = await load(configMaps, "configMap", name, optional === true, (o) => o.getConfigMap(ns, name));
        if ("error" in got) return { ok: false, message: got.error };
        if ("skip" in got) continue;
        const v = got.obj.data?.[key];
        if (v === undefined) {
          if (optional) continue;
          return { ok: false, message: `couldn't find key ${key} in ConfigMap ${ns}/${name}` };
        }
        value = v;
      } else if (vf.secretKeyRef) {
        const { name = "", key, optional } = vf.secretKeyRef;
        const got = await load(secrets, "secret", name, optional === true, (o) => o.getSecret(ns, name));
        if ("error" in got) return { ok: false, message: got.error };
        if ("skip" in got) continue;
        const v = got.obj.data?.[key];
        if (v === undefined) {
          if (optional) continue;
          return { ok: false, message: `couldn't find key ${key} in Secret ${ns}/${name}` };
        }
        value = secretValue(v);
      } else {
        const unknown = Object.keys(vf).filter((k) => (vf as Record<string, unknown>)[k] != null);
        if (unknown.length > 0) return { ok: false, message: `skiff does not support env valueFrom ${unknown.join(", ")} (variable ${e.name})` };
      }
    }
    tmpEnv.set(e.name, value);
  }

  const envs: KeyValue[] = [];
  for (const [key, value] of tmpEnv) envs.push({ key, value });
  for (const [key, value] of serviceEnv) if (!tmpEnv.has(key)) envs.push({ key, value });
  return { ok: true, envs };
}

/** upstream ExpandContainerCommandAndArgs: `$(VAR)` in command and args from the final environment. */
export function expandCommandAndArgs(container: Container, envs: readonly KeyValue[]): { command: string[]; args: string[] } {
  const mapping = mappingFuncFor(new Map(envs.map((e) => [e.key, e.value])));
  return { command: (container.command ?? []).map((c) => expand(c, mapping)), args: (container.args ?? []).map((a) => expand(a, mapping)) };
}

/**
 * upstream ExpandContainerVolumeMounts: a subPathExpr from the environment;
 * a reference to a variable that is unset or empty is an error.
 */
export function expandSubPathExpr(expr: string, envs: readonly KeyValue[]): { ok: true; value: string } | { ok: false; message: string } {
  const env = new Map(envs.map((e) => [e.key, e.value]));
  const missing = new Set<string>();
  const value = expand(expr, (key) => {
    const v = env.get(key);
    if (v === undefined || v === "") missing.add(key);
    return v ?? "";
  });
  if (missing.size > 0) return { ok: false, message: `missing value for ${[...missing].sort().join(", ")}` };
  return { ok: true, value };
}
