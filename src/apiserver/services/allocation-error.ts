/**
 * The expected failures of the ClusterIP and NodePort allocators, with
 * upstream's messages (ipallocator/interfaces.go, portallocator/allocator.go).
 * The Service strategy turns them into 422/500 Status errors.
 */
import { RangeMismatchError } from "./range-allocation.js";

export type AllocationFailure = "full" | "allocated" | "not-in-range" | "mismatched-range";

export class AllocationError extends Error {
  override name = "AllocationError";
  constructor(
    readonly reason: AllocationFailure,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Awaits a bitmap operation, turning a range mismatch (the stored range is
 * not the configured one) into an AllocationError.
 */
export async function guardRange<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof RangeMismatchError) throw new AllocationError("mismatched-range", err.message);
    throw err;
  }
}

export const isAllocationError = (e: unknown, reason?: AllocationFailure): e is AllocationError =>
  e instanceof AllocationError && (reason === undefined || e.reason === reason);
