/**
 * core/v1 Event <-> events.k8s.io/v1 Event, as upstream's conversion
 * (pkg/apis/events/v1): one stored object (core/v1 form, under
 * /registry/events/) seen through both APIs.
 */
type Obj = Record<string, unknown>;

/** events.k8s.io field name -> core/v1 field name (same value). */
const RENAMED: readonly [string, string][] = [
  ["regarding", "involvedObject"],
  ["note", "message"],
  ["reportingController", "reportingComponent"],
  ["deprecatedSource", "source"],
  ["deprecatedFirstTimestamp", "firstTimestamp"],
  ["deprecatedLastTimestamp", "lastTimestamp"],
  ["deprecatedCount", "count"],
];

/** Fields both shapes carry under the same name. */
const SHARED = ["metadata", "eventTime", "series", "action", "reason", "type", "related", "reportingInstance"];

function copy(from: Obj, pairs: readonly [string, string][]): Obj {
  const out: Obj = {};
  for (const k of SHARED) if (from[k] !== undefined) out[k] = from[k];
  for (const [src, dst] of pairs) if (from[src] !== undefined) out[dst] = from[src];
  return out;
}

/** events.k8s.io/v1 -> core/v1 (the stored form). */
export function eventsV1ToCore(e: Obj): Obj {
  return { apiVersion: "v1", kind: "Event", ...copy(e, RENAMED) };
}

/** core/v1 (the stored form) -> events.k8s.io/v1. */
export function coreToEventsV1(e: Obj): Obj {
  const out: Obj = { apiVersion: "events.k8s.io/v1", kind: "Event", ...copy(e, RENAMED.map(([a, b]) => [b, a] as [string, string])) };
  // core Events written by old clients have no eventTime; events.k8s.io/v1 requires one, upstream serves null.
  if (out.eventTime === undefined) out.eventTime = null;
  return out;
}
