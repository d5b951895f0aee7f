/**
 * The garbage collector, as upstream's (pkg/controller/garbagecollector):
 *
 * - *Monitors*: a metadata-only informer per resource that can be listed,
 *   watched and deleted (rediscovered every 30 s, so custom resources join),
 *   feeding a {@link DependencyGraph} of ownerReferences.
 * - *attemptToDelete*: an object whose owners are all gone is deleted
 *   (Background, or Orphan/Foreground when its own finalizers ask); one with
 *   some owners gone loses the dangling references; an owner being deleted
 *   in the foreground (`foregroundDeletion` finalizer) has its blocking
 *   dependents deleted first and its finalizer removed when none remain.
 * - *attemptToOrphan*: an owner deleted with `propagationPolicy: Orphan`
 *   (`orphan` finalizer) has its reference removed from every dependent,
 *   then the finalizer removed, so the API server can finish the delete.
 *
 * Owners are always checked against the API by uid before a dependent is
 * deleted: the graph only says where to look.
 */
import { setMaxListeners } from "node:events";
import type { OwnerReference } from "kubernetes-types/meta/v1.js";
import { type DiscoveredResource, discoverPreferredResources, ResourceMapper } from "../../client/discovery.js";
import { SharedInformer } from "../../client/informer.js";
import { metadataClient, type PartialObjectMetadata } from "../../client/metadata-client.js";
import { ResourceClient } from "../../client/resource-client.js";
import { StringInterner } from "../../client/string-interner.js";
import type { RestClient } from "../../client/rest-client.js";
import { WorkQueue } from "../../client/work-queue.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { isConflict, isNotFound, StatusError } from "../../machinery/status-error.js";
import { processNextWorkItem } from "../common/workers.js";
import { DependencyGraph, type GraphNode, type ObjectIdentity } from "./graph.js";

export const ORPHAN_FINALIZER = "orphan";
export const FOREGROUND_FINALIZER = "foregroundDeletion";

/** Resources upstream's collector never monitors (its `ignoredResources`). */
const IGNORED = new Set(["/events", "events.k8s.io/events"]);

/** Options of a {@link GarbageCollector}. */
export interface GarbageCollectorOptions {
  readonly rest: RestClient;
  readonly logger?: Logger;
  /** How often discovery is re-read for new or removed resources (30 s, as upstream). */
  readonly resyncDiscoveryMs?: number;
  /** Workers per queue (upstream: 20 for attemptToDelete; one loop each suffices here, requests are async). */
  readonly workers?: number;
}

interface Monitor {
  readonly resource: DiscoveredResource;
  readonly informer: SharedInformer<PartialObjectMetadata>;
  readonly stop: AbortController;
}

function identityOf(r: DiscoveredResource, obj: PartialObjectMetadata): ObjectIdentity {
  const m = obj.metadata ?? {};
  return {
    apiVersion: r.group ? `${r.group}/${r.version}` : r.version,
    kind: r.kind,
    name: m.name ?? "",
    namespace: m.namespace ?? "",
    uid: m.uid ?? "",
  };
}

/**
 * What a monitor caches of an object: only the metadata the graph reads
 * (and the informer's own key and resourceVersion). Upstream's collector
 * caches whole metadata minus managedFields; labels, annotations and
 * managedFields of every pod were most of the controller manager's memory
 * in a large cluster, and the collector never writes these objects back.
 */
export function graphMetadata(obj: PartialObjectMetadata): PartialObjectMetadata {
  const m = obj.metadata;
  if (!m) return obj;
  return {
    metadata: {
      name: m.name,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      ...(m.namespace ? { namespace: m.namespace } : {}),
      ...(m.ownerReferences ? { ownerReferences: m.ownerReferences } : {}),
      ...(m.finalizers ? { finalizers: m.finalizers } : {}),
      ...(m.deletionTimestamp ? { deletionTimestamp: m.deletionTimestamp } : {}),
    },
  };
}

const describe = (id: ObjectIdentity) => `${id.kind} ${id.namespace ? `${id.namespace}/` : ""}${id.name}`;

/** The garbage collector. {@link run} until the signal aborts. */
export class GarbageCollector {
  private readonly graph = new DependencyGraph();
  private readonly monitors = new Map<string, Monitor>();
  private mapper = new ResourceMapper([]);
  private readonly attemptToDelete = new WorkQueue<string>();
  private readonly attemptToOrphan = new WorkQueue<string>();
  private readonly log: Logger;
  /** One copy of the strings the monitors' objects repeat (namespaces, owners' names and uids). */
  private readonly interner = new StringInterner();

