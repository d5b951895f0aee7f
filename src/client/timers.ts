/**
 * Injectable time with timers: the work queue, informers, leader election
 * and the event recorder wait on these instead of the global `setTimeout`,
 * so unit tests drive time with {@link FakeTimers} and never sleep.
 */
import type { Clock } from "../machinery/clock.js";

/** A clock that can also call back later. */
export interface Timers extends Clock {
  /**
   * Calls `fn` once after `ms` milliseconds (0 or less: on a later turn, never
   * synchronously). Returns a function that cancels the call; cancelling
   * after it ran is harmless.
   */
  after(ms: number, fn: () => void): () => void;
}

/** Real time: `Date.now()` and `setTimeout`. */
export const systemTimers: Timers = {
  now: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, Math.max(0, ms));
    return () => clearTimeout(t);
  },
};

/**
 * Resolves after `ms` on `timers`, or rejects with the signal's reason when
 * it aborts first (the same contract as machinery's `sleep`).
 */
export function sleepOn(timers: Timers, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      cancel();
      reject(signal?.reason);
    };
    const cancel = timers.after(ms, () => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    });
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

interface Pending {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/**
 * Timers that move only when told to: {@link advance} runs every callback
 * that falls due, in time order (ties in scheduling order), including ones
 * scheduled by callbacks while advancing.
 */
export class FakeTimers implements Timers {
  private ms: number;
  private seq = 0;
  private pending: Pending[] = [];

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.ms = startMs;
  }

  /** The fake current time (epoch ms). */
  now(): number {
    return this.ms;
  }

  /** Schedules `fn` at now + `ms`; runs only inside {@link advance}. */
  after(ms: number, fn: () => void): () => void {
    const p: Pending = { at: this.ms + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.pending.push(p);
    return () => {
      p.cancelled = true;
    };
  }

  /** Callbacks scheduled and neither run nor cancelled. */
  get pendingCount(): number {
    return this.pending.filter((p) => !p.cancelled).length;
  }

  /** Moves time forward by `ms`, running what falls due. */
  advance(ms: number): void {
    const target = this.ms + ms;
    for (;;) {
      this.pending = this.pending.filter((p) => !p.cancelled);
      let next: Pending | undefined;
      for (const p of this.pending) {
        if (p.at <= target && (!next || p.at < next.at || (p.at === next.at && p.seq < next.seq))) next = p;
      }
      if (!next) break;
      this.pending.splice(this.pending.indexOf(next), 1);
      this.ms = Math.max(this.ms, next.at);
      next.fn();
    }
    this.ms = target;
  }
}
