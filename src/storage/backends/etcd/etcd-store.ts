/**
 * The `etcd` backend of {@link Store}: a real etcd v3 server (Debian's 3.4)
 * spoken to through the `etcd3` package's raw gRPC clients, so every call maps
 * onto one etcd RPC with etcd's own semantics (as kine's etcd mode does).
 *
 * All keys live under `keyPrefix` in etcd and are returned without it. This
 * file is the Store itself; the parts it composes are the connection (calls,
 * deadlines, error mapping: etcd-connection.ts, etcd-errors.ts), key and
 * value conversion (etcd-convert.ts), leases (etcd-lease.ts), watches
 * (etcd-watcher.ts) and snapshot streaming (etcd-snapshot-save.ts).
 */
import { CompareResult, CompareTarget, type IRangeRequest } from "etcd3";
import { Backoff, sleep } from "../../../machinery/backoff.js";
import { type Logger, silentLogger } from "../../../machinery/log.js";
import {
  CompactedError,
  KeyExistsError,
  KeyNotFoundError,
  RevisionMismatchError,
  StoreOpenError,
  StoreUnavailableError,
  ValueTooLargeError,
} from "../../errors.js";
import {
  type DeleteResult,
  type GetOptions,
  type GetResult,
  type ListOptions,
  type ListResult,
  MAX_VALUE_BYTES,
  type PutOptions,
  type SnapshotEntry,
  type SnapshotInfo,
  type Store,
  type StoreStatus,
  type WatchBatch,
  type WatchOptions,
  type WriteResult,
} from "../../store.js";
import type { EtcdTlsOptions } from "./etcd-client.js";
import { EtcdConnection } from "./etcd-connection.js";
import { EtcdKeySpace, revisionOf } from "./etcd-convert.js";
import { errorMessage } from "./etcd-errors.js";
import { EtcdLeases } from "./etcd-lease.js";
import { writeEtcdSnapshot } from "./etcd-snapshot-save.js";
import { TxnBatch } from "./etcd-txn-batch.js";
import { EtcdWatcher, type WatcherSupport } from "./etcd-watcher.js";

export type { EtcdTlsOptions } from "./etcd-client.js";

/** Options for {@link EtcdStore.open}. */
export interface EtcdStoreOptions {
  /** etcd client URLs or host:port pairs, e.g. `http://127.0.0.1:2379`. */
  readonly endpoints: readonly string[];
  /** Every key is stored under this prefix and returned without it ("" by default). */
  readonly keyPrefix?: string;
  readonly tls?: EtcdTlsOptions;
  /** How long one connectivity check in {@link EtcdStore.open} may take, 5 s by default. */
  readonly dialTimeoutMs?: number;
  /** Deadline of every request to etcd, 30 s by default; past it the call fails as unavailable. */
  readonly requestTimeoutMs?: number;
  readonly logger?: Logger;
  /** Stops {@link EtcdStore.open} from retrying an unreachable etcd. */
  readonly signal?: AbortSignal;
}

/**
 * A {@link Store} on a real etcd v3 server. Construct with {@link EtcdStore.open},
 * which waits for etcd to answer; every later call that cannot reach etcd
 * rejects with {@link StoreUnavailableError} instead of throwing elsewhere.
 */
export class EtcdStore implements Store {
  private readonly conn: EtcdConnection;
  private readonly keys: EtcdKeySpace;
  private readonly leases: EtcdLeases;
  private readonly log: Logger;
  private readonly watchers = new Set<EtcdWatcher>();
  /** Revision reads of watches starting "now" that are still in flight. */
  private readonly pins = new Set<Promise<void>>();

  /** Creates the client without contacting etcd; prefer {@link EtcdStore.open}. */
  constructor(opts: EtcdStoreOptions) {
    if (opts.endpoints.length === 0) throw new StoreOpenError("etcd store needs at least one endpoint");
    this.keys = new EtcdKeySpace(opts.keyPrefix ?? "");
    this.log = (opts.logger ?? silentLogger).with({ component: "store", backend: "etcd" });
    this.conn = new EtcdConnection({
      endpoints: opts.endpoints,
      tls: opts.tls,
      dialTimeoutMs: opts.dialTimeoutMs ?? 5_000,
      requestTimeoutMs: opts.requestTimeoutMs ?? 30_000,
      probeKey: this.keys.fullKey("\0"),
    });
    this.leases = new EtcdLeases(this.conn, () => this.writeBarrier());
  }

