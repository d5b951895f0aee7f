/**
 * Automatic compaction, as the API server does for etcd: keep a window of
 * history (default 5 minutes) so watchers can resume, discard the rest so the
 * store reaches a plateau instead of growing forever under churn.
 *
 * Several API servers on one store compact once per round, not once each,
 * as upstream coordinates them (storage/etcd3/compact.go): before
 * compacting, a server compare-and-swaps the key `compact_rev_key` from the
 * version it last saw; the one that wins compacts, the others learn the new
 * version and sit this round out.
 */
import { type Clock, systemClock } from "../machinery/clock.js";
import { type Logger, silentLogger } from "../machinery/log.js";
import { KeyExistsError, KeyNotFoundError, RevisionMismatchError } from "./errors.js";
import type { Store } from "./store.js";

/** Upstream's coordination key (at the root of the keyspace, as kube-apiserver writes it). */
export const COMPACT_REV_KEY = "compact_rev_key";

export interface CompactorOptions {
  readonly store: Store;
  /** History to keep, in ms (default 5 minutes, the API server's interval). */
  readonly windowMs?: number;
  /** How often to sample the revision and compact, in ms (default window/5). */
  readonly intervalMs?: number;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/** Samples the revision on a timer and compacts to the newest sample older than the window. */
export class Compactor {
  private readonly samples: { at: number; revision: number }[] = [];
  private readonly windowMs: number;
  private readonly intervalMs: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private timer?: NodeJS.Timeout;
  private running = false;
  /** modRevision of `compact_rev_key` when this server last saw it; 0 (absent) at first, as upstream starts. */
  private seenVersion = 0;

  constructor(private readonly opts: CompactorOptions) {
    this.windowMs = opts.windowMs ?? 5 * 60_000;
    this.intervalMs = opts.intervalMs ?? Math.max(1000, Math.floor(this.windowMs / 5));
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLogger;
  }

  /** Starts the timer (not needed when the caller drives {@link tick}). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Records the current revision and compacts what fell out of the window. */
  async tick(): Promise<number | undefined> {
    if (this.running) return undefined;
    this.running = true;
    try {
      const now = this.clock.now();
      this.samples.push({ at: now, revision: await this.opts.store.currentRevision() });
      let target: number | undefined;
      while (this.samples.length > 0 && this.samples[0]!.at <= now - this.windowMs) {
        target = this.samples.shift()!.revision;
      }
      if (target === undefined) return undefined;
      if (!(await this.claimRound(target))) {
        this.log.debug("another API server compacts this round", { revision: target });
        return undefined;
      }
      const started = Date.now();
      await this.opts.store.compact(target);
      this.log.debug("compacted store", { revision: target, tookMs: Date.now() - started });
      return target;
    } catch (err) {
      // A failed compaction is retried at the next tick; it never stops the server.
      this.log.warn("compaction failed", { err: (err as Error).message });
      return undefined;
    } finally {
      this.running = false;
    }
  }

  /**
   * Takes this round: swaps `compact_rev_key` to `revision` if it is still
   * at the version this server saw last; false (and the new version
   * remembered) when another server moved it first.
   */
  private async claimRound(revision: number): Promise<boolean> {
    const store = this.opts.store;
    const value = new TextEncoder().encode(String(revision));
    const current = (await store.get(COMPACT_REV_KEY)).kv;
    const version = current?.modRevision ?? 0;
    if (this.seenVersion !== version) {
      this.seenVersion = version;
      return false;
    }
    try {
      const written = current ? await store.update(COMPACT_REV_KEY, value, version) : await store.create(COMPACT_REV_KEY, value);
      this.seenVersion = written.kv.modRevision;
      return true;
    } catch (err) {
      if (err instanceof RevisionMismatchError || err instanceof KeyExistsError || err instanceof KeyNotFoundError) {
        this.seenVersion = (await store.get(COMPACT_REV_KEY)).kv?.modRevision ?? 0;
        return false;
      }
      throw err;
    }
  }
}
