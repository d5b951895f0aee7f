/**
 * Work scheduled for a time, one item per key, as upstream's
 * tainteviction TimedWorkerQueue: the taint eviction controller schedules
 * a pod's deletion for when its shortest tolerationSeconds runs out, and
 * cancels it when the taint goes away or the pod stops needing to leave.
 */
import type { Timers } from "../../client/timers.js";
import type { Logger } from "../../machinery/log.js";

/** One scheduled item (upstream's TimedWorker). */
export interface TimedWorker {
  readonly key: string;
  /** When the work was first scheduled (the start of the toleration). */
  readonly createdAt: number;
  /** When it runs. */
  readonly fireAt: number;
}

interface Entry extends TimedWorker {
  cancel: () => void;
  cancelled: boolean;
}

/** The work done for a key once its time comes. */
export type WorkFunc = (key: string, fireAt: number) => Promise<void>;

/** Keyed timed work: at most one pending item per key. */
export class TimedWorkerQueue {
  /** Pending items; a key maps to null while its work runs without a timer (due at once). */
  private readonly workers = new Map<string, Entry | null>();
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly work: WorkFunc,
    private readonly timers: Timers,
    private readonly log: Logger,
  ) {}

  /** Schedules work for `key` at `fireAt` unless some is already pending (AddWork). */
  addWork(key: string, createdAt: number, fireAt: number): void {
    if (this.workers.has(key)) {
      this.log.debug("trying to add already existing work, skipping", { item: key });
      return;
    }
    this.workers.set(key, this.create(key, createdAt, fireAt));
  }

  /** Cancels pending work of `key`; true when some was pending and not yet running (CancelWork). */
  cancelWork(key: string): boolean {
    if (!this.workers.has(key)) return false;
    const w = this.workers.get(key);
    this.workers.delete(key);
    if (!w) return false;
    w.cancelled = true;
    w.cancel();
    return true;
  }

  /** The pending item of `key` (GetWorkerUnsafe); undefined when none or already running. */
  getWorker(key: string): TimedWorker | undefined {
    const w = this.workers.get(key);
    return w ? { key: w.key, createdAt: w.createdAt, fireAt: w.fireAt } : undefined;
  }

  /** Cancels everything and waits for work already running (CancelAndWait). */
  async cancelAndWait(): Promise<void> {
    for (const w of this.workers.values()) {
      if (!w) continue;
      w.cancelled = true;
      w.cancel();
    }
    this.workers.clear();
    await Promise.allSettled([...this.running]);
  }

  /** Work running now (tests). */
  get runningCount(): number {
    return this.running.size;
  }

  private create(key: string, createdAt: number, fireAt: number): Entry | null {
    const delay = fireAt - createdAt;
    const entry: Entry = { key, createdAt, fireAt, cancel: () => {}, cancelled: false };
    const fire = () => {
      if (entry.cancelled) return;
      this.run(key, fireAt);
    };
    if (delay <= 0) {
      this.run(key, fireAt);
      return null;
    }
    entry.cancel = this.timers.after(delay, fire);
    return entry;
  }

  private run(key: string, fireAt: number): void {
    const p = (async () => {
      try {
        await this.work(key, fireAt);
      } catch (err) {
        this.log.error("timed worker failed", { item: key, err: (err as Error).message });
      } finally {
        // As upstream's wrapped worker func: the finished work leaves the map, whatever replaced it meanwhile.
        this.workers.delete(key);
      }
    })();
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }
}
