/** Finding the events about one object, newest first. */
import type { Event } from "kubernetes-types/core/v1.js";

/** When an event last happened (series, lastTimestamp, eventTime, creation), in ms. */
export function eventTime(e: Event): number {
  const t = e.series?.lastObservedTime ?? e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp;
  return t ? Date.parse(t) : 0;
}

/** Events whose involvedObject is this object (by uid when both have one, else by kind/namespace/name), newest first. */
export function eventsFor(
  events: readonly Event[],
  kind: string,
  namespace: string | undefined,
  name: string | undefined,
  uid?: string,
): Event[] {
  return events
    .filter((e) => {
      const o = e.involvedObject;
      if (o.kind !== kind || o.name !== name) return false;
      if ((o.namespace ?? "") !== (namespace ?? "")) return false;
      return !(uid && o.uid && o.uid !== uid);
    })
    .sort((a, b) => eventTime(b) - eventTime(a));
}

/** `Warning FailedScheduling: message (x3)`: one event as evidence. */
export function describeEvent(e: Event): string {
  const count = (e.series?.count ?? e.count ?? 1) > 1 ? ` (x${e.series?.count ?? e.count})` : "";
  return `event ${e.type ?? "Normal"} ${e.reason ?? ""}: ${e.message ?? ""}${count}`;
}
