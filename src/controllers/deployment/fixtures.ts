/**
 * Objects and fakes for this controller's unit tests, shaped as upstream's
 * test helpers (`newDeployment`, `rs`, `newRSWithStatus`, fake clientset
 * and recorder).
 */
import { format } from "node:util";
import type { Deployment, ReplicaSet } from "kubernetes-types/apps/v1.js";
import type { Pod } from "kubernetes-types/core/v1.js";
import type { EventSubject } from "../../client/event-recorder.js";
import { FakeClock } from "../../machinery/clock.js";
import { silentLogger } from "../../machinery/log.js";
import { alreadyExists, notFound } from "../../machinery/status-error.js";
import { POD_CONTROLLER_UID_INDEX } from "../common/indexers.js";
import type { PodEventRecorder } from "../common/pod-control.js";
import { getControllerOf } from "../common/controller-ref.js";
import type { DeploymentApi } from "./api.js";
import { type IntOrString, ROLLING_UPDATE, specReplicas } from "./fenceposts.js";
import { DeploymentSyncer } from "./sync.js";

/** An object with its read-only fields (status, generation, uid…) writable, for building test objects. */
export type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** `o`, writable (see {@link Writable}). */
export function w<T>(o: T): Writable<T> {
  return o as Writable<T>;
}

/** 2024-01-01T12:00:00Z: the fake clock's start. */
export const NOW = Date.UTC(2024, 0, 1, 12);

let uids = 0;

/**
 * Upstream's `newDeployment(name, replicas, revisionHistoryLimit, maxSurge,
 * maxUnavailable, selector)`: RollingUpdate with both fenceposts 0 unless
 * given, in `default`.
 */
export function newDeployment(
  name: string,
  replicas: number,
  opts: { revisionHistoryLimit?: number; maxSurge?: IntOrString; maxUnavailable?: IntOrString; selector?: Record<string, string> } = {},
): Deployment {
  const selector = opts.selector ?? { foo: "bar" };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { uid: `d-${++uids}`, name, namespace: "default", annotations: {}, generation: 1, resourceVersion: "1" },
    spec: {
      strategy: { type: ROLLING_UPDATE, rollingUpdate: { maxUnavailable: opts.maxUnavailable ?? 0, maxSurge: opts.maxSurge ?? 0 } },
      replicas,
      selector: { matchLabels: selector },
      template: { metadata: { labels: { ...selector } }, spec: { containers: [{ name: "c", image: "foo/bar" }] } },
      ...(opts.revisionHistoryLimit !== undefined ? { revisionHistoryLimit: opts.revisionHistoryLimit } : {}),
    },
  };
}

/** Upstream's `rs(name, replicas, selector, timestamp)`: an empty template, no status. */
export function rs(name: string, replicas: number, selector: Record<string, string> | undefined, timestamp: string | undefined): ReplicaSet {
  return {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: { uid: `rs-${++uids}`, name, namespace: "default", resourceVersion: "1", ...(timestamp ? { creationTimestamp: timestamp } : {}) },
    spec: { replicas, selector: { matchLabels: selector ?? {} }, template: {} },
  };
}

/** Upstream's `newRSWithStatus(name, specReplicas, statusReplicas, selector)`. */
export function newRSWithStatus(name: string, specReplicas: number, statusReplicas: number, selector: Record<string, string>): ReplicaSet {
  const r = rs(name, specReplicas, selector, undefined);
  w(r).status = { replicas: statusReplicas };
  return r;
}

/** An `rs` with status counts (upstream's `newRSWithAvailable`). */
export function newRSWithAvailable(name: string, specReplicas: number, statusReplicas: number, availableReplicas: number): ReplicaSet {
  const r = rs(name, specReplicas, undefined, undefined);
  w(r).status = { replicas: statusReplicas, availableReplicas };
  return r;
}

/** A ReplicaSet owned by `d` with `d`'s template (a new RS of `d` when the template is unchanged). */
export function ownedRS(d: Deployment, name: string, replicas: number, timestamp?: string): ReplicaSet {
  const r = rs(name, replicas, d.spec?.selector.matchLabels, timestamp);
  r.metadata!.labels = { ...(d.spec?.selector.matchLabels ?? {}) };
  r.metadata!.ownerReferences = [{ apiVersion: "apps/v1", kind: "Deployment", name: d.metadata!.name!, uid: d.metadata!.uid!, controller: true, blockOwnerDeletion: true }];
  r.spec!.template = structuredClone(d.spec!.template);
  return r;
}

