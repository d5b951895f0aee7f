/**
 * Per-key exponential backoff, as client-go's `flowcontrol.Backoff`: the
 * DaemonSet controller deletes a Failed daemon pod at most once per
 * backoff period per node, so a kubelet that keeps rejecting the pod does
 * not make it loop hot. Starts at 1 s and doubles up to 15 min (upstream's
 * `--daemonset` defaults); an entry idle for twice the maximum starts over.
 */
import type { Clock } from "../../machinery/clock.js";

interface Entry {
  backoffMs: number;
  lastUpdate: number;
}

/** Upstream's DaemonSet failed-pod backoff bounds. */
export const FAILED_PODS_BACKOFF_INITIAL_MS = 1000;
export const FAILED_PODS_BACKOFF_MAX_MS = 15 * 60_000;

/** Backoff per key (`flowcontrol.Backoff`, without jitter). */
export class FailedPodsBackoff {
  private readonly entries = new Map<string, Entry>();

  constructor(
    readonly clock: Clock,
    private readonly initialMs = FAILED_PODS_BACKOFF_INITIAL_MS,
    private readonly maxMs = FAILED_PODS_BACKOFF_MAX_MS,
  ) {}

  private hasExpired(eventTime: number, lastUpdate: number): boolean {
    return eventTime - lastUpdate > this.maxMs * 2;
  }

  /** The current delay of `id` (0 when it has none). */
  get(id: string): number {
    return this.entries.get(id)?.backoffMs ?? 0;
  }

  /** Moves `id` to its next delay: the initial one when new or expired, else twice the last, capped (`Next`). */
  next(id: string, eventTime: number): void {
    const e = this.entries.get(id);
    if (!e || this.hasExpired(eventTime, e.lastUpdate)) {
      this.entries.set(id, { backoffMs: this.initialMs, lastUpdate: this.clock.now() });
      return;
    }
    e.backoffMs = Math.min(e.backoffMs * 2, this.maxMs);
    e.lastUpdate = this.clock.now();
  }

  /** Whether less than `id`'s delay has passed since its last update (`IsInBackOffSinceUpdate`). */
  isInBackOffSinceUpdate(id: string, eventTime: number): boolean {
    const e = this.entries.get(id);
    if (!e || this.hasExpired(eventTime, e.lastUpdate)) return false;
    return eventTime - e.lastUpdate < e.backoffMs;
  }

  /** Forgets expired entries (`GC`, run every minute). */
  gc(): void {
    const now = this.clock.now();
    for (const [id, e] of this.entries) if (this.hasExpired(now, e.lastUpdate)) this.entries.delete(id);
  }
}
