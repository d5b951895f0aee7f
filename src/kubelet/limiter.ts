/**
 * A counting semaphore for API writes: every node of an agent shares one,
 * so a thousand simulated kubelets cannot open a thousand requests at once.
 * Heartbeats (Leases, Node status) wait in a queue of their own that is
 * served first, as upstream's API Priority and Fairness gives them the
 * `node-high` level: a backlog of pod status writes must not make a busy
 * node miss its heartbeats and be marked NotReady.
 */

/** Which queue a call waits in. */
export type LimiterPriority = "heartbeat" | "normal";

export class Limiter {
  private active = 0;
  private readonly heartbeats: (() => void)[] = [];
  private readonly waiting: (() => void)[] = [];

  constructor(readonly max: number) {}

  /**
   * Runs `fn` when a slot is free, heartbeats before everything else
   * waiting; a rejection of `fn` is the caller's (never thrown here).
   */
  async run<T>(fn: () => Promise<T>, priority: LimiterPriority = "normal"): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((r) => (priority === "heartbeat" ? this.heartbeats : this.waiting).push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      (this.heartbeats.shift() ?? this.waiting.shift())?.();
    }
  }

  /** Calls running or waiting. */
  get pending(): number {
    return this.active + this.heartbeats.length + this.waiting.length;
  }
}
