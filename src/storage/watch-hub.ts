/**
 * In-process fan-out of committed events to watchers, for backends that see
 * every write themselves (sqlite, memory).
 */
import { CompactedError } from "./errors.js";
import { prefixEnd, type WatchBatch, type WatchEvent } from "./store.js";
import { WatchQueue } from "./watch-queue.js";

interface Subscriber {
  readonly start: string;
  readonly end: string;
  readonly queue: WatchQueue;
  /** Revision of the next event this subscriber may receive. */
  next: number;
  lastSent: number;
  progressTimer?: NodeJS.Timeout;
}

export interface SubscribeOptions {
  readonly signal?: AbortSignal;
  readonly progressIntervalMs?: number;
  /** Current store revision, reported in progress batches. */
  readonly currentRevision: () => number;
}

/**
 * Holds live watchers. A backend registers a watcher after replaying its
 * history in the same synchronous step, then calls {@link publish} after each
 * commit, so no event is lost or repeated.
 */
export class WatchHub {
  private readonly subs = new Set<Subscriber>();

  get size(): number {
    return this.subs.size;
  }

  /**
   * Registers a watcher for keys under `prefix`. `replay` has already been
   * pushed by the caller up to `next - 1`.
   */
  subscribe(prefix: string, next: number, opts: SubscribeOptions): WatchQueue {
    let sub: Subscriber | undefined;
    const queue = new WatchQueue({
      signal: opts.signal,
      onClose: () => {
        if (!sub) return;
        if (sub.progressTimer) clearInterval(sub.progressTimer);
        this.subs.delete(sub);
      },
    });
    if (queue.isClosed) return queue;
    sub = { start: prefix, end: prefixEnd(prefix), queue, next, lastSent: 0 };
    const s = sub;
    if (opts.progressIntervalMs && opts.progressIntervalMs > 0) {
      s.progressTimer = setInterval(() => {
        const rev = opts.currentRevision();
        // Like etcd, a progress mark goes only to a watcher that is caught up.
        if (rev >= s.next - 1 && s.lastSent < rev) {
          s.lastSent = rev;
          s.queue.push({ events: [], revision: rev });
        }
      }, opts.progressIntervalMs);
      s.progressTimer.unref();
    }
    this.subs.add(s);
    return queue;
  }

  /** Delivers the events of one commit (all at or below `revision`). */
  publish(events: readonly WatchEvent[], revision: number): void {
    if (this.subs.size === 0) return;
    for (const s of this.subs) {
      if (revision < s.next) continue;
      let mine: WatchEvent[] | undefined;
      for (const e of events) {
        const k = e.kv.key;
        if (k >= s.start && k < s.end && e.kv.modRevision >= s.next) {
          mine ??= [];
          mine.push(e);
        }
      }
      s.next = revision + 1;
      if (mine) {
        s.lastSent = revision;
        s.queue.push({ events: mine, revision });
      }
    }
  }

  /** Ends every watcher with CompactedError, as after a restore. */
  failAll(compactRevision: number): void {
    for (const s of [...this.subs]) s.queue.fail(new CompactedError(s.next, compactRevision));
  }

  /** Ends every watcher cleanly (store closing). */
  endAll(): void {
    for (const s of [...this.subs]) s.queue.end();
  }
}

/** Convenience for replay: one batch from a run of events. */
export function batchOf(events: WatchEvent[]): WatchBatch {
  return { events, revision: events[events.length - 1]!.kv.modRevision };
}
