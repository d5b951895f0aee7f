/**
 * A {@link Store} that encrypts the values of configured resources at rest
 * and decrypts them on every read, watch event and error that carries a
 * value, as upstream's storage transformers sit between the registry and
 * etcd. It wraps any backend (sqlite, etcd, memory), so snapshots and raw
 * database reads only ever see ciphertext for those resources.
 *
 * A value no configured key can read fails the read of that object only,
 * with upstream's 500 `unable to transform key "<key>": <reason>`; other
 * resources are unaffected. The error names the key, never the data.
 */
import { BUILTIN_RESOURCES } from "../../api/resources.js";
import { internalError, type StatusError } from "../../machinery/status-error.js";
import { KeyExistsError, RevisionMismatchError } from "../../storage/errors.js";
import type {
  DeleteResult,
  GetOptions,
  GetResult,
  KeyValue,
  ListOptions,
  ListResult,
  PutOptions,
  SnapshotEntry,
  SnapshotInfo,
  Store,
  StoreStatus,
  WatchBatch,
  WatchEvent,
  WatchOptions,
  WriteResult,
} from "../../storage/store.js";
import { resourcePrefix } from "../registry/keys.js";
import { type EncryptionConfiguration, transformersOf } from "./config.js";
import type { PrefixTransformers, ReadResult } from "./transformers.js";

/** The store key prefixes one configured resource name covers. */
export function prefixesOfResourceName(name: string): string[] {
  if (name === "*.*") return ["/registry/"];
  const dot = name.indexOf(".");
  const plural = dot < 0 ? name : name.slice(0, dot);
  const group = dot < 0 ? "" : name.slice(dot + 1);
  if (plural !== "*") return [resourcePrefix(group, plural)];
  const builtin = BUILTIN_RESOURCES.filter((r) => r.group === group);
  if (builtin.length === 0) return [`/registry/${group}/`];
  return [...new Set(builtin.map((r) => resourcePrefix(r.group, r.plural)))];
}

/** Transformers for the keys under some prefixes. */
export interface TransformerEntry {
  readonly prefixes: readonly string[];
  readonly transformers: PrefixTransformers;
}

/** Which transformers apply to which keys: the first configured entry whose resources match wins, as upstream. */
export class ResourceTransformers {
  private readonly entries: readonly TransformerEntry[];

  /** From a configuration, or (tests, tools) from key prefixes directly. */
  constructor(config: EncryptionConfiguration | readonly TransformerEntry[]) {
    this.entries = Array.isArray(config)
      ? config
      : (config as EncryptionConfiguration).resources.map((rc) => ({
          prefixes: rc.resources.flatMap(prefixesOfResourceName),
          transformers: transformersOf(rc.providers),
        }));
  }

  /** The transformers for `key`, or undefined when values under it are stored as they are. */
  forKey(key: string): PrefixTransformers | undefined {
    for (const e of this.entries) for (const p of e.prefixes) if (key.startsWith(p)) return e.transformers;
    return undefined;
  }

  /** Every prefix some entry covers (what a rewrite walks). */
  prefixes(): string[] {
    return [...new Set(this.entries.flatMap((e) => e.prefixes))];
  }
}

/** Upstream's message for a value that cannot be decrypted (storage.NewInternalError). */
export function transformError(key: string, reason: string): StatusError {
  return internalError(`unable to transform key "${key}": ${reason}`);
}

export class EncryptingStore implements Store {
  constructor(
    readonly inner: Store,
    readonly transformers: ResourceTransformers,
  ) {}

  /** Reads one stored value: the plain bytes and whether it was written with an older key or provider. */
  read(kv: KeyValue): ReadResult {
    const t = this.transformers.forKey(kv.key);
    if (!t || kv.value.byteLength === 0) return { data: kv.value, stale: false };
    try {
      return t.fromStorage(kv.value, kv.key);
    } catch (err) {
      throw transformError(kv.key, (err as Error).message);
    }
  }

  private out(kv: KeyValue): KeyValue;
  private out(kv: KeyValue | undefined): KeyValue | undefined;
  private out(kv: KeyValue | undefined): KeyValue | undefined {
    if (!kv || !this.transformers.forKey(kv.key) || kv.value.byteLength === 0) return kv;
    return { ...kv, value: this.read(kv).data };
  }

  private in(key: string, value: Uint8Array): Uint8Array {
    const t = this.transformers.forKey(key);
    return t ? t.toStorage(value, key) : value;
  }

