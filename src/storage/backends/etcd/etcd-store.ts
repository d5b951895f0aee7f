/**
 * The `etcd` backend of {@link Store}: a real etcd v3 server (Debian's 3.4)
 * spoken to through the `etcd3` package's raw gRPC clients, so every call maps
 * onto one etcd RPC with etcd's own semantics (as kine's etcd mode does).
 *
 * All keys live under `keyPrefix` in etcd and are returned without it. Lease
 * ids are chosen by us from a 52-bit range, because etcd's own ids use 63 bits
 * and would not survive the trip through a JavaScript number.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import {
  ClientClosedError,
  CompareResult,
  CompareTarget,
  Etcd3,
  EtcdLeaseInvalidError,
  GRPCCancelledError,
  GRPCDeadlineExceededError,
  GRPCUnavailableError,
  type IDuplexStream,
  type IEvent,
  type IKeyValue,
  type IOptions,
  type IRangeRequest,
  type IRequestOp,
  type IResponseHeader,
  type ISnapshotResponse,
  type IWatchRequest,
  type IWatchResponse,
} from "etcd3";
import { Backoff, sleep } from "../../../machinery/backoff.js";
import { type Logger, silentLogger } from "../../../machinery/log.js";
import {
  CompactedError,
  FutureRevisionError,
  KeyExistsError,
  KeyNotFoundError,
  LeaseNotFoundError,
  RevisionMismatchError,
  StorageError,
  StoreOpenError,
  StoreUnavailableError,
  ValueTooLargeError,
} from "../../errors.js";
import {
  type DeleteResult,
  type GetOptions,
  type GetResult,
  type KeyValue,
  type ListOptions,
  type ListResult,
  MAX_VALUE_BYTES,
  type PutOptions,
  type SnapshotEntry,
  type SnapshotInfo,
  type Store,
  type StoreStatus,
  type WatchBatch,
  type WatchEvent,
  type WatchOptions,
  type WriteResult,
} from "../../store.js";
import { WatchQueue } from "../../watch-queue.js";

/** Client TLS material, as file paths. */
export interface EtcdTlsOptions {
  /** CA bundle to verify etcd's certificate; the system roots when absent. */
  readonly ca?: string;
  /** Client certificate (with `key`) for etcd's `--client-cert-auth`. */
  readonly cert?: string;
  readonly key?: string;
}

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

/** etcd's default `--max-txn-ops`: the most operations one txn may carry. */
const MAX_TXN_OPS = 128;
/** Bytes of keys and values per restore txn, well under etcd's 1.5 MiB request limit. */
const MAX_TXN_BYTES = 1024 * 1024;
/** Lease ids we choose stay below 2^52, exact as JavaScript numbers. */
const LEASE_ID_BITS = 52n;

type FaultPolicy = NonNullable<NonNullable<IOptions["faultHandling"]>["global"]>;
type WatchStream = IDuplexStream<IWatchRequest, IWatchResponse>;

/**
 * etcd3's default policies retry failed calls and open a circuit breaker for
 * 5 s after three failures. Retrying a txn whose answer was lost can apply it
 * twice, and the breaker would keep failing calls after etcd is back, so
 * calls go straight through and callers see each failure once.
 */
function passthroughPolicy(): FaultPolicy {
  const noEvent = () => ({ dispose() {} });
  const signal = new AbortController().signal;
  const policy = {
    onSuccess: noEvent,
    onFailure: noEvent,
    execute: <T>(fn: (ctx: { signal: AbortSignal }) => PromiseLike<T> | T): Promise<T> =>
      Promise.resolve().then(() => fn({ signal })),
  };
  return policy as unknown as FaultPolicy;
}

/** The end of etcd's byte range for keys starting with `prefix` (etcd's GetPrefixRangeEnd). */
function byteRangeEnd(prefix: Buffer): Buffer {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i]! < 0xff) {
      const end = Buffer.from(prefix.subarray(0, i + 1));
      end[i]! += 1;
      return end;
    }
  }
  // "\0" as range_end means "every key from `key` on".
  return Buffer.from([0]);
}

function revisionOf(header: IResponseHeader | null | undefined): number {
  return header ? Number(header.revision) : 0;
}

