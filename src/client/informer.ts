/**
 * Shared informers, as client-go's: LIST (paged) then WATCH from the list's
 * resourceVersion with bookmarks, keeping an indexed cache and telling
 * handlers what changed. A 410 (the watch fell behind compaction) or any
 * failure leads to a relist, diffed against the cache so handlers see the
 * adds, updates and deletes they missed, deletes carrying the last state
 * the cache knew. One informer per resource serves every controller.
 *
 * Handlers run synchronously on the informer's turn and must be quick (the
 * client-go contract: enqueue a key, do the work elsewhere). Objects handed
 * out are the cache's own: never mutate them.
 */
import { setMaxListeners } from "node:events";
import { Backoff } from "../machinery/backoff.js";
import { type Logger, silentLogger } from "../machinery/log.js";
import { StatusError } from "../machinery/status-error.js";
import type { KubeObject, ListerWatcher, ResourceDescriptor } from "./resource-client.js";
import { ResourceClient } from "./resource-client.js";
import type { RestClient } from "./rest-client.js";
import { type IndexFunc, Indexer, NAMESPACE_INDEX, objectKey } from "./store.js";
import { sleepOn, systemTimers, type Timers } from "./timers.js";
import { isExpired, type WatchEvent } from "./watch.js";

/** What a controller wants to hear about. Every method is optional. */
export interface EventHandlers<T> {
  /** A new object; `isInInitialList` while the first list (or a late handler's replay) is delivered. */
  onAdd?(obj: T, isInInitialList: boolean): void;
  /** A changed object; `oldObj === newObj` on a periodic resync. */
  onUpdate?(oldObj: T, newObj: T): void;
  /** A deleted object, as last seen (the final state from the watch, or the cache's copy after a relist). */
  onDelete?(obj: T): void;
}

/** A registered handler. */
export interface HandlerRegistration {
  /** Stops delivering to the handler. */
  remove(): void;
  /** True once the handler has seen the informer's initial list. */
  hasSynced(): boolean;
}

/** Options of a {@link SharedInformer}. */
export interface InformerOptions<T> {
  /** Where objects come from: a {@link ResourceClient} (or a fake in tests). */
  readonly source: ListerWatcher<T>;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Replays every cached object to `onUpdate(obj, obj)` this often (ms); off unless given. */
  readonly resyncPeriodMs?: number;
  /** Objects per LIST page (500, as client-go's pager). */
  readonly pageSize?: number;
  /** Names the informer in logs, e.g. `pods`. */
  readonly name?: string;
  readonly logger?: Logger;
  readonly timers?: Timers;
  /** First retry delay after a failure (800 ms, as client-go's reflector), doubling to `backoffMaxMs` (30 s). */
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
  /** The watch's server-side timeout for each new watch (client-go: 5–10 min at random). */
  readonly watchTimeoutSeconds?: () => number;
  /**
   * Applied to every object before it is cached and handed to handlers
   * (client-go's `SetTransform`), e.g. {@link stripManagedFields} to keep
   * a large cache small.
   */
  readonly transform?: (obj: T) => T;
}

/**
 * Drops `metadata.managedFields`, as client-go's
 * `TransformStripManagedFields`: no controller reads them, and they are a
 * third of a pod's JSON.
 */
export function stripManagedFields<T extends KubeObject>(obj: T): T {
  if (obj.metadata?.managedFields !== undefined) delete obj.metadata.managedFields;
  return obj;
}

interface Listener<T> {
  readonly handlers: EventHandlers<T>;
}

/** Why a watch loop ended without an error. */
type WatchEnd = { readonly expired: true; readonly sawEvents: boolean } | { readonly expired: false };

/** An indexed cache of one resource kept current by list+watch. */
export class SharedInformer<T extends KubeObject> {
  private readonly store = new Indexer<T>();
  private readonly listeners = new Set<Listener<T>>();
  private readonly log: Logger;
  private readonly timers: Timers;
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private running = false;
  private lastRV = "";

