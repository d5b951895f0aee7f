/**
 * Test doubles for the StatefulSet controller's unit tests, as upstream's
 * fakeObjectManager and fakeStatefulSetStatusUpdater: pods and claims in
 * maps the "listers" read at once, a set store for status writes, and
 * helpers that play the kubelet (Running, Ready) between syncs.
 */
import type { StatefulSet } from "kubernetes-types/apps/v1.js";
import type { PersistentVolumeClaim, Pod } from "kubernetes-types/core/v1.js";
import type { EventSubject, EventType } from "../../client/event-recorder.js";
import { alreadyExists, conflict, notFound } from "../../machinery/status-error.js";
import { rfc3339 } from "../common/time.js";
import type { PodEventRecorder } from "../common/pod-control.js";
import type { StatefulPodObjectManager } from "./pod-control.js";
import type { StatefulSetApi } from "./status-updater.js";

const PODS_Q = { group: "", resource: "pods" };
const CLAIMS_Q = { group: "", resource: "persistentvolumeclaims" };

let uids = 0;

/** Pods and claims in memory; every write shows in the reads at once. */
export class FakeObjects implements StatefulPodObjectManager {
  readonly pods = new Map<string, Pod>();
  readonly claims = new Map<string, PersistentVolumeClaim>();
  /** Every write, as `verb kind ns/name`, in order. */
  readonly actions: string[] = [];
  /** Makes the next create of a pod fail with this error. */
  createPodError: Error | undefined;
  nowMs = Date.UTC(2024, 0, 1, 12);
  private rv = 0;

