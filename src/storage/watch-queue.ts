/**
 * A single-consumer queue that turns pushed watch batches into an
 * AsyncIterable, shared by every backend.
 */
import type { WatchBatch } from "./store.js";

export interface WatchQueueOptions {
  readonly signal?: AbortSignal;
  /** Called once when the consumer stops (abort, break, error or end). */
  readonly onClose?: () => void;
}

/**
 * Producer side: `push` batches in order, `fail` ends with an error, `end`
 * ends cleanly. Consumer side: `for await (const batch of queue)`.
 */
export class WatchQueue implements AsyncIterable<WatchBatch> {
  private readonly buffered: WatchBatch[] = [];
  private waiter?: () => void;
  private error?: unknown;
  private done = false;
  private closed = false;

  constructor(private readonly opts: WatchQueueOptions = {}) {
    const signal = opts.signal;
    if (signal) {
      if (signal.aborted) this.end();
      else signal.addEventListener("abort", () => this.end(), { once: true });
    }
  }

  /** True once the watch has ended for any reason; producers stop pushing. */
  get isClosed(): boolean {
    return this.done;
  }

  push(batch: WatchBatch): void {
    if (this.done) return;
    this.buffered.push(batch);
    this.wake();
  }

  fail(err: unknown): void {
    if (this.done) return;
    this.error = err;
    this.finish();
  }

  end(): void {
    if (this.done) return;
    this.finish();
  }

  private finish(): void {
    this.done = true;
    this.wake();
    this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.opts.onClose?.();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WatchBatch> {
    try {
      for (;;) {
        if (this.buffered.length > 0) {
          // Hand over everything buffered as one batch when the consumer lags,
          // so a slow reader costs one iteration, not one per event.
          if (this.buffered.length === 1) {
            yield this.buffered.shift()!;
          } else {
            const all = this.buffered.splice(0);
            yield { events: all.flatMap((b) => b.events), revision: all[all.length - 1]!.revision };
          }
          continue;
        }
        if (this.done) {
          if (this.error !== undefined) throw this.error;
          return;
        }
        await new Promise<void>((resolve) => {
          this.waiter = resolve;
        });
      }
    } finally {
      this.done = true;
      this.close();
    }
  }
}