  constructor(private readonly opts: InformerOptions<T>) {
    this.log = (opts.logger ?? silentLogger).with({ component: "informer", resource: opts.name ?? "objects" });
    this.timers = opts.timers ?? systemTimers;
  }

  // ---- handlers and reads ----

  /**
   * Registers handlers. Objects already cached are delivered to `onAdd` at
   * once (as client-go's late registration), so a handler never misses one.
   */
  addEventHandler(handlers: EventHandlers<T>): HandlerRegistration {
    const listener: Listener<T> = { handlers };
    this.listeners.add(listener);
    if (handlers.onAdd && this.store.size > 0) {
      for (const obj of this.store.list()) this.call(() => handlers.onAdd?.(obj, true));
    }
    return {
      remove: () => void this.listeners.delete(listener),
      hasSynced: () => this.synced,
    };
  }

  /** Adds an index (objects already cached are filed at once). */
  addIndexer(name: string, fn: IndexFunc<T>): void {
    this.store.addIndexer(name, fn);
  }

  /** Whether an index of that name exists (several controllers may share one, as upstream's pod indexes). */
  hasIndexer(name: string): boolean {
    return this.store.hasIndex(name);
  }

  /** The cached object with key `ns/name` (or `name`). */
  get(key: string): T | undefined {
    return this.store.get(key);
  }

  /** Every cached object (a fresh array). */
  list(): T[] {
    return this.store.list();
  }

  /** How many objects are cached. */
  get size(): number {
    return this.store.size;
  }

  /** Cached objects filed under `value` in index `name`. */
  byIndex(name: string, value: string): T[] {
    return this.store.byIndex(name, value);
  }

  /** Keys filed under `value` in index `name`. */
  indexKeys(name: string, value: string): string[] {
    return this.store.indexKeys(name, value);
  }

  /** Cached objects of one namespace (the built-in index). */
  byNamespace(namespace: string): T[] {
    return this.store.byIndex(NAMESPACE_INDEX, namespace);
  }