  /**
   * Opens a store once etcd answers. While it does not, logs
   * `msg="etcd unreachable, retrying"` and retries with backoff (250 ms
   * doubling to 10 s) until `opts.signal` aborts, then rejects with
   * {@link StoreUnavailableError}.
   */
  static async open(opts: EtcdStoreOptions): Promise<EtcdStore> {
    const store = new EtcdStore(opts);
    const endpoint = store.conn.endpoints;
    const backoff = new Backoff(250, 10_000);
    for (;;) {
      try {
        await store.conn.ping();
        store.log.info("etcd connected", { endpoint, keyPrefix: store.keys.prefix });
        return store;
      } catch (err) {
        const delay = backoff.next();
        const giveUp = () => {
          void store.close();
          return new StoreUnavailableError(
            `etcd at ${endpoint} is unreachable (${errorMessage(err)}); check that etcd is running and listening there, and that the TLS settings match`,
            err,
          );
        };
        if (opts.signal?.aborted) throw giveUp();
        store.log.warn("etcd unreachable, retrying", { endpoint, err: errorMessage(err), retryIn: `${delay / 1000}s` });
        try {
          await sleep(delay, opts.signal);
        } catch {
          throw giveUp();
        }
      }
    }
  }

  private checkSize(key: string, value: Uint8Array): void {
    const size = Buffer.byteLength(key, "utf8") + value.byteLength;
    if (size > MAX_VALUE_BYTES) throw new ValueTooLargeError(key, size, MAX_VALUE_BYTES);
  }

  // ---- reads --------------------------------------------------------------

