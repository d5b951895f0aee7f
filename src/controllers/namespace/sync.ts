/**
 * Deleting a terminating namespace's content, as upstream's
 * NamespacedResourcesDeleter (pkg/controller/namespace/deletion):
 *
 * 1. re-read the Namespace; nothing to do unless it has a
 *    deletionTimestamp and `spec.finalizers` (phase set to Terminating);
 * 2. discover every namespaced resource that can be deleted (afresh each
 *    pass, so custom resources count) and empty each: one deletecollection
 *    where the resource supports it, else list and delete item by item,
 *    always with background propagation;
 * 3. list again: objects held by their own finalizers are waited for
 *    (`ResourcesRemainingError` with upstream's 15 s estimate), pods by
 *    their grace period; anything else still there is an error;
 * 4. record what happened as status conditions, then, once empty, remove
 *    the `kubernetes` finalizer through the `finalize` subresource, which
 *    lets the API server delete the Namespace.
 *
 * Unlike upstream, which walks resources one after another, skiff empties
 * several resources at once and deletes listed items concurrently.
 */
import type { Namespace, Pod } from "kubernetes-types/core/v1.js";
import type { PartialObjectMetadata } from "../../client/metadata-client.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { isConflict, isNotFound, StatusError } from "../../machinery/status-error.js";
import { type ContentTotals, NamespaceConditionUpdater } from "./conditions.js";
import { type DiscoveryResult, formatGVR, type GroupVersionResource, parseGroupVersion } from "./discovery.js";

/** The finalizer token this controller owns in `spec.finalizers`. */
export const FINALIZER_KUBERNETES = "kubernetes";
/** Seconds assumed for objects' own finalizers to finish (upstream's `finalizerEstimateSeconds`). */
export const FINALIZER_ESTIMATE_SECONDS = 15;

/** Some content is still going away; try again in about `estimate / 2 + 1` seconds. */
export class ResourcesRemainingError extends Error {
  override name = "ResourcesRemainingError";
  constructor(readonly estimate: number) {
    super(`some content remains in the namespace, estimate ${estimate} seconds before it is removed`);
  }
}

/** The Namespace operations the deleter makes. */
export interface NamespaceApi {
  /** GET (rejects NotFound when gone). */
  get(name: string): Promise<Namespace>;
  /** PUT namespaces/NAME/status. */
  updateStatus(ns: Namespace): Promise<Namespace>;
  /** PUT namespaces/NAME/finalize. */
  finalize(ns: Namespace): Promise<Namespace>;
}

/** The content operations the deleter makes, on any resource. */
export interface ContentApi {
  discover(): Promise<DiscoveryResult>;
  /** DELETE of the namespace's whole collection (background propagation). */
  deleteCollection(gvr: GroupVersionResource, namespace: string): Promise<void>;
  /** LIST of the namespace's objects, metadata only. */
  list(gvr: GroupVersionResource, namespace: string): Promise<PartialObjectMetadata[]>;
  /** DELETE of one object (background propagation). */
  delete(gvr: GroupVersionResource, namespace: string, name: string): Promise<void>;
  /** The namespace's pods, for their grace periods. */
  listPods(namespace: string): Promise<Pod[]>;
}

/** Options of a {@link NamespacedResourcesDeleter}. */
export interface DeleterOptions {
  readonly namespaces: NamespaceApi;
  readonly content: ContentApi;
  readonly logger?: Logger;
  /** Resources emptied at once (8). */
  readonly resourceConcurrency?: number;
  /** Item deletes in flight per resource when deletecollection is not supported (16). */
  readonly itemConcurrency?: number;
  readonly now?: () => Date;
}

interface GVRDeletionMetadata {
  /** Seconds to wait before checking again; 0 does not mean the content is gone. */
  finalizerEstimateSeconds: number;
  numRemaining: number;
  finalizersToNumRemaining: Map<string, number>;
}