  /** True once the first full list is in the cache and handed to handlers. */
  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves true once synced, or false if `signal` aborts first. */
  waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onAbort = () => resolve(false);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.syncWaiters.push(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve(true);
      });
    });
  }

  /** The resourceVersion the cache is current to ("" before the first list). */
  lastSyncResourceVersion(): string {
    return this.lastRV;
  }

  // ---- the list+watch loop ----

  /**
   * Runs until `signal` aborts (which also closes the watch connection).
   * Failures are retried, never thrown; it rejects only when the informer
   * is already running (call it once).
   */
  async run(signal: AbortSignal): Promise<void> {
    if (this.running) throw new Error(`informer for ${this.opts.name ?? "objects"} is already running`);
    this.running = true;
    const backoff = new Backoff(this.opts.backoffInitialMs ?? 800, this.opts.backoffMaxMs ?? 30_000);
    const stopResync = this.scheduleResync();
    try {
      while (!signal.aborted) {
        try {
          await this.listAndReplace(signal);
          if (signal.aborted) break;
          const end = await this.watchLoop(signal, backoff);
          if (!end.expired) continue;
          // Relist at once after a watch that made progress; a watch expired
          // straight after a list means the history window is tiny, so wait.
          this.log.info("watch expired; relisting", { resourceVersion: this.lastRV });
          if (!end.sawEvents) await sleepOn(this.timers, backoff.next(), signal);
        } catch (err) {
          if (signal.aborted) break;
          const delay = backoff.next();
          this.log.warn("list/watch failed; relisting after backoff", { err: (err as Error).message, retryMs: delay });
          await sleepOn(this.timers, delay, signal);
        }
      }
    } catch {
      // Only an aborted sleep lands here: that is the normal way out.
    } finally {
      stopResync();
      this.running = false;
    }
  }

  private async listAndReplace(signal: AbortSignal): Promise<void> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv = "";
    const base = { labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector, signal };
    try {
      do {
        const page = await this.opts.source.list({ ...base, limit: this.opts.pageSize ?? 500, continue: cont });
        for (const item of page.items) items.push(item);
        cont = page.metadata?.continue || undefined;
        rv = page.metadata?.resourceVersion ?? "";
      } while (cont);
    } catch (err) {
      // As client-go's pager: a continue token that expired mid-list means
      // starting over with one unpaged list.
      if (!(cont && isExpired(err))) throw err;
      this.log.info("paged list expired; listing in one page");
      items.length = 0;
      const all = await this.opts.source.list(base);
      for (const item of all.items) items.push(item);
      rv = all.metadata?.resourceVersion ?? "";
    }
    if (signal.aborted) return;
    const transform = this.opts.transform;
    this.replace(transform ? items.map(transform) : items, rv);
  }

  /** Makes the cache equal `items`, telling handlers the difference. */
  private replace(items: readonly T[], rv: string): void {
    const initial = !this.synced;
    const seen = new Set<string>();
    let added = 0;
    let updated = 0;
    for (const item of items) {
      const key = objectKey(item);
      seen.add(key);
      const old = this.store.set(key, item);
      if (!old) {
        added++;
        this.dispatchAdd(item, initial);
      } else if (old.metadata?.resourceVersion !== item.metadata?.resourceVersion) {
        updated++;
        this.dispatchUpdate(old, item);
      }
    }
    let deleted = 0;
    if (this.store.size > seen.size) {
      const gone: string[] = [];
      for (const key of this.store.keys()) if (!seen.has(key)) gone.push(key);
      for (const key of gone) {
        const old = this.store.delete(key)!;
        deleted++;
        this.dispatchDelete(old);
      }
    }
    this.lastRV = rv;
    this.log.debug("listed", { items: items.length, added, updated, deleted, resourceVersion: rv });
    if (!this.synced) {
      this.synced = true;
      const waiters = this.syncWaiters;
      this.syncWaiters = [];
      for (const w of waiters) w();
    }
  }

  /**
   * Watches from the last resourceVersion, re-watching when the server ends
   * a watch normally. Returns on 410; throws on any other failure.
   */
  private async watchLoop(signal: AbortSignal, backoff: Backoff): Promise<WatchEnd> {
    let sawEvents = false;
    while (!signal.aborted) {
      let got = 0;
      const timeoutSeconds = this.opts.watchTimeoutSeconds?.() ?? 300 + Math.floor(Math.random() * 300);
      try {
        const events = this.opts.source.watch(
          {
            resourceVersion: this.lastRV,
            labelSelector: this.opts.labelSelector,
            fieldSelector: this.opts.fieldSelector,
            allowWatchBookmarks: true,
            timeoutSeconds,
          },
          signal,
        );
        for await (const ev of events) {
          got++;
          sawEvents = true;
          this.apply(ev);
        }
      } catch (err) {
        if (isExpired(err)) return { expired: true, sawEvents };
        throw err;
      }
      if (signal.aborted) break;
      if (got > 0) {
        backoff.reset();
        continue;
      }
      // A watch that ends without a single event (not even a bookmark) is
      // odd; wait before the next one so a misbehaving server is not hammered.
      await sleepOn(this.timers, backoff.next(), signal);
    }
    return { expired: false };
  }

  private apply(ev: WatchEvent<T>): void {
    if (ev.type === "ERROR") throw new StatusError(ev.object);
    const obj = ev.type === "BOOKMARK" || !this.opts.transform ? ev.object : this.opts.transform(ev.object);
    if (ev.type !== "BOOKMARK") {
      const key = objectKey(obj);
      if (ev.type === "DELETED") {
        if (this.store.delete(key)) this.dispatchDelete(obj);
      } else {
        const old = this.store.set(key, obj);
        if (old) this.dispatchUpdate(old, obj);
        else this.dispatchAdd(obj, false);
      }
    }
    const rv = obj.metadata?.resourceVersion;
    if (rv) this.lastRV = rv;
  }

  private scheduleResync(): () => void {
    const period = this.opts.resyncPeriodMs;
    if (!period || period <= 0) return () => {};
    let cancel = () => {};
    const tick = () => {
      if (this.synced) {
        for (const obj of this.store.list()) this.dispatchUpdate(obj, obj);
      }
      cancel = this.timers.after(period, tick);
    };
    cancel = this.timers.after(period, tick);
    return () => cancel();
  }

  // ---- dispatch ----

  private dispatchAdd(obj: T, initial: boolean): void {
    for (const l of this.listeners) if (l.handlers.onAdd) this.call(() => l.handlers.onAdd?.(obj, initial));
  }

  private dispatchUpdate(old: T, obj: T): void {
    for (const l of this.listeners) if (l.handlers.onUpdate) this.call(() => l.handlers.onUpdate?.(old, obj));
  }

  private dispatchDelete(obj: T): void {
    for (const l of this.listeners) if (l.handlers.onDelete) this.call(() => l.handlers.onDelete?.(obj));
  }

  /** A throwing handler is a bug in that handler: log it, keep the informer and the other handlers going. */
  private call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error("event handler threw", { err: (err as Error)?.stack ?? String(err) });
    }
  }
}

