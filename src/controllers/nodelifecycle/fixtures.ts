/**
 * Test doubles for the node lifecycle, taint eviction and PodGC unit
 * tests: an in-memory API server behind the {@link LifecycleApi} whose
 * writes reach the tests' informers, a recording event sink, and objects.
 */
import type { Lease } from "kubernetes-types/coordination/v1.js";
import type { Node, NodeCondition, Pod, PodCondition, PodStatus, Taint, Toleration } from "kubernetes-types/core/v1.js";
import type { ObjectReference } from "kubernetes-types/core/v1.js";
import type { SharedInformer } from "../../client/informer.js";
import { formatMicroTime } from "../../client/micro-time.js";
import { conflict, notFound, OPTIMISTIC_LOCK_MESSAGE } from "../../machinery/status-error.js";
import { FakeListerWatcher, runningInformer } from "../common/testing.js";
import { rfc3339 } from "../common/time.js";
import type { LifecycleApi, LifecycleRecorder } from "./api.js";

/** One recorded event. */
export interface RecordedEvent {
  readonly regarding: ObjectReference;
  readonly type: string;
  readonly reason: string;
  readonly note: string;
}

/** Collects events. */
export class FakeRecorder implements LifecycleRecorder {
  readonly events: RecordedEvent[] = [];
  event(regarding: ObjectReference, _related: unknown, type: "Normal" | "Warning", reason: string, _action: string, note: string): void {
    this.events.push({ regarding, type, reason, note });
  }
  /** Notes of events with `reason`. */
  notes(reason: string): string[] {
    return this.events.filter((e) => e.reason === reason).map((e) => e.note);
  }
}

/** An in-memory API server: nodes, pods and leases, with resourceVersion and uid checks, logging every write. */
export class FakeCluster implements LifecycleApi {
  readonly nodes = new FakeListerWatcher<Node>();
  readonly pods = new FakeListerWatcher<Pod>();
  readonly leases = new FakeListerWatcher<Lease>();
  /** `verb name` of every write, in order. */
  readonly writes: string[] = [];
  /** Pod deletions as `ns/name` with their grace period. */
  readonly deletions: { key: string; gracePeriodSeconds?: number }[] = [];
  /** Makes the next node status write fail with a conflict when set. */
  failNextNodeStatus = false;

  async getNode(name: string): Promise<Node> {
    const n = this.nodes.get(name);
    if (!n) throw notFound({ group: "", resource: "nodes" }, name);
    return structuredClone(n);
  }

  async updateNodeStatus(node: Node): Promise<Node> {
    const name = node.metadata?.name ?? "";
    const cur = this.nodes.get(name);
    if (!cur) throw notFound({ group: "", resource: "nodes" }, name);
    if (this.failNextNodeStatus || node.metadata?.resourceVersion !== cur.metadata?.resourceVersion) {
      this.failNextNodeStatus = false;
      throw conflict({ group: "", resource: "nodes" }, name, OPTIMISTIC_LOCK_MESSAGE);
    }
    this.writes.push(`updateNodeStatus ${name}`);
    return this.nodes.set({ ...cur, status: structuredClone(node.status) });
  }

  async patchNodeTaints(name: string, resourceVersion: string, taints: readonly Taint[]): Promise<Node> {
    const cur = this.nodes.get(name);
    if (!cur) throw notFound({ group: "", resource: "nodes" }, name);
    if (resourceVersion && resourceVersion !== cur.metadata?.resourceVersion) throw conflict({ group: "", resource: "nodes" }, name, OPTIMISTIC_LOCK_MESSAGE);
    this.writes.push(`patchNodeTaints ${name}`);
    const { taints: _old, ...rest } = cur.spec ?? {};
    const spec = taints.length > 0 ? { ...rest, taints: structuredClone([...taints]) } : rest;
    return this.nodes.set({ ...cur, spec });
  }

  async patchNodeLabels(name: string, labels: Readonly<Record<string, string>>): Promise<Node> {
    const cur = this.nodes.get(name);
    if (!cur) throw notFound({ group: "", resource: "nodes" }, name);
    this.writes.push(`patchNodeLabels ${name}`);
    return this.nodes.set({ ...cur, metadata: { ...cur.metadata, labels: { ...cur.metadata?.labels, ...labels } } });
  }

  async getPod(namespace: string, name: string): Promise<Pod> {
    const p = this.pods.get(`${namespace}/${name}`);
    if (!p) throw notFound({ group: "", resource: "pods" }, name);
    return structuredClone(p);
  }

