/**
 * Storage's sentinel errors. Backends throw only these for expected outcomes;
 * the API server maps them to Kubernetes `Status` objects in one place.
 */
import type { KeyValue } from "./store.js";

/** Base class so callers can tell storage outcomes from bugs. */
export class StorageError extends Error {
  override name = "StorageError";
}

/** `create` found the key already present. */
export class KeyExistsError extends StorageError {
  override name = "KeyExistsError";
  constructor(
    readonly key: string,
    readonly current?: KeyValue,
  ) {
    super(`key exists: ${key}`);
  }
}

/** The key does not exist (update/delete/keep-alive target). */
export class KeyNotFoundError extends StorageError {
  override name = "KeyNotFoundError";
  constructor(readonly key: string) {
    super(`key not found: ${key}`);
  }
}

/** Compare-and-swap failed: the key changed since `expected`. */
export class RevisionMismatchError extends StorageError {
  override name = "RevisionMismatchError";
  constructor(
    readonly key: string,
    readonly expected: number,
    /** The key's current state, so callers can retry without another read. */
    readonly current: KeyValue,
  ) {
    super(`revision mismatch for ${key}: expected ${expected}, current ${current.modRevision}`);
  }
}

/** The requested revision is older than the compaction point (HTTP 410 upstream). */
export class CompactedError extends StorageError {
  override name = "CompactedError";
  constructor(
    readonly requested: number,
    readonly compactRevision: number,
  ) {
    super(`required revision ${requested} has been compacted (compacted up to ${compactRevision})`);
  }
}

/** The requested revision is newer than the store's current revision. */
export class FutureRevisionError extends StorageError {
  override name = "FutureRevisionError";
  constructor(
    readonly requested: number,
    readonly current: number,
  ) {
    super(`required revision ${requested} is a future revision (current ${current})`);
  }
}

/** Key plus value exceed the store's request limit (etcd: 1.5 MiB). */
export class ValueTooLargeError extends StorageError {
  override name = "ValueTooLargeError";
  constructor(
    readonly key: string,
    readonly size: number,
    readonly limit: number,
  ) {
    super(`value for ${key} is ${size} bytes, over the store's limit of ${limit} bytes`);
  }
}

/** The lease does not exist or has expired. */
export class LeaseNotFoundError extends StorageError {
  override name = "LeaseNotFoundError";
  constructor(readonly lease: number) {
    super(`lease ${lease} not found (expired or revoked)`);
  }
}

/** The backend cannot be reached (etcd down); the operation may be retried. */
export class StoreUnavailableError extends StorageError {
  override name = "StoreUnavailableError";
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

/** The store cannot be opened as it is (read-only dir, newer schema, corrupt file). */
export class StoreOpenError extends StorageError {
  override name = "StoreOpenError";
}

/** A snapshot file is corrupt, truncated or of an unknown format. */
export class SnapshotInvalidError extends StorageError {
  override name = "SnapshotInvalidError";
}
