/**
 * The one exception the pull and import code throws internally: an
 * expected failure with its CRI code. Public methods catch it and return
 * it as a {@link RuntimeResult} failure; anything else thrown is a bug.
 */
import { fail, type RuntimeErrorCode, type RuntimeResult } from "../types.js";

export class ImageError extends Error {
  constructor(
    readonly code: RuntimeErrorCode,
    message: string,
  ) {
    super(message);
  }

  /** The same failure with `prefix: ` in front of its message (as Go's `fmt.Errorf("…: %w")`). */
  wrap(prefix: string): ImageError {
    return new ImageError(this.code, `${prefix}: ${this.message}`);
  }
}

/** `context canceled`, what containerd says when the caller gave up. */
export function abortError(signal: AbortSignal | undefined): ImageError {
  const reason = signal?.reason as { name?: string } | undefined;
  if (reason?.name === "TimeoutError") return new ImageError("DeadlineExceeded", "context deadline exceeded");
  // CRI would say Canceled; the runtime error codes have no such code, so it is Unknown with Go's text.
  return new ImageError("Unknown", "context canceled");
}

/** Throws {@link abortError} when `signal` has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}

/** Runs `fn`, turning an {@link ImageError} into a failed result (other errors propagate: they are bugs). */
export async function asResult<T>(fn: () => Promise<T>, wrap?: (e: ImageError) => ImageError): Promise<RuntimeResult<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    if (err instanceof ImageError) {
      const e = wrap ? wrap(err) : err;
      return fail(e.code, e.message);
    }
    throw err;
  }
}
