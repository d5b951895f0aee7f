/**
 * Packs many etcd writes into as few txns as etcd accepts, for a restore
 * that rewrites a whole keyspace.
 */
import type { IRequestOp } from "etcd3";

/** etcd's default `--max-txn-ops`: the most operations one txn may carry. */
const MAX_TXN_OPS = 128;
/** Bytes of keys and values per txn, well under etcd's 1.5 MiB request limit. */
const MAX_TXN_BYTES = 1024 * 1024;

/**
 * Collects operations and sends them through `send` (one txn, resolving
 * with its revision) whenever the next one would not fit. Not atomic across
 * txns.
 */
export class TxnBatch {
  private ops: IRequestOp[] = [];
  private opKeys = new Set<string>();
  private opBytes = 0;
  private lastRevision = 0;

  constructor(private readonly send: (ops: IRequestOp[]) => Promise<number>) {}

  /** Revision of the last txn sent, 0 before any. */
  get revision(): number {
    return this.lastRevision;
  }

  /** Queues `op` on `key`, `size` bytes of key and value, sending the batch first if it is full. */
  async add(key: string, op: IRequestOp, size: number): Promise<void> {
    // etcd rejects a txn that touches one key twice, or grows too large.
    if (this.opKeys.has(key) || this.ops.length >= MAX_TXN_OPS || this.opBytes + size > MAX_TXN_BYTES) await this.flush();
    this.ops.push(op);
    this.opKeys.add(key);
    this.opBytes += size;
  }

  /** Sends what is queued, if anything. */
  async flush(): Promise<void> {
    if (this.ops.length === 0) return;
    const ops = this.ops;
    this.ops = [];
    this.opKeys = new Set();
    this.opBytes = 0;
    this.lastRevision = await this.send(ops);
  }
}
