/**
 * Per-key exponential backoff, as client-go's `flowcontrol.Backoff` that
 * the kubelet uses for crash loops and image pulls (no jitter, as the
 * kubelet builds it): the first delay is `initialMs`, each next one doubles
 * up to `maxMs`, and a key whose event came more than `expireAfterMs`
 * after its last move starts over. That is twice `maxMs` by default (image
 * pulls); the kubelet's crash-loop back-off uses a fixed 10 minutes, as
 * upstream's HasExpiredFunc since the maximum became configurable, so a
 * container that ran cleanly for 10 minutes is forgiven whatever the cap.
 */
import type { Clock } from "../machinery/clock.js";

interface Entry {
  backoffMs: number;
  lastUpdate: number;
}

/** upstream kubelet's crash-loop reset: 10 minutes of running without a crash. */
export const CRASH_LOOP_RESET_MS = 600_000;

/** Timestamps are epoch milliseconds. */
export class Backoff {
  private readonly entries = new Map<string, Entry>();

  constructor(
    readonly initialMs: number,
    readonly maxMs: number,
    private readonly clock: Clock,
    /** How long after its last move an event starts a key over (default twice `maxMs`). */
    readonly expireAfterMs: number = 2 * maxMs,
  ) {}

  /** The current delay of `key` (0 when it has none). */
  get(key: string): number {
    return this.entries.get(key)?.backoffMs ?? 0;
  }

  /** When `key` was last moved on by {@link next} (undefined when it has no entry). */
  lastUpdate(key: string): number | undefined {
    return this.entries.get(key)?.lastUpdate;
  }

  /** Moves `key` on: starts at `initialMs` (or over, when expired), else doubles up to `maxMs`. */
  next(key: string, eventTime: number): void {
    const e = this.entries.get(key);
    const now = this.clock.now();
    if (!e || this.hasExpired(eventTime, e.lastUpdate)) {
      this.entries.set(key, { backoffMs: this.initialMs, lastUpdate: now });
      return;
    }
    e.backoffMs = Math.min(e.backoffMs * 2, this.maxMs);
    e.lastUpdate = now;
  }

  /** Whether less than the current delay has passed since `eventTime` (e.g. the container's finish). */
  isInBackOffSince(key: string, eventTime: number): boolean {
    const e = this.entries.get(key);
    if (!e || this.hasExpired(eventTime, e.lastUpdate)) return false;
    return this.clock.now() - eventTime < e.backoffMs;
  }

  /** Whether less than the current delay has passed since the key was last moved on. */
  isInBackOffSinceUpdate(key: string): boolean {
    const e = this.entries.get(key);
    const now = this.clock.now();
    if (!e || this.hasExpired(now, e.lastUpdate)) return false;
    return now - e.lastUpdate < e.backoffMs;
  }

  /** Forgets `key`. */
  reset(key: string): void {
    this.entries.delete(key);
  }

  /** Forgets keys that have expired by now (upstream's GC). */
  gc(): void {
    const now = this.clock.now();
    for (const [k, e] of this.entries) if (this.hasExpired(now, e.lastUpdate)) this.entries.delete(k);
  }

  /** Forgets every key starting with `prefix` (a deleted pod's). */
  deletePrefix(prefix: string): void {
    for (const k of this.entries.keys()) if (k.startsWith(prefix)) this.entries.delete(k);
  }

  get size(): number {
    return this.entries.size;
  }

  private hasExpired(eventTime: number, lastUpdate: number): boolean {
    return eventTime - lastUpdate > this.expireAfterMs;
  }
}
