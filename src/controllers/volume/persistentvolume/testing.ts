/**
 * Test doubles for the PV controller (upstream's framework_test.go, in
 * small): an in-memory API with resourceVersions and conflicts, object
 * builders, and a controller wired to them.
 */
import type { ObjectReference, PersistentVolume, PersistentVolumeClaim, PersistentVolumeSpec, Pod } from "kubernetes-types/core/v1.js";
import type { LabelSelector } from "kubernetes-types/meta/v1.js";
import type { StorageClass } from "kubernetes-types/storage/v1.js";
import { conflict, notFound } from "../../../machinery/status-error.js";
import { podPvcIndexFunc } from "../pod-pvc-index.js";
import { type PvApi, PvController } from "./pv-controller.js";

const PV_Q = { group: "", resource: "persistentvolumes" };
const PVC_Q = { group: "", resource: "persistentvolumeclaims" };

/** A recorded event. */
export interface RecordedEvent {
  readonly kind: string;
  readonly name: string;
  readonly type: string;
  readonly reason: string;
  readonly note: string;
}

/** An API server in a map: PUTs check resourceVersion, status writes change only status. */
export class FakePvApi implements PvApi {
  readonly pvs = new Map<string, PersistentVolume>();
  readonly pvcs = new Map<string, PersistentVolumeClaim>();
  readonly writes: string[] = [];
  private rv = 100;

  private stamp<T extends { metadata?: { resourceVersion?: string } }>(o: T): T {
    const c = structuredClone(o);
    (c.metadata ??= {}).resourceVersion = String(++this.rv);
    return c;
  }

  addVolume(pv: PersistentVolume): PersistentVolume {
    const s = this.stamp(pv);
    this.pvs.set(s.metadata?.name ?? "", s);
    return s;
  }

  addClaim(pvc: PersistentVolumeClaim): PersistentVolumeClaim {
    const s = this.stamp(pvc);
    this.pvcs.set(`${s.metadata?.namespace}/${s.metadata?.name}`, s);
    return s;
  }

  async getVolume(name: string): Promise<PersistentVolume | undefined> {
    const pv = this.pvs.get(name);
    return pv && structuredClone(pv);
  }

  private checkRv(old: { metadata?: { resourceVersion?: string } } | undefined, obj: { metadata?: { resourceVersion?: string; name?: string } }, q: typeof PV_Q): void {
    const name = obj.metadata?.name ?? "";
    if (!old) throw notFound(q, name);
    if (obj.metadata?.resourceVersion && obj.metadata.resourceVersion !== old.metadata?.resourceVersion) throw conflict(q, name, "the object has been modified");
  }

  async updateVolume(pv: PersistentVolume): Promise<PersistentVolume> {
    const name = pv.metadata?.name ?? "";
    const old = this.pvs.get(name);
    this.checkRv(old, pv, PV_Q);
    const s = this.stamp({ ...pv, status: old?.status });
    this.pvs.set(name, s);
    this.writes.push(`update pv ${name}`);
    return structuredClone(s);
  }

  async updateVolumeStatus(pv: PersistentVolume): Promise<PersistentVolume> {
    const name = pv.metadata?.name ?? "";
    const old = this.pvs.get(name);
    this.checkRv(old, pv, PV_Q);
    const s = this.stamp({ ...old!, status: pv.status });
    this.pvs.set(name, s);
    this.writes.push(`status pv ${name} ${pv.status?.phase}`);
    return structuredClone(s);
  }

  async deleteVolume(name: string): Promise<void> {
    if (!this.pvs.delete(name)) throw notFound(PV_Q, name);
    this.writes.push(`delete pv ${name}`);
  }

  async getClaim(ns: string, name: string): Promise<PersistentVolumeClaim | undefined> {
    const pvc = this.pvcs.get(`${ns}/${name}`);
    return pvc && structuredClone(pvc);
  }

  async updateClaim(pvc: PersistentVolumeClaim): Promise<PersistentVolumeClaim> {
    const key = `${pvc.metadata?.namespace}/${pvc.metadata?.name}`;
    const old = this.pvcs.get(key);
    this.checkRv(old, pvc, PVC_Q);
    const s = this.stamp({ ...pvc, status: old?.status });
    this.pvcs.set(key, s);
    this.writes.push(`update pvc ${key}`);
    return structuredClone(s);
  }

  async updateClaimStatus(pvc: PersistentVolumeClaim): Promise<PersistentVolumeClaim> {
    const key = `${pvc.metadata?.namespace}/${pvc.metadata?.name}`;
    const old = this.pvcs.get(key);
    this.checkRv(old, pvc, PVC_Q);
    const s = this.stamp({ ...old!, status: pvc.status });
    this.pvcs.set(key, s);
    this.writes.push(`status pvc ${key} ${pvc.status?.phase}`);
    return structuredClone(s);
  }
}

/** Options of {@link newVolume}. */
export interface VolumeOpts {
  readonly claim?: { readonly namespace?: string; readonly name: string; readonly uid?: string };
  readonly phase?: string;
  readonly reclaimPolicy?: string;
  readonly storageClassName?: string;
  readonly accessModes?: string[];
  readonly annotations?: Record<string, string>;
  readonly labels?: Record<string, string>;
  readonly volumeMode?: string;
  readonly source?: Partial<PersistentVolumeSpec>;
}

