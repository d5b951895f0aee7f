/**
 * The DaemonSet calls the controller makes, behind one interface so unit
 * tests can record them: a live read (adoption recheck, collision count)
 * and status writes.
 */
import type { DaemonSet, DaemonSetStatus } from "kubernetes-types/apps/v1.js";
import { ResourceClient } from "../../client/resource-client.js";
import { DAEMON_SETS } from "../../client/resources.js";
import type { RestClient } from "../../client/rest-client.js";

/** What the controller asks of the API server about DaemonSets; {@link restDaemonSetApi} for a real one. */
export interface DaemonSetApi {
  /** A live GET (never the cache). */
  get(namespace: string, name: string): Promise<DaemonSet>;
  /** A PUT of the status subresource, conditional on the resourceVersion. */
  updateStatus(ds: DaemonSet): Promise<DaemonSet>;
}

/** {@link DaemonSetApi} over apps/v1 daemonsets. */
export function restDaemonSetApi(rest: RestClient): DaemonSetApi {
  const client = new ResourceClient<DaemonSet>(rest, DAEMON_SETS);
  return {
    get: (ns, name) => client.namespace(ns).get(name),
    updateStatus: (ds) => client.namespace(ds.metadata?.namespace ?? "").updateStatus(ds),
  };
}

/** The status as upstream serializes it: the four scheduling counts always, omitempty fields only when set. */
export function wireDaemonSetStatus(s: DaemonSetStatus): DaemonSetStatus {
  const out: DaemonSetStatus = {
    currentNumberScheduled: s.currentNumberScheduled ?? 0,
    numberMisscheduled: s.numberMisscheduled ?? 0,
    desiredNumberScheduled: s.desiredNumberScheduled ?? 0,
    numberReady: s.numberReady ?? 0,
  };
  if (s.observedGeneration) out.observedGeneration = s.observedGeneration;
  if (s.updatedNumberScheduled) out.updatedNumberScheduled = s.updatedNumberScheduled;
  if (s.numberAvailable) out.numberAvailable = s.numberAvailable;
  if (s.numberUnavailable) out.numberUnavailable = s.numberUnavailable;
  // A pointer upstream: 0 is written once set.
  if (s.collisionCount !== undefined && s.collisionCount !== null) out.collisionCount = s.collisionCount;
  if (s.conditions && s.conditions.length > 0) out.conditions = s.conditions;
  return out;
}
