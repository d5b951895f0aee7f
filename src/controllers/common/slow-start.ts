/**
 * Upstream's `slowStartBatch`: call an action `count` times in batches that
 * start small and double while every call succeeds, so an action that will
 * fail anyway (quota, admission) fails once, not hundreds of times.
 */

/** Upstream's `SlowStartInitialBatchSize`. */
export const SLOW_START_INITIAL_BATCH_SIZE = 1;

/** What a {@link slowStartBatch} achieved. */
export interface SlowStartResult {
  /** Calls that resolved. */
  readonly successes: number;
  /** The first failure of the batch that stopped the run, if one did. */
  readonly error?: unknown;
}

/**
 * Calls `fn` up to `count` times: batches of `initialBatchSize`, then
 * doubling (capped by what remains); the calls of one batch run
 * concurrently. After a batch with a failure, no further batch starts.
 */
export async function slowStartBatch(count: number, initialBatchSize: number, fn: () => Promise<void>): Promise<SlowStartResult> {
  let remaining = count;
  let successes = 0;
  for (let batchSize = Math.min(remaining, initialBatchSize); batchSize > 0; batchSize = Math.min(2 * batchSize, remaining)) {
    const calls: Promise<void>[] = [];
    for (let i = 0; i < batchSize; i++) calls.push(fn());
    const results = await Promise.allSettled(calls);
    let firstError: { reason: unknown } | undefined;
    for (const r of results) {
      if (r.status === "fulfilled") successes++;
      else firstError ??= { reason: r.reason };
    }
    if (firstError) return { successes, error: firstError.reason };
    remaining -= batchSize;
  }
  return { successes };
}
