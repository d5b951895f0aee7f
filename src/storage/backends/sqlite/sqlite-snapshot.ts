/**
 * Saving a skiff snapshot from a SQLite store, from inside the server or from
 * another process (`skiff snapshot save` while the server runs): a read-only
 * connection reads one consistent WAL snapshot while writers keep going.
 */
import Database from "better-sqlite3";
import { StoreOpenError } from "../../errors.js";
import { writeSkiffSnapshot } from "../../snapshot/skiff-format.js";
import type { SnapshotEntry, SnapshotInfo } from "../../store.js";
import { CURRENT_REVISION_SQL } from "./schema.js";

/**
 * Writes every live key of `source` (an open connection, or a database file
 * opened read-only here) to a skiff snapshot at `path`.
 */
export async function saveSqliteSnapshot(
  source: Database.Database | string,
  path: string,
  backend: "sqlite" | "memory" = "sqlite",
): Promise<SnapshotInfo> {
  let reader: Database.Database;
  if (typeof source === "string") {
    try {
      reader = new Database(source, { readonly: true, fileMustExist: true });
    } catch (err) {
      throw new StoreOpenError(`cannot read the store ${source}: ${(err as Error).message}`);
    }
  } else {
    reader = source;
  }
  try {
    reader.exec("BEGIN");
    const revision = (reader.prepare(CURRENT_REVISION_SQL).get() as { rev: number }).rev;
    const rows = reader
      .prepare(
        `SELECT l.name AS key, l.value AS value, le.ttl AS ttl FROM current c JOIN log l ON l.id = c.id
         LEFT JOIN lease le ON le.id = c.lease ORDER BY c.name`,
      )
      .iterate() as IterableIterator<{ key: string; value: Buffer; ttl: number | null }>;
    const toEntry = (r: { key: string; value: Buffer; ttl: number | null }): SnapshotEntry =>
      r.ttl ? { key: r.key, value: r.value, leaseTtl: r.ttl } : { key: r.key, value: r.value };
    // A caller's own connection must not stay inside an open read while its
    // writers run, so it is read whole first; a private connection streams.
    const entries =
      typeof source === "string"
        ? (function* () {
            for (const r of rows) yield toEntry(r);
          })()
        : [...rows].map(toEntry);
    if (typeof source !== "string") reader.exec("COMMIT");
    const written = await writeSkiffSnapshot(path, { backend, revision }, entries);
    return { path, format: "skiff", revision, keys: written.keys, sizeBytes: written.sizeBytes };
  } finally {
    if (reader.inTransaction) reader.exec("COMMIT");
    if (typeof source === "string") reader.close();
  }
}