function bytes(b: Buffer): Uint8Array {
  // A plain Uint8Array view, so values compare equal to what callers stored.
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isCompactedError(err: unknown): boolean {
  return /required revision has been compacted/.test(errorMessage(err));
}

function isFutureRevisionError(err: unknown): boolean {
  return /required revision is a future revision/.test(errorMessage(err));
}

/** Failures that mean "etcd cannot be reached or cannot answer now; try again". */
function isUnavailable(err: unknown): boolean {
  if (
    err instanceof GRPCUnavailableError ||
    err instanceof GRPCDeadlineExceededError ||
    err instanceof GRPCCancelledError ||
    err instanceof ClientClosedError
  ) {
    return true;
  }
  return /etcdserver: (no leader|leader changed|request timed out|too many requests|server stopped|not capable)|No connection established|Connection dropped/.test(
    errorMessage(err),
  );
}

/** Context for turning an etcd failure into a sentinel error. */
interface ErrorContext {
  readonly key?: string;
  readonly size?: number;
  readonly revision?: number;
  readonly lease?: number;
}

/**
 * A {@link Store} on a real etcd v3 server. Construct with {@link EtcdStore.open},
 * which waits for etcd to answer; every later call that cannot reach etcd
 * rejects with {@link StoreUnavailableError} instead of throwing elsewhere.
 */
export class EtcdStore implements Store {
  private readonly client: Etcd3;
  private readonly keyPrefix: string;
  private readonly prefixBytes: Buffer;
  private readonly endpointsText: string;
  private readonly log: Logger;
  private readonly requestTimeoutMs: number;
  private readonly dialTimeoutMs: number;
  private readonly watchers = new Set<EtcdWatcher>();
  /** Revision reads of watches starting "now" that are still in flight. */
  private readonly pins = new Set<Promise<void>>();
  /** Highest compaction point seen; etcd has no RPC that reports it directly. */
  private knownCompactRevision = 0;
  private closed = false;

  /** Creates the client without contacting etcd; prefer {@link EtcdStore.open}. */
  constructor(opts: EtcdStoreOptions) {
    if (opts.endpoints.length === 0) throw new StoreOpenError("etcd store needs at least one endpoint");
    this.keyPrefix = opts.keyPrefix ?? "";
    this.prefixBytes = Buffer.from(this.keyPrefix, "utf8");
    this.endpointsText = opts.endpoints.join(",");
    this.log = (opts.logger ?? silentLogger).with({ component: "store", backend: "etcd" });
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.dialTimeoutMs = opts.dialTimeoutMs ?? 5_000;
    const policy = passthroughPolicy();
    this.client = new Etcd3({
      hosts: [...opts.endpoints],
      credentials: opts.tls ? readTls(opts.tls) : undefined,
      faultHandling: { host: () => policy, global: policy },
      grpcOptions: {
        // Watch responses and large lists can exceed gRPC's 4 MiB default.
        "grpc.max_receive_message_length": -1,
        "grpc.max_send_message_length": -1,
        // Notice a restarted etcd within seconds rather than gRPC's minutes.
        "grpc.initial_reconnect_backoff_ms": 250,
        "grpc.max_reconnect_backoff_ms": 2000,
        // Detect a silently dead connection; etcd allows pings every 5 s.
        "grpc.keepalive_time_ms": 30_000,
        "grpc.keepalive_timeout_ms": 10_000,
      },
    });
  }

  /**
   * Opens a store once etcd answers. While it does not, logs
   * `msg="etcd unreachable, retrying"` and retries with backoff (250 ms
   * doubling to 10 s) until `opts.signal` aborts, then rejects with
   * {@link StoreUnavailableError}.
   */
  static async open(opts: EtcdStoreOptions): Promise<EtcdStore> {
    const store = new EtcdStore(opts);
    const backoff = new Backoff(250, 10_000);
    for (;;) {
      try {
        await store.ping();
        store.log.info("etcd connected", { endpoint: store.endpointsText, keyPrefix: store.keyPrefix });
        return store;
      } catch (err) {
        const delay = backoff.next();
        const giveUp = () => {
          void store.close();
          return new StoreUnavailableError(
            `etcd at ${store.endpointsText} is unreachable (${errorMessage(err)}); check that etcd is running and listening there, and that the TLS settings match`,
            err,
          );
        };
        if (opts.signal?.aborted) throw giveUp();
        store.log.warn("etcd unreachable, retrying", {
          endpoint: store.endpointsText,
          err: errorMessage(err),
          retryIn: `${delay / 1000}s`,
        });
        try {
          await sleep(delay, opts.signal);
        } catch {
          throw giveUp();
        }
      }
    }
  }

  /** One linearizable read with the dial timeout: proves etcd answers and has a leader. */
  private async ping(): Promise<void> {
    await this.client.kv.range({ key: this.fullKey("\0"), count_only: true }, { deadline: Date.now() + this.dialTimeoutMs });
  }

  // ---- keys ---------------------------------------------------------------

  private fullKey(key: string): Buffer {
    return Buffer.from(this.keyPrefix + key, "utf8");
  }

  private stripKey(full: Buffer): string {
    return full.subarray(this.prefixBytes.length).toString("utf8");
  }

  private toKeyValue(kv: IKeyValue): KeyValue {
    return {
      key: this.stripKey(kv.key),
      value: bytes(kv.value),
      createRevision: Number(kv.create_revision),
      modRevision: Number(kv.mod_revision),
      version: Number(kv.version),
      lease: Number(kv.lease),
    };
  }

  /** [key, range_end) covering every stored key that starts with `prefix`. */
  private prefixRange(prefix: string): { key: Buffer; end: Buffer } {
    const key = this.fullKey(prefix);
    if (key.length === 0) return { key: Buffer.from([0]), end: Buffer.from([0]) };
    return { key, end: byteRangeEnd(key) };
  }

  private checkSize(key: string, value: Uint8Array): void {
    const size = Buffer.byteLength(key, "utf8") + value.byteLength;
    if (size > MAX_VALUE_BYTES) throw new ValueTooLargeError(key, size, MAX_VALUE_BYTES);
  }

  // ---- calls and errors ---------------------------------------------------

  private deadline(): { deadline: number } {
    return { deadline: Date.now() + this.requestTimeoutMs };
  }

  /** Runs one etcd call, turning its failure into the matching sentinel error. */
  private async call<T>(op: string, fn: () => Promise<T>, ctx: ErrorContext = {}): Promise<T> {
    if (this.closed) throw new StoreUnavailableError(`etcd store for ${this.endpointsText} is closed (${op})`);
    try {
      return await fn();
    } catch (err) {
      throw await this.translate(err, op, ctx);
    }
  }

  private async translate(err: unknown, op: string, ctx: ErrorContext): Promise<unknown> {
    if (err instanceof StorageError) return err;
    const msg = errorMessage(err);
    if (isCompactedError(err)) {
      return new CompactedError(ctx.revision ?? 0, await this.compactRevisionNow().catch(() => this.knownCompactRevision));
    }
    if (isFutureRevisionError(err)) {
      return new FutureRevisionError(ctx.revision ?? 0, await this.currentRevision().catch(() => 0));
    }
    if (err instanceof EtcdLeaseInvalidError || /requested lease not found/.test(msg)) {
      return new LeaseNotFoundError(ctx.lease ?? 0);
    }
    if (/request is too large|larger than max/.test(msg)) {
      return new ValueTooLargeError(ctx.key ?? "", ctx.size ?? 0, MAX_VALUE_BYTES);
    }
    if (/database space exceeded/.test(msg)) {
      return new StoreUnavailableError(
        `etcd at ${this.endpointsText} refuses writes: its database is full (NOSPACE alarm); compact, defragment and disarm the alarm (${op})`,
        err,
      );
    }
    if (isUnavailable(err)) {
      return new StoreUnavailableError(
        `etcd at ${this.endpointsText} is unreachable (${op}: ${msg}); check that etcd is running and reachable`,
        err,
      );
    }
    return err;
  }

  // ---- reads --------------------------------------------------------------

  async get(key: string, opts: GetOptions = {}): Promise<GetResult> {
    const revision = opts.revision ?? 0;
    const res = await this.call("get", () => this.client.kv.range({ key: this.fullKey(key), revision }, this.deadline()), {
      key,
      revision,
    });
    const kv = res.kvs[0];
    return kv ? { kv: this.toKeyValue(kv), revision: revisionOf(res.header) } : { revision: revisionOf(res.header) };
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListResult> {
    const range = this.prefixRange(prefix);
    let key = range.key;
    if (opts.startKey !== undefined) {
      const start = this.fullKey(opts.startKey);
      // A start before the prefix would widen the range; clamp it to the prefix.
      if (Buffer.compare(start, key) > 0) key = start;
    }
    const revision = opts.revision ?? 0;
    const req: IRangeRequest = { key, range_end: range.end, revision, limit: opts.limit ?? 0 };
    const res = await this.call("list", () => this.client.kv.range(req, this.deadline()), { revision });
    return {
      kvs: res.kvs.map((kv) => this.toKeyValue(kv)),
      more: res.more,
      count: Number(res.count),
      revision: revision > 0 ? revision : revisionOf(res.header),
    };
  }

  async count(prefix: string): Promise<{ count: number; revision: number }> {
    const { key, end } = this.prefixRange(prefix);
    const res = await this.call("count", () =>
      this.client.kv.range({ key, range_end: end, count_only: true }, this.deadline()),
    );
    return { count: Number(res.count), revision: revisionOf(res.header) };
  }

  async currentRevision(): Promise<number> {
    // Any linearizable read reports the store revision in its header.
    const res = await this.call("currentRevision", () =>
      this.client.kv.range({ key: this.fullKey("\0"), count_only: true }, this.deadline()),
    );
    return revisionOf(res.header);
  }

  // ---- writes -------------------------------------------------------------

  async create(key: string, value: Uint8Array, opts: PutOptions = {}): Promise<WriteResult> {
    this.checkSize(key, value);
    const k = this.fullKey(key);
    const lease = opts.lease ?? 0;
    await this.writeBarrier();
    const res = await this.call(
      "create",
      () =>
        this.client.kv.txn(
          {
            compare: [{ key: k, target: CompareTarget.Create, result: CompareResult.Equal, create_revision: 0 }],
            success: [{ request_put: { key: k, value: Buffer.from(value), lease } }],
            failure: [{ request_range: { key: k } }],
          },
          this.deadline(),
        ),
      { key, size: k.length + value.byteLength, lease },
    );
    const revision = revisionOf(res.header);
    if (!res.succeeded) {
      const cur = res.responses[0]?.response_range?.kvs[0];
      throw new KeyExistsError(key, cur ? this.toKeyValue(cur) : undefined);
    }
    return {
      kv: { key, value, createRevision: revision, modRevision: revision, version: 1, lease },
      revision,
    };
  }

  async update(key: string, value: Uint8Array, expectedRevision: number, opts: PutOptions = {}): Promise<WriteResult> {
    this.checkSize(key, value);
    const k = this.fullKey(key);
    const lease = opts.lease ?? 0;
    await this.writeBarrier();
    const res = await this.call(
      "update",
      () =>
        this.client.kv.txn(
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
          this.deadline(),
        ),
      { key, size: k.length + value.byteLength, lease },
    );
    const revision = revisionOf(res.header);
    if (!res.succeeded) {
      const cur = res.responses[0]?.response_range?.kvs[0];
      if (!cur) throw new KeyNotFoundError(key);
      throw new RevisionMismatchError(key, expectedRevision, this.toKeyValue(cur));
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
    const k = this.fullKey(key);
    const compare =
      expectedRevision === undefined
        ? [{ key: k, target: CompareTarget.Create, result: CompareResult.Greater, create_revision: 0 }]
        : [
            { key: k, target: CompareTarget.Create, result: CompareResult.Greater, create_revision: 0 },
            { key: k, target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: expectedRevision },
          ];
    await this.writeBarrier();
    const res = await this.call(
      "delete",
      () =>
        this.client.kv.txn(
          {
            compare,
            success: [{ request_delete_range: { key: k, prev_kv: true } }],
            failure: [{ request_range: { key: k } }],
          },
          this.deadline(),
        ),
      { key },
    );
    const revision = revisionOf(res.header);
    if (!res.succeeded) {
      const cur = res.responses[0]?.response_range?.kvs[0];
      if (!cur) throw new KeyNotFoundError(key);
      throw new RevisionMismatchError(key, expectedRevision ?? 0, this.toKeyValue(cur));
    }
    const prev = res.responses[0]?.response_delete_range?.prev_kvs[0];
    // The compare guarantees the key existed, so prev_kvs has it.
    if (!prev) throw new KeyNotFoundError(key);
    return { prevKv: this.toKeyValue(prev), revision };
  }

  // ---- leases -------------------------------------------------------------

  async grantLease(ttlSeconds: number): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const id = Number(randomBytes(8).readBigUInt64BE() & ((1n << LEASE_ID_BITS) - 1n));
      if (id === 0) continue;
      try {
        const res = await this.call("grantLease", () =>
          this.client.leaseClient.leaseGrant({ TTL: Math.max(1, Math.ceil(ttlSeconds)), ID: id }, this.deadline()),
        );
        return Number(res.ID);
      } catch (err) {
        // A random 52-bit id colliding is rare; pick another.
        if (/lease already exists/.test(errorMessage(err)) && attempt < 5) continue;
        throw err;
      }
    }
  }

  async keepAliveLease(id: number): Promise<void> {
    const stream = await this.call("keepAliveLease", () => this.client.leaseClient.leaseKeepAlive());
    const ttl = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new GRPCDeadlineExceededError(`no keep-alive answer within ${this.requestTimeoutMs} ms`)),
        this.requestTimeoutMs,
      );
      stream.on("data", (res) => {
        clearTimeout(timer);
        resolve(Number(res.TTL));
      });
      stream.on("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      stream.on("end", () => {
        clearTimeout(timer);
        reject(new GRPCUnavailableError("lease keep-alive stream ended"));
      });
      stream.write({ ID: id });
    })
      .catch(async (err: unknown) => {
        throw await this.translate(err, "keepAliveLease", { lease: id });
      })
      .finally(() => endStream(stream));
    // etcd answers TTL 0 for a lease it does not know (expired or revoked).
    if (ttl <= 0) throw new LeaseNotFoundError(id);
  }

  async revokeLease(id: number): Promise<void> {
    await this.writeBarrier();
    await this.call("revokeLease", () => this.client.leaseClient.leaseRevoke({ ID: id }, this.deadline()), { lease: id });
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
    const { key, end } = this.prefixRange(prefix);
    const watcher = new EtcdWatcher({
      key,
      end,
      startRevision: opts.startRevision ?? 0,
      now: opts.startRevision ? undefined : this.pinNow(),
      progressIntervalMs: opts.progressIntervalMs ?? 0,
      signal: opts.signal,
      support: this.watcherSupport(),
    });
    if (this.closed) {
      watcher.fail(new StoreUnavailableError(`etcd store for ${this.endpointsText} is closed (watch)`));
    } else {
      this.watchers.add(watcher);
      watcher.start();
    }
    return watcher.queue;
  }

  /** What a watcher needs from its store. */
  private watcherSupport(): WatcherSupport {
    return {
      openStream: () => this.client.watchClient.watch(),
      toKeyValue: (kv) => this.toKeyValue(kv),
      translate: (err, op, ctx) => this.translate(err, op, ctx),
      forget: (w) => this.watchers.delete(w),
      log: this.log,
      endpoints: this.endpointsText,
      requestTimeoutMs: this.requestTimeoutMs,
    };
  }

  // ---- history ------------------------------------------------------------

  async compact(revision: number): Promise<void> {
    const done = await this.call(
      "compact",
      async () => {
        try {
          // physical: return only once the old revisions are really gone.
          await this.client.kv.compact({ revision, physical: true }, { deadline: Date.now() + 10 * this.requestTimeoutMs });
          return true;
        } catch (err) {
          // Compacting at or below the current compaction point is a no-op.
          if (isCompactedError(err)) return false;
          throw err;
        }
      },
      { revision },
    );
    if (done) this.knownCompactRevision = Math.max(this.knownCompactRevision, revision);
  }

  /**
   * The current compaction point. etcd reports it only in a cancelled watch:
   * a read at revision 1 tells whether anything is compacted, and if so a
   * watch from revision 1 is refused with the exact compact revision.
   */
  private async compactRevisionNow(): Promise<number> {
    try {
      await this.client.kv.range({ key: this.fullKey("\0"), revision: 1, count_only: true }, this.deadline());
      return this.knownCompactRevision;
    } catch (err) {
      if (!isCompactedError(err)) throw err;
    }
    const stream = await this.client.watchClient.watch();
    const rev = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new GRPCDeadlineExceededError("no answer to the compaction probe")),
        this.requestTimeoutMs,
      );
      stream.on("data", (res) => {
        if (res.canceled) {
          clearTimeout(timer);
          resolve(Number(res.compact_revision));
        }
      });
      stream.on("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      stream.write({ create_request: { key: this.fullKey("\0"), start_revision: 1 } });
    }).finally(() => endStream(stream));
    this.knownCompactRevision = Math.max(this.knownCompactRevision, rev);
    return this.knownCompactRevision;
  }

  async status(): Promise<StoreStatus> {
    const st = await this.call("status", () => this.client.maintenance.status(this.deadline()));
    const keys = await this.count("");
    const compactRevision = await this.call("status", () => this.compactRevisionNow());
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
    const part = `${path}.part`;
    const fh = await open(part, "w", 0o600);
    let ok = false;
    try {
      const stream = await this.call("saveSnapshot", () => this.client.maintenance.snapshot());
      const hash = createHash("sha256");
      let tail = Buffer.alloc(0);
      let size = 0;
      try {
        // gRPC's stream is a Node Readable: iterating it applies backpressure,
        // so a slow disk does not buffer the whole database in memory.
        for await (const res of stream as unknown as AsyncIterable<ISnapshotResponse>) {
          const blob = res.blob;
          size += blob.length;
          // Hash everything but the last 32 bytes seen so far: etcd ends the
          // stream with the sha256 of all bytes before it.
          const all = tail.length > 0 ? Buffer.concat([tail, blob]) : blob;
          const cut = Math.max(0, all.length - 32);
          hash.update(all.subarray(0, cut));
          tail = Buffer.from(all.subarray(cut));
          await fh.write(blob);
        }
      } catch (err) {
        throw await this.translate(err, "saveSnapshot", {});
      }
      if (tail.length !== 32 || !hash.digest().equals(tail)) {
        throw new StorageError(`etcd snapshot from ${this.endpointsText} failed its sha256 check (${size} bytes received)`);
      }
      await fh.sync();
      await fh.close();
      await rename(part, path);
      await fsyncDir(dirname(path));
      ok = true;
      this.log.info("etcd snapshot saved", { path, revision, keys, bytes: size });
      return { path, format: "etcd", revision, keys, sizeBytes: size };
    } finally {
      if (!ok) {
        await fh.close().catch(() => {});
        await rm(part, { force: true });
      }
    }
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
    let ops: IRequestOp[] = [];
    let opKeys = new Set<string>();
    let opBytes = 0;
    let revision = 0;
    const flush = async () => {
      if (ops.length === 0) return;
      const success = ops;
      ops = [];
      opKeys = new Set();
      opBytes = 0;
      await this.writeBarrier();
      const res = await this.call("restore", () => this.client.kv.txn({ success }, this.deadline()));
      revision = revisionOf(res.header);
    };
    const add = async (key: string, op: IRequestOp, size: number) => {
      // etcd rejects a txn that touches one key twice, or grows too large.
      if (opKeys.has(key) || ops.length >= MAX_TXN_OPS || opBytes + size > MAX_TXN_BYTES) await flush();
      ops.push(op);
      opKeys.add(key);
      opBytes += size;
    };
    for await (const e of entries) {
      this.checkSize(e.key, e.value);
      let lease = 0;
      if (e.leaseTtl && e.leaseTtl > 0) {
        lease = leases.get(e.leaseTtl) ?? (await this.grantLease(e.leaseTtl));
        leases.set(e.leaseTtl, lease);
      }
      keep.add(e.key);
      const k = this.fullKey(e.key);
      await add(e.key, { request_put: { key: k, value: Buffer.from(e.value), lease } }, k.length + e.value.byteLength);
    }
    await flush();
    const { key: from, end } = this.prefixRange("");
    let start = from;
    for (;;) {
      const page = await this.call("restore", () =>
        this.client.kv.range({ key: start, range_end: end, keys_only: true, limit: 1000 }, this.deadline()),
      );
      for (const kv of page.kvs) {
        const key = this.stripKey(kv.key);
        if (!keep.has(key)) await add(key, { request_delete_range: { key: kv.key } }, kv.key.length);
      }
      if (!page.more || page.kvs.length === 0) break;
      start = Buffer.concat([page.kvs[page.kvs.length - 1]!.key, Buffer.from([0])]);
    }
    await flush();
    if (revision === 0) {
      // Nothing changed, yet the revision must move past everything handed
      // out before: write and remove a marker.
      const marker = this.fullKey("\0skiff-restore");
      await this.call("restore", () => this.client.kv.put({ key: marker, value: Buffer.alloc(0) }, this.deadline()));
      const res = await this.call("restore", () => this.client.kv.deleteRange({ key: marker }, this.deadline()));
      revision = revisionOf(res.header);
    }
    await this.compact(revision);
    for (const w of [...this.watchers]) w.fail(new CompactedError(w.resumeRevision, revision));
    this.log.info("etcd keyspace restored", { keyPrefix: this.keyPrefix, revision, keys: keep.size });
    return { revision, keys: keep.size };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of [...this.watchers]) w.stop();
    this.watchers.clear();
    this.client.close();
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const d = await open(dir, "r");
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

