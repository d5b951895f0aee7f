/**
 * The embedded default store: SQLite (better-sqlite3, WAL) in
 * `<data-dir>/db/state.db`, or in memory for unit tests (the `memory` backend).
 *
 * better-sqlite3 is synchronous, so each operation runs to completion inside
 * one event-loop turn: a watcher's history replay and its registration for
 * live events happen atomically, and the in-memory revision counter cannot
 * race with commits.
 *
 * Group commit: the writes of one event-loop turn share one transaction
 * (each in its own savepoint, so a failed CAS undoes only itself), committed
 * on the next `setImmediate`. A write's promise resolves and its watch events
 * are published only after that COMMIT, so nothing is acknowledged or seen
 * before it is durable; reads wait for a pending commit so they never see
 * uncommitted data. One commit per turn instead of per write is what lets
 * concurrent creates scale (fewer WAL appends and lock round trips).
 */
import { accessSync, constants, mkdirSync, statSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { type Clock, systemClock } from "../../../machinery/clock.js";
import { type Logger, silentLogger } from "../../../machinery/log.js";
import {
  CompactedError,
  FutureRevisionError,
  KeyExistsError,
  KeyNotFoundError,
  LeaseNotFoundError,
  RevisionMismatchError,
  StoreOpenError,
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
  prefixEnd,
  type SnapshotEntry,
  type SnapshotInfo,
  type Store,
  type StoreStatus,
  type WatchBatch,
  type WatchEvent,
  type WatchOptions,
  type WriteResult,
} from "../../store.js";
import { WatchHub } from "../../watch-hub.js";
import { WatchQueue } from "../../watch-queue.js";
import { Checkpointer } from "./checkpointer.js";
import { CURRENT_REVISION_SQL, prepareDatabase } from "./schema.js";
import { saveSqliteSnapshot } from "./sqlite-snapshot.js";

export interface SqliteStoreOptions {
  /** Database file, or `:memory:` for a store that lives only in this process. */
  readonly path: string;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** How often expired leases are swept, in ms (default 1000; 0 disables the timer). */
  readonly leaseSweepIntervalMs?: number;
  /** How often a worker thread checkpoints the WAL, in ms (default 250; 0: only SQLite's auto-checkpoint). */
  readonly checkpointIntervalMs?: number;
}

interface Row {
  id: number;
  name: string;
  deleted: number;
  create_revision: number;
  prev_revision: number;
  version: number;
  lease: number;
  value: Buffer;
}

const EMPTY = new Uint8Array(0);

/** The writes of one event-loop turn, committed together. */
interface PendingBatch {
  /** The revision committed before the batch began. */
  readonly startRev: number;
  readonly events: WatchEvent[];
  /** Settles once the batch's COMMIT has run (rejects if it failed). */
  readonly done: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}
const REPLAY_BATCH = 1000;

function toKv(r: Row): KeyValue {
  return {
    key: r.name,
    value: r.value,
    createRevision: r.create_revision,
    modRevision: r.id,
    version: r.version,
    lease: r.lease,
  };
}

function checkSize(key: string, value: Uint8Array): void {
  const size = Buffer.byteLength(key) + value.byteLength;
  if (size > MAX_VALUE_BYTES) throw new ValueTooLargeError(key, size, MAX_VALUE_BYTES);
}

/** A {@link Store} on SQLite. Open it with {@link SqliteStore.open}. */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly hub = new WatchHub();
  private readonly clock: Clock;
  private readonly log: Logger;
  private rev: number;
  private compactRev: number;
  private sweepTimer?: NodeJS.Timeout;
  private closed = false;
  private readonly q: ReturnType<SqliteStore["prepare"]>;
  /** One cached transaction wrapper; building one per write costs ~30% of a commit. */
  private readonly inTransaction: <T>(fn: () => T) => T;
  private readonly checkpointer?: Checkpointer;
  private batch?: PendingBatch;

  private constructor(
    db: Database.Database,
    private readonly path: string,
    opts: SqliteStoreOptions,
  ) {
    this.db = db;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLogger;
    this.q = this.prepare();
    const tx = this.db.transaction((fn: () => unknown) => fn());
    this.inTransaction = <T>(fn: () => T) => tx(fn) as T;
    const checkpointMs = opts.checkpointIntervalMs ?? 250;
    if (path !== ":memory:" && checkpointMs > 0) {
      this.checkpointer = new Checkpointer(path, checkpointMs, (msg) => this.log.warn("WAL checkpoint failed", { err: msg }));
    }
    this.rev = (this.q.revision.get() as { rev: number }).rev;
    this.compactRev = Number((this.q.getMeta.get("compact_revision") as { value: string }).value);
    // As etcd does when a leader takes over: every lease gets its full TTL
    // again, so keys are not reaped for time the server was down.
    this.db.prepare("UPDATE lease SET expires_at = ? + ttl * 1000").run(this.clock.now());
    const interval = opts.leaseSweepIntervalMs ?? 1000;
    if (interval > 0) {
      this.sweepTimer = setInterval(() => this.sweepExpiredLeases(), interval);
      this.sweepTimer.unref();
    }
  }

  /**
   * Opens (creating if needed) the database. Fails with StoreOpenError saying
   * what to do when the directory is not writable or the file is from a newer
   * skiff or not a database.
   */
  static open(opts: SqliteStoreOptions): SqliteStore {
    const path = opts.path;
    if (path !== ":memory:") {
      const dir = dirname(path);
      try {
        mkdirSync(dir, { recursive: true });
        accessSync(dir, constants.W_OK);
      } catch (err) {
        throw new StoreOpenError(
          `cannot write to the store directory ${dir}: ${(err as Error).message}. ` +
            `Choose a writable --data-dir, or fix the directory's owner and permissions.`,
        );
      }
    }
    let db: Database.Database;
    try {
      db = new Database(path);
      prepareDatabase(db, path);
    } catch (err) {
      if (err instanceof StoreOpenError) throw err;
      throw new StoreOpenError(`cannot open the store ${path}: ${(err as Error).message}`);
    }
    return new SqliteStore(db, path, opts);
  }

  private prepare() {
    const db = this.db;
    return {
      revision: db.prepare(CURRENT_REVISION_SQL),
      begin: db.prepare("BEGIN IMMEDIATE"),
      commit: db.prepare("COMMIT"),
      rollback: db.prepare("ROLLBACK"),
      getMeta: db.prepare("SELECT value FROM meta WHERE key = ?"),
      setMeta: db.prepare("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
      latest: db.prepare("SELECT l.* FROM current c JOIN log l ON l.id = c.id WHERE c.name = ?"),
      atRevision: db.prepare("SELECT * FROM log WHERE name = ? AND id <= ? ORDER BY id DESC LIMIT 1"),
      byId: db.prepare("SELECT * FROM log WHERE id = ?"),
      insertLog: db.prepare(
        "INSERT INTO log(id, name, deleted, create_revision, prev_revision, version, lease, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      ),
      upsertCurrent: db.prepare(
        "INSERT INTO current(name, id, lease) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET id = excluded.id, lease = excluded.lease",
      ),
      deleteCurrent: db.prepare("DELETE FROM current WHERE name = ?"),
      listLatest: db.prepare(
        "SELECT l.* FROM current c JOIN log l ON l.id = c.id WHERE c.name >= ? AND c.name < ? ORDER BY c.name LIMIT ?",
      ),
      countLatest: db.prepare("SELECT count(*) AS n FROM current WHERE name >= ? AND name < ?"),
      listAt: db.prepare(
        `WITH latest AS (SELECT max(id) AS id FROM log WHERE name >= ? AND name < ? AND id <= ? GROUP BY name)
         SELECT l.* FROM latest JOIN log l ON l.id = latest.id WHERE l.deleted = 0 ORDER BY l.name LIMIT ?`,
      ),
      countAt: db.prepare(
        `WITH latest AS (SELECT max(id) AS id FROM log WHERE name >= ? AND name < ? AND id <= ? GROUP BY name)
         SELECT count(*) AS n FROM latest JOIN log l ON l.id = latest.id WHERE l.deleted = 0`,
      ),
      replay: db.prepare("SELECT * FROM log WHERE id >= ? AND id <= ? AND name >= ? AND name < ? ORDER BY id LIMIT ?"),
      leaseGet: db.prepare("SELECT id, ttl, expires_at FROM lease WHERE id = ?"),
      leaseInsert: db.prepare("INSERT INTO lease(ttl, expires_at) VALUES (?, ?)"),
      leaseTouch: db.prepare("UPDATE lease SET expires_at = ? WHERE id = ?"),
      leaseDelete: db.prepare("DELETE FROM lease WHERE id = ?"),
      leaseExpired: db.prepare("SELECT id FROM lease WHERE expires_at <= ? LIMIT 100"),
      leaseKeys: db.prepare("SELECT name FROM current WHERE lease = ?"),
      keyCount: db.prepare("SELECT count(*) AS n FROM current"),
      compactStep: db.prepare(
        `DELETE FROM log WHERE id IN (
           SELECT o.id FROM log o WHERE o.id >= ? AND o.id < ? AND (o.deleted = 1 OR EXISTS (
             SELECT 1 FROM log n WHERE n.name = o.name AND n.id > o.id AND n.id < ?)))`,
      ),
    };
  }

  // ---- reads ----

  private checkReadRevision(revision: number | undefined): number {
    if (!revision || revision <= 0) return 0;
    if (revision < this.compactRev) throw new CompactedError(revision, this.compactRev);
    if (revision > this.rev) throw new FutureRevisionError(revision, this.rev);
    return revision === this.rev ? 0 : revision;
  }

  /** The revision of the last committed write (writes of a pending batch are not yet visible). */
  private get committedRev(): number {
    return this.batch ? this.batch.startRev : this.rev;
  }

  /** Waits for a pending group commit, so a read sees only committed data. */
  private async settled(): Promise<void> {
    while (this.batch) await this.batch.done.catch(() => undefined);
  }

  async get(key: string, opts: GetOptions = {}): Promise<GetResult> {
    if (this.batch) await this.settled();
    const at = this.checkReadRevision(opts.revision);
    const row = (at ? this.q.atRevision.get(key, at) : this.q.latest.get(key)) as Row | undefined;
    const kv = row && !row.deleted ? toKv(row) : undefined;
    return kv ? { kv, revision: at || this.rev } : { revision: at || this.rev };
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListResult> {
    if (this.batch) await this.settled();
    const at = this.checkReadRevision(opts.revision);
    const start = opts.startKey && opts.startKey > prefix ? opts.startKey : prefix;
    const end = prefixEnd(prefix);
    const limit = opts.limit && opts.limit > 0 ? opts.limit : -1;
    // Ask for one more than the limit to learn whether more remain.
    const fetch = limit > 0 ? limit + 1 : -1;
    const rows = (at ? this.q.listAt.all(start, end, at, fetch) : this.q.listLatest.all(start, end, fetch)) as Row[];
    const more = limit > 0 && rows.length > limit;
    if (more) rows.length = limit;
    let count = rows.length;
    if (more) {
      count = (at ? (this.q.countAt.get(start, end, at) as { n: number }) : (this.q.countLatest.get(start, end) as { n: number })).n;
    }
    return { kvs: rows.map(toKv), more, count, revision: at || this.rev };
  }

  async count(prefix: string): Promise<{ count: number; revision: number }> {
    if (this.batch) await this.settled();
    const n = (this.q.countLatest.get(prefix, prefixEnd(prefix)) as { n: number }).n;
    return { count: n, revision: this.rev };
  }

  async currentRevision(): Promise<number> {
    return this.committedRev;
  }

  // ---- writes ----

  private checkLease(lease: number): void {
    if (!lease) return;
    const row = this.q.leaseGet.get(lease) as { expires_at: number } | undefined;
    if (!row || row.expires_at <= this.clock.now()) throw new LeaseNotFoundError(lease);
  }

  /**
   * Runs `fn` in the current group-commit batch (opening one if needed);
   * resolves with its result once the batch has committed, and publishes
   * its events then. A throw from `fn` rolls back only `fn`'s savepoint.
   */
  private commit<T>(fn: () => { result: T; events: WatchEvent[] }): Promise<T> {
    if (this.closed) return Promise.reject(new StoreOpenError("the store is closed"));
    const batch = this.batch ?? this.openBatch();
    const before = this.rev;
    let out: { result: T; events: WatchEvent[] };
    try {
      // Inside the open transaction better-sqlite3 runs this as a SAVEPOINT.
      out = this.inTransaction(fn);
    } catch (err) {
      this.rev = before;
      return Promise.reject(err);
    }
    for (const e of out.events) batch.events.push(e);
    return batch.done.then(() => out.result);
  }

  private openBatch(): PendingBatch {
    this.q.begin.run();
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Callers that never await (lease sweeps) must not leave an unhandled rejection.
    done.catch(() => undefined);
    const batch: PendingBatch = { startRev: this.rev, events: [], done, resolve, reject };
    this.batch = batch;
    setImmediate(() => this.flush());
    return batch;
  }

  /** Commits the pending batch, then acknowledges its writes and publishes their events. */
  private flush(): void {
    const batch = this.batch;
    if (!batch) return;
    this.batch = undefined;
    try {
      this.q.commit.run();
    } catch (err) {
      try {
        this.q.rollback.run();
      } catch {
        // SQLite may already have rolled back (e.g. SQLITE_FULL)
      }
      this.rev = batch.startRev;
      this.log.error("store commit failed", { err: (err as Error).message });
      batch.reject(err);
      return;
    }
    if (batch.events.length > 0) this.hub.publish(batch.events, this.rev);
    batch.resolve();
  }

  private writeRow(name: string, deleted: boolean, createRev: number, prevRev: number, version: number, lease: number, value: Uint8Array): number {
    const id = this.rev + 1;
    this.q.insertLog.run(id, name, deleted ? 1 : 0, createRev, prevRev, version, lease, value);
    this.rev = id;
    return id;
  }

  async create(key: string, value: Uint8Array, opts: PutOptions = {}): Promise<WriteResult> {
    checkSize(key, value);
    const lease = opts.lease ?? 0;
    return this.commit(() => {
      const cur = this.q.latest.get(key) as Row | undefined;
      if (cur) throw new KeyExistsError(key, toKv(cur));
      this.checkLease(lease);
      const id = this.writeRow(key, false, this.rev + 1, 0, 1, lease, value);
      this.q.upsertCurrent.run(key, id, lease);
      const kv: KeyValue = { key, value, createRevision: id, modRevision: id, version: 1, lease };
      return { result: { kv, revision: id }, events: [{ type: "put", kv }] };
    });
  }

  async update(key: string, value: Uint8Array, expectedRevision: number, opts: PutOptions = {}): Promise<WriteResult> {
    checkSize(key, value);
    const lease = opts.lease ?? 0;
    return this.commit(() => {
      const cur = this.q.latest.get(key) as Row | undefined;
      if (!cur) throw new KeyNotFoundError(key);
      const prevKv = toKv(cur);
      if (cur.id !== expectedRevision) throw new RevisionMismatchError(key, expectedRevision, prevKv);
      this.checkLease(lease);
      const id = this.writeRow(key, false, cur.create_revision, cur.id, cur.version + 1, lease, value);
      this.q.upsertCurrent.run(key, id, lease);
      const kv: KeyValue = { key, value, createRevision: cur.create_revision, modRevision: id, version: cur.version + 1, lease };
      return { result: { kv, revision: id }, events: [{ type: "put", kv, prevKv }] };
    });
  }

  async delete(key: string, expectedRevision?: number): Promise<DeleteResult> {
    return this.commit(() => {
      const cur = this.q.latest.get(key) as Row | undefined;
      if (!cur) throw new KeyNotFoundError(key);
      const prevKv = toKv(cur);
      if (expectedRevision !== undefined && cur.id !== expectedRevision) {
        throw new RevisionMismatchError(key, expectedRevision, prevKv);
      }
      const event = this.deleteRow(cur);
      return { result: { prevKv, revision: this.rev }, events: [event] };
    });
  }

  /** Appends a tombstone for the live row `cur` (inside a transaction). */
  private deleteRow(cur: Row): WatchEvent {
    const id = this.writeRow(cur.name, true, cur.create_revision, cur.id, 0, 0, EMPTY);
    this.q.deleteCurrent.run(cur.name);
    const kv: KeyValue = { key: cur.name, value: EMPTY, createRevision: cur.create_revision, modRevision: id, version: 0, lease: 0 };
    return { type: "delete", kv, prevKv: toKv(cur) };
  }

  // ---- leases ----

  async grantLease(ttlSeconds: number): Promise<number> {
    const ttl = Math.max(1, Math.ceil(ttlSeconds));
    return this.commit(() => {
      const info = this.q.leaseInsert.run(ttl, this.clock.now() + ttl * 1000);
      return { result: Number(info.lastInsertRowid), events: [] };
    });
  }

  async keepAliveLease(id: number): Promise<void> {
    return this.commit(() => {
      const row = this.q.leaseGet.get(id) as { ttl: number; expires_at: number } | undefined;
      const now = this.clock.now();
      if (!row || row.expires_at <= now) throw new LeaseNotFoundError(id);
      this.q.leaseTouch.run(now + row.ttl * 1000, id);
      return { result: undefined, events: [] };
    });
  }

  async revokeLease(id: number): Promise<void> {
    if (this.batch) await this.settled();
    if (!this.q.leaseGet.get(id)) throw new LeaseNotFoundError(id);
    return this.dropLease(id);
  }

  /** Deletes a lease and every key attached to it, one revision per key. */
  private dropLease(id: number): Promise<void> {
    return this.commit(() => {
      const events: WatchEvent[] = [];
      for (const { name } of this.q.leaseKeys.all(id) as { name: string }[]) {
        events.push(this.deleteRow(this.q.latest.get(name) as Row));
      }
      this.q.leaseDelete.run(id);
      return { result: undefined, events };
    });
  }

  /**
   * Deletes the keys of every expired lease. Runs on a timer; exposed so
   * simulated-time callers (benchmarks, tests with a FakeClock) can drive it.
   */
  sweepExpiredLeases(): number {
    if (this.closed) return 0;
    let n = 0;
    for (;;) {
      const expired = this.q.leaseExpired.all(this.clock.now()) as { id: number }[];
      if (expired.length === 0) return n;
      for (const { id } of expired) void this.dropLease(id).catch((err: Error) => this.log.warn("lease expiry failed", { lease: id, err: err.message }));
      n += expired.length;
    }
  }

  // ---- watch ----

  watch(prefix: string, opts: WatchOptions = {}): AsyncIterable<WatchBatch> {
    // Only committed history is replayed; a pending batch reaches the watcher when it is published.
    const committed = this.committedRev;
    const start = opts.startRevision && opts.startRevision > 0 ? opts.startRevision : committed + 1;
    if (start < this.compactRev) {
      const q = new WatchQueue({ signal: opts.signal });
      q.fail(new CompactedError(start, this.compactRev));
      return q;
    }
    const end = prefixEnd(prefix);
    const queue = this.hub.subscribe(prefix, Math.max(start, committed + 1), {
      signal: opts.signal,
      progressIntervalMs: opts.progressIntervalMs,
      currentRevision: () => this.committedRev,
    });
    // Replay history synchronously, before any later commit can be published.
    let from = start;
    while (from <= committed && !queue.isClosed) {
      const rows = this.q.replay.all(from, committed, prefix, end, REPLAY_BATCH) as Row[];
      if (rows.length === 0) break;
      queue.push({ events: rows.map((r) => this.rowEvent(r)), revision: rows[rows.length - 1]!.id });
      from = rows[rows.length - 1]!.id + 1;
    }
    return queue;
  }

  private rowEvent(r: Row): WatchEvent {
    const prev = r.prev_revision ? (this.q.byId.get(r.prev_revision) as Row | undefined) : undefined;
    const prevKv = prev ? toKv(prev) : undefined;
    if (r.deleted) {
      const kv: KeyValue = { key: r.name, value: EMPTY, createRevision: r.create_revision, modRevision: r.id, version: 0, lease: 0 };
      return { type: "delete", kv, prevKv };
    }
    return prevKv ? { type: "put", kv: toKv(r), prevKv } : { type: "put", kv: toKv(r) };
  }

  // ---- compaction ----

  async compact(revision: number): Promise<void> {
    await this.settled();
    if (revision > this.rev) throw new FutureRevisionError(revision, this.rev);
    if (revision <= this.compactRev) return;
    // Delete in slices so a large compaction never holds the write lock long.
    // Slices start at 0: rows kept by the last compaction (one per key) may
    // be superseded now; the primary-key range scan skips deleted ids cheaply.
    const step = 10_000;
    for (let lo = 0; lo < revision; lo += step) {
      const hi = Math.min(lo + step, revision);
      // Outside any group-commit batch: a slice is its own transaction.
      await this.settled();
      this.inTransaction(() => this.q.compactStep.run(lo, hi, revision));
      if (hi < revision) await new Promise((r) => setImmediate(r));
    }
    await this.settled();
    this.q.setMeta.run("compact_revision", String(revision));
    this.compactRev = Math.max(this.compactRev, revision);
    // Hand freed pages back to the file system (auto_vacuum = INCREMENTAL).
    this.db.pragma("incremental_vacuum");
    this.log.debug("compacted", { revision });
  }

  // ---- status, snapshots, lifecycle ----

  async status(): Promise<StoreStatus> {
    await this.settled();
    return {
      backend: this.path === ":memory:" ? "memory" : "sqlite",
      revision: this.rev,
      compactRevision: this.compactRev,
      dbSizeBytes: this.dbSizeBytes(),
      keys: (this.q.keyCount.get() as { n: number }).n,
    };
  }

  /** Size of the database and its WAL on disk (0 in memory). */
  dbSizeBytes(): number {
    if (this.path === ":memory:") return 0;
    let size = 0;
    for (const f of [this.path, `${this.path}-wal`]) {
      try {
        size += statSync(f).size;
      } catch {
        // the WAL may not exist right after a checkpoint
      }
    }
    return size;
  }

  async saveSnapshot(path: string): Promise<SnapshotInfo> {
    await this.settled();
    // In memory there is no second connection to read from.
    return this.path === ":memory:" ? saveSqliteSnapshot(this.db, path, "memory") : saveSqliteSnapshot(this.path, path);
  }

  async restore(entries: AsyncIterable<SnapshotEntry>): Promise<{ revision: number; keys: number }> {
    const all: SnapshotEntry[] = [];
    for await (const e of entries) {
      checkSize(e.key, e.value);
      all.push(e);
    }
    await this.settled();
    const before = this.rev;
    const replace = this.db.transaction(() => {
      this.db.exec("DELETE FROM log; DELETE FROM current; DELETE FROM lease;");
      // Jump past every revision handed out before, so a client holding an
      // old resourceVersion can never mistake restored data for newer data.
      this.rev += 1;
      const leases = new Map<number, number>();
      const now = this.clock.now();
      for (const e of all) {
        let lease = 0;
        if (e.leaseTtl) {
          lease = leases.get(e.leaseTtl) ?? Number(this.q.leaseInsert.run(e.leaseTtl, now + e.leaseTtl * 1000).lastInsertRowid);
          leases.set(e.leaseTtl, lease);
        }
        const id = this.writeRow(e.key, false, this.rev + 1, 0, 1, lease, e.value);
        this.q.upsertCurrent.run(e.key, id, lease);
      }
      this.q.setMeta.run("revision_floor", String(this.rev));
      this.q.setMeta.run("compact_revision", String(this.rev));
      return { revision: this.rev, keys: all.length };
    });
    let result: { revision: number; keys: number };
    try {
      result = replace();
    } catch (err) {
      this.rev = before;
      throw err;
    }
    this.compactRev = result.revision;
    this.hub.failAll(this.compactRev);
    this.db.pragma("incremental_vacuum");
    this.log.info("store restored", { revision: result.revision, keys: result.keys });
    return result;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Commit what was acknowledged-to-be; its callers are waiting for it.
    this.flush();
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.hub.endAll();
    await this.checkpointer?.stop();
    if (this.path !== ":memory:") this.db.pragma("wal_checkpoint(TRUNCATE)");
    this.db.close();
  }
}
