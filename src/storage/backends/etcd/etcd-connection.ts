/**
 * One store's connection to etcd: every call carries a deadline and fails as
 * a sentinel error, and the revision and compaction point that error
 * translation needs are read here.
 */
import type { Etcd3 } from "etcd3";
import { GRPCDeadlineExceededError } from "etcd3";
import { StoreUnavailableError } from "../../errors.js";
import { createEtcdClient, type EtcdTlsOptions, endStream } from "./etcd-client.js";
import { revisionOf } from "./etcd-convert.js";
import { type ErrorContext, isCompactedError, type RevisionProbe, translateEtcdError } from "./etcd-errors.js";

export interface EtcdConnectionOptions {
  readonly endpoints: readonly string[];
  readonly tls?: EtcdTlsOptions;
  /** Deadline of one connectivity check ({@link EtcdConnection.ping}). */
  readonly dialTimeoutMs: number;
  /** Deadline of every other request. */
  readonly requestTimeoutMs: number;
  /** A key of this store's own keyspace, read only for its response header. */
  readonly probeKey: Buffer;
}

/** A client plus the rules every store call to etcd follows. */
export class EtcdConnection implements RevisionProbe {
  readonly client: Etcd3;
  /** The endpoints, comma-separated, for messages. */
  readonly endpoints: string;
  readonly requestTimeoutMs: number;
  private readonly dialTimeoutMs: number;
  private readonly probeKey: Buffer;
  /** Highest compaction point seen; etcd has no RPC that reports it directly. */
  private compactedAt = 0;
  private isClosed = false;

  constructor(opts: EtcdConnectionOptions) {
    this.endpoints = opts.endpoints.join(",");
    this.requestTimeoutMs = opts.requestTimeoutMs;
    this.dialTimeoutMs = opts.dialTimeoutMs;
    this.probeKey = opts.probeKey;
    this.client = createEtcdClient(opts.endpoints, opts.tls);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  get knownCompactRevision(): number {
    return this.compactedAt;
  }

  /** One linearizable read with the dial timeout: proves etcd answers and has a leader. */
  async ping(): Promise<void> {
    await this.client.kv.range({ key: this.probeKey, count_only: true }, { deadline: Date.now() + this.dialTimeoutMs });
  }

  /** Call options with the request deadline from now. */
  deadline(): { deadline: number } {
    return { deadline: Date.now() + this.requestTimeoutMs };
  }

  /** Runs one etcd call, turning its failure into the matching sentinel error. */
  async call<T>(op: string, fn: () => Promise<T>, ctx: ErrorContext = {}): Promise<T> {
    if (this.isClosed) throw new StoreUnavailableError(`etcd store for ${this.endpoints} is closed (${op})`);
    try {
      return await fn();
    } catch (err) {
      throw await this.translate(err, op, ctx);
    }
  }

  /** The sentinel error for a failure of `op` (see {@link translateEtcdError}). */
  translate(err: unknown, op: string, ctx: ErrorContext): Promise<unknown> {
    return translateEtcdError(err, op, ctx, this.endpoints, this);
  }

  async currentRevision(): Promise<number> {
    // Any linearizable read reports the store revision in its header.
    const res = await this.call("currentRevision", () =>
      this.client.kv.range({ key: this.probeKey, count_only: true }, this.deadline()),
    );
    return revisionOf(res.header);
  }

  /** Compacts etcd's history up to `revision`; at or below the current point it does nothing. */
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
    if (done) this.compactedAt = Math.max(this.compactedAt, revision);
  }

  /**
   * The current compaction point. etcd reports it only in a cancelled watch:
   * a read at revision 1 tells whether anything is compacted, and if so a
   * watch from revision 1 is refused with the exact compact revision.
   */
  async compactRevision(): Promise<number> {
    try {
      await this.client.kv.range({ key: this.probeKey, revision: 1, count_only: true }, this.deadline());
      return this.compactedAt;
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
      stream.write({ create_request: { key: this.probeKey, start_revision: 1 } });
    }).finally(() => endStream(stream));
    this.compactedAt = Math.max(this.compactedAt, rev);
    return this.compactedAt;
  }

  /** Fails every later call as unavailable and closes the client. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.client.close();
  }
}
