/**
 * protectionutil (pkg/controller/volume/protectionutil): when a protection
 * controller has work on an object.
 */
import type { ObjectMeta } from "kubernetes-types/meta/v1.js";

/** Being deleted and still holding `finalizer`: the controller decides whether it may go. */
export function isDeletionCandidate(meta: ObjectMeta | undefined, finalizer: string): boolean {
  return !!meta?.deletionTimestamp && (meta.finalizers ?? []).includes(finalizer);
}

/** Not being deleted and missing `finalizer` (made before the admission plugin added it). */
export function needToAddFinalizer(meta: ObjectMeta | undefined, finalizer: string): boolean {
  return !meta?.deletionTimestamp && !(meta?.finalizers ?? []).includes(finalizer);
}

/** `finalizers` without every `finalizer` (slice.RemoveString). */
export function withoutFinalizer(finalizers: readonly string[] | undefined, finalizer: string): string[] {
  return (finalizers ?? []).filter((f) => f !== finalizer);
}