/** One call the fake API saw. */
export interface FakeAction {
  readonly verb: "get" | "update" | "updateStatus" | "create" | "patch" | "delete";
  readonly resource: "deployments" | "replicasets";
  readonly name: string;
  readonly object?: Deployment | ReplicaSet;
  readonly patch?: unknown;
}

/**
 * An in-memory {@link DeploymentApi} that records every call (upstream's
 * fake clientset). `fail` makes matching calls reject.
 */
export class FakeDeploymentApi implements DeploymentApi {
  readonly actions: FakeAction[] = [];
  readonly deployments = new Map<string, Deployment>();
  readonly replicaSets = new Map<string, ReplicaSet>();
  fail: ((a: FakeAction) => Error | undefined) | undefined;
  private rv = 100;

  private record(a: FakeAction): void {
    this.actions.push(a);
    const err = this.fail?.(a);
    if (err) throw err;
  }

  private stamp<T extends Deployment | ReplicaSet>(o: T): T {
    return { ...structuredClone(o), metadata: { ...o.metadata, resourceVersion: String(++this.rv) } } as T;
  }

  /** The ReplicaSet updates, in order. */
  rsUpdates(): ReplicaSet[] {
    return this.actions.filter((a) => a.resource === "replicasets" && a.verb === "update").map((a) => a.object as ReplicaSet);
  }

  async getDeployment(namespace: string, name: string): Promise<Deployment> {
    this.record({ verb: "get", resource: "deployments", name });
    const d = this.deployments.get(`${namespace}/${name}`);
    if (!d) throw notFound({ group: "apps", resource: "deployments" }, name);
    return d;
  }

  async updateDeployment(d: Deployment): Promise<Deployment> {
    this.record({ verb: "update", resource: "deployments", name: d.metadata?.name ?? "", object: structuredClone(d) });
    const stored = this.stamp(d);
    this.deployments.set(`${d.metadata?.namespace}/${d.metadata?.name}`, stored);
    return stored;
  }

  async updateDeploymentStatus(d: Deployment): Promise<Deployment> {
    this.record({ verb: "updateStatus", resource: "deployments", name: d.metadata?.name ?? "", object: structuredClone(d) });
    const stored = this.stamp(d);
    this.deployments.set(`${d.metadata?.namespace}/${d.metadata?.name}`, stored);
    return stored;
  }

  async createReplicaSet(namespace: string, r: ReplicaSet): Promise<ReplicaSet> {
    this.record({ verb: "create", resource: "replicasets", name: r.metadata?.name ?? "", object: structuredClone(r) });
    const key = `${namespace}/${r.metadata?.name}`;
    if (this.replicaSets.has(key)) throw alreadyExists({ group: "apps", resource: "replicasets" }, r.metadata?.name ?? "");
    const stored = this.stamp({ ...r, metadata: { ...r.metadata, uid: `rs-${++uids}`, creationTimestamp: new Date(NOW).toISOString() } });
    this.replicaSets.set(key, stored);
    return stored;
  }

  async updateReplicaSet(r: ReplicaSet): Promise<ReplicaSet> {
    this.record({ verb: "update", resource: "replicasets", name: r.metadata?.name ?? "", object: structuredClone(r) });
    const stored = this.stamp(r);
    this.replicaSets.set(`${r.metadata?.namespace}/${r.metadata?.name}`, stored);
    return stored;
  }

  async patchReplicaSet(_namespace: string, name: string, patch: unknown): Promise<ReplicaSet> {
    this.record({ verb: "patch", resource: "replicasets", name, patch });
    return { metadata: { name } };
  }

  async deleteReplicaSet(namespace: string, name: string): Promise<void> {
    this.record({ verb: "delete", resource: "replicasets", name });
    this.replicaSets.delete(`${namespace}/${name}`);
  }
}

/** One recorded event, its note formatted. */
export interface FakeEvent {
  readonly type: string;
  readonly reason: string;
  readonly note: string;
  readonly regarding: EventSubject;
  readonly related: EventSubject | undefined;
}

/** Records events (upstream's `record.FakeRecorder`). */
export class FakeRecorder implements PodEventRecorder {
  readonly events: FakeEvent[] = [];

  eventf(regarding: EventSubject, related: EventSubject | undefined, type: string, reason: string, _action: string, note: string, ...args: unknown[]): void {
    this.events.push({ type, reason, note: args.length > 0 ? format(note, ...args) : note, regarding, related });
  }

