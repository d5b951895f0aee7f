/**
 * Between etcd's wire shapes and the {@link Store}'s: keys under a prefix,
 * etcd byte ranges, KeyValues and header revisions.
 */
import type { IKeyValue, IResponseHeader } from "etcd3";
import type { KeyValue } from "../../store.js";

/** The end of etcd's byte range for keys starting with `prefix` (etcd's GetPrefixRangeEnd). */
export function byteRangeEnd(prefix: Buffer): Buffer {
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

/** [key, range_end) covering every etcd key that starts with the bytes `prefix` (all keys when empty). */
export function byteRange(prefix: Buffer): { key: Buffer; end: Buffer } {
  if (prefix.length === 0) return { key: Buffer.from([0]), end: Buffer.from([0]) };
  return { key: prefix, end: byteRangeEnd(prefix) };
}

/** The store revision an etcd response header reports, 0 without a header. */
export function revisionOf(header: IResponseHeader | null | undefined): number {
  return header ? Number(header.revision) : 0;
}

/** A plain Uint8Array view of `b`, so values compare equal to what callers stored. */
export function bytes(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * The keys of one store inside etcd: every key lives under `prefix` in etcd
 * and is handed out without it.
 */
export class EtcdKeySpace {
  readonly prefix: string;
  private readonly prefixBytes: Buffer;

  constructor(prefix: string) {
    this.prefix = prefix;
    this.prefixBytes = Buffer.from(prefix, "utf8");
  }

  /** The etcd key of store key `key`. */
  fullKey(key: string): Buffer {
    return Buffer.from(this.prefix + key, "utf8");
  }

  /** The store key of etcd key `full`. */
  stripKey(full: Buffer): string {
    return full.subarray(this.prefixBytes.length).toString("utf8");
  }

  /** [key, range_end) covering every stored key that starts with `prefix`. */
  range(prefix: string): { key: Buffer; end: Buffer } {
    return byteRange(this.fullKey(prefix));
  }

  toKeyValue(kv: IKeyValue): KeyValue {
    return {
      key: this.stripKey(kv.key),
      value: bytes(kv.value),
      createRevision: Number(kv.create_revision),
      modRevision: Number(kv.mod_revision),
      version: Number(kv.version),
      lease: Number(kv.lease),
    };
  }
}