function readTls(tls: EtcdTlsOptions): NonNullable<IOptions["credentials"]> {
  const read = (what: string, path?: string): Buffer | undefined => {
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new StoreOpenError(`cannot read etcd TLS ${what} ${path}: ${errorMessage(err)}`);
    }
  };
  return {
    // gRPC falls back to the system roots when no CA is given.
    rootCertificate: read("CA", tls.ca) as Buffer,
    privateKey: read("key", tls.key),
    certChain: read("certificate", tls.cert),
  };
}

/**
 * Ends a gRPC stream without tripping etcd3's failure handler: half-closing
 * first marks it unwritable, so the CANCELLED error from `cancel()` (etcd
 * keeps a half-closed watch open) is not mistaken for a broken connection.
 */
function endStream(stream: { end(): void; cancel(): void; on(e: "error", fn: (err: Error) => void): unknown }): void {
  stream.on("error", () => {});
  try {
    stream.end();
    stream.cancel();
  } catch {
    // Already closed.
  }
}

/** What an {@link EtcdWatcher} uses of its store. */
interface WatcherSupport {
  openStream(): Promise<WatchStream>;
  toKeyValue(kv: IKeyValue): KeyValue;
  translate(err: unknown, op: string, ctx: ErrorContext): Promise<unknown>;
  forget(w: EtcdWatcher): void;
  readonly log: Logger;
  readonly endpoints: string;
  readonly requestTimeoutMs: number;
}