  async updatePodStatus(pod: Pod): Promise<Pod> {
    const key = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    const cur = this.pods.get(key);
    if (!cur) throw notFound({ group: "", resource: "pods" }, pod.metadata?.name ?? "");
    if (pod.metadata?.resourceVersion !== cur.metadata?.resourceVersion) throw conflict({ group: "", resource: "pods" }, pod.metadata?.name ?? "", OPTIMISTIC_LOCK_MESSAGE);
    this.writes.push(`updatePodStatus ${key}`);
    return this.pods.set({ ...cur, status: structuredClone(pod.status) });
  }

  async patchPodStatus(namespace: string, name: string, uid: string, status: PodStatus): Promise<Pod> {
    const key = `${namespace}/${name}`;
    const cur = this.pods.get(key);
    if (!cur) throw notFound({ group: "", resource: "pods" }, name);
    if (uid && uid !== cur.metadata?.uid) throw conflict({ group: "", resource: "pods" }, name, `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${cur.metadata?.uid}`);
    this.writes.push(`patchPodStatus ${key}`);
    // Strategic merge: conditions merge by type, other fields replace.
    const conditions: PodCondition[] = [...(cur.status?.conditions ?? [])];
    for (const c of status.conditions ?? []) {
      const i = conditions.findIndex((x) => x.type === c.type);
      if (i >= 0) conditions[i] = c;
      else conditions.push(c);
    }
    return this.pods.set({ ...cur, status: { ...cur.status, ...status, conditions } });
  }

  async deletePod(namespace: string, name: string, opts?: { readonly gracePeriodSeconds?: number }): Promise<void> {
    const key = `${namespace}/${name}`;
    if (!this.pods.get(key)) throw notFound({ group: "", resource: "pods" }, name);
    this.writes.push(`deletePod ${key}`);
    this.deletions.push({ key, ...(opts?.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: opts.gracePeriodSeconds } : {}) });
    this.pods.remove(key);
  }

  /** Running informers over the cluster's objects (stopped by `signal`). */
  async informers(signal: AbortSignal): Promise<{ nodes: SharedInformer<Node>; pods: SharedInformer<Pod>; leases: SharedInformer<Lease> }> {
    return {
      nodes: await runningInformer(this.nodes, signal),
      pods: await runningInformer(this.pods, signal),
      leases: await runningInformer(this.leases, signal),
    };
  }
}

/** A Ready condition (or another type) with heartbeat and transition at `atMs`. */
export function condition(type: string, status: "True" | "False" | "Unknown", atMs: number): NodeCondition {
  return { type, status, lastHeartbeatTime: rfc3339(atMs), lastTransitionTime: rfc3339(atMs), reason: `Kubelet${status}`, message: `${type} is ${status}` };
}

/** A node as a kubelet posts it: Ready plus the pressure conditions False, created at `atMs`. */
export function newNode(name: string, atMs: number, opts: { ready?: "True" | "False" | "Unknown" | null; labels?: Record<string, string>; taints?: Taint[]; unschedulable?: boolean } = {}): Node {
  const ready = opts.ready === undefined ? "True" : opts.ready;
  const conditions =
    ready === null
      ? []
      : [condition("MemoryPressure", "False", atMs), condition("DiskPressure", "False", atMs), condition("PIDPressure", "False", atMs), condition("Ready", ready, atMs)];
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, uid: `uid-${name}`, creationTimestamp: rfc3339(atMs), labels: { "kubernetes.io/os": "linux", "beta.kubernetes.io/os": "linux", ...opts.labels } },
    spec: { ...(opts.taints ? { taints: opts.taints } : {}), ...(opts.unschedulable ? { unschedulable: true } : {}) },
    status: { conditions },
  };
}

/** A node Lease renewed at `atMs`. */
export function newLease(name: string, atMs: number): Lease {
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name, namespace: "kube-node-lease" },
    spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: formatMicroTime(atMs) },
  };
}

/** A Running, Ready pod bound to `nodeName`. */
export function newPod(name: string, nodeName: string, atMs: number, opts: { tolerations?: Toleration[]; phase?: string; namespace?: string; reason?: string } = {}): Pod {
  const phase = opts.phase ?? "Running";
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: opts.namespace ?? "default", uid: `uid-${name}`, creationTimestamp: rfc3339(atMs) },
    spec: { ...(nodeName ? { nodeName } : {}), containers: [{ name: "c", image: "busybox" }], ...(opts.tolerations ? { tolerations: opts.tolerations } : {}) },
    status: {
      phase,
      ...(opts.reason ? { reason: opts.reason } : {}),
      conditions: [{ type: "Ready", status: phase === "Running" ? "True" : "False", lastTransitionTime: rfc3339(atMs) }],
    },
  };
}
