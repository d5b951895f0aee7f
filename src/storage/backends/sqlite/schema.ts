/**
 * The SQLite schema: an append-only `log` of every write (the revision is its
 * id), a `current` index of live keys, and `lease`. Like kine's, but the
 * latest state is one primary-key lookup away instead of a MAX() per key.
 *
 * The current revision is max(log.id): compaction only removes rows below
 * the compaction revision, so the newest row always stays. A restore that
 * leaves no rows records its revision in meta `revision_floor`. (No
 * AUTOINCREMENT: its sqlite_sequence row would cost a page write per commit.)
 */
import type Database from "better-sqlite3";
import { StoreOpenError } from "../../errors.js";

/** Bump when the on-disk layout changes; older skiffs refuse newer files. */
export const SCHEMA_VERSION = 1;

const tables = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE log (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  deleted INTEGER NOT NULL,
  create_revision INTEGER NOT NULL,
  prev_revision INTEGER NOT NULL,
  version INTEGER NOT NULL,
  lease INTEGER NOT NULL,
  value BLOB NOT NULL
);
CREATE INDEX log_name_id ON log(name, id);
CREATE TABLE current (name TEXT PRIMARY KEY, id INTEGER NOT NULL, lease INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX current_lease ON current(lease) WHERE lease != 0;
CREATE TABLE lease (id INTEGER PRIMARY KEY AUTOINCREMENT, ttl INTEGER NOT NULL, expires_at INTEGER NOT NULL);
`;

/** Sets connection pragmas, creates the schema on a new file, checks the version of an old one. */
export function prepareDatabase(db: Database.Database, location: string): void {
  // auto_vacuum must be chosen before the first table exists.
  db.pragma("auto_vacuum = INCREMENTAL");
  db.pragma("journal_mode = WAL");
  // NORMAL in WAL mode: a commit is in the OS page cache before we return, so
  // it survives kill -9 of skiff (not a power cut, as etcd's fsync would).
  db.pragma("synchronous = NORMAL");
  db.pragma("busy_timeout = 5000");
  // Keep the WAL file from staying large after a burst of writes.
  db.pragma("journal_size_limit = 8388608");
  // The store's checkpoint thread (checkpointer.ts) does the regular work;
  // this backstop at 10,000 pages (not SQLite's 1,000: measured ~11k -> ~16k
  // writes/s) keeps the WAL bounded if that thread falls behind.
  db.pragma("wal_autocheckpoint = 10000");
  db.pragma("cache_size = -32000");

  const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").get();
  if (!hasMeta) {
    db.transaction(() => {
      db.exec(tables);
      // Revision 1 is the empty store, as in etcd: the first write gets 2, so
      // no object ever has resourceVersion 0 (which means "any" upstream).
      db.prepare(
        "INSERT INTO meta(key, value) VALUES ('schema_version', ?), ('compact_revision', '0'), ('revision_floor', '1')",
      ).run(String(SCHEMA_VERSION));
    })();
    return;
  }
  const row = db.prepare("SELECT value FROM meta WHERE key='schema_version'").get() as { value: string } | undefined;
  const version = Number(row?.value ?? 0);
  if (version > SCHEMA_VERSION) {
    throw new StoreOpenError(
      `the database ${location} was written by a newer skiff (schema ${version}; this skiff reads up to ${SCHEMA_VERSION}). ` +
        `Run the newer skiff, or restore a snapshot taken with this version into an empty --data-dir.`,
    );
  }
  if (version < 1) throw new StoreOpenError(`${location} is not a skiff database (no schema version)`);
}

/** The store's current revision, as one SQL expression (see the file comment). */
export const CURRENT_REVISION_SQL = `SELECT max(
  (SELECT coalesce(max(id), 0) FROM log),
  (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'revision_floor')) AS rev`;
