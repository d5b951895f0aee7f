/**
 * Polling for end-to-end tests: the cluster converges on its own time, so
 * tests wait for a state rather than for a duration (no timing assertions).
 */

/**
 * Calls `fn` every `intervalMs` until it returns something other than
 * `undefined` or `false` (a thrown error counts as "not yet"), and resolves
 * with that; rejects after `ms` naming `what` and the last error.
 */
export async function eventually<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 60_000,
  intervalMs = 250,
): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}
