/** Exponential backoff: `initialMs` doubling up to `maxMs`, as client-go's. */
export class Backoff {
  private current: number;
  constructor(
    private readonly initialMs = 250,
    private readonly maxMs = 10_000,
  ) {
    this.current = initialMs;
  }
  /** The delay to wait now; the next call returns twice as much, capped. */
  next(): number {
    const d = this.current;
    this.current = Math.min(this.current * 2, this.maxMs);
    return d;
  }
  reset(): void {
    this.current = this.initialMs;
  }
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