  private stamp<T extends Pod | PersistentVolumeClaim>(obj: T): T {
    return { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.rv) } };
  }

  async createPod(pod: Pod): Promise<void> {
    const key = `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;
    this.actions.push(`create pod ${key}`);
    if (this.createPodError) {
      const err = this.createPodError;
      this.createPodError = undefined;
      throw err;
    }
    if (this.pods.has(key)) throw alreadyExists(PODS_Q, pod.metadata?.name ?? "");
    // The API server gives every new pod phase Pending.
    const created: Pod = { ...structuredClone(pod), status: { phase: "Pending" } };
    created.metadata = { ...created.metadata, uid: `pod-uid-${++uids}`, creationTimestamp: rfc3339(this.nowMs) };
    this.pods.set(key, this.stamp(created));
  }

  getPod(namespace: string, name: string): Pod | undefined {
    return this.pods.get(`${namespace}/${name}`);
  }

  async updatePod(pod: Pod): Promise<void> {
    const key = `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;
    this.actions.push(`update pod ${key}`);
    const old = this.pods.get(key);
    if (!old) throw notFound(PODS_Q, pod.metadata?.name ?? "");
    if (pod.metadata?.resourceVersion && pod.metadata.resourceVersion !== old.metadata?.resourceVersion) throw conflict(PODS_Q, pod.metadata?.name ?? "", "stale");
    this.pods.set(key, this.stamp(structuredClone(pod)));
  }

  async deletePod(pod: Pod): Promise<void> {
    const key = `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;
    this.actions.push(`delete pod ${key}`);
    if (!this.pods.delete(key)) throw notFound(PODS_Q, pod.metadata?.name ?? "");
  }

  async createClaim(claim: PersistentVolumeClaim): Promise<void> {
    const key = `${claim.metadata?.namespace ?? ""}/${claim.metadata?.name ?? ""}`;
    this.actions.push(`create pvc ${key}`);
    if (this.claims.has(key)) throw alreadyExists(CLAIMS_Q, claim.metadata?.name ?? "");
    const created = structuredClone(claim);
    created.metadata = { ...created.metadata, uid: `pvc-uid-${++uids}` };
    this.claims.set(key, this.stamp(created));
  }

  getClaim(namespace: string, name: string): PersistentVolumeClaim | undefined {
    return this.claims.get(`${namespace}/${name}`);
  }

  async updateClaim(claim: PersistentVolumeClaim): Promise<void> {
    const key = `${claim.metadata?.namespace ?? ""}/${claim.metadata?.name ?? ""}`;
    this.actions.push(`update pvc ${key}`);
    if (!this.claims.has(key)) throw notFound(CLAIMS_Q, claim.metadata?.name ?? "");
    this.claims.set(key, this.stamp(structuredClone(claim)));
  }

  /** The pods of `namespace` (the controller's claimed pods), by name. */
  list(namespace = "default"): Pod[] {
    return [...this.pods.values()].filter((p) => p.metadata?.namespace === namespace).sort((a, b) => (a.metadata!.name! < b.metadata!.name! ? -1 : 1));
  }

  /** Plays the kubelet: the pod is Running and Ready (since `sinceMs`). */
  setRunningReady(name: string, namespace = "default", sinceMs = this.nowMs): void {
    const key = `${namespace}/${name}`;
    const pod = this.pods.get(key);
    if (!pod) throw new Error(`no pod ${key}`);
    this.pods.set(key, this.stamp({ ...pod, status: { phase: "Running", conditions: [{ type: "Ready", status: "True", lastTransitionTime: rfc3339(sinceMs) }] } }));
  }

  /** Sets a pod's phase (and drops its conditions). */
  setPhase(name: string, phase: string, namespace = "default"): void {
    const key = `${namespace}/${name}`;
    const pod = this.pods.get(key)!;
    this.pods.set(key, this.stamp({ ...pod, status: { phase } }));
  }

  /** Marks a pod as being deleted (graceful deletion started). */
  setTerminating(name: string, namespace = "default"): void {
    const key = `${namespace}/${name}`;
    const pod = this.pods.get(key)!;
    this.pods.set(key, this.stamp({ ...pod, metadata: { ...pod.metadata, deletionTimestamp: rfc3339(this.nowMs) } }));
  }
}

/** One recorded event. */
export interface RecordedEvent {
  readonly type: EventType;
  readonly reason: string;
  readonly note: string;
}

/** Records events as `type reason note`. */
export class FakeRecorder implements PodEventRecorder {
  readonly events: RecordedEvent[] = [];
  eventf(_regarding: EventSubject, _related: EventSubject | undefined, type: EventType, reason: string, _action: string, note: string, ...args: unknown[]): void {
    let i = 0;
    this.events.push({ type, reason, note: note.replace(/%s/g, () => String(args[i++])) });
  }
  notes(reason?: string): string[] {
    return this.events.filter((e) => !reason || e.reason === reason).map((e) => e.note);
  }
}

/** StatefulSets whose status writes are kept (the set as the API server would store it). */
export class FakeSetApi implements StatefulSetApi {
  readonly sets = new Map<string, StatefulSet>();
  statusWrites = 0;

  constructor(...sets: StatefulSet[]) {
    for (const s of sets) this.sets.set(`${s.metadata?.namespace}/${s.metadata?.name}`, s);
  }

  async get(namespace: string, name: string): Promise<StatefulSet> {
    const s = this.sets.get(`${namespace}/${name}`);
    if (!s) throw notFound({ group: "apps", resource: "statefulsets" }, name);
    return structuredClone(s);
  }

  async updateStatus(set: StatefulSet): Promise<StatefulSet> {
    const key = `${set.metadata?.namespace}/${set.metadata?.name}`;
    const old = this.sets.get(key);
    if (!old) throw notFound({ group: "apps", resource: "statefulsets" }, set.metadata?.name ?? "");
    this.statusWrites++;
    const stored = { ...old, status: structuredClone(set.status) } as StatefulSet;
    this.sets.set(key, stored);
    return structuredClone(stored);
  }

  /** The stored set. */
  set(namespace: string, name: string): StatefulSet {
    return structuredClone(this.sets.get(`${namespace}/${name}`)!);
  }

  /** Replaces the stored spec (a user's edit), bumping the generation. */
  edit(namespace: string, name: string, mutate: (s: StatefulSet) => void): StatefulSet {
    const s = this.set(namespace, name);
    mutate(s);
    s.metadata = { ...s.metadata, generation: (s.metadata?.generation ?? 1) + 1 };
    this.sets.set(`${namespace}/${name}`, s);
    return structuredClone(s);
  }
}

/** Upstream's `newStatefulSet`: `default/<name>` selecting app=<name>, with one volumeClaimTemplate `data`. */
export function newStatefulSet(name: string, replicas: number, opts: { claims?: boolean } = {}): StatefulSet {
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name, namespace: "default", uid: `sts-uid-${++uids}`, generation: 1, resourceVersion: "1" },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      serviceName: "governing",
      podManagementPolicy: "OrderedReady",
      updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 0 } },
      revisionHistoryLimit: 10,
      persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "nginx", image: "nginx:1.27", volumeMounts: [{ name: "data", mountPath: "/data" }] }] },
      },
      ...(opts.claims === false
        ? {}
        : {
            volumeClaimTemplates: [
              { metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } },
            ],
          }),
    },
  };
}
