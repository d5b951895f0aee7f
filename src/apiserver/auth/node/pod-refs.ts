/**
 * What a pod or PersistentVolume references, as upstream's graph populator
 * reads it (pkg/api/v1/pod VisitPodSecretNames / VisitPodConfigmapNames and
 * the PV's secret references): the objects a node may read because a pod
 * bound to it uses them.
 */

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);
const objs = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);
const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/** A referenced object's kind, as the node authorizer's vertex types. */
export type RefKind = "secret" | "configmap" | "pvc" | "serviceaccount";

/** `kind/namespace/name`, the key the graph counts by. */
export type RefKey = string;

export const refKey = (kind: RefKind, namespace: string, name: string): RefKey => `${kind}/${namespace}/${name}`;

/** Every container of a pod: init, regular and ephemeral, as upstream's visitors. */
function containers(spec: Obj): Obj[] {
  return [...objs(spec.initContainers), ...objs(spec.containers), ...objs(spec.ephemeralContainers)];
}

/** Secret names a volume source refers to (the volume plugins upstream visits). */
function volumeSecretNames(v: Obj): string[] {
  const out: string[] = [];
  const push = (n: unknown) => {
    const s = str(n);
    if (s) out.push(s);
  };
  if (isObj(v.secret)) push(v.secret.secretName);
  if (isObj(v.projected)) for (const src of objs(v.projected.sources)) if (isObj(src.secret)) push(src.secret.name);
  if (isObj(v.azureFile)) push(v.azureFile.secretName);
  for (const k of ["cephfs", "cinder", "flexVolume", "iscsi", "rbd", "scaleIO", "storageos"]) {
    const s = v[k];
    if (isObj(s) && isObj(s.secretRef)) push(s.secretRef.name);
  }
  if (isObj(v.csi) && isObj(v.csi.nodePublishSecretRef)) push(v.csi.nodePublishSecretRef.name);
  return out;
}

/** The objects a pod references, within its own namespace. */
export function podReferences(pod: { metadata?: { namespace?: string; name?: string }; spec?: unknown }): Set<RefKey> {
  const ns = pod.metadata?.namespace ?? "";
  const spec = isObj(pod.spec) ? pod.spec : {};
  const refs = new Set<RefKey>();
  const add = (kind: RefKind, name: unknown) => {
    const n = str(name);
    if (n) refs.add(refKey(kind, ns, n));
  };
  for (const s of objs(spec.imagePullSecrets)) add("secret", s.name);
  for (const c of containers(spec)) {
    for (const e of objs(c.envFrom)) {
      if (isObj(e.secretRef)) add("secret", e.secretRef.name);
      if (isObj(e.configMapRef)) add("configmap", e.configMapRef.name);
    }
    for (const e of objs(c.env)) {
      if (!isObj(e.valueFrom)) continue;
      if (isObj(e.valueFrom.secretKeyRef)) add("secret", e.valueFrom.secretKeyRef.name);
      if (isObj(e.valueFrom.configMapKeyRef)) add("configmap", e.valueFrom.configMapKeyRef.name);
    }
  }
  for (const v of objs(spec.volumes)) {
    for (const n of volumeSecretNames(v)) add("secret", n);
    if (isObj(v.configMap)) add("configmap", v.configMap.name);
    if (isObj(v.projected)) for (const src of objs(v.projected.sources)) if (isObj(src.configMap)) add("configmap", src.configMap.name);
    if (isObj(v.persistentVolumeClaim)) add("pvc", v.persistentVolumeClaim.claimName);
    // A generic ephemeral volume's claim is named <pod>-<volume>, as upstream's ephemeral.VolumeClaimName.
    if (isObj(v.ephemeral) && pod.metadata?.name && str(v.name)) add("pvc", `${pod.metadata.name}-${v.name as string}`);
  }
  add("serviceaccount", spec.serviceAccountName);
  return refs;
}

/** A PersistentVolume's bound claim (`ns/name`) and the secrets it names (`ns/name`). */
export function pvReferences(pv: { spec?: unknown }): { claim?: string; secrets: string[] } {
  const spec = isObj(pv.spec) ? pv.spec : {};
  const claimRef = isObj(spec.claimRef) ? spec.claimRef : undefined;
  const claim = claimRef && str(claimRef.name) ? `${str(claimRef.namespace) ?? ""}/${claimRef.name as string}` : undefined;
  const secrets: string[] = [];
  const ref = (r: unknown, defaultNs: string | undefined) => {
    if (!isObj(r) || !str(r.name)) return;
    const ns = str(r.namespace) ?? defaultNs;
    if (ns) secrets.push(`${ns}/${r.name as string}`);
  };
  const claimNs = claimRef ? str(claimRef.namespace) : undefined;
  // Upstream's VisitPVSecretNames: each plugin's secret reference, defaulting the namespace as that plugin does.
  if (isObj(spec.azureFile)) {
    const n = str(spec.azureFile.secretName);
    const ns = str(spec.azureFile.secretNamespace) ?? claimNs;
    if (n && ns) secrets.push(`${ns}/${n}`);
  }
  if (isObj(spec.cephfs)) ref(spec.cephfs.secretRef, claimNs);
  if (isObj(spec.cinder)) ref(spec.cinder.secretRef, claimNs);
  if (isObj(spec.flexVolume)) ref(spec.flexVolume.secretRef, claimNs);
  if (isObj(spec.iscsi)) ref(spec.iscsi.secretRef, claimNs);
  if (isObj(spec.rbd)) ref(spec.rbd.secretRef, claimNs);
  if (isObj(spec.scaleIO)) ref(spec.scaleIO.secretRef, claimNs);
  if (isObj(spec.storageos)) ref(spec.storageos.secretRef, claimNs);
  if (isObj(spec.csi)) {
    for (const k of ["controllerPublishSecretRef", "controllerExpandSecretRef", "nodePublishSecretRef", "nodeStageSecretRef", "nodeExpandSecretRef"]) {
      ref(spec.csi[k], undefined);
    }
  }
  return { ...(claim ? { claim } : {}), secrets };
}