interface EtcdWatcherOptions {
  readonly key: Buffer;
  readonly end: Buffer;
  readonly startRevision: number;
  /** For a watch "from now": the store revision at the call. */
  readonly now?: Promise<number>;
  readonly progressIntervalMs: number;
  readonly signal?: AbortSignal;
  readonly support: WatcherSupport;
}

/**
 * A watch that survives etcd restarts. Each watcher has its own gRPC stream
 * (so a progress request speaks for this watcher alone); when it breaks, a
 * new stream resumes at the first revision not yet delivered, so nothing is
 * lost or repeated, and a compacted resume point fails with CompactedError.
 *
 * Progress: etcd 3.4.23 answers a progress request with the store revision
 * without waiting for events still queued for the watcher (etcd issue
 * #15220, fixed in 3.4.25), so an answer could overtake an event. A progress
 * answer is therefore only delivered once a second request, sent after it,
 * has been answered with no older event arriving in between, and only while
 * the watcher is idle and caught up.
 */
class EtcdWatcher {
  readonly queue: WatchQueue;
  private readonly s: WatcherSupport;
  /** First revision not yet delivered: where a new stream starts. */
  private next = 0;
  /** Highest revision a progress batch has claimed. */
  private progressDelivered = 0;
  /** Revision of the last event delivered. */
  private lastEventRevision = 0;
  /** Whether the current outage has been logged at warn level already. */
  private outageLogged = false;
  private stream?: WatchStream;
  private generation = 0;
  private watchId?: string;
  private established = false;
  private everEstablished = false;
  private establishDeadline = 0;
  private createdAt = 0;
  /** Store revision when the current stream's watch was created. */
  private createdRevision = 0;
  private lastEventAt = 0;
  private clusterId?: string;
  private progressPhase: "idle" | "asked" | "confirming" = "idle";
  private pendingProgress?: number;
  private readonly backoff = new Backoff(250, 5000);
  private reconnectTimer?: NodeJS.Timeout;
  private progressTimer?: NodeJS.Timeout;
  private createTimer?: NodeJS.Timeout;
  private done = false;

