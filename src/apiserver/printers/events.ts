/**
 * Events (upstream printEvent). core/v1 and events.k8s.io/v1 Events are one
 * internal type upstream, so an events.k8s.io object is first mapped onto the
 * core/v1 field names (as the v1 conversion does) and printed the same way.
 */
import type { Event, EventSource } from "kubernetes-types/core/v1.js";
import type { Event as EventsV1Event } from "kubernetes-types/events/v1.js";
import { col, NAME } from "./columns.js";
import { DOC } from "./descriptions.js";
import { parseTime, since } from "./format.js";
import type { PrintContext, PrintedRow, Printer } from "./types.js";

/** events.k8s.io/v1 → core/v1 field names (Convert_v1_Event_To_core_Event). */
export function coreEventFromEventsV1(e: EventsV1Event): Event {
  const out: Event = {
    apiVersion: "v1",
    kind: "Event",
    metadata: e.metadata ?? {},
    involvedObject: e.regarding ?? {},
  };
  const set = <K extends keyof Event>(k: K, v: Event[K] | undefined | null) => {
    if (v !== undefined && v !== null) out[k] = v;
  };
  set("reason", e.reason);
  set("message", e.note);
  set("type", e.type);
  set("action", e.action);
  set("related", e.related);
  set("eventTime", e.eventTime);
  set("reportingComponent", e.reportingController);
  set("reportingInstance", e.reportingInstance);
  set("source", e.deprecatedSource);
  set("firstTimestamp", e.deprecatedFirstTimestamp);
  set("lastTimestamp", e.deprecatedLastTimestamp);
  set("count", e.deprecatedCount);
  if (e.series) out.series = { count: e.series.count, lastObservedTime: e.series.lastObservedTime };
  return out;
}

/** formatEventSource: component (or reportingController), then ", host" (or reportingInstance) when set. */
function formatEventSource(es: EventSource | undefined, reportingController: string, reportingInstance: string): string {
  const component = es?.component || reportingController;
  const instance = es?.host || reportingInstance;
  return instance ? `${component}, ${instance}` : component;
}

const EVENT_COLUMNS = [
  col("Last Seen", "string", DOC.evLast),
  col("Type", "string", DOC.evType),
  col("Reason", "string", DOC.evReason),
  col("Object", "string", DOC.evInvolved),
  col("Subobject", "string", DOC.evFieldPath, true),
  col("Source", "string", DOC.evSource, true),
  col("Message", "string", DOC.evMessage),
  col("First Seen", "string", DOC.evFirst, true),
  col("Count", "string", DOC.evCount, true),
  { ...NAME, priority: 1 },
];

function printCoreEvent(ev: Event, ctx: PrintContext): PrintedRow {
  let first = since(ev.firstTimestamp, ctx.now);
  if (parseTime(ev.firstTimestamp) === undefined) first = since(ev.eventTime, ctx.now);
  let last = since(ev.lastTimestamp, ctx.now);
  if (parseTime(ev.lastTimestamp) === undefined) last = first;
  let count = ev.count ?? 0;
  if (ev.series) {
    last = since(ev.series.lastObservedTime, ctx.now);
    count = ev.series.count ?? 0;
  } else if (count === 0) {
    // Singleton events of the new API carry no count.
    count = 1;
  }
  const involved = ev.involvedObject ?? {};
  const kind = (involved.kind ?? "").toLowerCase();
  const target = involved.name ? `${kind}/${involved.name}` : kind;
  return {
    cells: [
      last,
      ev.type ?? "",
      ev.reason ?? "",
      target,
      involved.fieldPath ?? "",
      formatEventSource(ev.source, ev.reportingComponent ?? "", ev.reportingInstance ?? ""),
      (ev.message ?? "").trim(),
      first,
      count,
      ev.metadata?.name ?? "",
    ],
  };
}

/** core/v1 Events. */
export const eventPrinter: Printer = {
  columns: EVENT_COLUMNS,
  print: (obj, ctx) => printCoreEvent(obj as Event, ctx),
};

/** events.k8s.io/v1 Events: the same table, after mapping the fields. */
export const eventsV1Printer: Printer = {
  columns: EVENT_COLUMNS,
  print: (obj, ctx) => printCoreEvent(coreEventFromEventsV1(obj as EventsV1Event), ctx),
};
