/**
 * Generic REST storage for one resource, as upstream's
 * `registry/generic/registry.Store`: objects as JSON in the cluster store,
 * metadata managed here (uid, creationTimestamp, resourceVersion from the
 * store revision, generation, deletion with finalizers), optimistic
 * concurrency, and watch translated to Kubernetes watch events.
 */
import { randomUUID } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import type { ResourceType } from "../../api/resources.js";
import { apiVersionOf } from "../../api/resources.js";
import { type Clock, systemClock } from "../../machinery/clock.js";
import type { LabelSelector } from "../../machinery/labels.js";
import {
  alreadyExists,
  badRequest,
  conflict,
  expired,
  type FieldError,
  invalid,
  notFound,
  OPTIMISTIC_LOCK_MESSAGE,
  StatusError,
  timeout,
} from "../../machinery/status-error.js";
import { CompactedError, FutureRevisionError, KeyExistsError, KeyNotFoundError, RevisionMismatchError } from "../../storage/errors.js";
import type { KeyValue, Store } from "../../storage/store.js";
import type { FieldSelector } from "../field-selectors.js";
import { decodeContinue, encodeContinue } from "./continue-token.js";
import { collectionPrefix, objectKey } from "./keys.js";
import { validateObjectMeta } from "./meta-validation.js";
import type { Codec, DeleteOptions, KList, KObject, Strategy, WriteOptions } from "./types.js";

export interface ListOptions {
  readonly labelSelector?: LabelSelector;
  readonly fieldSelector?: FieldSelector;
  readonly limit?: number;
  readonly continue?: string;
  readonly resourceVersion?: string;
  readonly resourceVersionMatch?: string;
}

export interface WatchOptions {
  readonly labelSelector?: LabelSelector;
  readonly fieldSelector?: FieldSelector;
  /** "" / undefined / "0": start with the current state as ADDED events. */
  readonly resourceVersion?: string;
  readonly signal: AbortSignal;
  /** Send BOOKMARK events this often (ms) when asked. */
  readonly bookmarkIntervalMs?: number;
  /** sendInitialEvents=true: after the initial ADDED events, a BOOKMARK marking their end. */
  readonly sendInitialEvents?: boolean;
}

/** A watch event as the API sends it. */
export interface ApiWatchEvent {
  readonly type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  readonly object: KObject | StatusError["status"];
}

export interface ObjectStoreOptions {
  readonly store: Store;
  readonly resource: ResourceType;
  readonly strategy?: Strategy;
  readonly clock?: Clock;
  /** Stored in another version's shape (see {@link Codec}). */
  readonly codec?: Codec;
}