  constructor(private readonly opts: EtcdWatcherOptions) {
    this.s = opts.support;
    this.queue = new WatchQueue({ signal: opts.signal, onClose: () => this.stop() });
  }

  /** Where a relist-and-rewatch would have to start; for CompactedError. */
  get resumeRevision(): number {
    return this.next;
  }

  start(): void {
    if (this.done) return;
    this.establishDeadline = Date.now() + this.s.requestTimeoutMs;
    void this.begin();
  }

  private async begin(): Promise<void> {
    if (this.opts.startRevision > 0 || !this.opts.now) {
      this.next = this.opts.startRevision;
    } else {
      try {
        this.next = (await this.opts.now) + 1;
      } catch (err) {
        this.fail(err);
        return;
      }
    }
    this.lastEventRevision = this.next - 1;
    if (this.opts.progressIntervalMs > 0) {
      this.progressTimer = setInterval(() => this.askProgress(), this.opts.progressIntervalMs);
    }
    await this.connect();
  }

  private async connect(): Promise<void> {
    if (this.done) return;
    const gen = ++this.generation;
    this.established = false;
    this.watchId = undefined;
    this.progressPhase = "idle";
    this.pendingProgress = undefined;
    let stream: WatchStream;
    try {
      stream = await this.s.openStream();
    } catch (err) {
      this.broken(gen, err);
      return;
    }
    if (this.done || gen !== this.generation) {
      endStream(stream);
      return;
    }
    this.stream = stream;
    stream.on("data", (res) => {
      if (gen !== this.generation || this.done) return;
      try {
        this.onResponse(res);
      } catch (err) {
        this.fail(err);
      }
    });
    stream.on("error", (err) => this.broken(gen, err));
    stream.on("end", () => this.broken(gen, new GRPCUnavailableError("watch stream ended by etcd")));
    this.createTimer = setTimeout(
      () => this.broken(gen, new GRPCDeadlineExceededError(`watch not created within ${this.s.requestTimeoutMs} ms`)),
      this.s.requestTimeoutMs,
    );
    stream.write({
      create_request: {
        key: this.opts.key,
        range_end: this.opts.end,
        start_revision: this.next,
        prev_kv: true,
        // etcd's own per-watcher notifications are ordered with events; they
        // come at the server's interval (10 min by default).
        progress_notify: this.opts.progressIntervalMs > 0,
      },
    });
  }