  constructor(private readonly opts: GarbageCollectorOptions) {
    this.log = opts.logger ?? silentLogger;
  }

  /** Number of objects the graph tracks (for tests and metrics). */
  get graphSize(): number {
    return this.graph.size;
  }

  async run(signal: AbortSignal): Promise<void> {
    signal.addEventListener("abort", () => {
      this.attemptToDelete.shutDown();
      this.attemptToOrphan.shutDown();
      for (const m of this.monitors.values()) m.stop.abort();
    });
    await this.syncMonitors(signal);
    // Upstream waits for the monitors' caches before acting on the graph. One
    // signal per wait would stack dozens of listeners on the caller's signal.
    const syncing = new AbortController();
    setMaxListeners(0, syncing.signal);
    const onAbort = () => syncing.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    await Promise.all([...this.monitors.values()].map((m) => m.informer.waitForSync(syncing.signal)));
    signal.removeEventListener("abort", onAbort);
    const workers = this.opts.workers ?? 4;
    const loops: Promise<void>[] = [];
    for (let i = 0; i < workers; i++) {
      loops.push(this.worker(this.attemptToDelete, (uid) => this.processAttemptToDelete(uid)));
      loops.push(this.worker(this.attemptToOrphan, (uid) => this.processAttemptToOrphan(uid)));
    }
    const every = this.opts.resyncDiscoveryMs ?? 30_000;
    const timer = setInterval(() => void this.syncMonitors(signal).catch((err) => this.log.warn("discovery failed", { err: (err as Error).message })), every);
    timer.unref();
    signal.addEventListener("abort", () => clearInterval(timer));
    this.log.info("garbage collector synced", { resources: this.monitors.size, objects: this.graph.size });
    await Promise.all(loops);
  }

  // ---- monitors ----

  /** Starts monitors for new deletable resources and stops those that went away. */
  private async syncMonitors(signal: AbortSignal): Promise<void> {
    const all = await discoverPreferredResources(this.opts.rest);
    this.mapper = new ResourceMapper(all);
    const wanted = all.filter(
      (r) => ["list", "watch", "delete"].every((v) => r.verbs.includes(v)) && !IGNORED.has(`${r.group}/${r.resource}`),
    );
    const keys = new Set(wanted.map((r) => `${r.group}/${r.resource}`));
    for (const [key, m] of this.monitors) {
      if (keys.has(key)) continue;
      m.stop.abort();
      this.monitors.delete(key);
    }
    for (const r of wanted) {
      const key = `${r.group}/${r.resource}`;
      if (this.monitors.has(key) || signal.aborted) continue;
      const informer = new SharedInformer<PartialObjectMetadata>({
        source: metadataClient(this.opts.rest, r),
        name: `gc:${key}`,
        logger: this.log,
        transform: (obj) => this.interner.internAll(graphMetadata(obj)),
      });
      informer.addEventHandler({
        onAdd: (obj) => this.observe(r, obj),
        onUpdate: (_old, obj) => this.observe(r, obj),
        onDelete: (obj) => this.observeDelete(r, obj),
      });
      // run()'s abort handler stops every monitor; one listener per monitor would pile up on the signal.
      const stop = new AbortController();
      this.monitors.set(key, { resource: r, informer, stop });
      void informer.run(stop.signal);
    }
  }

