/**
 * The one place etcd failures become the store's sentinel errors. etcd 3.4
 * reports most conditions only as message text, hence the patterns.
 */
import {
  ClientClosedError,
  EtcdLeaseInvalidError,
  GRPCCancelledError,
  GRPCDeadlineExceededError,
  GRPCUnavailableError,
} from "etcd3";
import {
  CompactedError,
  FutureRevisionError,
  LeaseNotFoundError,
  StorageError,
  StoreUnavailableError,
  ValueTooLargeError,
} from "../../errors.js";
import { MAX_VALUE_BYTES } from "../../store.js";

/** What failed, for the sentinel error's fields. */
export interface ErrorContext {
  readonly key?: string;
  readonly size?: number;
  readonly revision?: number;
  readonly lease?: number;
}

/** Reads a translation needs from etcd; each may fail, which falls back to a default. */
export interface RevisionProbe {
  /** Where the store is compacted now. */
  compactRevision(): Promise<number>;
  /** The compaction point last seen, when asking fails. */
  readonly knownCompactRevision: number;
  currentRevision(): Promise<number>;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function isCompactedError(err: unknown): boolean {
  return /required revision has been compacted/.test(errorMessage(err));
}

export function isFutureRevisionError(err: unknown): boolean {
  return /required revision is a future revision/.test(errorMessage(err));
}

/** Failures that mean "etcd cannot be reached or cannot answer now; try again". */
export function isUnavailable(err: unknown): boolean {
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

/**
 * The sentinel error for a failed etcd call `op` to `endpoints`, or `err`
 * itself when it is already one or matches none.
 */
export async function translateEtcdError(
  err: unknown,
  op: string,
  ctx: ErrorContext,
  endpoints: string,
  probe: RevisionProbe,
): Promise<unknown> {
  if (err instanceof StorageError) return err;
  const msg = errorMessage(err);
  if (isCompactedError(err)) {
    return new CompactedError(ctx.revision ?? 0, await probe.compactRevision().catch(() => probe.knownCompactRevision));
  }
  if (isFutureRevisionError(err)) {
    return new FutureRevisionError(ctx.revision ?? 0, await probe.currentRevision().catch(() => 0));
  }
  if (err instanceof EtcdLeaseInvalidError || /requested lease not found/.test(msg)) {
    return new LeaseNotFoundError(ctx.lease ?? 0);
  }
  if (/request is too large|larger than max/.test(msg)) {
    return new ValueTooLargeError(ctx.key ?? "", ctx.size ?? 0, MAX_VALUE_BYTES);
  }
  if (/database space exceeded/.test(msg)) {
    return new StoreUnavailableError(
      `etcd at ${endpoints} refuses writes: its database is full (NOSPACE alarm); compact, defragment and disarm the alarm (${op})`,
      err,
    );
  }
  if (/etcdserver: no leader/.test(msg)) {
    return new StoreUnavailableError(`etcd has no leader: its cluster has lost quorum, so it can neither read nor write until a majority of members is back (${op} via ${endpoints})`, err);
  }
  if (isUnavailable(err)) {
    return new StoreUnavailableError(
      `etcd at ${endpoints} is unreachable (${op}: ${msg}); check that etcd is running and reachable`,
      err,
    );
  }
  return err;
}