  /** `Type Reason Note` lines, as upstream's fake recorder formats them. */
  lines(): string[] {
    return this.events.map((e) => `${e.type} ${e.reason} ${e.note}`);
  }
}

/** A syncer over in-memory caches, a {@link FakeDeploymentApi}, a {@link FakeRecorder} and a {@link FakeClock}. */
export interface SyncHarness {
  readonly syncer: DeploymentSyncer;
  readonly api: FakeDeploymentApi;
  readonly recorder: FakeRecorder;
  readonly clock: FakeClock;
  readonly deployments: Map<string, Deployment>;
  readonly replicaSets: ReplicaSet[];
  readonly pods: Pod[];
  readonly requeues: { key: string; ms: number | "rateLimited" }[];
}

/** A {@link SyncHarness} whose caches hold `deployments`, `replicaSets` and `pods`. */
export function syncHarness(opts: { deployments?: Deployment[]; replicaSets?: ReplicaSet[]; pods?: Pod[] } = {}): SyncHarness {
  const deployments = new Map<string, Deployment>();
  for (const d of opts.deployments ?? []) deployments.set(`${d.metadata?.namespace}/${d.metadata?.name}`, d);
  const replicaSets = [...(opts.replicaSets ?? [])];
  const pods = [...(opts.pods ?? [])];
  const api = new FakeDeploymentApi();
  for (const d of opts.deployments ?? []) api.deployments.set(`${d.metadata?.namespace}/${d.metadata?.name}`, d);
  for (const r of replicaSets) api.replicaSets.set(`${r.metadata?.namespace}/${r.metadata?.name}`, r);
  const recorder = new FakeRecorder();
  const clock = new FakeClock(NOW);
  const requeues: SyncHarness["requeues"] = [];
  const syncer = new DeploymentSyncer({
    getDeployment: (key) => deployments.get(key),
    replicaSets: {
      byNamespace: (ns) => replicaSets.filter((r) => r.metadata?.namespace === ns),
      get: (key) => replicaSets.find((r) => `${r.metadata?.namespace}/${r.metadata?.name}` === key),
    },
    pods: {
      byIndex: (index, value) => {
        if (index !== POD_CONTROLLER_UID_INDEX) throw new Error(`no index ${index}`);
        return pods.filter((p) => getControllerOf(p)?.uid === value);
      },
    },
    api,
    recorder,
    clock,
    logger: silentLogger,
    enqueueAfter: (key, ms) => requeues.push({ key, ms }),
    enqueueRateLimited: (key) => requeues.push({ key, ms: "rateLimited" }),
  });
  return { syncer, api, recorder, clock, deployments, replicaSets, pods, requeues };
}

/** A Deployment as the API server defaults it: RollingUpdate 1/0 here, progressDeadlineSeconds 600, history 10. */
export function webDeployment(replicas = 3, image = "nginx:1"): Deployment {
  const d = newDeployment("web", replicas, { maxSurge: 1, maxUnavailable: 0, selector: { app: "web" }, revisionHistoryLimit: 10 });
  d.spec!.progressDeadlineSeconds = 600;
  d.spec!.template.spec!.containers[0]!.image = image;
  return d;
}

/** The Deployment as the last status write sent it. */
export function lastStatusWrite(h: SyncHarness): Deployment | undefined {
  return h.api.actions.filter((a) => a.verb === "updateStatus").at(-1)?.object as Deployment | undefined;
}

/** Runs one sync of `web`, then copies what the API stored back into the caches (a watch catching up). */
export async function syncOnce(h: SyncHarness): Promise<void> {
  await h.syncer.syncDeployment("default/web");
  catchUp(h);
}

/** Copies what the fake API stored into the caches (a watch catching up). */
export function catchUp(h: SyncHarness): void {
  for (const [k, v] of h.api.deployments) h.deployments.set(k, structuredClone(v));
  h.replicaSets.length = 0;
  for (const r of h.api.replicaSets.values()) h.replicaSets.push(structuredClone(r));
}

/**
 * A small world: the ReplicaSet controller makes status follow spec at
 * once, and every pod that existed one round earlier is Ready (kubelets).
 */
export function rsControllerRound(h: SyncHarness): void {
  for (const [k, r] of h.api.replicaSets) {
    const existed = r.status?.replicas ?? 0;
    const want = specReplicas(r);
    const ready = Math.min(want, existed);
    h.api.replicaSets.set(k, { ...r, status: { replicas: want, readyReplicas: ready, availableReplicas: ready, observedGeneration: r.metadata?.generation ?? 0 } });
  }
  catchUp(h);
}
