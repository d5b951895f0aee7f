/**
 * ServiceAccount admission, as upstream's
 * plugin/pkg/admission/serviceaccount (bound tokens, 1.24+): on pod
 * CREATE, a pod without `serviceAccountName` gets `default`; the
 * ServiceAccount must exist (the default one is waited for briefly, as the
 * controller makes it right after the namespace); unless
 * `automountServiceAccountToken` is false (pod first, then ServiceAccount),
 * a projected `kube-api-access-XXXXX` volume (a 3607 s token, `ca.crt` from
 * the `kube-root-ca.crt` ConfigMap, the namespace from the downward API)
 * is added and mounted read-only at /var/run/secrets/kubernetes.io/serviceaccount
 * in every init and app container that does not mount something there
 * already; the ServiceAccount's imagePullSecrets are copied to a pod that
 * has none. Mirror pods may not use ServiceAccounts or Secrets. With the
 * `kubernetes.io/enforce-mountable-secrets: "true"` annotation, a pod may
 * only use the Secrets its ServiceAccount lists.
 */
import { randomInt } from "node:crypto";
import { forbidden, isNotFound } from "../../machinery/status-error.js";
import type { KObject } from "../registry/types.js";
import type { AdmissionAttributes, AdmissionPlugin } from "./admission.js";

export const DEFAULT_SERVICE_ACCOUNT_NAME = "default";
export const DEFAULT_API_TOKEN_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount";
export const SERVICE_ACCOUNT_VOLUME_NAME = "kube-api-access";
export const ENFORCE_MOUNTABLE_SECRETS_ANNOTATION = "kubernetes.io/enforce-mountable-secrets";
export const MIRROR_POD_ANNOTATION_KEY = "kubernetes.io/config.mirror";
/** upstream serviceaccount.WarnOnlyBoundTokenExpirationSeconds. */
export const TOKEN_VOLUME_EXPIRATION_SECONDS = 3607;
/** upstream corev1.ProjectedVolumeSourceDefaultMode (0644). */
const PROJECTED_DEFAULT_MODE = 0o644;

/** Finds ServiceAccounts: a lister first, then a live read on a miss (undefined when not found). */
export interface ServiceAccountLookup {
  find(namespace: string, name: string): Promise<KObject | undefined>;
}

/** Options of {@link serviceAccountAdmission}. */
export interface ServiceAccountAdmissionOptions {
  readonly serviceAccounts: ServiceAccountLookup;
  /** Waits between lookups of a missing default ServiceAccount (tests make it instant). */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Volume name suffixes (tests make them fixed). */
  readonly randomSuffix?: () => string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);
const objs = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);
const str = (v: unknown): string => (typeof v === "string" ? v : "");

/** upstream names.SimpleNameGenerator's alphabet and length. */
const ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789";
export function simpleNameSuffix(): string {
  let s = "";
  for (let i = 0; i < 5; i++) s += ALPHANUMS[randomInt(ALPHANUMS.length)];
  return s;
}

/** The projected volume source upstream's TokenVolumeSource() makes. */
export function tokenVolumeSource(): Obj {
  return {
    defaultMode: PROJECTED_DEFAULT_MODE,
    sources: [
      { serviceAccountToken: { path: "token", expirationSeconds: TOKEN_VOLUME_EXPIRATION_SECONDS } },
      { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
      { downwardAPI: { items: [{ path: "namespace", fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } }] } },
    ],
  };
}

/** Upstream's admission.NewForbidden: `pods "NAME" is forbidden: WHY` (generateName when there is no name yet). */
function forbid(a: AdmissionAttributes, why: string): Error {
  const meta = (a.object?.metadata ?? {}) as Obj;
  const name = a.name || str(meta.name) || str(meta.generateName) || "Unknown";
  return forbidden(`pods "${name}" is forbidden: ${why}`, { name, kind: "pods" });
}

