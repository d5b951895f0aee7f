/**
 * Named asynchronous operations, as upstream's goroutinemap with
 * exponential backoff on error (pkg/util/goroutinemap): at most one
 * operation of a name runs at a time; one that failed cannot start again
 * until its backoff (500 ms, doubling to 2 min 2 s) has passed; one that
 * succeeded is forgotten.
 */
import { systemTimers, type Timers } from "../../../client/timers.js";

/** What {@link OperationMap.run} did. */
export type RunOutcome = "started" | "already-running" | "backoff";

interface Entry {
  running: boolean;
  lastErrorAt: number;
  durationBeforeRetryMs: number;
  lastError?: string;
}

/** Options of an {@link OperationMap}. */
export interface OperationMapOptions {
  readonly timers?: Timers;
  /** First backoff after a failure (upstream 500 ms). */
  readonly initialBackoffMs?: number;
  /** Longest backoff (upstream 2 min 2 s). */
  readonly maxBackoffMs?: number;
  /** Told of each failed operation (logging). */
  readonly onError?: (name: string, err: unknown) => void;
}

export class OperationMap {
  private readonly ops = new Map<string, Entry>();
  private readonly running = new Set<Promise<void>>();
  private readonly timers: Timers;

  constructor(private readonly opts: OperationMapOptions = {}) {
    this.timers = opts.timers ?? systemTimers;
  }

  /** Starts `op` under `name` unless one is running or backing off. */
  run(name: string, op: () => Promise<void>): RunOutcome {
    const e = this.ops.get(name);
    if (e?.running) return "already-running";
    if (e && this.timers.now() - e.lastErrorAt <= e.durationBeforeRetryMs) return "backoff";
    const entry: Entry = e ?? { running: false, lastErrorAt: 0, durationBeforeRetryMs: 0 };
    entry.running = true;
    this.ops.set(name, entry);
    const p = (async () => {
      try {
        await op();
        this.ops.delete(name);
      } catch (err) {
        entry.running = false;
        entry.lastErrorAt = this.timers.now();
        const initial = this.opts.initialBackoffMs ?? 500;
        const max = this.opts.maxBackoffMs ?? 122_000;
        entry.durationBeforeRetryMs = entry.durationBeforeRetryMs === 0 ? initial : Math.min(entry.durationBeforeRetryMs * 2, max);
        entry.lastError = (err as Error)?.message ?? String(err);
        this.opts.onError?.(name, err);
      }
    })();
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
    return "started";
  }

  /** Whether an operation of `name` is running now. */
  isRunning(name: string): boolean {
    return this.ops.get(name)?.running === true;
  }

  /** Resolves once every operation started so far (and any they start) has finished. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }
}