/** Options of an {@link InformerFactory}. */
export interface InformerFactoryOptions {
  readonly logger?: Logger;
  /** Default resync period for the informers it makes (off unless given). */
  readonly resyncPeriodMs?: number;
  readonly timers?: Timers;
  /** The transform of every informer it makes (see {@link InformerOptions.transform}). */
  readonly transform?: (obj: KubeObject) => KubeObject;
}

/** Narrows what one shared informer watches. */
export interface InformerScope {
  /** Only this namespace (all namespaces unless given). */
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
}

/**
 * Hands out one informer per resource (and scope), as client-go's
 * SharedInformerFactory, so controllers that watch pods share one watch.
 */
export class InformerFactory {
  private readonly informers = new Map<string, SharedInformer<KubeObject>>();
  private readonly started = new Set<string>();

  constructor(
    private readonly rest: RestClient,
    private readonly opts: InformerFactoryOptions = {},
  ) {}

  /** The shared informer of `descriptor` within `scope`, made on first request. */
  informerFor<T extends KubeObject>(descriptor: ResourceDescriptor, scope: InformerScope = {}): SharedInformer<T> {
    const d = descriptor;
    const key = `${d.group}/${d.version}/${d.resource}|${scope.namespace ?? ""}|${scope.labelSelector ?? ""}|${scope.fieldSelector ?? ""}`;
    let inf = this.informers.get(key);
    if (!inf) {
      const client = new ResourceClient<KubeObject>(this.rest, d, scope.namespace);
      inf = new SharedInformer<KubeObject>({
        source: client,
        labelSelector: scope.labelSelector,
        fieldSelector: scope.fieldSelector,
        resyncPeriodMs: this.opts.resyncPeriodMs,
        name: d.group ? `${d.resource}.${d.group}` : d.resource,
        logger: this.opts.logger,
        timers: this.opts.timers,
        transform: this.opts.transform,
      });
      this.informers.set(key, inf);
    }
    return inf as unknown as SharedInformer<T>;
  }

  /** Starts every informer not yet running; they stop when `signal` aborts. */
  start(signal: AbortSignal): void {
    // Each running informer keeps listeners on its signal (its list or watch request, its
    // backoff sleep): they go on a signal of the factory's own, so a dozen informers do not
    // trip Node's MaxListenersExceededWarning on the caller's.
    const own = new AbortController();
    setMaxListeners(0, own.signal);
    if (signal.aborted) own.abort(signal.reason);
    else signal.addEventListener("abort", () => own.abort(signal.reason), { once: true });
    for (const [key, inf] of this.informers) {
      if (this.started.has(key)) continue;
      this.started.add(key);
      void inf.run(own.signal);
    }
  }

  /** Resolves true once every informer made so far has synced; false if `signal` aborts first. */
  async waitForSync(signal?: AbortSignal): Promise<boolean> {
    // One listener on the caller's signal, not one per informer (Node warns past ten).
    const local = new AbortController();
    setMaxListeners(0, local.signal);
    const onAbort = () => local.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    if (signal?.aborted) local.abort();
    try {
      const all = await Promise.all([...this.informers.values()].map((i) => i.waitForSync(local.signal)));
      return all.every(Boolean);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }
}