/** Whether the pod has any Secret reference (upstream's VisitPodSecretNames). */
function podHasSecrets(spec: Obj): boolean {
  if (objs(spec.imagePullSecrets).some((s) => str(s.name))) return true;
  const containers = [...objs(spec.initContainers), ...objs(spec.containers), ...objs(spec.ephemeralContainers)];
  for (const c of containers) {
    if (objs(c.envFrom).some((e) => isObj(e.secretRef) && str(e.secretRef.name))) return true;
    if (objs(c.env).some((e) => isObj(e.valueFrom) && isObj(e.valueFrom.secretKeyRef) && str(e.valueFrom.secretKeyRef.name))) return true;
  }
  for (const v of objs(spec.volumes)) {
    if (isObj(v.secret) && str(v.secret.secretName)) return true;
    if (isObj(v.projected) && objs(v.projected.sources).some((s) => isObj(s.secret) && str(s.secret.name))) return true;
    for (const k of ["azureFile", "cephfs", "cinder", "flexVolume", "rbd", "scaleIO", "iscsi", "storageos", "csi"]) {
      const src = v[k];
      if (isObj(src) && (str(src.secretName) || (isObj(src.secretRef) && str(src.secretRef.name)) || (isObj(src.nodePublishSecretRef) && str(src.nodePublishSecretRef.name)))) return true;
    }
  }
  return false;
}

/** upstream shouldAutomount: the pod's preference wins, then the ServiceAccount's, then true. */
function shouldAutomount(sa: KObject, spec: Obj): boolean {
  if (typeof spec.automountServiceAccountToken === "boolean") return spec.automountServiceAccountToken;
  if (typeof sa.automountServiceAccountToken === "boolean") return sa.automountServiceAccountToken;
  return true;
}

/** upstream limitSecretReferences: the first reference the ServiceAccount does not list, as a message. */
function unlistedSecret(sa: KObject, spec: Obj): string | undefined {
  const saName = sa.metadata?.name ?? "";
  const mountable = new Set(objs(sa.secrets).map((s) => str(s.name)));
  for (const v of objs(spec.volumes)) {
    if (!isObj(v.secret)) continue;
    const name = str(v.secret.secretName);
    if (!mountable.has(name)) return `volume with secret.secretName="${name}" is not allowed because service account ${saName} does not reference that secret`;
  }
  const check = (list: Obj[], what: string): string | undefined => {
    for (const c of list) {
      for (const e of objs(c.env)) {
        const ref = isObj(e.valueFrom) && isObj(e.valueFrom.secretKeyRef) ? e.valueFrom.secretKeyRef : undefined;
        if (ref && !mountable.has(str(ref.name))) {
          return `${what} ${str(c.name)} with envVar ${str(e.name)} referencing secret.secretName="${str(ref.name)}" is not allowed because service account ${saName} does not reference that secret`;
        }
      }
      for (const e of objs(c.envFrom)) {
        if (isObj(e.secretRef) && !mountable.has(str(e.secretRef.name))) {
          return `${what} ${str(c.name)} with envFrom referencing secret.secretName="${str(e.secretRef.name)}" is not allowed because service account ${saName} does not reference that secret`;
        }
      }
    }
    return undefined;
  };
  const bad = check(objs(spec.initContainers), "init container") ?? check(objs(spec.containers), "container") ?? check(objs(spec.ephemeralContainers), "ephemeral container");
  if (bad) return bad;
  const pull = new Set(objs(sa.imagePullSecrets).map((s) => str(s.name)));
  const refs = objs(spec.imagePullSecrets);
  for (let i = 0; i < refs.length; i++) {
    const name = str(refs[i]!.name);
    if (!pull.has(name)) return `imagePullSecrets[${i}].name="${name}" is not allowed because service account ${saName} does not reference that imagePullSecret`;
  }
  return undefined;
}