  /** The stream failed or ended: resume on a new one, or give up if never established in time. */
  private broken(gen: number, err: unknown): void {
    if (gen !== this.generation || this.done) return;
    this.generation++;
    clearTimeout(this.createTimer);
    if (this.stream) endStream(this.stream);
    this.stream = undefined;
    this.established = false;
    if (!this.everEstablished && Date.now() >= this.establishDeadline) {
      void this.s.translate(err, "watch", {}).then((e) => this.fail(e));
      return;
    }
    const delay = this.backoff.next();
    if (this.everEstablished) {
      // One warning per outage; the retries themselves only at debug level.
      const fields = { endpoint: this.s.endpoints, fromRevision: this.next, err: errorMessage(err), retryIn: `${delay / 1000}s` };
      if (this.outageLogged) this.s.log.debug("etcd watch still broken, retrying", fields);
      else this.s.log.warn("etcd watch broken, resuming", fields);
      this.outageLogged = true;
    }
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
  }

  private onResponse(res: IWatchResponse): void {
    const cluster = res.header?.cluster_id;
    if (cluster && cluster !== "0") {
      if (this.clusterId && this.clusterId !== cluster) {
        // A different etcd cluster behind the same endpoint: its revisions
        // mean nothing to us, so the consumer must relist.
        this.fail(new CompactedError(this.next, 0));
        return;
      }
      this.clusterId = cluster;
    }
    if (res.created) {
      clearTimeout(this.createTimer);
      if (res.canceled) {
        this.fail(new StoreUnavailableError(`etcd at ${this.s.endpoints} refused the watch: ${res.cancel_reason}`));
        return;
      }
      if (this.outageLogged) this.s.log.info("etcd watch resumed", { endpoint: this.s.endpoints, fromRevision: this.next });
      this.outageLogged = false;
      this.watchId = res.watch_id;
      this.established = true;
      this.everEstablished = true;
      this.createdAt = Date.now();
      this.createdRevision = revisionOf(res.header);
      this.backoff.reset();
      return;
    }
    if (res.canceled) {
      const compactRevision = Number(res.compact_revision);
      if (compactRevision > 0) {
        this.fail(new CompactedError(this.next, compactRevision));
        return;
      }
      this.broken(this.generation, new GRPCUnavailableError(`etcd cancelled the watch: ${res.cancel_reason || "no reason"}`));
      return;
    }
    if (res.events.length > 0) {
      this.onEvents(res.events);
      return;
    }
    const revision = revisionOf(res.header);
    if (res.watch_id === this.watchId) {
      // etcd's periodic per-watcher notification: sent only to a synced
      // watcher, through the same queue as its events, so it is exact.
      this.deliverProgress(revision);
    } else if (res.watch_id === "-1") {
      this.onProgressAnswer(revision);
    }
  }

