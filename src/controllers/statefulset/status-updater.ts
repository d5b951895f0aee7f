/**
 * Writing a StatefulSet's status, as upstream's
 * stateful_set_status_updater.go: a PUT of the status subresource,
 * retried on conflict against the cached copy (retry.DefaultRetry: 5
 * tries, 10 ms apart). Fields upstream marks omitempty are left out when
 * zero, so `kubectl get sts -o yaml` reads as upstream's.
 */
import type { StatefulSet, StatefulSetStatus } from "kubernetes-types/apps/v1.js";
import { ResourceClient } from "../../client/resource-client.js";
import { STATEFUL_SETS } from "../../client/resources.js";
import type { RestClient } from "../../client/rest-client.js";
import { isConflict } from "../../machinery/status-error.js";

/** The StatefulSet calls the controller makes; {@link restStatefulSetApi} for a real server. */
export interface StatefulSetApi {
  /** A live GET (never the cache), for the adoption recheck. */
  get(namespace: string, name: string): Promise<StatefulSet>;
  /** A PUT of the status subresource, conditional on the resourceVersion. */
  updateStatus(set: StatefulSet): Promise<StatefulSet>;
}

/** {@link StatefulSetApi} over apps/v1 statefulsets. */
export function restStatefulSetApi(rest: RestClient): StatefulSetApi {
  const sets = new ResourceClient<StatefulSet>(rest, STATEFUL_SETS);
  return {
    get: (ns, name) => sets.namespace(ns).get(name),
    updateStatus: (set) => sets.namespace(set.metadata?.namespace ?? "").updateStatus(set),
  };
}

/** The status as upstream serializes it: omitempty fields dropped when zero, replicas and availableReplicas always present. */
export function wireStatus(s: StatefulSetStatus): StatefulSetStatus {
  const out: StatefulSetStatus = { replicas: s.replicas ?? 0 };
  if (s.observedGeneration) out.observedGeneration = s.observedGeneration;
  if (s.readyReplicas) out.readyReplicas = s.readyReplicas;
  if (s.currentReplicas) out.currentReplicas = s.currentReplicas;
  if (s.updatedReplicas) out.updatedReplicas = s.updatedReplicas;
  if (s.currentRevision) out.currentRevision = s.currentRevision;
  if (s.updateRevision) out.updateRevision = s.updateRevision;
  // A pointer upstream: 0 is written once set.
  if (s.collisionCount !== undefined && s.collisionCount !== null) out.collisionCount = s.collisionCount;
  if (s.conditions && s.conditions.length > 0) out.conditions = s.conditions;
  out.availableReplicas = s.availableReplicas ?? 0;
  return out;
}

/** Upstream's `retry.DefaultRetry`: 5 tries, 10 ms apart. */
const RETRY_DELAYS_MS = [10, 10, 10, 10];

/** Writes status (upstream's `StatefulSetStatusUpdater`). */
export class StatefulSetStatusUpdater {
  constructor(
    private readonly api: StatefulSetApi,
    /** The cached set, to retry a conflicting write against. */
    private readonly getCached: (namespace: string, name: string) => StatefulSet | undefined,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  /** Sets `set`'s status to `status`, retrying conflicts (`UpdateStatefulSetStatus`). */
  async updateStatefulSetStatus(set: StatefulSet, status: StatefulSetStatus): Promise<void> {
    let current = set;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.api.updateStatus({ ...current, status: wireStatus(status) });
        return;
      } catch (err) {
        if (!isConflict(err) || attempt >= RETRY_DELAYS_MS.length) throw err;
        // A copy is not needed: the cached object is only read and spread.
        current = this.getCached(set.metadata?.namespace ?? "", set.metadata?.name ?? "") ?? current;
        await this.sleep(RETRY_DELAYS_MS[attempt]!);
      }
    }
  }
}
