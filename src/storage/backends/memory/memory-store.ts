/**
 * The `memory` backend: the SQLite engine on an in-memory database. Same code
 * path and semantics as the embedded default, nothing on disk: for unit tests
 * and the simulated nodes of scale tests.
 */
import type { Clock } from "../../../machinery/clock.js";
import type { Logger } from "../../../machinery/log.js";
import { SqliteStore } from "../sqlite/sqlite-store.js";

export interface MemoryStoreOptions {
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly leaseSweepIntervalMs?: number;
}

/** Opens an empty store that lives only as long as this object. */
export function openMemoryStore(opts: MemoryStoreOptions = {}): SqliteStore {
  return SqliteStore.open({ ...opts, path: ":memory:" });
}