  private onEvents(raw: readonly IEvent[]): void {
    const events: WatchEvent[] = [];
    let last = 0;
    for (const ev of raw) {
      const kv = this.s.toKeyValue(ev.kv);
      // Never repeat an event, whatever a resumed stream sends.
      if (kv.modRevision <= this.lastEventRevision) continue;
      if (kv.modRevision < this.next) {
        // Not delivered, yet older than a progress batch already delivered:
        // the progress answer overtook it despite the confirmation round.
        // Delivering it now would move time backwards, so make the consumer relist.
        this.s.log.warn("etcd watch event older than a delivered progress notification; forcing relist", {
          endpoint: this.s.endpoints,
          eventRevision: kv.modRevision,
          progressRevision: this.progressDelivered,
        });
        this.fail(new CompactedError(this.next, 0));
        return;
      }
      const prevKv = ev.prev_kv && ev.prev_kv.key.length > 0 ? this.s.toKeyValue(ev.prev_kv) : undefined;
      const type = String(ev.type).toLowerCase() === "delete" ? "delete" : "put";
      events.push(prevKv ? { type, kv, prevKv } : { type, kv });
      last = kv.modRevision;
    }
    if (events.length === 0) return;
    const first = events[0]!.kv.modRevision;
    this.lastEventAt = Date.now();
    // An unconfirmed progress answer at or past this event was premature.
    if (this.pendingProgress !== undefined && first <= this.pendingProgress) this.pendingProgress = undefined;
    this.queue.push({ events, revision: last });
    this.next = last + 1;
    this.lastEventRevision = last;
  }