  /** An object was added or changed: update the graph and queue what the change may unblock. */
  private observe(r: DiscoveredResource, obj: PartialObjectMetadata): void {
    const m = obj.metadata;
    if (!m?.uid) return;
    const owners = m.ownerReferences ?? [];
    const finalizers = m.finalizers ?? [];
    let node = this.graph.get(m.uid);
    if (!node) {
      node = { identity: identityOf(r, obj), owners, dependents: new Set(), virtual: false, beingDeleted: false, deletingDependents: false };
      for (const owner of this.graph.insert(node)) this.attemptToDelete.add(owner.identity.uid);
    } else {
      if (node.virtual) {
        // Observed at last: the real identity replaces what a dependent said.
        node.virtual = false;
        node.identity = identityOf(r, obj);
      }
      const { added, removed } = this.graph.setOwners(node, owners);
      for (const owner of added) this.attemptToDelete.add(owner.identity.uid);
      // An owner waiting for its dependents may be done now.
      for (const owner of removed) if (owner.deletingDependents) this.attemptToDelete.add(owner.identity.uid);
    }
    node.beingDeleted = !!m.deletionTimestamp;
    if (m.deletionTimestamp) {
      if (finalizers.includes(ORPHAN_FINALIZER)) this.attemptToOrphan.add(m.uid);
      if (finalizers.includes(FOREGROUND_FINALIZER)) {
        node.deletingDependents = true;
        for (const dep of node.dependents) this.attemptToDelete.add(dep.identity.uid);
        this.attemptToDelete.add(m.uid);
      }
    }
  }

  /** An object is gone: its dependents may be garbage now, and owners waiting on it may finish. */
  private observeDelete(_r: DiscoveredResource, obj: PartialObjectMetadata): void {
    const uid = obj.metadata?.uid;
    const node = uid ? this.graph.get(uid) : undefined;
    if (!node) return;
    this.graph.remove(node);
    for (const dep of node.dependents) this.attemptToDelete.add(dep.identity.uid);
    for (const o of node.owners) {
      const owner = this.graph.get(o.uid);
      if (owner?.deletingDependents) this.attemptToDelete.add(owner.identity.uid);
    }
  }

  // ---- workers ----

  private async worker(queue: WorkQueue<string>, process: (uid: string) => Promise<void>): Promise<void> {
    const retry = (uid: string, err: unknown) => {
      if (!isConflict(err)) this.log.warn("garbage collection failed; retrying", { uid, err: (err as Error).message });
      queue.addRateLimited(uid);
    };
    while (await processNextWorkItem(queue, process, retry)) {
      // each turn handles one uid
    }
  }

  /** A client for the object `id` names (its resource found through discovery). */
  private clientFor(id: Pick<ObjectIdentity, "apiVersion" | "kind" | "namespace">): ResourceClient<PartialObjectMetadata> | undefined {
    const r = this.mapper.lookup(id.apiVersion, id.kind);
    if (!r) return undefined;
    return new ResourceClient<PartialObjectMetadata>(this.opts.rest, r, r.namespaced ? id.namespace : undefined);
  }