/** A PV of `capacity` (a local volume unless `source` says otherwise). */
export function newVolume(name: string, capacity: string, o: VolumeOpts = {}): PersistentVolume {
  const claimRef: ObjectReference | undefined = o.claim
    ? { kind: "PersistentVolumeClaim", apiVersion: "v1", namespace: o.claim.namespace ?? "default", name: o.claim.name, ...(o.claim.uid ? { uid: o.claim.uid } : {}) }
    : undefined;
  return {
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name, uid: `uid-${name}`, ...(o.annotations ? { annotations: { ...o.annotations } } : {}), ...(o.labels ? { labels: { ...o.labels } } : {}) },
    spec: {
      capacity: { storage: capacity },
      accessModes: o.accessModes ?? ["ReadWriteOnce"],
      persistentVolumeReclaimPolicy: o.reclaimPolicy ?? "Retain",
      ...(o.storageClassName !== undefined ? { storageClassName: o.storageClassName } : {}),
      ...(o.volumeMode ? { volumeMode: o.volumeMode } : {}),
      ...(claimRef ? { claimRef } : {}),
      ...(o.source ?? { local: { path: `/srv/${name}` } }),
    },
    status: { phase: o.phase ?? "Available" },
  };
}

/** Options of {@link newClaim}. */
export interface ClaimOpts {
  readonly namespace?: string;
  readonly uid?: string;
  readonly volumeName?: string;
  readonly phase?: string;
  readonly storageClassName?: string | null;
  readonly accessModes?: string[];
  readonly annotations?: Record<string, string>;
  readonly selector?: LabelSelector;
  readonly volumeMode?: string;
}

/** A claim for `request` of storage. */
export function newClaim(name: string, request: string, o: ClaimOpts = {}): PersistentVolumeClaim {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name, namespace: o.namespace ?? "default", uid: o.uid ?? `uid-${name}`, ...(o.annotations ? { annotations: { ...o.annotations } } : {}) },
    spec: {
      accessModes: o.accessModes ?? ["ReadWriteOnce"],
      resources: { requests: { storage: request } },
      ...(o.volumeName ? { volumeName: o.volumeName } : {}),
      ...(o.storageClassName !== undefined && o.storageClassName !== null ? { storageClassName: o.storageClassName } : {}),
      ...(o.selector ? { selector: o.selector } : {}),
      ...(o.volumeMode ? { volumeMode: o.volumeMode } : {}),
    },
    status: { phase: o.phase ?? "Pending" },
  };
}

/** A StorageClass. */
export function newClass(name: string, provisioner: string, o: { mode?: string; isDefault?: boolean; created?: string } = {}): StorageClass {
  return {
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: {
      name,
      creationTimestamp: o.created ?? "2024-01-01T00:00:00Z",
      ...(o.isDefault ? { annotations: { "storageclass.kubernetes.io/is-default-class": "true" } } : {}),
    },
    provisioner,
    reclaimPolicy: "Delete",
    volumeBindingMode: o.mode ?? "Immediate",
  };
}

/** A controller over a {@link FakePvApi}, with what it queued and recorded. */
export interface Harness {
  readonly api: FakePvApi;
  readonly ctrl: PvController;
  readonly events: RecordedEvent[];
  readonly queuedClaims: string[];
  readonly queuedVolumes: string[];
  readonly classes: StorageClass[];
  readonly pods: Pod[];
  readonly removed: string[];
  /** The claim as stored now. */
  claim(name: string, ns?: string): PersistentVolumeClaim | undefined;
  /** The volume as stored now. */
  volume(name: string): PersistentVolume | undefined;
  /** Reasons of the events about `name`. */
  reasons(name: string): string[];
}

/** Seeds the fake API and the controller's caches with the objects. */
export function harness(init: { volumes?: PersistentVolume[]; claims?: PersistentVolumeClaim[]; classes?: StorageClass[]; pods?: Pod[] } = {}): Harness {
  const api = new FakePvApi();
  const volumes = (init.volumes ?? []).map((v) => api.addVolume(v));
  const claims = (init.claims ?? []).map((c) => api.addClaim(c));
  const classes = [...(init.classes ?? [])];
  const pods = [...(init.pods ?? [])];
  const events: RecordedEvent[] = [];
  const queuedClaims: string[] = [];
  const queuedVolumes: string[] = [];
  const removed: string[] = [];
  const ctrl = new PvController({
    api,
    classes: { get: (n) => classes.find((c) => c.metadata?.name === n), list: () => classes },
    claimLister: { get: (key) => api.pvcs.get(key) },
    podsForClaim: (key) => pods.filter((p) => podPvcIndexFunc(p).includes(key)),
    enqueueClaim: (k) => queuedClaims.push(k),
    enqueueVolume: (k) => queuedVolumes.push(k),
    events: { event: (r, type, reason, _action, note) => events.push({ kind: r.kind ?? "", name: r.name ?? "", type, reason, note }) },
    removeHostPath: async (p) => void removed.push(p),
  });
  ctrl.initializeCaches(volumes, claims);
  return {
    api,
    ctrl,
    events,
    queuedClaims,
    queuedVolumes,
    classes,
    pods,
    removed,
    claim: (name, ns = "default") => api.pvcs.get(`${ns}/${name}`),
    volume: (name) => api.pvs.get(name),
    reasons: (name) => events.filter((e) => e.name === name).map((e) => e.reason),
  };
}
