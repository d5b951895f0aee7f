/**
 * The queue's view of EnqueueExtensions (scheduler.go buildQueueingHintMap,
 * v1.30 with QueueingHints off): for each registered cluster event, the
 * plugins that asked for it. A pod rejected by plugin P moves out of
 * unschedulablePods only on an event P registered.
 */
import { ActionType, type ClusterEvent, EventResource, eventKey } from "../framework/events.js";
import type { EnqueueExtensions } from "../framework/types.js";

export interface QueueingHintEntry {
  readonly event: ClusterEvent;
  readonly plugins: string[];
}

/** Registered event → plugins; one map per profile. */
export type QueueingHintMap = Map<string, QueueingHintEntry>;

function register(map: QueueingHintMap, event: ClusterEvent, plugin: string): void {
  const key = eventKey(event);
  let entry = map.get(key);
  if (!entry) map.set(key, (entry = { event: { resource: event.resource, actionType: event.actionType }, plugins: [] }));
  entry.plugins.push(plugin);
}

export function buildQueueingHintMap(exts: readonly EnqueueExtensions[]): QueueingHintMap {
  const map: QueueingHintMap = new Map();
  for (const e of exts) {
    const events = e.eventsToRegister();
    // No events: only the pod's own update can help (e.g. SchedulingGates).
    if (events.length === 0) continue;
    let nodeAdded = false;
    let nodeTaintUpdated = false;
    for (const { event } of events) {
      if (event.resource === EventResource.Node) {
        if ((event.actionType & ActionType.Add) !== 0) nodeAdded = true;
        if ((event.actionType & ActionType.UpdateNodeTaint) !== 0) nodeTaintUpdated = true;
      }
      register(map, event, e.name);
    }
    // Upstream's workaround (kubernetes#109437): node-add events can be filtered out by the
    // pre-check, so plugins interested in new nodes also get node taint updates.
    if (nodeAdded && !nodeTaintUpdated) register(map, { resource: EventResource.Node, actionType: ActionType.UpdateNodeTaint }, e.name);
  }
  return map;
}