/** The ServiceAccount admission plugin (see the file comment). */
export function serviceAccountAdmission(opts: ServiceAccountAdmissionOptions): AdmissionPlugin {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const suffix = opts.randomSuffix ?? simpleNameSuffix;

  /** upstream getServiceAccount: the default one is tried ten times, others once. */
  async function getServiceAccount(namespace: string, name: string): Promise<KObject | undefined> {
    const attempts = name === DEFAULT_SERVICE_ACCOUNT_NAME ? 10 : 1;
    const interval = 100 + randomInt(100);
    for (let i = 0; i < attempts; i++) {
      if (i > 0) await sleep(interval);
      try {
        const sa = await opts.serviceAccounts.find(namespace, name);
        if (sa) return sa;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return undefined;
  }

  const ignored = (a: AdmissionAttributes) =>
    a.operation !== "CREATE" || a.resource.group !== "" || a.resource.plural !== "pods" || a.subresource !== "" || !a.object;

  function mirrorPodCheck(a: AdmissionAttributes, spec: Obj): void {
    if (str(spec.serviceAccountName)) throw forbid(a, "a mirror pod may not reference service accounts");
    if (podHasSecrets(spec)) throw forbid(a, "a mirror pod may not reference secrets");
    for (const v of objs(spec.volumes)) {
      if (isObj(v.projected) && objs(v.projected.sources).some((s) => isObj(s.serviceAccountToken))) {
        throw forbid(a, "a mirror pod may not use ServiceAccountToken volume projections");
      }
    }
  }

  async function lookup(a: AdmissionAttributes, name: string): Promise<KObject> {
    const sa = await getServiceAccount(a.namespace, name);
    if (!sa) throw forbid(a, `error looking up service account ${a.namespace}/${name}: serviceaccount "${name}" not found`);
    return sa;
  }

  function mountToken(spec: Obj): void {
    let volumeName = "";
    let hasVolume = false;
    for (const v of objs(spec.volumes)) {
      if (str(v.name).startsWith(`${SERVICE_ACCOUNT_VOLUME_NAME}-`)) {
        volumeName = str(v.name);
        hasVolume = true;
        break;
      }
    }
    if (!volumeName) volumeName = `${SERVICE_ACCOUNT_VOLUME_NAME}-${suffix()}`;
    let needed = false;
    for (const key of ["initContainers", "containers"]) {
      for (const c of objs(spec[key])) {
        const mounts = objs(c.volumeMounts);
        if (mounts.some((m) => m.mountPath === DEFAULT_API_TOKEN_MOUNT_PATH)) continue;
        c.volumeMounts = [...(Array.isArray(c.volumeMounts) ? c.volumeMounts : []), { name: volumeName, readOnly: true, mountPath: DEFAULT_API_TOKEN_MOUNT_PATH }];
        needed = true;
      }
    }
    if (!hasVolume && needed) {
      spec.volumes = [...(Array.isArray(spec.volumes) ? spec.volumes : []), { name: volumeName, projected: tokenVolumeSource() }];
    }
  }

  return {
    name: "ServiceAccount",
    async admit(a) {
      if (ignored(a)) return;
      const pod = a.object!;
      const spec = (isObj(pod.spec) ? pod.spec : (pod.spec = {})) as Obj;
      // Mirror pods are left as the kubelet wrote them (it would delete a changed one); validate checks them.
      if (pod.metadata?.annotations?.[MIRROR_POD_ANNOTATION_KEY] !== undefined) return;
      if (!str(spec.serviceAccountName)) spec.serviceAccountName = DEFAULT_SERVICE_ACCOUNT_NAME;
      const sa = await lookup(a, str(spec.serviceAccountName));
      if (shouldAutomount(sa, spec)) mountToken(spec);
      if (objs(spec.imagePullSecrets).length === 0 && objs(sa.imagePullSecrets).length > 0) {
        spec.imagePullSecrets = objs(sa.imagePullSecrets).map((s) => ({ name: str(s.name) }));
      }
    },
    async validate(a) {
      if (ignored(a)) return;
      const pod = a.object!;
      const spec = (isObj(pod.spec) ? pod.spec : {}) as Obj;
      if (pod.metadata?.annotations?.[MIRROR_POD_ANNOTATION_KEY] !== undefined) return mirrorPodCheck(a, spec);
      const name = str(spec.serviceAccountName);
      if (!name) throw forbid(a, `no service account specified for pod ${a.namespace}/${str(pod.metadata?.name)}`);
      const sa = await lookup(a, name);
      const enforce = sa.metadata?.annotations?.[ENFORCE_MOUNTABLE_SECRETS_ANNOTATION];
      if (enforce !== undefined && ["1", "t", "T", "true", "TRUE", "True"].includes(enforce)) {
        const why = unlistedSecret(sa, spec);
        if (why) throw forbid(a, why);
      }
    },
  };
}