  /** The live object with this identity, or undefined when it is gone (or replaced: another uid). */
  private async getLive(id: ObjectIdentity): Promise<PartialObjectMetadata | undefined> {
    const client = this.clientFor(id);
    if (!client) throw new Error(`no resource serves ${id.kind} in ${id.apiVersion} (yet)`);
    try {
      const obj = await client.get(id.name);
      return obj.metadata?.uid === id.uid ? obj : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async processAttemptToDelete(uid: string): Promise<void> {
    const node = this.graph.get(uid);
    if (!node) return;
    if (node.virtual) {
      // A named owner never observed: if it does not exist, its dependents are orphans of nothing.
      if (await this.getLive(node.identity)) return;
      if (this.graph.get(uid) !== node || !node.virtual) return;
      this.graph.remove(node);
      for (const dep of node.dependents) this.attemptToDelete.add(dep.identity.uid);
      return;
    }
    if (node.beingDeleted && !node.deletingDependents) return;
    const latest = await this.getLive(node.identity);
    if (!latest) return;
    const finalizers = latest.metadata?.finalizers ?? [];
    if (latest.metadata?.deletionTimestamp && finalizers.includes(FOREGROUND_FINALIZER)) {
      await this.processDeletingDependents(node, latest);
      return;
    }
    const refs = latest.metadata?.ownerReferences ?? [];
    if (refs.length === 0) return;

    const solid: OwnerReference[] = [];
    const dangling: OwnerReference[] = [];
    const waiting: OwnerReference[] = [];
    for (const ref of refs) {
      const owner = await this.getLive({ apiVersion: ref.apiVersion, kind: ref.kind, name: ref.name, namespace: node.identity.namespace, uid: ref.uid });
      if (!owner) dangling.push(ref);
      else if (owner.metadata?.deletionTimestamp && (owner.metadata.finalizers ?? []).includes(FOREGROUND_FINALIZER)) waiting.push(ref);
      else solid.push(ref);
    }

    if (solid.length > 0) {
      if (dangling.length === 0 && waiting.length === 0) return;
      // Keep the object, drop references to owners that are gone, stop blocking owners being deleted.
      const gone = new Set(dangling.map((r) => r.uid));
      const unblock = new Set(waiting.map((r) => r.uid));
      const next = refs.filter((r) => !gone.has(r.uid)).map((r) => (unblock.has(r.uid) ? { ...r, blockOwnerDeletion: false } : r));
      this.log.info("removing dangling owner references", { object: describe(node.identity), owners: dangling.map((r) => r.name).join(",") });
      await this.patchOwnerReferences(node.identity, latest, next);
      return;
    }
    let policy: "Background" | "Foreground" | "Orphan";
    if (waiting.length > 0 && node.dependents.size > 0) policy = "Foreground";
    else if (finalizers.includes(ORPHAN_FINALIZER)) policy = "Orphan";
    else if (finalizers.includes(FOREGROUND_FINALIZER)) policy = "Foreground";
    else policy = "Background";
    this.log.info("deleting object whose owners are gone", { object: describe(node.identity), propagationPolicy: policy });
    await this.deleteObject(node.identity, policy);
  }

  /** Foreground deletion: delete the blocking dependents; once none remain, remove the finalizer. */
  private async processDeletingDependents(node: GraphNode, latest: PartialObjectMetadata): Promise<void> {
    const blocking = [...node.dependents].filter((d) => d.owners.some((o) => o.uid === node.identity.uid && o.blockOwnerDeletion));
    if (blocking.length === 0) {
      await this.removeFinalizer(node.identity, latest, FOREGROUND_FINALIZER);
      return;
    }
    for (const dep of blocking) if (!dep.beingDeleted) this.attemptToDelete.add(dep.identity.uid);
  }

  private async processAttemptToOrphan(uid: string): Promise<void> {
    const node = this.graph.get(uid);
    if (!node) return;
    for (const dep of [...node.dependents]) {
      const latest = await this.getLive(dep.identity);
      if (!latest) continue;
      const refs = latest.metadata?.ownerReferences ?? [];
      if (!refs.some((r) => r.uid === uid)) continue;
      await this.patchOwnerReferences(
        dep.identity,
        latest,
        refs.filter((r) => r.uid !== uid),
      );
    }
    const owner = await this.getLive(node.identity);
    if (owner) {
      this.log.info("orphaned dependents", { object: describe(node.identity), dependents: node.dependents.size });
      await this.removeFinalizer(node.identity, owner, ORPHAN_FINALIZER);
    }
  }

  // ---- writes (conditioned on uid and resourceVersion, so a stale view fails with 409 and retries) ----

  private async patchOwnerReferences(id: ObjectIdentity, latest: PartialObjectMetadata, refs: OwnerReference[]): Promise<void> {
    await this.patchMetadata(id, { uid: id.uid, resourceVersion: latest.metadata?.resourceVersion, ownerReferences: refs.length > 0 ? refs : null });
  }

  private async removeFinalizer(id: ObjectIdentity, latest: PartialObjectMetadata, finalizer: string): Promise<void> {
    const finalizers = latest.metadata?.finalizers ?? [];
    if (!finalizers.includes(finalizer)) return;
    const rest = finalizers.filter((f) => f !== finalizer);
    await this.patchMetadata(id, { uid: id.uid, resourceVersion: latest.metadata?.resourceVersion, finalizers: rest.length > 0 ? rest : null });
  }

  private async patchMetadata(id: ObjectIdentity, metadata: Record<string, unknown>): Promise<void> {
    const client = this.clientFor(id);
    if (!client) throw new Error(`no resource serves ${id.kind} in ${id.apiVersion}`);
    try {
      await client.patch(id.name, { metadata }, { type: "merge" });
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  }

  private async deleteObject(id: ObjectIdentity, policy: "Background" | "Foreground" | "Orphan"): Promise<void> {
    const client = this.clientFor(id);
    if (!client) throw new Error(`no resource serves ${id.kind} in ${id.apiVersion}`);
    try {
      await client.delete(id.name, { propagationPolicy: policy, preconditions: { uid: id.uid } });
    } catch (err) {
      // Gone already, or replaced by an object of another uid (precondition failed): nothing to collect.
      if (isNotFound(err) || (err instanceof StatusError && err.code === 409)) return;
      throw err;
    }
  }
}
