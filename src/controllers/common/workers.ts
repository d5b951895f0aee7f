/**
 * client-go's worker loop, once for every controller: take a key, sync it,
 * forget it on success, let the controller decide how to requeue on error,
 * and always mark it done; and the `Run` around it (wait for the caches,
 * start the workers, shut the queues down on stop).
 */
import type { WorkQueue } from "../../client/work-queue.js";
import type { Logger } from "../../machinery/log.js";

/** Syncs one key from `queue`; false once the queue is shut down (processNextWorkItem). */
export async function processNextWorkItem<K>(queue: WorkQueue<K>, sync: (key: K) => Promise<void>, onError: (key: K, err: unknown) => void): Promise<boolean> {
  const key = await queue.get();
  if (key === undefined) return false;
  try {
    await sync(key);
    queue.forget(key);
  } catch (err) {
    onError(key, err ?? new Error("sync failed"));
  } finally {
    queue.done(key);
  }
  return true;
}

/** Anything whose cache a controller waits for before its workers start (an informer). */
export interface Syncable {
  waitForSync(signal: AbortSignal): Promise<boolean>;
}

/** What {@link runController} runs: upstream's `Run(ctx, workers)` of a queue-driven controller. */
export interface ControllerRun {
  /** The controller's upstream name, logged at start and stop. */
  readonly name: string;
  readonly log: Logger;
  /** Shut down when the signal aborts (ending the workers) and when the run ends. */
  readonly queues: readonly { shutDown(): void }[];
  /** Caches that must be in sync before any worker starts. */
  readonly informers: readonly Syncable[];
  /** How many workers take keys at once. */
  readonly workers: number;
  /** One worker turn: false once the queue is shut down. */
  readonly processNextWorkItem: () => Promise<boolean>;
  /**
   * Runs once the caches are in sync, before the workers start: more loops
   * to await beside them (e.g. a second queue's worker), and a cleanup for
   * the end of the run (e.g. a periodic timer).
   */
  readonly afterSync?: () => { readonly loops?: Promise<void>[]; readonly cleanup?: () => void } | undefined;
}

/**
 * Waits for the caches, then runs the workers until `signal` aborts; one
 * listener on `signal` for every wait, and the queues always shut down.
 */
export async function runController(signal: AbortSignal, r: ControllerRun): Promise<void> {
  if (signal.aborted) return;
  const local = new AbortController();
  const shutDown = () => {
    for (const q of r.queues) q.shutDown();
  };
  const onAbort = () => {
    local.abort();
    shutDown();
  };
  signal.addEventListener("abort", onAbort, { once: true });
  let cleanup: (() => void) | undefined;
  try {
    r.log.info("Starting controller", { controller: r.name });
    const synced = await Promise.all(r.informers.map((i) => i.waitForSync(local.signal)));
    if (!synced.every(Boolean)) return;
    const extra = r.afterSync?.();
    cleanup = extra?.cleanup;
    const worker = async () => {
      while (await r.processNextWorkItem()) {
        // One key per turn.
      }
    };
    await Promise.all([...Array.from({ length: r.workers }, worker), ...(extra?.loops ?? [])]);
  } finally {
    signal.removeEventListener("abort", onAbort);
    cleanup?.();
    shutDown();
    r.log.info("Shutting down controller", { controller: r.name });
  }
}
