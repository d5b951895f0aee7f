/**
 * meta/v1 MicroTime, the timestamp of Lease and events.k8s.io Event fields:
 * RFC 3339 with exactly six fractional digits, in UTC
 * (Go layout `2006-01-02T15:04:05.000000Z07:00`).
 */

/** Formats epoch milliseconds as a MicroTime string, e.g. `2026-01-01T00:00:00.123000Z`. */
export function formatMicroTime(ms: number): string {
  // toISOString gives millisecond precision; JS time has nothing finer.
  // (toISOString always ends in ".mmmZ" within years 0–9999.)
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, -1)}000Z`;
}

/** Parses a MicroTime (or any RFC 3339 time) to epoch milliseconds; NaN when malformed. */
export function parseMicroTime(s: string): number {
  return Date.parse(s);
}
