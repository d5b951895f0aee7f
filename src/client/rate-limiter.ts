/**
 * Per-item rate limiters for the work queue, as client-go's
 * `workqueue` package: exponential per-item backoff, an overall token
 * bucket, and the max of several (the default controller rate limiter).
 */
import type { Clock } from "../machinery/clock.js";
import { systemClock } from "../machinery/clock.js";
import { TokenBucket } from "./token-bucket.js";

/** Decides how long an item waits before it is queued again. */
export interface RateLimiter<K> {
  /** The delay (ms) for the item's next retry; counts the retry. */
  when(item: K): number;
  /** Forgets the item's failures (it succeeded). */
  forget(item: K): void;
  /** How many times the item has been retried since it was last forgotten. */
  numRequeues(item: K): number;
}

/** `baseMs * 2^failures`, capped at `maxMs`: client-go's ItemExponentialFailureRateLimiter. */
export class ItemExponentialFailureRateLimiter<K> implements RateLimiter<K> {
  private readonly failures = new Map<K, number>();

  constructor(
    private readonly baseMs = 5,
    private readonly maxMs = 1000_000,
  ) {}

  when(item: K): number {
    const exp = this.failures.get(item) ?? 0;
    this.failures.set(item, exp + 1);
    // 2^exp overflows to Infinity long before it matters; the cap handles it.
    return Math.min(this.baseMs * 2 ** exp, this.maxMs);
  }

  forget(item: K): void {
    this.failures.delete(item);
  }

  numRequeues(item: K): number {
    return this.failures.get(item) ?? 0;
  }
}

/** One token bucket for all items: client-go's BucketRateLimiter (qps 10, burst 100 by default). */
export class BucketRateLimiter<K> implements RateLimiter<K> {
  private readonly bucket: TokenBucket;

  constructor(qps = 10, burst = 100, clock: Clock = systemClock) {
    this.bucket = new TokenBucket(qps, burst, clock);
  }

  when(_item: K): number {
    return this.bucket.reserve();
  }

  forget(_item: K): void {}

  numRequeues(_item: K): number {
    return 0;
  }
}

/** The longest delay of its limiters: client-go's MaxOfRateLimiter. */
export class MaxOfRateLimiter<K> implements RateLimiter<K> {
  private readonly limiters: readonly RateLimiter<K>[];

  constructor(...limiters: RateLimiter<K>[]) {
    this.limiters = limiters;
  }

  when(item: K): number {
    let max = 0;
    for (const l of this.limiters) max = Math.max(max, l.when(item));
    return max;
  }

  forget(item: K): void {
    for (const l of this.limiters) l.forget(item);
  }

  numRequeues(item: K): number {
    let max = 0;
    for (const l of this.limiters) max = Math.max(max, l.numRequeues(item));
    return max;
  }
}

/**
 * client-go's DefaultControllerRateLimiter: per-item exponential backoff
 * from 5 ms to 1000 s, combined with an overall 10 qps / 100 burst bucket.
 */
export function defaultControllerRateLimiter<K>(clock: Clock = systemClock): RateLimiter<K> {
  return new MaxOfRateLimiter<K>(new ItemExponentialFailureRateLimiter<K>(5, 1000_000), new BucketRateLimiter<K>(10, 100, clock));
}
