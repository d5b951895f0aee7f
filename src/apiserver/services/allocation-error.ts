/**
 * The expected failures of the ClusterIP and NodePort allocators, with
 * upstream's messages (ipallocator/interfaces.go, portallocator/allocator.go).
 * The Service strategy turns them into 422/500 Status errors.
 */

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

export const isAllocationError = (e: unknown, reason?: AllocationFailure): e is AllocationError =>
  e instanceof AllocationError && (reason === undefined || e.reason === reason);
