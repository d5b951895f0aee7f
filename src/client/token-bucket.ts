/**
 * A token bucket with golang.org/x/time/rate's reservation semantics, which
 * client-go uses both for client-side request throttling and for the work
 * queue's overall rate limiter.
 */
import type { Clock } from "../machinery/clock.js";

/** `qps` tokens a second, holding at most `burst`; starts full. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly qps: number,
    readonly burst: number,
    private readonly clock: Clock,
  ) {
    if (!(qps > 0)) throw new Error(`token bucket qps must be > 0, not ${qps}`);
    if (!(burst >= 1)) throw new Error(`token bucket burst must be >= 1, not ${burst}`);
    this.tokens = burst;
    this.last = clock.now();
  }

  /**
   * Takes one token and returns how long (ms) the caller must wait before
   * acting on it: 0 while tokens remain. Tokens may go negative, so
   * reservations queue up behind each other exactly as `rate.Reserve` does.
   */
  reserve(): number {
    const now = this.clock.now();
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.qps) / 1000);
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.qps;
  }
}