const enc = new TextEncoder();
/** How every object skiff stores begins (see encode): the splice point for resourceVersion. */
const STORED_HEAD = /^\{"apiVersion":"[^"\\]*","kind":"[^"\\]*","metadata":\{/;
const dec = new TextDecoder();
/** Decoded objects an ObjectStore keeps for read-only paths (about 2.5 KB of heap per pod). */
const DECODED_CACHE_MAX = 50_000;
const NAME_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789";

/** RFC 3339 at second precision, as metav1.Time marshals. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

function randomSuffix(n = 5): string {
  let s = "";
  for (let i = 0; i < n; i++) s += NAME_SUFFIX_CHARS[Math.floor(Math.random() * NAME_SUFFIX_CHARS.length)];
  return s;
}

/** ObjectMeta's list and map fields are `omitempty` upstream: an emptied one is gone, not `[]` or `{}`. */
const OMIT_EMPTY_META = ["labels", "annotations", "ownerReferences", "finalizers", "managedFields"] as const;

function omitEmptyMetadata(obj: KObject): void {
  const m = obj.metadata as Record<string, unknown> | undefined;
  if (!m) return;
  for (const k of OMIT_EMPTY_META) {
    const v = m[k];
    if (v === null || (Array.isArray(v) && v.length === 0) || (v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0)) delete m[k];
  }
}

/** The object without metadata and status: what generation counts. */
function specPart(o: KObject): Record<string, unknown> {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o;
  return rest;
}

export class ObjectStore {
  readonly resource: ResourceType;
  private readonly store: Store;
  private readonly strategy: Strategy;
  private readonly clock: Clock;
  private readonly qualified: { group: string; resource: string };
  private readonly hasStatus: boolean;
  private readonly codec?: Codec;
  /** Watch events' objects (and deleted objects), built once per event however many watchers receive it. */
  private readonly sharedDecodes = new WeakMap<KeyValue, KObject>();
  /**
   * The stored bytes (and revision) behind an object this store just wrote
   * or decoded for a watch: its JSON is those bytes with the resourceVersion
   * spliced in, so responses and watch lines need no JSON.stringify.
   */
  private readonly stored = new WeakMap<KObject, { readonly value: Uint8Array; readonly revision: number }>();
  /**
   * Decoded objects by key, valid while the stored revision matches: what
   * read-only paths (Table lists, watches, selector filtering) share instead
   * of parsing every object again, as upstream's watch cache serves lists.
   */
  private readonly decoded = new Map<string, { readonly rev: number; readonly obj: KObject }>();
  /** A lease shared by objects written within a minute, as upstream's lease manager reuses them. */
  private lease?: { id: number; grantedAt: number };

  constructor(opts: ObjectStoreOptions) {
    this.codec = opts.codec;
    this.store = opts.store;
    this.resource = opts.resource;
    this.strategy = opts.strategy ?? {};
    this.clock = opts.clock ?? systemClock;
    this.qualified = { group: this.resource.group, resource: this.resource.plural };
    this.hasStatus = (this.resource.subresources ?? []).some((s) => s.name === "status");
  }

  /** Fills the kind's defaults in place (as create and update will), for callers that inspect the result first. */
  applyDefaults(obj: KObject): KObject {
    this.strategy.defaults?.(obj);
    return obj;
  }

  /** Unknown field paths by the kind's own schema (custom resources); undefined for built-ins. */
  unknownFields(obj: KObject): string[] | undefined {
    return this.strategy.unknownFields?.(obj);
  }

  /** Whether DELETE answers with the object rather than a Success Status. */
  get returnsDeletedObject(): boolean {
    return !!this.strategy.returnDeletedObject;
  }

  private key(ns: string | undefined, name: string): string {
    return objectKey(this.resource.group, this.resource.plural, this.resource.namespaced ? ns : undefined, name);
  }

  /** Decodes a stored object, stamping its resourceVersion. */
  decode(kv: KeyValue): KObject {
    const stored = JSON.parse(dec.decode(kv.value)) as KObject;
    const obj = this.codec ? this.codec.decode(stored) : stored;
    obj.metadata ??= {};
    obj.metadata.resourceVersion = String(kv.modRevision);
    return obj;
  }

  private encode(obj: KObject): Uint8Array {
    omitEmptyMetadata(obj);
    const stored = this.codec ? this.codec.encode(obj) : obj;
    const { apiVersion, kind, metadata, ...rest } = stored;
    const { resourceVersion: _rv, ...meta } = metadata ?? {};
    // apiVersion, kind, metadata first: listJson splices resourceVersion in right after "metadata":{.
    return enc.encode(JSON.stringify({ apiVersion, kind, metadata: meta, ...rest }));
  }

  /** Write options for the store: a (reused) lease when objects of this resource expire. */
  private async putOptions(): Promise<{ lease?: number }> {
    const ttl = this.strategy.ttlSeconds;
    if (!ttl) return {};
    const now = this.clock.now();
    if (!this.lease || now - this.lease.grantedAt > 60_000) {
      // One extra minute covers the reuse window, so no object lives shorter than its TTL.
      this.lease = { id: await this.store.grantLease(ttl + 60), grantedAt: now };
    }
    return { lease: this.lease.id };
  }

  private mapStoreError(err: unknown, name: string): never {
    if (err instanceof KeyNotFoundError) throw notFound(this.qualified, name);
    if (err instanceof KeyExistsError) throw alreadyExists(this.qualified, name);
    if (err instanceof RevisionMismatchError) throw conflict(this.qualified, name, OPTIMISTIC_LOCK_MESSAGE);
    throw err;
  }

  // ---- reads ----

  async get(ns: string | undefined, name: string): Promise<KObject> {
    const { kv } = await this.store.get(this.key(ns, name));
    if (!kv) throw notFound(this.qualified, name);
    return this.decode(kv);
  }

  private async readRevision(rv: string | undefined, match: string | undefined): Promise<number> {
    if (match && !["Exact", "NotOlderThan"].includes(match)) {
      throw badRequest(`resourceVersionMatch: Unsupported value: "${match}": supported values: "Exact", "NotOlderThan"`);
    }
    if (!rv || rv === "0") {
      if (match === "Exact") throw badRequest(`resourceVersionMatch "Exact" is forbidden for resourceVersion "${rv ?? ""}"`);
      return 0;
    }
    const n = Number(rv);
    if (!Number.isInteger(n) || n < 0) throw badRequest(`invalid resource version "${rv}"`);
    const current = await this.store.currentRevision();
    if (n > current) throw timeout(`Too large resource version: ${n}, current: ${current}`, 1);
    return match === "Exact" ? n : 0;
  }

  async list(ns: string | undefined, opts: ListOptions = {}): Promise<KList> {
    const { kvs, objects, metadata } = await this.collect(ns, opts);
    const items = objects ?? kvs.map((kv) => this.decode(kv));
    return { apiVersion: apiVersionOf(this.resource), kind: `${this.resource.kind}List`, metadata, items };
  }

  /**
   * A list whose items are shared with other readers and MUST NOT be
   * modified: for rendering (Tables, watch streams), where parsing 10,000
   * objects again for every request would dominate.
   */
  async listReadOnly(ns: string | undefined, opts: ListOptions = {}): Promise<KList> {
    const { kvs, objects, metadata } = await this.collect(ns, opts, true);
    const items = objects ?? kvs.map((kv) => this.decodeReadOnly(kv));
    if (!opts.limit && !opts.continue && !opts.resourceVersion && !objects) this.pruneDecoded(ns, kvs);
    return { apiVersion: apiVersionOf(this.resource), kind: `${this.resource.kind}List`, metadata, items };
  }

  /** The cached decoding of `kv` (shared: read-only), decoding and caching it when stale. */
  private decodeReadOnly(kv: KeyValue): KObject {
    const hit = this.decoded.get(kv.key);
    if (hit && hit.rev === kv.modRevision) return hit.obj;
    const obj = this.decode(kv);
    if (hit) this.decoded.delete(kv.key);
    this.decoded.set(kv.key, { rev: kv.modRevision, obj });
    if (this.decoded.size > DECODED_CACHE_MAX) {
      // Map order is insertion order: drop the least recently refreshed.
      const oldest = this.decoded.keys().next().value;
      if (oldest !== undefined) this.decoded.delete(oldest);
    }
    return obj;
  }

  /** After a whole-collection list: forgets cached objects under it that no longer exist. */
  private pruneDecoded(ns: string | undefined, live: readonly KeyValue[]): void {
    const prefix = collectionPrefix(this.resource.group, this.resource.plural, this.resource.namespaced ? ns : undefined);
    if (this.decoded.size <= live.length) return;
    const keep = new Set(live.map((kv) => kv.key));
    for (const key of this.decoded.keys()) if (key.startsWith(prefix) && !keep.has(key)) this.decoded.delete(key);
  }

  /**
   * The JSON of a list as bytes, built from the stored bytes without decoding
   * each object (only the resourceVersion is spliced in): a LIST of 10,000
   * pods then costs no parse, no re-serialisation and no UTF-16 round trip.
   * Falls back to the decoded path for converted resources and filtered lists.
   */
  async listJson(ns: string | undefined, opts: ListOptions = {}): Promise<Buffer> {
    return Buffer.concat(await this.listJsonChunks(ns, opts));
  }

  /**
   * {@link listJson} as byte chunks, in order, for a caller that streams
   * them (a 15 MB list then reaches the client while it is still written).
   */
  async listJsonChunks(ns: string | undefined, opts: ListOptions = {}): Promise<Uint8Array[]> {
    const { kvs, objects, metadata } = await this.collect(ns, opts);
    const head = `{"apiVersion":${JSON.stringify(apiVersionOf(this.resource))},"kind":${JSON.stringify(`${this.resource.kind}List`)},"metadata":${JSON.stringify(metadata)},"items":[`;
    const parts: Uint8Array[] = [Buffer.from(head)];
    const comma = Buffer.from(",");
    const items = objects ? objects.map((o) => [Buffer.from(JSON.stringify(o))]) : kvs.map((kv) => this.rawWithVersion(kv));
    for (let i = 0; i < items.length; i++) {
      if (i > 0) parts.push(comma);
      for (const c of items[i]!) parts.push(c);
    }
    parts.push(Buffer.from("]}"));
    return parts;
  }

  /** A stored object's JSON with its resourceVersion, as byte chunks, spliced when the layout allows it. */
  private rawWithVersion(kv: KeyValue): Uint8Array[] {
    return this.splice(kv.value, kv.modRevision) ?? [Buffer.from(JSON.stringify(this.decode(kv)))];
  }

  /** Stored bytes with `"resourceVersion"` spliced in after `"metadata":{`, as chunks; undefined when the layout does not allow it. */
  private splice(stored: Uint8Array, revision: number): Uint8Array[] | undefined {
    if (this.codec) return undefined;
    const value = Buffer.isBuffer(stored) ? stored : Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
    // The head is ASCII up to the splice point, so latin1 offsets are byte offsets.
    const m = STORED_HEAD.exec(value.toString("latin1", 0, 512));
    if (!m) return undefined;
    const at = m[0].length;
    const sep = value[at] === 0x7d /* } */ ? "" : ",";
    return [value.subarray(0, at), Buffer.from(`"resourceVersion":"${revision}"${sep}`), value.subarray(at)];
  }

  /**
   * The JSON of an object this store returned from a write or a watch, from
   * the bytes it stored (resourceVersion spliced in) rather than a new
   * JSON.stringify; undefined for other objects, converted resources, an
   * object whose resourceVersion was changed since, or a second call for
   * one object. Callers must not have modified the object otherwise (watch
   * objects are read-only anyway).
   */
  storedJson(obj: KObject): Buffer | undefined {
    const s = this.stored.get(obj);
    if (!s) return undefined;
    // Once: the caller keeps what it needs (the watch handler caches it per object), and cached
    // decodings must not hold their stored bytes as well for as long as they live.
    this.stored.delete(obj);
    if (obj.metadata?.resourceVersion !== String(s.revision)) return undefined;
    const parts = this.splice(s.value, s.revision);
    if (!parts) return undefined;
    // Its own memory, not a slice of Buffer's shared 8 KB pool: the watch handler keeps these as long as the
    // object lives, and a pooled slice would pin the whole slab.
    let size = 0;
    for (const p of parts) size += p.byteLength;
    const out = Buffer.allocUnsafeSlow(size);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.byteLength;
    }
    return out;
  }

  /** Pages through the store for a list: matching key-values (and decoded objects when filtering needed them). */
  private async collect(
    ns: string | undefined,
    opts: ListOptions,
    readOnly = false,
  ): Promise<{ kvs: KeyValue[]; objects?: KObject[]; metadata: KList["metadata"] }> {
    const prefix = collectionPrefix(this.resource.group, this.resource.plural, this.resource.namespaced ? ns : undefined);
    let revision = await this.readRevision(opts.resourceVersion, opts.resourceVersionMatch);
    let startKey: string | undefined;
    if (opts.continue) {
      const c = decodeContinue(opts.continue, prefix);
      revision = c.revision;
      startKey = c.startKey;
    }
    const limit = opts.limit && opts.limit > 0 ? opts.limit : 0;
    const filtered = !!(opts.labelSelector && !opts.labelSelector.empty) || !!opts.fieldSelector;
    const items: KeyValue[] = [];
    const objects: KObject[] | undefined = filtered || this.codec ? [] : undefined;
    let listRevision = revision;
    let more = false;
    let lastKey: string | undefined;
    let remaining: number | undefined;
    try {
      for (;;) {
        // Page through the store until `limit` objects match (upstream does the same against etcd).
        const page = await this.store.list(prefix, {
          startKey,
          revision: listRevision || undefined,
          limit: limit ? Math.max(limit - items.length, filtered ? 100 : 0) : 0,
        });
        listRevision = page.revision;
        let i = 0;
        for (; i < page.kvs.length; i++) {
          const kv = page.kvs[i]!;
          lastKey = kv.key;
          if (objects) {
            const obj = readOnly && !this.codec ? this.decodeReadOnly(kv) : this.decode(kv);
            if (filtered && !this.matches(obj, opts.labelSelector, opts.fieldSelector)) continue;
            objects.push(obj);
          }
          items.push(kv);
          if (limit && items.length >= limit) {
            i++;
            break;
          }
        }
        const pageHasMore = page.more || i < page.kvs.length;
        if (limit && items.length >= limit) {
          more = pageHasMore;
          if (more && !filtered) remaining = page.count - i;
          break;
        }
        if (!page.more) break;
        startKey = `${lastKey}\u0000`;
      }
    } catch (err) {
      if (err instanceof CompactedError) {
        if (opts.continue) {
          throw expired(
            "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
          );
        }
        throw expired(`too old resource version: ${opts.resourceVersion} (${err.compactRevision})`);
      }
      throw err;
    }
    const metadata: KList["metadata"] = { resourceVersion: String(listRevision) };
    if (more && lastKey !== undefined) {
      metadata.continue = encodeContinue(listRevision, `${lastKey}\u0000`, prefix);
      if (remaining !== undefined && remaining > 0) metadata.remainingItemCount = remaining;
    }
    return objects ? { kvs: items, objects, metadata } : { kvs: items, metadata };
  }

  private matches(obj: KObject, labels?: LabelSelector, fields?: FieldSelector): boolean {
    if (labels && !labels.matches(obj.metadata?.labels)) return false;
    if (fields && !fields.matches(obj)) return false;
    return true;
  }

  // ---- create ----

  /** Checks kind/apiVersion of a body against this resource and fills them. */
  private checkTypeMeta(obj: KObject): void {
    const want = apiVersionOf(this.resource);
    if (obj.apiVersion !== undefined && obj.apiVersion !== want) {
      throw badRequest(`the API version in the data (${obj.apiVersion}) does not match the expected API version (${want})`);
    }
    if (obj.kind !== undefined && obj.kind !== this.resource.kind) {
      throw badRequest(`the kind in the data (${obj.kind}) does not match the expected kind (${this.resource.kind})`);
    }
    obj.apiVersion = want;
    obj.kind = this.resource.kind;
  }

  private checkNamespace(obj: KObject, ns: string | undefined): void {
    obj.metadata ??= {};
    if (!this.resource.namespaced) {
      delete obj.metadata.namespace;
      return;
    }
    if (obj.metadata.namespace && ns && obj.metadata.namespace !== ns) {
      throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
    }
    obj.metadata.namespace = ns ?? obj.metadata.namespace;
  }

  private validate(obj: KObject, old?: KObject): void {
    const errors: FieldError[] = [
      ...validateObjectMeta(obj.metadata ?? {}, this.resource),
      ...(old ? (this.strategy.validateUpdate?.(obj, old) ?? []) : (this.strategy.validateCreate?.(obj) ?? [])),
    ];
    if (errors.length > 0) throw invalid(this.resource.kind, this.resource.group, obj.metadata?.name ?? obj.metadata?.generateName ?? "", errors);
  }

  async create(ns: string | undefined, body: KObject, opts: WriteOptions = {}): Promise<KObject> {
    const obj = opts.bodyOwned ? body : structuredClone(body);
    this.checkTypeMeta(obj);
    this.checkNamespace(obj, ns);
    const meta = obj.metadata!;
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${randomSuffix()}`;
    if (this.hasStatus) this.strategy.prepareForCreate?.(obj);
    this.strategy.defaults?.(obj);
    meta.uid = randomUUID();
    meta.creationTimestamp = rfc3339(this.clock.now());
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    if (this.strategy.tracksGeneration) meta.generation = 1;
    else delete meta.generation;
    this.validate(obj);
    if (opts.dryRun) {
      const exists = (await this.store.get(this.key(ns, meta.name!))).kv;
      if (exists) throw alreadyExists(this.qualified, meta.name!);
      await this.strategy.beforeCreate?.(obj, opts);
      return obj;
    }
    const undo = await this.strategy.beforeCreate?.(obj, opts);
    try {
      const value = this.encode(obj);
      const w = await this.store.create(this.key(ns, meta.name!), value, await this.putOptions());
      meta.resourceVersion = String(w.revision);
      this.stored.set(obj, { value, revision: w.revision });
      return obj;
    } catch (err) {
      await undo?.();
      return this.mapStoreError(err, meta.name!);
    }
  }

  // ---- update ----

  /**
   * Replaces an object (PUT). With `subresource: "status"` only status
   * changes are kept; on the main resource, status changes are ignored for
   * kinds that have a status subresource, as upstream.
   */
  async update(
    ns: string | undefined,
    name: string,
    body: KObject,
    opts: WriteOptions & { subresource?: string } = {},
  ): Promise<{ object: KObject; created: boolean }> {
    const obj = structuredClone(body);
    this.checkTypeMeta(obj);
    this.checkNamespace(obj, ns);
    if (obj.metadata!.name && obj.metadata!.name !== name) {
      throw badRequest(`the name of the object (${obj.metadata!.name}) does not match the name on the URL (${name})`);
    }
    obj.metadata!.name = name;
    const { kv } = await this.store.get(this.key(ns, name));
    if (!kv) {
      if (this.strategy.allowCreateOnUpdate && !opts.subresource) return { object: await this.create(ns, obj, opts), created: true };
      throw notFound(this.qualified, name);
    }
    const rv = obj.metadata!.resourceVersion;
    if (rv && rv !== String(kv.modRevision)) throw conflict(this.qualified, name, OPTIMISTIC_LOCK_MESSAGE);
    const object = await this.writeUpdate(ns, name, kv, obj, opts);
    return { object, created: false };
  }

  /** Merges `obj` onto the stored `kv` (decoded: `old`, which is not modified) per update rules and writes it with CAS. */
  private async writeUpdate(
    ns: string | undefined,
    name: string,
    kv: KeyValue,
    obj: KObject,
    opts: WriteOptions & { subresource?: string },
    old: KObject = this.decode(kv),
  ): Promise<KObject> {
    let next: KObject;
    if (opts.subresource === "status") {
      const uid = obj.metadata?.uid;
      if (uid && uid !== old.metadata?.uid) {
        throw conflict(this.qualified, name, `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${old.metadata?.uid}`);
      }
      next = { ...structuredClone(old), status: obj.status };
      next.metadata = { ...old.metadata };
      // Status writers may update labels/annotations? Upstream: no, only status.
    } else if (opts.subresource === "finalize") {
      // namespaces/finalize: only spec.finalizers changes, as upstream's finalize REST.
      const finalizers = (obj.spec as { finalizers?: unknown } | undefined)?.finalizers;
      next = structuredClone(old);
      next.spec = { ...(next.spec as object), finalizers: Array.isArray(finalizers) && finalizers.length > 0 ? finalizers : undefined };
      if ((next.spec as { finalizers?: unknown }).finalizers === undefined) delete (next.spec as { finalizers?: unknown }).finalizers;
    } else {
      next = obj;
      // Writes through the main resource leave status alone; pods/binding sets both (spec.nodeName, PodScheduled).
      if (opts.subresource !== "binding") {
        if (this.hasStatus && old.status !== undefined) next.status = old.status;
        else if (this.hasStatus) delete next.status;
      }
      const m = next.metadata!;
      const o = old.metadata!;
      if (m.uid && m.uid !== o.uid) {
        throw conflict(this.qualified, name, `Precondition failed: UID in precondition: ${m.uid}, UID in object meta: ${o.uid}`);
      }
      m.uid = o.uid;
      m.creationTimestamp = o.creationTimestamp;
      if (o.deletionTimestamp) {
        m.deletionTimestamp = o.deletionTimestamp;
        m.deletionGracePeriodSeconds = o.deletionGracePeriodSeconds;
      } else {
        delete m.deletionTimestamp;
        delete m.deletionGracePeriodSeconds;
      }
      if (o.generateName !== undefined && m.generateName === undefined) m.generateName = o.generateName;
      this.strategy.defaults?.(next);
      if (this.strategy.tracksGeneration) {
        m.generation = (o.generation ?? 1) + (isDeepStrictEqual(specPart(next), specPart(old)) ? 0 : 1);
      } else delete m.generation;
      // pods/binding writes through storage as upstream's BindingREST does: no pod update validation.
      if (opts.subresource !== "binding") this.validate(next, old);
    }
    next.metadata!.resourceVersion = String(kv.modRevision);
    // A no-op write keeps the resourceVersion, as upstream does. A binding always sets spec.nodeName
    // (bindPod refuses a pod that has one), so it is never a no-op: no deep comparison of the pod.
    if (opts.subresource !== "binding" && isDeepStrictEqual(next, old)) return next;
    const m = next.metadata!;
    // Upstream's ShouldDeleteDuringUpdate: the last finalizer gone and no grace period running
    // (a pod in graceful termination goes only by the kubelet's delete with grace 0).
    if (m.deletionTimestamp && (m.finalizers ?? []).length === 0 && (m.deletionGracePeriodSeconds ?? 0) === 0 && !this.strategy.blocksDeletion?.(next)) {
      // The last finalizer is gone: the object can go now.
      if (opts.dryRun) return next;
      try {
        await this.store.delete(this.key(ns, name), kv.modRevision);
      } catch (err) {
        this.mapStoreError(err, name);
      }
      await this.strategy.afterDelete?.(next);
      return next;
    }
    // Hooks see dryRun and must not keep anything for a dry run.
    const undo = opts.subresource ? undefined : await this.strategy.beforeUpdate?.(next, old, opts);
    if (opts.dryRun) return next;
    try {
      const value = this.encode(next);
      const w = await this.store.update(this.key(ns, name), value, kv.modRevision, await this.putOptions());
      m.resourceVersion = String(w.revision);
      this.stored.set(next, { value, revision: w.revision });
      return next;
    } catch (err) {
      await undo?.();
      return this.mapStoreError(err, name);
    }
  }

  /**
   * Read-modify-write with retry on conflict (upstream's GuaranteedUpdate):
   * `mutate` gets the current object and returns the new one. Used by patch.
   */
  async guaranteedUpdate(
    ns: string | undefined,
    name: string,
    mutate: (current: KObject) => KObject | Promise<KObject>,
    opts: WriteOptions & { subresource?: string } = {},
  ): Promise<KObject> {
    for (let attempt = 0; ; attempt++) {
      const { kv } = await this.store.get(this.key(ns, name));
      if (!kv) throw notFound(this.qualified, name);
      // `current` is only read (writeUpdate never modifies or returns it): the shared decoding serves,
      // usually already cached from the watch that delivered the previous write.
      const current = this.codec ? this.decode(kv) : this.decodeReadOnly(kv);
      // The mutable copy is decoded afresh: cheaper than structuredClone, and `current` stays as stored.
      const next = await mutate(this.decode(kv));
      this.checkTypeMeta(next);
      this.checkNamespace(next, ns);
      if (next.metadata!.name !== name) {
        throw badRequest(`the name of the object (${next.metadata!.name}) does not match the name on the URL (${name})`);
      }
      const rv = next.metadata!.resourceVersion;
      if (rv && rv !== String(kv.modRevision)) throw conflict(this.qualified, name, OPTIMISTIC_LOCK_MESSAGE);
      try {
        return await this.writeUpdate(ns, name, kv, next, opts, current);
      } catch (err) {
        // Someone wrote in between: read again and re-apply (upstream retries without limit; 1,000
        // bounds a bug). A version the patch pinned fails the check above on the next attempt.
        if (err instanceof StatusError && err.reason === "Conflict" && err.message.endsWith(OPTIMISTIC_LOCK_MESSAGE) && attempt < 1000) continue;
        throw err;
      }
    }
  }

  // ---- delete ----

  async delete(ns: string | undefined, name: string, opts: DeleteOptions = {}): Promise<{ object: KObject; deleted: boolean }> {
    for (let attempt = 0; ; attempt++) {
      const { kv } = await this.store.get(this.key(ns, name));
      if (!kv) throw notFound(this.qualified, name);
      const obj = this.decode(kv);
      const m = obj.metadata!;
      const pre = opts.preconditions;
      if (pre?.uid && pre.uid !== m.uid) {
        throw conflict(this.qualified, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${m.uid}`);
      }
      if (pre?.resourceVersion && pre.resourceVersion !== m.resourceVersion) {
        throw conflict(
          this.qualified,
          name,
          `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${m.resourceVersion}`,
        );
      }
      const finalizers = [...(m.finalizers ?? [])];
      if (opts.propagationPolicy === "Orphan" && !finalizers.includes("orphan")) finalizers.push("orphan");
      if (opts.propagationPolicy === "Foreground" && !finalizers.includes("foregroundDeletion")) finalizers.push("foregroundDeletion");
      const grace = this.strategy.gracePeriod?.(obj, opts.gracePeriodSeconds);
      try {
        if (finalizers.length > 0 || (grace !== undefined && grace > 0) || this.strategy.blocksDeletion?.(obj)) {
          // Mark for deletion; finalizers (or the kubelet, for graceful pods) finish it.
          // A second delete may only shorten the grace period (upstream's BeforeDelete), e.g. the
          // kubelet's final delete with 0 of a pod that still waits for a finalizer.
          const shorten = !!m.deletionTimestamp && grace !== undefined && grace < (m.deletionGracePeriodSeconds ?? 0);
          if (m.deletionTimestamp && !shorten && isDeepStrictEqual(finalizers, m.finalizers ?? [])) return { object: obj, deleted: false };
          const next = structuredClone(obj);
          this.strategy.prepareForDeletion?.(next);
          next.metadata!.finalizers = finalizers.length > 0 ? finalizers : undefined;
          if (!next.metadata!.finalizers) delete next.metadata!.finalizers;
          if (!m.deletionTimestamp || shorten) {
            next.metadata!.deletionTimestamp = rfc3339(this.clock.now() + (grace ?? 0) * 1000);
            next.metadata!.deletionGracePeriodSeconds = grace ?? 0;
          }
          if (this.strategy.tracksGeneration) next.metadata!.generation = (m.generation ?? 1) + 1;
          if (opts.dryRun) return { object: next, deleted: false };
          const w = await this.store.update(this.key(ns, name), this.encode(next), kv.modRevision);
          next.metadata!.resourceVersion = String(w.revision);
          return { object: next, deleted: false };
        }
        if (opts.dryRun) return { object: obj, deleted: true };
        await this.store.delete(this.key(ns, name), kv.modRevision);
        await this.strategy.afterDelete?.(obj);
        return { object: obj, deleted: true };
      } catch (err) {
        if (err instanceof RevisionMismatchError && attempt < 10) continue;
        return this.mapStoreError(err, name);
      }
    }
  }

  // ---- watch ----

  /**
   * Streams watch events. Starting at "" or "0" sends the current state as
   * ADDED first; a compacted start ends with an ERROR event (410 Expired),
   * as upstream.
   */
  async *watch(ns: string | undefined, opts: WatchOptions): AsyncGenerator<ApiWatchEvent> {
    const prefix = collectionPrefix(this.resource.group, this.resource.plural, this.resource.namespaced ? ns : undefined);
    const filtered = !!(opts.labelSelector && !opts.labelSelector.empty) || !!opts.fieldSelector;
    const match = (o: KObject) => !filtered || this.matches(o, opts.labelSelector, opts.fieldSelector);
    let start: number;
    const rv = opts.resourceVersion;
    if (!rv || rv === "0") {
      const list = await this.listReadOnly(ns, { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector });
      for (const item of list.items) yield { type: "ADDED", object: item };
      start = Number(list.metadata.resourceVersion) + 1;
      if (opts.sendInitialEvents) yield this.bookmark(start - 1, true);
    } else {
      const n = Number(rv);
      if (!Number.isInteger(n) || n < 0) throw badRequest(`invalid resource version "${rv}"`);
      start = n + 1;
    }
    try {
      for await (const batch of this.store.watch(prefix, {
        startRevision: start,
        signal: opts.signal,
        progressIntervalMs: opts.bookmarkIntervalMs,
      })) {
        if (batch.events.length === 0) {
          if (opts.bookmarkIntervalMs) yield this.bookmark(batch.revision, false);
          continue;
        }
        for (const e of batch.events) {
          if (e.type === "delete") {
            const gone = this.decodeShared(e.kv, e.prevKv);
            if (gone && match(gone)) yield { type: "DELETED", object: gone };
            continue;
          }
          const prev = e.prevKv && filtered ? this.decodeShared(e.prevKv) : undefined;
          const obj = this.decodeShared(e.kv)!;
          const now = match(obj);
          // Unfiltered, any earlier version was visible: MODIFIED when there was one.
          const before = filtered ? (prev ? match(prev) : false) : !!e.prevKv;
          if (now && !before) yield { type: "ADDED", object: obj };
          else if (now && before) yield { type: "MODIFIED", object: obj };
          else if (!now && before) yield { type: "DELETED", object: obj };
        }
      }
    } catch (err) {
      if (err instanceof CompactedError) {
        yield { type: "ERROR", object: expired(`too old resource version: ${start - 1} (${err.compactRevision})`).status };
        return;
      }
      if (err instanceof FutureRevisionError) return;
      throw err;
    }
  }

  /**
   * Decodes a watch event's key-value once for every watcher it fans out to
   * (the store hands each subscriber the same event objects): 500 watchers
   * then cost one parse per write, not 500. The result is shared, so it is
   * read-only. With `deletedFrom`, `kv` is a tombstone and the object is the
   * last state `deletedFrom` held, stamped with the deletion's revision.
   */
  private decodeShared(kv: KeyValue, deletedFrom?: KeyValue): KObject | undefined {
    let obj = this.sharedDecodes.get(kv);
    if (obj) return obj;
    if (deletedFrom) {
      obj = this.decode(deletedFrom);
      obj.metadata!.resourceVersion = String(kv.modRevision);
      this.decoded.delete(kv.key);
      this.sharedDecodes.set(kv, obj);
      this.stored.set(obj, { value: deletedFrom.value, revision: kv.modRevision });
      return obj;
    }
    if (kv.value.byteLength === 0) return undefined;
    // Memoised per key-value too: filtered watchers decode both an event's object and its previous
    // version, and the by-key cache holds only one revision per key, so alternating the two would
    // decode them again for every watcher.
    obj = this.decodeReadOnly(kv);
    this.sharedDecodes.set(kv, obj);
    this.stored.set(obj, { value: kv.value, revision: kv.modRevision });
    return obj;
  }

  private bookmark(revision: number, initialEventsEnd: boolean): ApiWatchEvent {
    const metadata: KObject["metadata"] = { resourceVersion: String(revision) };
    if (initialEventsEnd) metadata.annotations = { "k8s.io/initial-events-end": "true" };
    return { type: "BOOKMARK", object: { kind: this.resource.kind, apiVersion: apiVersionOf(this.resource), metadata } };
  }
}
