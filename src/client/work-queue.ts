/**
 * The controller work queue with client-go's semantics (`workqueue`
 * Type + DelayingQueue + RateLimitingQueue in one):
 * - an item is queued at most once, however often it is added;
 * - an item being processed is never handed out twice: re-added while
 *   processing, it is queued again only when `done(item)` is called;
 * - `addAfter` delays an add (an earlier deadline wins over a later one);
 * - `addRateLimited` delays by the rate limiter (per-item exponential
 *   backoff and an overall bucket by default), `forget` resets it.
 * Items are compared by identity, so use strings (`ns/name` keys).
 */
import { defaultControllerRateLimiter, type RateLimiter } from "./rate-limiter.js";
import { systemTimers, type Timers } from "./timers.js";

/** Options of a {@link WorkQueue}. */
export interface WorkQueueOptions<K> {
  /** Time for delayed adds (inject {@link FakeTimers} in tests). */
  readonly timers?: Timers;
  /** Delays for {@link WorkQueue.addRateLimited}; client-go's default controller rate limiter unless given. */
  readonly rateLimiter?: RateLimiter<K>;
}

interface Delayed<K> {
  readonly at: number;
  readonly seq: number;
  readonly item: K;
}

/** A work queue of items of type K (not `undefined`). */
export class WorkQueue<K> {
  private queue: K[] = [];
  private head = 0;
  /** Items that need processing: queued, or re-added while processing. */
  private readonly dirty = new Set<K>();
  private readonly processing = new Set<K>();
  private waiters: ((item: K | undefined) => void)[] = [];
  private drainWaiters: (() => void)[] = [];
  private shuttingDown = false;

  /** Delayed items: the deadline in force for each, and a min-heap of deadlines (stale entries skipped). */
  private readonly waiting = new Map<K, number>();
  private heap: Delayed<K>[] = [];
  private seq = 0;
  private timerAt = Number.POSITIVE_INFINITY;
  private cancelTimer: (() => void) | undefined;

  private readonly timers: Timers;
  private readonly rateLimiter: RateLimiter<K>;

  constructor(opts: WorkQueueOptions<K> = {}) {
    this.timers = opts.timers ?? systemTimers;
    this.rateLimiter = opts.rateLimiter ?? defaultControllerRateLimiter<K>(this.timers);
  }

  /** Marks `item` as needing processing (ignored after shutdown). */
  add(item: K): void {
    if (this.shuttingDown || this.dirty.has(item)) return;
    this.dirty.add(item);
    if (this.processing.has(item)) return;
    this.enqueue(item);
  }

  /**
   * Waits for an item and marks it as processing; the caller must call
   * {@link done} with it. Resolves `undefined` once shut down and empty.
   */
  get(): Promise<K | undefined> {
    if (this.head < this.queue.length) return Promise.resolve(this.take(this.dequeue()));
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Ends processing of `item`; if it was added meanwhile, it is queued again now. */
  done(item: K): void {
    this.processing.delete(item);
    if (this.dirty.has(item)) this.enqueue(item);
    if (this.processing.size === 0 && this.drainWaiters.length > 0) {
      const w = this.drainWaiters;
      this.drainWaiters = [];
      for (const r of w) r();
    }
  }

  /** Adds `item` after `ms`; a shorter delay replaces a pending longer one, never the reverse. */
  addAfter(item: K, ms: number): void {
    if (this.shuttingDown) return;
    if (!(ms > 0)) {
      this.add(item);
      return;
    }
    const at = this.timers.now() + ms;
    const pending = this.waiting.get(item);
    if (pending !== undefined && pending <= at) return;
    this.waiting.set(item, at);
    this.heapPush({ at, seq: this.seq++, item });
    this.armTimer();
  }

  /** Adds `item` when its rate limiter says so (after failures: backing off). */
  addRateLimited(item: K): void {
    this.addAfter(item, this.rateLimiter.when(item));
  }

  /** Resets `item`'s backoff (call after it was processed successfully). */
  forget(item: K): void {
    this.rateLimiter.forget(item);
  }

  /** How often `item` was rate-limited since it was last forgotten. */
  numRequeues(item: K): number {
    return this.rateLimiter.numRequeues(item);
  }

  /** Items waiting to be handed out (not counting processing or delayed ones). */
  len(): number {
    return this.queue.length - this.head;
  }

  /** True once {@link shutDown} was called. */
  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /**
   * Stops taking new items and drops delayed ones; `get` still hands out
   * what is queued, then resolves `undefined`.
   */
  shutDown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    this.waiting.clear();
    this.heap = [];
    // Waiters exist only while the queue is empty.
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r(undefined);
  }

  /** {@link shutDown}, then waits until every item handed out is done. */
  async shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.processing.size === 0) return;
    await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }

  // ---- internals ----

  private enqueue(item: K): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(this.take(item));
    else this.queue.push(item);
  }

  private dequeue(): K {
    const item = this.queue[this.head++]!;
    // Compact now and then so the array does not grow forever (O(1) amortised).
    if (this.head > 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  private take(item: K): K {
    this.processing.add(item);
    this.dirty.delete(item);
    return item;
  }

  private armTimer(): void {
    const first = this.heap[0];
    if (!first || first.at >= this.timerAt) return;
    this.cancelTimer?.();
    this.timerAt = first.at;
    this.cancelTimer = this.timers.after(first.at - this.timers.now(), () => this.fire());
  }

  private fire(): void {
    this.cancelTimer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = this.timers.now();
    while (this.heap.length > 0 && this.heap[0]!.at <= now) {
      const e = this.heapPop();
      // Skip entries superseded by an earlier deadline for the same item.
      if (this.waiting.get(e.item) !== e.at) continue;
      this.waiting.delete(e.item);
      this.add(e.item);
    }
    this.armTimer();
  }

  private less(a: Delayed<K>, b: Delayed<K>): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private heapPush(e: Delayed<K>): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private heapPop(): Delayed<K> {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