  /** Storage errors carry the current value for retries: decrypted like any read. */
  private mapError(err: unknown): never {
    if (err instanceof RevisionMismatchError) throw new RevisionMismatchError(err.key, err.expected, this.out(err.current));
    if (err instanceof KeyExistsError && err.current) throw new KeyExistsError(err.key, this.out(err.current));
    throw err;
  }

  async get(key: string, opts?: GetOptions): Promise<GetResult> {
    const r = await this.inner.get(key, opts);
    // Keys no provider covers pass through untouched (no copies on the hot path).
    return r.kv && this.transformers.forKey(key) ? { ...r, kv: this.out(r.kv) } : r;
  }

  async list(prefix: string, opts?: ListOptions): Promise<ListResult> {
    const r = await this.inner.list(prefix, opts);
    if (!r.kvs.some((kv) => this.transformers.forKey(kv.key))) return r;
    return { ...r, kvs: r.kvs.map((kv) => this.out(kv)) };
  }

  count(prefix: string): Promise<{ count: number; revision: number }> {
    return this.inner.count(prefix);
  }

  async create(key: string, value: Uint8Array, opts?: PutOptions): Promise<WriteResult> {
    if (!this.transformers.forKey(key)) return this.inner.create(key, value, opts);
    try {
      const r = await this.inner.create(key, this.in(key, value), opts);
      return { ...r, kv: { ...r.kv, value } };
    } catch (err) {
      this.mapError(err);
    }
  }

  async update(key: string, value: Uint8Array, expectedRevision: number, opts?: PutOptions): Promise<WriteResult> {
    if (!this.transformers.forKey(key)) return this.inner.update(key, value, expectedRevision, opts);
    try {
      const r = await this.inner.update(key, this.in(key, value), expectedRevision, opts);
      return { ...r, kv: { ...r.kv, value } };
    } catch (err) {
      this.mapError(err);
    }
  }

  async delete(key: string, expectedRevision?: number): Promise<DeleteResult> {
    if (!this.transformers.forKey(key)) return this.inner.delete(key, expectedRevision);
    try {
      const r = await this.inner.delete(key, expectedRevision);
      return { ...r, prevKv: this.outLenient(r.prevKv) };
    } catch (err) {
      this.mapError(err);
    }
  }

  /**
   * The deleted value as far as it can be read: a delete must succeed even
   * for an object no key reads any more (the way to get rid of it), so the
   * unreadable value comes back empty rather than failing the delete.
   */
  private outLenient(kv: KeyValue): KeyValue {
    try {
      return this.out(kv);
    } catch {
      return { ...kv, value: new Uint8Array(0) };
    }
  }

  grantLease(ttlSeconds: number): Promise<number> {
    return this.inner.grantLease(ttlSeconds);
  }

  keepAliveLease(id: number): Promise<void> {
    return this.inner.keepAliveLease(id);
  }

  revokeLease(id: number): Promise<void> {
    return this.inner.revokeLease(id);
  }

  async *watch(prefix: string, opts?: WatchOptions): AsyncIterable<WatchBatch> {
    for await (const batch of this.inner.watch(prefix, opts)) {
      if (!batch.events.some((e) => this.transformers.forKey(e.kv.key))) {
        yield batch;
        continue;
      }
      yield { revision: batch.revision, events: batch.events.map((e) => this.outEvent(e)) };
    }
  }

  /**
   * The backend hands every watcher the same event objects; decrypting
   * through this map keeps that true after decryption (one decrypt per
   * write, and the registry's per-event decode sharing still works).
   */
  private readonly watchOut = new WeakMap<WatchEvent, WatchEvent>();

  private outEvent(e: WatchEvent): WatchEvent {
    let o = this.watchOut.get(e);
    if (o) return o;
    if (!this.transformers.forKey(e.kv.key)) return e;
    const prevKv = e.prevKv ? { prevKv: this.outLenient(e.prevKv) } : {};
    o = e.type === "put" ? { type: "put", kv: this.out(e.kv), ...prevKv } : { type: "delete", kv: e.kv, ...prevKv };
    this.watchOut.set(e, o);
    return o;
  }

  currentRevision(): Promise<number> {
    return this.inner.currentRevision();
  }

  compact(revision: number): Promise<void> {
    return this.inner.compact(revision);
  }

  status(): Promise<StoreStatus> {
    return this.inner.status();
  }

  /** Snapshots hold the stored (encrypted) bytes: a backup leaks no more than the database does. */
  saveSnapshot(path: string): Promise<SnapshotInfo> {
    return this.inner.saveSnapshot(path);
  }

  restore(entries: AsyncIterable<SnapshotEntry>): Promise<{ revision: number; keys: number }> {
    return this.inner.restore(entries);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
