/**
 * The loop the ServiceAccount-family controllers share (client-go's
 * pattern): handlers enqueue keys, workers sync them once the informers
 * have synced, errors requeue with rate limiting.
 */
import type { WorkQueue } from "../../client/work-queue.js";
import type { Logger } from "../../machinery/log.js";
import { StatusError } from "../../machinery/status-error.js";
import { errorMessage } from "../common/errors.js";
import { processNextWorkItem } from "../common/workers.js";

/** One queue and what syncs its keys. */
export interface KeyedQueue {
  readonly queue: WorkQueue<string>;
  readonly sync: (key: string) => Promise<void>;
}

/** Runs `workers` loops over each queue until `signal` aborts (one abort listener, however many queues). */
export async function runKeyedWorkers(opts: {
  readonly name: string;
  readonly queues: readonly KeyedQueue[];
  readonly informers: readonly { waitForSync(signal?: AbortSignal): Promise<boolean> }[];
  readonly workers: number;
  readonly logger: Logger;
  readonly signal: AbortSignal;
}): Promise<void> {
  const { signal, logger } = opts;
  if (signal.aborted) return;
  const stop = new AbortController();
  const shutDown = () => {
    for (const q of opts.queues) q.queue.shutDown();
  };
  const onAbort = () => {
    stop.abort();
    shutDown();
  };
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    logger.info("starting controller", { controller: opts.name });
    for (const inf of opts.informers) if (!(await inf.waitForSync(stop.signal))) return;
    const loops: Promise<void>[] = [];
    for (const { queue, sync } of opts.queues) {
      for (let i = 0; i < opts.workers; i++) {
        loops.push(
          (async () => {
            while (
              await processNextWorkItem(queue, sync, (key, err) => {
                logger.error("sync failed, will retry", { controller: opts.name, key, err: errorMessage(err) });
                queue.addRateLimited(key);
              })
            ) {
              // One key per turn.
            }
          })(),
        );
      }
    }
    await Promise.all(loops);
  } finally {
    signal.removeEventListener("abort", onAbort);
    shutDown();
    logger.info("shutting down controller", { controller: opts.name });
  }
}

/** A create refused because the namespace is going away (upstream's NamespaceTerminatingCause): nothing to retry. */
export function isNamespaceTerminating(err: unknown): boolean {
  if (!(err instanceof StatusError) || err.status.code !== 403) return false;
  if (err.status.details?.causes?.some((c) => c.reason === "NamespaceTerminating")) return true;
  return (err.status.message ?? "").includes("because it is being terminated");
}