  private deliverProgress(revision: number): void {
    // Repeating the last revision is fine (an idle watcher hears "still at
    // R" each interval); going backwards is not.
    if (revision < this.next - 1) return;
    this.queue.push({ events: [], revision });
    this.next = revision + 1;
    this.progressDelivered = revision;
  }

  private askProgress(): void {
    if (this.done || !this.established || !this.stream || this.progressPhase !== "idle") return;
    const now = Date.now();
    // Only while idle, and only once caught up: a watch that started in the
    // past may still be replaying history that a progress answer would skip.
    if (now - this.lastEventAt < this.opts.progressIntervalMs) return;
    const caughtUp = this.next > this.createdRevision || now - this.createdAt >= 1000;
    if (!caughtUp) return;
    this.progressPhase = "asked";
    this.stream.write({ progress_request: {} });
  }

  private onProgressAnswer(revision: number): void {
    if (this.progressPhase === "asked") {
      this.pendingProgress = revision;
      this.progressPhase = "confirming";
      this.stream?.write({ progress_request: {} });
    } else if (this.progressPhase === "confirming") {
      this.progressPhase = "idle";
      const confirmed = this.pendingProgress;
      this.pendingProgress = undefined;
      if (confirmed !== undefined) this.deliverProgress(confirmed);
    }
  }

  /** Ends the watch with `err` (CompactedError, StoreUnavailableError…). */
  fail(err: unknown): void {
    this.queue.fail(err);
    this.stop();
  }

  /** Stops the stream and timers; the queue ends if it has not already. */
  stop(): void {
    if (this.done) return;
    this.done = true;
    this.generation++;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.createTimer);
    clearInterval(this.progressTimer);
    if (this.stream) endStream(this.stream);
    this.stream = undefined;
    this.queue.end();
    this.s.forget(this);
  }
}
