/**
 * One piece of work shared by everyone who asks for it while it runs
 * (concurrent pulls of one image make one download). Each caller can stop
 * waiting through its own AbortSignal; the work itself is aborted only
 * when every caller has given up.
 */
import { abortError } from "./pull-error.js";

interface Running<T> {
  readonly promise: Promise<T>;
  readonly controller: AbortController;
  waiters: number;
}

export class SharedWork<K, T> {
  private readonly running = new Map<K, Running<T>>();

  /** Keys of the work running now. */
  keys(): K[] {
    return [...this.running.keys()];
  }

  /** Joins the work for `key`, starting it with `start` when none runs. */
  run(key: K, start: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    let r = this.running.get(key);
    if (!r) {
      const controller = new AbortController();
      const promise = start(controller.signal).finally(() => {
        if (this.running.get(key) === entry) this.running.delete(key);
      });
      const entry: Running<T> = { promise, controller, waiters: 0 };
      promise.catch(() => {}); // rejections reach every waiter below
      this.running.set(key, entry);
      r = entry;
    }
    const shared = r;
    shared.waiters++;
    if (!signal) return shared.promise.finally(() => shared.waiters--);
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        shared.waiters--;
        if (shared.waiters === 0) shared.controller.abort(signal.reason);
        reject(abortError(signal));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      shared.promise.then(
        (v) => {
          signal.removeEventListener("abort", onAbort);
          if (signal.aborted) return;
          shared.waiters--;
          resolve(v);
        },
        (err) => {
          signal.removeEventListener("abort", onAbort);
          if (signal.aborted) return;
          shared.waiters--;
          reject(err);
        },
      );
    });
  }
}
