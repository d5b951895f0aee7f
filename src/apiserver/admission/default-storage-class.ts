/**
 * DefaultStorageClass, as upstream's
 * plugin/pkg/admission/storage/storageclass/setdefault: a new
 * PersistentVolumeClaim that names no class (neither `spec.storageClassName`,
 * not even "", nor the beta annotation) gets the default StorageClass. When
 * several classes are marked default the newest wins, ties broken by name
 * (upstream since 1.26); with none the claim is left as it is.
 */
import type { ObjectStore } from "../registry/object-store.js";
import type { KObject } from "../registry/types.js";
import type { AdmissionPlugin } from "./admission.js";

export const IS_DEFAULT_STORAGE_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class";
export const BETA_IS_DEFAULT_STORAGE_CLASS_ANNOTATION = "storageclass.beta.kubernetes.io/is-default-class";
/** The pre-1.6 way of naming a claim's class; still honoured, as upstream. */
export const BETA_STORAGE_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class";

/** What the plugin reads StorageClasses through: an ObjectStore, or a cache with the same read. */
export type StorageClassReader = { list(ns?: string): ReturnType<ObjectStore["list"]> };

export interface DefaultStorageClassOptions {
  readonly storageClasses: StorageClassReader;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** Upstream's storageutil.IsDefaultAnnotation. */
export function isDefaultStorageClass(sc: KObject): boolean {
  const ann = sc.metadata?.annotations ?? {};
  return ann[IS_DEFAULT_STORAGE_CLASS_ANNOTATION] === "true" || ann[BETA_IS_DEFAULT_STORAGE_CLASS_ANNOTATION] === "true";
}

/** Upstream's GetDefaultClass: newest creationTimestamp first, then name ascending; undefined when none. */
export async function getDefaultStorageClass(reader: StorageClassReader): Promise<KObject | undefined> {
  const list = await reader.list(undefined);
  const defaults = list.items.filter(isDefaultStorageClass);
  const ts = (o: KObject) => {
    const t = o.metadata?.creationTimestamp ? Date.parse(String(o.metadata.creationTimestamp)) : 0;
    return Number.isNaN(t) ? 0 : t;
  };
  defaults.sort((x, y) => {
    const dt = ts(y) - ts(x);
    if (dt !== 0) return dt;
    const nx = x.metadata?.name ?? "";
    const ny = y.metadata?.name ?? "";
    return nx < ny ? -1 : nx > ny ? 1 : 0;
  });
  return defaults[0];
}

/** Upstream's PersistentVolumeClaimHasClass: the beta annotation, or storageClassName set at all (even ""). */
function claimHasClass(pvc: KObject): boolean {
  if (pvc.metadata?.annotations && BETA_STORAGE_CLASS_ANNOTATION in pvc.metadata.annotations) return true;
  const spec = pvc.spec;
  return isObj(spec) && spec.storageClassName !== undefined && spec.storageClassName !== null;
}

export function defaultStorageClass(opts: DefaultStorageClassOptions): AdmissionPlugin {
  return {
    name: "DefaultStorageClass",
    async admit(a) {
      if (a.operation !== "CREATE" || a.subresource !== "") return;
      if (a.resource.group !== "" || a.resource.plural !== "persistentvolumeclaims") return;
      const pvc = a.object;
      if (!pvc || claimHasClass(pvc)) return;
      const def = await getDefaultStorageClass(opts.storageClasses);
      if (!def?.metadata?.name) return;
      const spec = (isObj(pvc.spec) ? pvc.spec : (pvc.spec = {})) as Obj;
      spec.storageClassName = def.metadata.name;
    },
  };
}
