/**
 * The cluster store contract: a revisioned key/value log with watch, the part
 * of etcd v3 the API server relies on (as kine provides it for k3s).
 *
 * Every backend (`sqlite`, `etcd`, `memory`) implements {@link Store} and runs
 * the shared suite in `src/storage/conformance`. Keys are strings compared
 * byte-wise (UTF-8), values are opaque bytes. Every successful write moves one
 * cluster-wide revision forward by at least one; reads report the revision
 * they observed.
 */

/** One stored key at one revision, as etcd's `mvccpb.KeyValue`. */
export interface KeyValue {
  readonly key: string;
  readonly value: Uint8Array;
  /** Revision of the write that created this incarnation of the key. */
  readonly createRevision: number;
  /** Revision of the last write to the key. */
  readonly modRevision: number;
  /** Number of writes since creation (1 after create), as etcd's `version`. */
  readonly version: number;
  /** Lease the key is attached to, 0 for none. */
  readonly lease: number;
}

/** A change seen by a watcher, as etcd's `mvccpb.Event` with `prev_kv`. */
export type WatchEvent =
  | {
      readonly type: "put";
      /** The key after the write; `createRevision === modRevision` for a create. */
      readonly kv: KeyValue;
      /** The key before the write, absent for a create. */
      readonly prevKv?: KeyValue;
    }
  | {
      readonly type: "delete";
      /** Key and `modRevision` (the deletion's revision); value is empty. */
      readonly kv: KeyValue;
      /** The key's last state before deletion. */
      readonly prevKv?: KeyValue;
    };

/** What a watcher receives: events in revision order, or a progress mark. */
export interface WatchBatch {
  /** Events of one or more revisions, ascending, never repeated. */
  readonly events: readonly WatchEvent[];
  /**
   * The store revision this batch brings the watcher up to. With no events it
   * is a progress notification (a bookmark): nothing under the prefix changed
   * up to this revision.
   */
  readonly revision: number;
}

export interface GetOptions {
  /** Read the key as it was at this revision (0 or absent: latest). */
  readonly revision?: number;
}

export interface GetResult {
  readonly kv?: KeyValue;
  /** Store revision at the time of the read. */
  readonly revision: number;
}

export interface ListOptions {
  /**
   * Start the range at this key (inclusive) instead of the prefix itself; it
   * must lie inside the prefix. Used to continue a paged list.
   */
  readonly startKey?: string;
  /** At most this many keys (0 or absent: no limit). */
  readonly limit?: number;
  /** Read as of this revision (0 or absent: latest). */
  readonly revision?: number;
}

export interface ListResult {
  readonly kvs: readonly KeyValue[];
  /** True when keys beyond `limit` remain in the range. */
  readonly more: boolean;
  /** Number of keys in the whole requested range (from `startKey`), not just returned. */
  readonly count: number;
  /** Revision the list was read at. */
  readonly revision: number;
}

export interface PutOptions {
  /** Attach the key to this lease; it is deleted when the lease expires. */
  readonly lease?: number;
}

export interface WriteResult {
  /** The key as written. */
  readonly kv: KeyValue;
  readonly revision: number;
}

export interface DeleteResult {
  /** The key as it was before deletion. */
  readonly prevKv: KeyValue;
  readonly revision: number;
}

export interface WatchOptions {
  /**
   * Deliver every event with revision >= this one (0 or absent: only events
   * after the current revision). Older than the compaction point: the stream
   * fails with {@link CompactedError}.
   */
  readonly startRevision?: number;
  /** Ends the watch; the iterator then finishes without error. */
  readonly signal?: AbortSignal;
  /**
   * Send a progress batch (no events) at least this often while idle, in ms
   * (0 or absent: never), like etcd's progress notifications.
   */
  readonly progressIntervalMs?: number;
}

/** Facts about the store, for logs, `skiff doctor` and snapshots. */
export interface StoreStatus {
  readonly backend: "sqlite" | "etcd" | "memory";
  readonly revision: number;
  readonly compactRevision: number;
  /** Bytes the store occupies (database file(s)); 0 when unknown. */
  readonly dbSizeBytes: number;
  /** Number of live keys. */
  readonly keys: number;
}

