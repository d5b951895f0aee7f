/** API errors the endpoints controllers treat specially. */
import { StatusError } from "../../../machinery/status-error.js";

/**
 * A create refused because the namespace is being deleted (upstream checks
 * for the `NamespaceTerminating` status cause): retrying cannot help, so
 * the item is dropped.
 */
export function isNamespaceTerminating(err: unknown): boolean {
  if (!(err instanceof StatusError) || err.code !== 403) return false;
  if (err.status.details?.causes?.some((c) => c.reason === "NamespaceTerminating")) return true;
  // skiff's NamespaceLifecycle admission says so in the message only.
  return /because it is being terminated/.test(err.message);
}
