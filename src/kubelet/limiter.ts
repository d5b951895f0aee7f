/**
 * A counting semaphore for API writes: every node of an agent shares one,
 * so a thousand simulated kubelets cannot open a thousand requests at once.
 */
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly max: number) {}

  /** Runs `fn` when a slot is free; a rejection of `fn` is the caller's (never thrown here). */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }

  /** Calls running or waiting. */
  get pending(): number {
    return this.active + this.waiting.length;
  }
}
