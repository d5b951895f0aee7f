/**
 * The rate-limited timed queue the node lifecycle controller taints nodes
 * through, one per zone, as upstream's
 * pkg/controller/nodelifecycle/scheduler/rate_limited_queue.go: a unique
 * queue of node names ordered by when to process them, drained by `try`
 * only as fast as a token bucket (`--node-eviction-rate`, burst 1) allows.
 */
import type { Clock } from "../../machinery/clock.js";

/** How often the NoExecute tainting pass runs (upstream's NodeEvictionPeriod). */
export const NODE_EVICTION_PERIOD_MS = 100;
/** Burst of every eviction limiter (upstream's EvictionRateLimiterBurst). */
export const EVICTION_RATE_LIMITER_BURST = 1;

/** flowcontrol.RateLimiter as the queue uses it: non-blocking acquisition. */
export interface TryLimiter {
  /** Takes a token if one is available now. */
  tryAccept(): boolean;
  /** Tokens per second (0 for a limiter that never accepts). */
  readonly qps: number;
}

/**
 * flowcontrol.NewTokenBucketRateLimiter: `qps` tokens a second, holding at
 * most `burst`, starting full; tryAccept is golang.org/x/time/rate's Allow.
 */
export class TokenBucketLimiter implements TryLimiter {
  private tokens: number;
  private last: number;

  constructor(
    readonly qps: number,
    private readonly burst: number,
    private readonly clock: Clock,
  ) {
    if (!(qps > 0)) throw new Error(`token bucket qps must be > 0, not ${qps}`);
    this.tokens = burst;
    this.last = clock.now();
  }

  tryAccept(): boolean {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + (Math.max(0, now - this.last) * this.qps) / 1000);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** flowcontrol.NewFakeNeverRateLimiter: evictions stopped (a fully disrupted cluster). */
export class NeverLimiter implements TryLimiter {
  readonly qps = 0;
  tryAccept(): boolean {
    return false;
  }
}

/** A value to process no earlier than `processAt` (upstream's TimedValue). */
export interface TimedValue {
  readonly value: string;
  /** Anything that identifies the value (the node's uid). */
  readonly uid: string;
  readonly addedAt: number;
  processAt: number;
}

/**
 * UniqueQueue: values ordered by processAt (earliest first, ties in
 * insertion order), each at most once until removed with {@link remove};
 * {@link removeFromQueue} takes it out but keeps it from being added again.
 */
export class UniqueQueue {
  private queue: TimedValue[] = [];
  private readonly set = new Set<string>();

  /** Adds a value unless it was added and not removed since; true when added. */
  add(v: TimedValue): boolean {
    if (this.set.has(v.value)) return false;
    this.insert({ ...v });
    this.set.add(v.value);
    return true;
  }

  /** Replaces the queued entry of `v.value` (re-sorted); true when it was queued. */
  replace(v: TimedValue): boolean {
    const i = this.queue.findIndex((q) => q.value === v.value);
    if (i < 0) return false;
    this.queue.splice(i, 1);
    this.insert({ ...v });
    return true;
  }

  /** Takes the value out of the queue but keeps it in the set (it will not be added again); true when it was queued. */
  removeFromQueue(value: string): boolean {
    if (!this.set.has(value)) return false;
    const i = this.queue.findIndex((q) => q.value === value);
    if (i < 0) return false;
    this.queue.splice(i, 1);
    return true;
  }

  /** Forgets the value entirely, so it can be added again; false when it was unknown. */
  remove(value: string): boolean {
    if (!this.set.has(value)) return false;
    this.set.delete(value);
    const i = this.queue.findIndex((q) => q.value === value);
    if (i >= 0) this.queue.splice(i, 1);
    return true;
  }

  /** The earliest value without taking it. */
  head(): TimedValue | undefined {
    const h = this.queue[0];
    return h ? { ...h } : undefined;
  }

  /** Values queued (for tests and logs). */
  get length(): number {
    return this.queue.length;
  }

  /** Whether `value` was added and not removed. */
  has(value: string): boolean {
    return this.set.has(value);
  }

  clear(): void {
    this.queue = [];
    this.set.clear();
  }

  private insert(v: TimedValue): void {
    // Linear insertion keeps ties in insertion order; a zone holds at most its nodes.
    let i = this.queue.length;
    while (i > 0 && this.queue[i - 1]!.processAt > v.processAt) i--;
    this.queue.splice(i, 0, v);
  }
}

/**
 * What {@link RateLimitedTimedQueue.try} does with a value: `done` true
 * takes it off the queue for good (until removed), false retries it after
 * `retryAfterMs`.
 */
export type ActionFunc = (v: TimedValue) => Promise<{ readonly done: boolean; readonly retryAfterMs: number }>;

/** A unique, time-ordered, rate-limited queue (upstream's RateLimitedTimedQueue). */
export class RateLimitedTimedQueue {
  private readonly queue = new UniqueQueue();
  private limiter: TryLimiter;

  constructor(
    limiter: TryLimiter,
    private readonly clock: Clock,
  ) {
    this.limiter = limiter;
  }

  /** The limiter's current rate (tests, logs). */
  get qps(): number {
    return this.limiter.qps;
  }

  /**
   * Processes due values in order while the limiter gives tokens: stops at
   * the first refusal (each value asked for costs a token, due or not, as
   * upstream) or the first value not yet due.
   */
  async try(fn: ActionFunc): Promise<void> {
    let val = this.queue.head();
    while (val) {
      if (!this.limiter.tryAccept()) break;
      const now = this.clock.now();
      if (now < val.processAt) break;
      const r = await fn(val);
      if (!r.done) {
        // upstream adds 1 ns so a zero wait still moves the value behind the present.
        val.processAt = now + r.retryAfterMs + 1e-6;
        this.queue.replace(val);
      } else {
        this.queue.removeFromQueue(val.value);
      }
      val = this.queue.head();
    }
  }

  /** Queues a value for now; false when it is already known (queued or processed and not removed). */
  add(value: string, uid: string): boolean {
    const now = this.clock.now();
    return this.queue.add({ value, uid, addedAt: now, processAt: now });
  }

  /** Forgets the value, so it is not processed until added again; true when it was known. */
  remove(value: string): boolean {
    return this.queue.remove(value);
  }

  /** Whether the value is known (queued or processed and not removed). */
  has(value: string): boolean {
    return this.queue.has(value);
  }

  /** Values still waiting. */
  get length(): number {
    return this.queue.length;
  }

  clear(): void {
    this.queue.clear();
  }

  /**
   * SwapLimiter: a new limiter when the rate changes (none at all for 0);
   * a limiter with no token left hands its emptiness on, so swapping never
   * grants a burst.
   */
  swapLimiter(newQPS: number): void {
    if (this.limiter.qps === newQPS) return;
    let next: TryLimiter;
    if (newQPS <= 0) next = new NeverLimiter();
    else {
      next = new TokenBucketLimiter(newQPS, EVICTION_RATE_LIMITER_BURST, this.clock);
      if (!this.limiter.tryAccept()) next.tryAccept();
    }
    this.limiter = next;
  }
}
