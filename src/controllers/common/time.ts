/**
 * metav1.Time as controllers handle it: RFC 3339 strings on the wire,
 * epoch milliseconds in computations, and Go's "zero time" for a missing
 * value (upstream compares against `time.Time{}`, here 0).
 */

/** Epoch ms of an RFC 3339 time; 0 (Go's zero time) when absent or unparsable. */
export function parseTime(t: string | null | undefined): number {
  if (!t) return 0;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? 0 : ms;
}

/** `metav1.Now()` as serialized: RFC 3339 in UTC, whole seconds. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

const pad = (n: number) => String(n).padStart(2, "0");

/**
 * A time as Go's `%v` prints a `*metav1.Time` (`2006-01-02 15:04:05 +0000 UTC`),
 * for messages that quote one the way upstream's do.
 */
export function goTimeString(t: string | null | undefined): string {
  const ms = parseTime(t);
  const d = new Date(ms);
  const frac = d.getUTCMilliseconds() ? `.${String(d.getUTCMilliseconds()).padStart(3, "0").replace(/0+$/, "")}` : "";
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${frac} +0000 UTC`;
}