/**
 * A revisioned key/value store with watch. All methods are safe to call
 * concurrently. Expected failures are the sentinel errors in `errors.ts`:
 * {@link KeyExistsError}, {@link RevisionMismatchError}, {@link KeyNotFoundError},
 * {@link CompactedError}, {@link FutureRevisionError}, {@link ValueTooLargeError},
 * {@link LeaseNotFoundError}, {@link StoreUnavailableError}.
 */
export interface Store {
  /** Reads one key. */
  get(key: string, opts?: GetOptions): Promise<GetResult>;
  /** Lists keys starting with `prefix` in byte order. */
  list(prefix: string, opts?: ListOptions): Promise<ListResult>;
  /** Counts live keys starting with `prefix`. */
  count(prefix: string): Promise<{ count: number; revision: number }>;
  /** Creates `key`; fails with KeyExistsError if it exists. */
  create(key: string, value: Uint8Array, opts?: PutOptions): Promise<WriteResult>;
  /**
   * Replaces `key` only if its modRevision is `expectedRevision`
   * (compare-and-swap). Fails with RevisionMismatchError carrying the current
   * value, or KeyNotFoundError if the key does not exist.
   */
  update(key: string, value: Uint8Array, expectedRevision: number, opts?: PutOptions): Promise<WriteResult>;
  /**
   * Deletes `key`, only if its modRevision is `expectedRevision` when one is
   * given. Fails with KeyNotFoundError or RevisionMismatchError.
   */
  delete(key: string, expectedRevision?: number): Promise<DeleteResult>;
  /** Grants a lease that expires after `ttlSeconds` unless kept alive; returns its id. */
  grantLease(ttlSeconds: number): Promise<number>;
  /** Extends a lease by its TTL; fails with LeaseNotFoundError if it expired. */
  keepAliveLease(id: number): Promise<void>;
  /** Revokes a lease now, deleting every key attached to it. */
  revokeLease(id: number): Promise<void>;
  /**
   * Streams changes under `prefix`: every event from `startRevision` on, in
   * revision order, exactly once. Iteration throws CompactedError when the
   * start is compacted (or the store was restored underneath the watcher).
   */
  watch(prefix: string, opts?: WatchOptions): AsyncIterable<WatchBatch>;
  /** The current store revision. */
  currentRevision(): Promise<number>;
  /** Discards history older than `revision`; reads and watches before it fail with CompactedError. */
  compact(revision: number): Promise<void>;
  status(): Promise<StoreStatus>;
  /**
   * Writes a consistent snapshot of the whole keyspace to `path` in the
   * backend's native format (skiff's format for sqlite/memory, etcd's own
   * snapshot for etcd). The file is complete only once the promise resolves.
   */
  saveSnapshot(path: string): Promise<SnapshotInfo>;
  /**
   * Replaces the whole keyspace with `entries`, as a restore does. Afterwards
   * the revision is higher than any revision handed out before, history up to
   * it counts as compacted, and open watchers fail with CompactedError, so
   * clients relist instead of seeing time run backwards.
   */
  restore(entries: AsyncIterable<SnapshotEntry>): Promise<{ revision: number; keys: number }>;
  /** Stops background work and releases files and connections. */
  close(): Promise<void>;
}

/** One key in a snapshot. */
export interface SnapshotEntry {
  readonly key: string;
  readonly value: Uint8Array;
  /** TTL in seconds of the lease the key was attached to; restored keys get a fresh lease of it. */
  readonly leaseTtl?: number;
}

/** What a saved snapshot holds. */
export interface SnapshotInfo {
  readonly path: string;
  readonly format: "skiff" | "etcd";
  /** Store revision the snapshot was taken at. */
  readonly revision: number;
  /** Number of keys in it (0 when the format does not tell). */
  readonly keys: number;
  readonly sizeBytes: number;
}

/** Largest key plus value accepted, etcd's default `--max-request-bytes` (1.5 MiB). */
export const MAX_VALUE_BYTES = 1.5 * 1024 * 1024;

/** The end of the byte range covered by `prefix` (etcd's `GetPrefixRangeEnd`). */
export function prefixEnd(prefix: string): string {
  if (prefix === "") return "\u{10FFFF}";
  for (let i = prefix.length - 1; i >= 0; i--) {
    const c = prefix.charCodeAt(i);
    // Keys are UTF-8 compared byte-wise; for non-surrogate code units the
    // UTF-16 order agrees with it, so bumping the last unit is exact.
    if (c < 0xd7ff) return prefix.slice(0, i) + String.fromCharCode(c + 1);
  }
  return "\u{10FFFF}";
}