/** Runs `fn` on every item with at most `limit` in flight; resolves when all settled. */
async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes: Promise<void>[] = [];
  for (let i = 0; i < Math.min(limit, items.length); i++) {
    lanes.push(
      (async () => {
        while (next < items.length) await fn(items[next++]!);
      })(),
    );
  }
  await Promise.all(lanes);
}

const gvrKey = (g: GroupVersionResource) => `${g.group}/${g.version}/${g.resource}`;

function isMethodNotSupported(err: unknown): boolean {
  return err instanceof StatusError && err.code === 405;
}

/** Deletes everything in terminating namespaces. */
export class NamespacedResourcesDeleter {
  /** `op|gvr` pairs the server does not support (learnt from 405/404 answers). */
  private readonly notSupported = new Set<string>();
  private readonly log: Logger;
  private readonly now: () => Date;

  constructor(private readonly opts: DeleterOptions) {
    this.log = opts.logger ?? silentLogger;
    this.now = opts.now ?? (() => new Date());
  }

  /**
   * One pass over namespace `name`. Resolves when the namespace is gone,
   * not being deleted, or finalized by this pass; rejects with
   * {@link ResourcesRemainingError} when content is still going away, and
   * with any other error to be retried with backoff.
   */
  async delete(name: string): Promise<void> {
    let ns: Namespace;
    try {
      ns = await this.opts.namespaces.get(name);
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    if (!ns.metadata?.deletionTimestamp) return;
    try {
      ns = await this.retryOnConflict(ns, (n) => this.updateNamespaceStatus(n));
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    if (!ns.metadata?.deletionTimestamp) return;
    if ((ns.spec?.finalizers ?? []).length === 0) return;

    const estimate = await this.deleteAllContent(ns);
    if (estimate > 0) throw new ResourcesRemainingError(estimate);

    try {
      await this.retryOnConflict(ns, (n) => this.finalizeNamespace(n));
    } catch (err) {
      // Another deleter sharing the token may have finished first.
      if (isNotFound(err)) return;
      throw err;
    }
    this.log.info("namespace content removed; finalized", { namespace: name });
  }

  /** Runs `fn`, re-reading the namespace after each conflict; the uid must not change. */
  private async retryOnConflict(ns: Namespace, fn: (ns: Namespace) => Promise<Namespace>): Promise<Namespace> {
    let latest = ns;
    for (;;) {
      try {
        return await fn(latest);
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
      const prev = latest;
      latest = await this.opts.namespaces.get(prev.metadata?.name ?? "");
      if (prev.metadata?.uid !== latest.metadata?.uid) throw new Error("namespace uid has changed across retries");
    }
  }

  private async updateNamespaceStatus(ns: Namespace): Promise<Namespace> {
    if (!ns.metadata?.deletionTimestamp || ns.status?.phase === "Terminating") return ns;
    const next = structuredClone(ns);
    (next.status ??= {}).phase = "Terminating";
    return this.opts.namespaces.updateStatus(next);
  }

  private async finalizeNamespace(ns: Namespace): Promise<Namespace> {
    const rest = [...new Set((ns.spec?.finalizers ?? []).filter((f) => f !== FINALIZER_KUBERNETES))].sort();
    const body: Namespace = { ...structuredClone(ns), spec: { ...ns.spec, finalizers: rest } };
    return this.opts.namespaces.finalize(body);
  }

  /**
   * Deletes every resource's content; returns the seconds to wait before
   * the next check (0: nothing left). Updates the status conditions in any
   * case, then rejects with the aggregated failures, if any.
   */
  private async deleteAllContent(ns: Namespace): Promise<number> {
    const namespace = ns.metadata!.name!;
    const deletedAt = Date.parse(ns.metadata!.deletionTimestamp!);
    const errs: Error[] = [];
    const conditions = new NamespaceConditionUpdater(this.now);

    let discovered: DiscoveryResult = { lists: [] };
    try {
      discovered = await this.opts.content.discover();
      // Discovery errors are not fatal: delete what could be found.
      if (discovered.error) {
        errs.push(discovered.error);
        conditions.processDiscoverResourcesErr(discovered.error);
      }
    } catch (err) {
      errs.push(err as Error);
      conditions.processDiscoverResourcesErr(err as Error);
    }

    const gvrs: { gvr: GroupVersionResource; verbs: readonly string[] }[] = [];
    const gvErrors: string[] = [];
    for (const list of discovered.lists) {
      const deletable = list.resources.filter((r) => r.verbs.includes("delete"));
      if (deletable.length === 0) continue;
      let gv: { group: string; version: string };
      try {
        gv = parseGroupVersion(list.groupVersion);
      } catch (err) {
        gvErrors.push((err as Error).message);
        continue;
      }
      for (const r of deletable) gvrs.push({ gvr: { ...gv, resource: r.name }, verbs: r.verbs });
    }
    if (gvErrors.length > 0) {
      const err = new Error(gvErrors.length === 1 ? gvErrors[0] : `[${gvErrors.join(", ")}]`);
      errs.push(err);
      conditions.processGroupVersionErr(err);
    }

    let estimate = 0;
    const remainingByResource = new Map<string, number>();
    const remainingByFinalizer = new Map<string, number>();
    await forEachLimit(gvrs, this.opts.resourceConcurrency ?? 8, async ({ gvr, verbs }) => {
      let meta: GVRDeletionMetadata;
      try {
        meta = await this.deleteAllContentForGVR(gvr, verbs, namespace, deletedAt);
      } catch (err) {
        // Keep going with the other resources; the error is reported with them.
        const e = err as Error & { meta?: GVRDeletionMetadata };
        errs.push(e);
        conditions.processDeleteContentErr(e);
        meta = e.meta ?? { finalizerEstimateSeconds: 0, numRemaining: 0, finalizersToNumRemaining: new Map() };
      }
      if (meta.finalizerEstimateSeconds > estimate) estimate = meta.finalizerEstimateSeconds;
      if (meta.numRemaining > 0) {
        remainingByResource.set(`${gvr.resource}.${gvr.group}`, meta.numRemaining);
        for (const [f, n] of meta.finalizersToNumRemaining) if (n > 0) remainingByFinalizer.set(f, (remainingByFinalizer.get(f) ?? 0) + n);
      }
    });
    const totals: ContentTotals = { remainingByResource, remainingByFinalizer };
    conditions.processContentTotals(totals);

    // Always written: a condition that cleared must say so too.
    if (conditions.update(ns)) {
      try {
        const updated = await this.opts.namespaces.updateStatus(ns);
        ns.metadata = updated.metadata;
      } catch (err) {
        this.log.warn("couldn't update status conditions of namespace", { namespace, err: (err as Error).message });
      }
    }
    if (errs.length > 0) throw errs.length === 1 ? errs[0]! : new Error(`[${errs.map((e) => e.message).join(", ")}]`);
    this.log.debug("namespace content pass", { namespace, estimate, remaining: [...remainingByResource.keys()].join(",") });
    return estimate;
  }

  /** Empties one resource; rejects with the error carrying what it knows so far as `meta`. */
  private async deleteAllContentForGVR(gvr: GroupVersionResource, verbs: readonly string[], namespace: string, deletedAt: number): Promise<GVRDeletionMetadata> {
    const fail = (err: unknown, estimate: number): never => {
      const e = err as Error & { meta?: GVRDeletionMetadata };
      e.meta = { finalizerEstimateSeconds: estimate, numRemaining: 0, finalizersToNumRemaining: new Map() };
      throw e;
    };
    const estimate = await this.estimateGracefulTermination(gvr, namespace, deletedAt);
    let deletedCollection = false;
    try {
      deletedCollection = await this.deleteCollection(gvr, verbs, namespace);
      if (!deletedCollection) await this.deleteEachItem(gvr, verbs, namespace);
    } catch (err) {
      fail(err, estimate);
    }
    let items: PartialObjectMetadata[] | undefined;
    try {
      items = await this.listCollection(gvr, verbs, namespace);
    } catch (err) {
      fail(err, estimate);
    }
    if (!items) return { finalizerEstimateSeconds: estimate, numRemaining: 0, finalizersToNumRemaining: new Map() };
    if (items.length === 0) return { finalizerEstimateSeconds: 0, numRemaining: 0, finalizersToNumRemaining: new Map() };

    const finalizers = new Map<string, number>();
    for (const item of items) for (const f of item.metadata?.finalizers ?? []) finalizers.set(f, (finalizers.get(f) ?? 0) + 1);
    if (estimate !== 0) return { finalizerEstimateSeconds: estimate, numRemaining: items.length, finalizersToNumRemaining: finalizers };
    // Objects held by finalizers are normal: give them time.
    if (finalizers.size > 0) return { finalizerEstimateSeconds: FINALIZER_ESTIMATE_SECONDS, numRemaining: items.length, finalizersToNumRemaining: finalizers };
    const err = new Error(`unexpected items still remain in namespace: ${namespace} for gvr: ${formatGVR(gvr)}`) as Error & { meta?: GVRDeletionMetadata };
    err.meta = { finalizerEstimateSeconds: estimate, numRemaining: items.length, finalizersToNumRemaining: new Map() };
    throw err;
  }

  /** Deletes the collection; false when the resource does not support it. */
  private async deleteCollection(gvr: GroupVersionResource, verbs: readonly string[], namespace: string): Promise<boolean> {
    const key = `deletecollection|${gvrKey(gvr)}`;
    if (!verbs.includes("deletecollection") || this.notSupported.has(key)) return false;
    try {
      await this.opts.content.deleteCollection(gvr, namespace);
      return true;
    } catch (err) {
      // Some resources answer NotFound rather than MethodNotSupported (kubernetes#22413).
      if (isMethodNotSupported(err) || isNotFound(err)) {
        this.notSupported.add(key);
        return false;
      }
      throw err;
    }
  }

  /** Lists the namespace's objects; undefined when the resource cannot be listed. */
  private async listCollection(gvr: GroupVersionResource, verbs: readonly string[], namespace: string): Promise<PartialObjectMetadata[] | undefined> {
    const key = `list|${gvrKey(gvr)}`;
    if (!verbs.includes("list") || this.notSupported.has(key)) return undefined;
    try {
      return await this.opts.content.list(gvr, namespace);
    } catch (err) {
      if (isMethodNotSupported(err) || isNotFound(err)) {
        this.notSupported.add(key);
        return undefined;
      }
      throw err;
    }
  }

  private async deleteEachItem(gvr: GroupVersionResource, verbs: readonly string[], namespace: string): Promise<void> {
    const items = await this.listCollection(gvr, verbs, namespace);
    if (!items) return;
    let firstErr: unknown;
    await forEachLimit(items, this.opts.itemConcurrency ?? 16, async (item) => {
      try {
        await this.opts.content.delete(gvr, namespace, item.metadata?.name ?? "");
      } catch (err) {
        if (isNotFound(err) || isMethodNotSupported(err)) return;
        firstErr ??= err;
      }
    });
    if (firstErr) throw firstErr;
  }

  /**
   * Seconds pods still need to terminate gracefully (the longest grace
   * period of non-terminal pods), or 0 once that long has passed since the
   * namespace was deleted. Only pods have one.
   */
  private async estimateGracefulTermination(gvr: GroupVersionResource, namespace: string, deletedAt: number): Promise<number> {
    if (gvr.group !== "" || gvr.resource !== "pods") return 0;
    let estimate = 0;
    for (const pod of await this.opts.content.listPods(namespace)) {
      const phase = pod.status?.phase;
      if (phase === "Succeeded" || phase === "Failed") continue;
      const grace = pod.spec?.terminationGracePeriodSeconds;
      if (grace !== undefined && grace > estimate) estimate = grace;
    }
    const elapsed = this.now().getTime() - deletedAt;
    return elapsed >= estimate * 1000 ? 0 : estimate;
  }
}
