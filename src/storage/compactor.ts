/**
 * Automatic compaction, as the API server does for etcd: keep a window of
 * history (default 5 minutes) so watchers can resume, discard the rest so the
 * store reaches a plateau instead of growing forever under churn.
 */
import { type Clock, systemClock } from "../machinery/clock.js";
import { type Logger, silentLogger } from "../machinery/log.js";
import type { Store } from "./store.js";

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
}