  async get(key: string, opts: GetOptions = {}): Promise<GetResult> {
    const revision = opts.revision ?? 0;
    const res = await this.conn.call(
      "get",
      () => this.conn.client.kv.range({ key: this.keys.fullKey(key), revision }, this.conn.deadline()),
      { key, revision },
    );
    const kv = res.kvs[0];
    return kv ? { kv: this.keys.toKeyValue(kv), revision: revisionOf(res.header) } : { revision: revisionOf(res.header) };
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListResult> {
    const range = this.keys.range(prefix);
    let key = range.key;
    if (opts.startKey !== undefined) {
      const start = this.keys.fullKey(opts.startKey);
      // A start before the prefix would widen the range; clamp it to the prefix.
      if (Buffer.compare(start, key) > 0) key = start;
    }
    const revision = opts.revision ?? 0;
    const req: IRangeRequest = { key, range_end: range.end, revision, limit: opts.limit ?? 0 };
    const res = await this.conn.call("list", () => this.conn.client.kv.range(req, this.conn.deadline()), { revision });
    return {
      kvs: res.kvs.map((kv) => this.keys.toKeyValue(kv)),
      more: res.more,
      count: Number(res.count),
      revision: revision > 0 ? revision : revisionOf(res.header),
    };
  }

  async count(prefix: string): Promise<{ count: number; revision: number }> {
    const { key, end } = this.keys.range(prefix);
    const res = await this.conn.call("count", () =>
      this.conn.client.kv.range({ key, range_end: end, count_only: true }, this.conn.deadline()),
    );
    return { count: Number(res.count), revision: revisionOf(res.header) };
  }

  currentRevision(): Promise<number> {
    return this.conn.currentRevision();
  }

  // ---- writes -------------------------------------------------------------

  async create(key: string, value: Uint8Array, opts: PutOptions = {}): Promise<WriteResult> {
    this.checkSize(key, value);
    const k = this.keys.fullKey(key);
    const lease = opts.lease ?? 0;
    await this.writeBarrier();
    const res = await this.conn.call(
      "create",
      () =>
        this.conn.client.kv.txn(
          {
            compare: [{ key: k, target: CompareTarget.Create, result: CompareResult.Equal, create_revision: 0 }],
            success: [{ request_put: { key: k, value: Buffer.from(value), lease } }],
            failure: [{ request_range: { key: k } }],
          },
          this.conn.deadline(),
        ),
      { key, size: k.length + value.byteLength, lease },
    );
    const revision = revisionOf(res.header);
    if (!res.succeeded) {
      const cur = res.responses[0]?.response_range?.kvs[0];
      throw new KeyExistsError(key, cur ? this.keys.toKeyValue(cur) : undefined);
    }
    return {
      kv: { key, value, createRevision: revision, modRevision: revision, version: 1, lease },
      revision,
    };
  }

  async update(key: string, value: Uint8Array, expectedRevision: number, opts: PutOptions = {}): Promise<WriteResult> {
    this.checkSize(key, value);
    const k = this.keys.fullKey(key);
    const lease = opts.lease ?? 0;
    await this.writeBarrier();
    const res = await this.conn.call(
      "update",
      () =>
        this.conn.client.kv.txn(
          {
            // A missing key has mod_revision 0 in etcd, so also require that
            // it exists: update never creates.
            compare: [
              { key: k, target: CompareTarget.Create, result: CompareResult.Greater, create_revision: 0 },
              { key: k, target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: expectedRevision },
            ],
            success: [{ request_put: { key: k, value: Buffer.from(value), lease, prev_kv: true } }],
            failure: [{ request_range: { key: k } }],
          },
          this.conn.deadline(),
        ),
      { key, size: k.length + value.byteLength, lease },
    );
    const revision = revisionOf(res.header);
    if (!res.succeeded) {
      const cur = res.responses[0]?.response_range?.kvs[0];
      if (!cur) throw new KeyNotFoundError(key);
      throw new RevisionMismatchError(key, expectedRevision, this.keys.toKeyValue(cur));
    }
    const prev = res.responses[0]?.response_put?.prev_kv;
    return {
      kv: {
        key,
        value,
        createRevision: prev ? Number(prev.create_revision) : revision,
        modRevision: revision,
        version: prev ? Number(prev.version) + 1 : 1,
        lease,
      },
      revision,
    };
  }

  async delete(key: string, expectedRevision?: number): Promise<DeleteResult> {
    const k = this.keys.fullKey(key);
    const compare =
      expectedRevision === undefined
        ? [{ key: k, target: CompareTarget.Create, result: CompareResult.Greater, create_revision: 0 }]
        : [
            { key: k, target: CompareTarget.Create, result: CompareResult.Greater, create_revision: 0 },
            { key: k, target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: expectedRevision },
          ];
    await this.writeBarrier();
    const res = await this.conn.call(
      "delete",
      () =>
        this.conn.client.kv.txn(
          {
            compare,
            success: [{ request_delete_range: { key: k, prev_kv: true } }],
            failure: [{ request_range: { key: k } }],
          },
          this.conn.deadline(),
        ),
      { key },
    );
    const revision = revisionOf(res.header);
    if (!res.succeeded) {
      const cur = res.responses[0]?.response_range?.kvs[0];
      if (!cur) throw new KeyNotFoundError(key);
      throw new RevisionMismatchError(key, expectedRevision ?? 0, this.keys.toKeyValue(cur));
    }
    const prev = res.responses[0]?.response_delete_range?.prev_kvs[0];
    // The compare guarantees the key existed, so prev_kvs has it.
    if (!prev) throw new KeyNotFoundError(key);
    return { prevKv: this.keys.toKeyValue(prev), revision };
  }

  // ---- leases -------------------------------------------------------------

  grantLease(ttlSeconds: number): Promise<number> {
    return this.leases.grant(ttlSeconds);
  }

  keepAliveLease(id: number): Promise<void> {
    return this.leases.keepAlive(id);
  }

  revokeLease(id: number): Promise<void> {
    return this.leases.revoke(id);
  }

  // ---- watch --------------------------------------------------------------

  /**
   * Reads the revision a watch "from now" starts after. Until it is known,
   * writes through this store wait (see {@link writeBarrier}), so a write
   * issued after `watch()` returned is always seen by that watch.
   */
  private pinNow(): Promise<number> {
    const pin = this.currentRevision();
    const settled = pin.then(
      () => {},
      () => {},
    );
    this.pins.add(settled);
    void settled.then(() => this.pins.delete(settled));
    return pin;
  }

  /** Waits for watches being pinned to "now" (usually none, else one read). */
  private async writeBarrier(): Promise<void> {
    if (this.pins.size > 0) await Promise.all([...this.pins]);
  }

  watch(prefix: string, opts: WatchOptions = {}): AsyncIterable<WatchBatch> {
    const { key, end } = this.keys.range(prefix);
    const watcher = new EtcdWatcher({
      key,
      end,
      startRevision: opts.startRevision ?? 0,
      now: opts.startRevision ? undefined : this.pinNow(),
      progressIntervalMs: opts.progressIntervalMs ?? 0,
      signal: opts.signal,
      support: this.watcherSupport(),
    });
    if (this.conn.closed) {
      watcher.fail(new StoreUnavailableError(`etcd store for ${this.conn.endpoints} is closed (watch)`));
    } else {
      this.watchers.add(watcher);
      watcher.start();
    }
    return watcher.queue;
  }

  /** What a watcher needs from its store. */
  private watcherSupport(): WatcherSupport {
    return {
      openStream: () => this.conn.client.watchClient.watch(),
      toKeyValue: (kv) => this.keys.toKeyValue(kv),
      translate: (err, op, ctx) => this.conn.translate(err, op, ctx),
      forget: (w) => this.watchers.delete(w),
      log: this.log,
      endpoints: this.conn.endpoints,
      requestTimeoutMs: this.conn.requestTimeoutMs,
    };
  }

  // ---- history ------------------------------------------------------------

  compact(revision: number): Promise<void> {
    return this.conn.compact(revision);
  }

  async status(): Promise<StoreStatus> {
    const st = await this.conn.call("status", () => this.conn.client.maintenance.status(this.conn.deadline()));
    const keys = await this.count("");
    const compactRevision = await this.conn.call("status", () => this.conn.compactRevision());
    return {
      backend: "etcd",
      revision: Math.max(revisionOf(st.header), keys.revision),
      compactRevision,
      dbSizeBytes: Number(st.dbSize),
      keys: keys.count,
    };
  }

  // ---- snapshots ----------------------------------------------------------

  /**
   * Streams etcd's own snapshot (the whole etcd keyspace, not only
   * `keyPrefix`) to `path + ".part"`, checks the sha256 etcd appends, fsyncs
   * and renames it into place. `revision` and `keys` are read just before the
   * stream starts, so concurrent writes may make the file slightly newer.
   */
  async saveSnapshot(path: string): Promise<SnapshotInfo> {
    const revision = await this.currentRevision();
    const keys = (await this.count("")).count;
    const size = await writeEtcdSnapshot(this.conn, path);
    this.log.info("etcd snapshot saved", { path, revision, keys, bytes: size });
    return { path, format: "etcd", revision, keys, sizeBytes: size };
  }

  /**
   * Replaces every key under `keyPrefix` with `entries`: puts each entry
   * (fresh leases, one per distinct TTL), deletes keys not among them, then
   * compacts at the final revision and fails this store's open watchers with
   * {@link CompactedError}. etcd limits a txn to 128 operations, so this runs
   * as several txns and is not atomic; watchers of other clients see the
   * individual writes before the compaction.
   */
  async restore(entries: AsyncIterable<SnapshotEntry>): Promise<{ revision: number; keys: number }> {
    const keep = new Set<string>();
    const leases = new Map<number, number>();
    const batch = new TxnBatch(async (success) => {
      await this.writeBarrier();
      const res = await this.conn.call("restore", () => this.conn.client.kv.txn({ success }, this.conn.deadline()));
      return revisionOf(res.header);
    });
    for await (const e of entries) {
      this.checkSize(e.key, e.value);
      let lease = 0;
      if (e.leaseTtl && e.leaseTtl > 0) {
        lease = leases.get(e.leaseTtl) ?? (await this.grantLease(e.leaseTtl));
        leases.set(e.leaseTtl, lease);
      }
      keep.add(e.key);
      const k = this.keys.fullKey(e.key);
      await batch.add(e.key, { request_put: { key: k, value: Buffer.from(e.value), lease } }, k.length + e.value.byteLength);
    }
    await batch.flush();
    const { key: from, end } = this.keys.range("");
    let start = from;
    for (;;) {
      const page = await this.conn.call("restore", () =>
        this.conn.client.kv.range({ key: start, range_end: end, keys_only: true, limit: 1000 }, this.conn.deadline()),
      );
      for (const kv of page.kvs) {
        const key = this.keys.stripKey(kv.key);
        if (!keep.has(key)) await batch.add(key, { request_delete_range: { key: kv.key } }, kv.key.length);
      }
      if (!page.more || page.kvs.length === 0) break;
      start = Buffer.concat([page.kvs[page.kvs.length - 1]!.key, Buffer.from([0])]);
    }
    await batch.flush();
    let revision = batch.revision;
    if (revision === 0) {
      // Nothing changed, yet the revision must move past everything handed
      // out before: write and remove a marker.
      const marker = this.keys.fullKey("\0skiff-restore");
      await this.conn.call("restore", () => this.conn.client.kv.put({ key: marker, value: Buffer.alloc(0) }, this.conn.deadline()));
      const res = await this.conn.call("restore", () => this.conn.client.kv.deleteRange({ key: marker }, this.conn.deadline()));
      revision = revisionOf(res.header);
    }
    await this.compact(revision);
    for (const w of [...this.watchers]) w.fail(new CompactedError(w.resumeRevision, revision));
    this.log.info("etcd keyspace restored", { keyPrefix: this.keys.prefix, revision, keys: keep.size });
    return { revision, keys: keep.size };
  }

  async close(): Promise<void> {
    if (this.conn.closed) return;
    for (const w of [...this.watchers]) w.stop();
    this.watchers.clear();
    this.conn.close();
  }
}
