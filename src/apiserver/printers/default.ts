/** The printer of resources without a handler (rest.NewDefaultTableConvertor). */
import { col, NAME } from "./columns.js";
import { DOC } from "./descriptions.js";
import type { PrintContext, PrintedRow, Printer } from "./types.js";

/**
 * rest.NewDefaultTableConvertor: Name and "Created At" (type date), the
 * creation time in RFC 3339 UTC rather than an age.
 */
export const defaultPrinter: Printer = {
  columns: [NAME, col("Created At", "date", DOC.creationTimestamp)],
  print(obj: object, _ctx: PrintContext): PrintedRow {
    const m = (obj as { metadata?: { name?: string; creationTimestamp?: string } }).metadata;
    return { cells: [m?.name ?? "", rfc3339(m?.creationTimestamp)] };
  },
};

/** time.Time.UTC().Format(time.RFC3339); Go's zero time for an unset timestamp. */
function rfc3339(ts: string | undefined): string {
  const t = ts ? Date.parse(ts) : Number.NaN;
  if (Number.isNaN(t)) return "0001-01-01T00:00:00Z";
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z");
}

