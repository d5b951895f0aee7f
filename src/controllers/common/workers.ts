/**
 * client-go's worker loop, once for every controller: take a key, sync it,
 * forget it on success, let the controller decide how to requeue on error,
 * and always mark it done.
 */
import type { WorkQueue } from "../../client/work-queue.js";

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
