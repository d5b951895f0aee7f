/**
 * The kubelet's status manager (upstream pkg/kubelet/status): keeps the
 * latest status the kubelet computed for each pod and writes it through the
 * pods/status subresource only when it differs from what the API server
 * has, as a JSON merge patch of the kubelet-owned fields. Writes retry with
 * back-off; a conflict re-reads and re-diffs. Once a pod with a
 * deletionTimestamp has stopped everything (its worker says so) and its
 * final status is written, the status manager deletes the pod object with
 * gracePeriodSeconds=0 and a UID precondition, so it disappears.
 */
import { isDeepStrictEqual } from "node:util";
import type { Pod, PodStatus } from "kubernetes-types/core/v1.js";
import type { ResourceClient } from "../../client/resource-client.js";
import type { Timers } from "../../client/timers.js";
import type { Logger } from "../../machinery/log.js";
import { isConflict, isNotFound, StatusError } from "../../machinery/status-error.js";
import type { Limiter } from "../limiter.js";
import { normalizeStatus } from "./generate.js";

/** Top-level status fields the kubelet owns (others, e.g. nominatedNodeName, are left alone). */
const OWNED: readonly (keyof PodStatus)[] = [
  "phase",
  "conditions",
  "message",
  "reason",
  "hostIP",
  "hostIPs",
  "podIP",
  "podIPs",
  "startTime",
  "initContainerStatuses",
  "containerStatuses",
  "ephemeralContainerStatuses",
  "qosClass",
];

/** The merge patch turning `from` into `to` on the kubelet-owned fields (arrays replaced whole); undefined when equal. */
export function statusPatch(from: PodStatus | undefined, to: PodStatus): Record<string, unknown> | undefined {
  const patch: Record<string, unknown> = {};
  for (const k of OWNED) {
    const a = from?.[k];
    const b = to[k];
    if (isDeepStrictEqual(a, b)) continue;
    patch[k] = b === undefined ? null : b;
  }
  return Object.keys(patch).length === 0 ? undefined : patch;
}

interface Entry {
  namespace: string;
  name: string;
  status: PodStatus;
  /** The pod's worker has stopped everything: the pod may be deleted once it has a deletionTimestamp. */
  finished: boolean;
  /** resourceVersion our last successful write produced. */
  writtenRV?: number;
  retryMs: number;
  retryCancel?: () => void;
  deleting: boolean;
}

/** Dependencies of a {@link StatusManager}. */
export interface StatusManagerOptions {
  readonly pods: ResourceClient<Pod>;
  /** The API's current copy of a pod by UID (the kubelet's informer cache). */
  readonly apiPod: (uid: string) => Pod | undefined;
  readonly timers: Timers;
  readonly logger: Logger;
  /** Bounds concurrent API writes (shared by every node of an agent). */
  readonly limiter: Limiter;
  /** Called once a pod object was deleted by the status manager. */
  readonly onPodDeleted?: (uid: string) => void;
}

/** One node's status manager. */
export class StatusManager {
  private readonly entries = new Map<string, Entry>();
  private readonly queued = new Set<string>();
  private stopped = false;

  constructor(private readonly o: StatusManagerOptions) {}

  /** The latest status the kubelet computed for `uid`. */
  getPodStatus(uid: string): PodStatus | undefined {
    return this.entries.get(uid)?.status;
  }

  /**
   * Records a newly computed status (transition times and startTime are
   * settled here) and schedules its write when it changed.
   */
  setPodStatus(pod: Pod, status: PodStatus, finished = false): void {
    const uid = pod.metadata?.uid ?? "";
    const entry = this.entries.get(uid);
    const old = entry?.status ?? pod.status ?? {};
    const next = normalizeStatus(status, old, this.o.timers.now());
    if (entry) {
      const same = isDeepStrictEqual(entry.status, next);
      entry.status = next;
      if (finished && !entry.finished) entry.finished = true;
      else if (same) return;
    } else {
      this.entries.set(uid, { namespace: pod.metadata?.namespace ?? "", name: pod.metadata?.name ?? "", status: next, finished, retryMs: 500, deleting: false });
    }
    this.enqueue(uid);
  }

  /** The API's copy of a pod changed: rewrite our status if someone else changed it, delete it if it may go. */
  onApiUpdate(pod: Pod): void {
    const uid = pod.metadata?.uid ?? "";
    const entry = this.entries.get(uid);
    if (!entry) return;
    const rv = Number(pod.metadata?.resourceVersion ?? 0);
    const stale = entry.writtenRV !== undefined && rv < entry.writtenRV;
    if ((!stale && statusPatch(pod.status, entry.status)) || (pod.metadata?.deletionTimestamp && entry.finished)) this.enqueue(uid);
  }

  /** Forgets a pod (it is gone from the API and from the node). */
  forget(uid: string): void {
    const e = this.entries.get(uid);
    e?.retryCancel?.();
    this.entries.delete(uid);
    this.queued.delete(uid);
  }

  /** Pods with a status held. */
  get size(): number {
    return this.entries.size;
  }

  stop(): void {
    this.stopped = true;
    for (const e of this.entries.values()) e.retryCancel?.();
  }

  private enqueue(uid: string): void {
    if (this.stopped || this.queued.has(uid)) return;
    const e = this.entries.get(uid);
    if (e?.retryCancel) {
      // A retry is pending: it will write the newest status.
      return;
    }
    this.queued.add(uid);
    void this.o.limiter.run(async () => {
      this.queued.delete(uid);
      await this.sync(uid);
    });
  }

  private retry(uid: string, e: Entry): void {
    if (this.stopped || e.retryCancel) return;
    const delay = e.retryMs;
    e.retryMs = Math.min(e.retryMs * 2, 30_000);
    e.retryCancel = this.o.timers.after(delay, () => {
      e.retryCancel = undefined;
      this.enqueue(uid);
    });
  }

  /** upstream status manager syncPod: write the status, then delete the pod if it may go. */
  private async sync(uid: string): Promise<void> {
    const e = this.entries.get(uid);
    if (!e || this.stopped) return;
    const api = this.o.apiPod(uid);
    if (!api || api.metadata?.uid !== uid) return; // Gone, or a new pod of the same name: nothing to write.
    const client = this.o.pods.namespace(e.namespace);
    try {
      const patch = statusPatch(api.status, e.status);
      const rv = Number(api.metadata?.resourceVersion ?? 0);
      if (patch && !(e.writtenRV !== undefined && rv < e.writtenRV)) {
        const written = e.status;
        const res = await client.patch(e.name, { metadata: { uid }, status: patch }, { type: "merge", subresource: "status" });
        e.writtenRV = Number(res.metadata?.resourceVersion ?? 0);
        e.retryMs = 500;
        // The status changed while we wrote: write again.
        if (written !== e.status) this.enqueue(uid);
      }
      if (api.metadata?.deletionTimestamp && e.finished && !e.deleting) {
        e.deleting = true;
        await client.delete(e.name, { gracePeriodSeconds: 0, preconditions: { uid } });
        this.o.logger.info("pod fully terminated and removed", { pod: `${e.namespace}/${e.name}` });
        this.o.onPodDeleted?.(uid);
      }
    } catch (err) {
      e.deleting = false;
      if (isNotFound(err)) return;
      if (isConflict(err)) {
        this.enqueue(uid);
        return;
      }
      this.o.logger.warn("could not update pod status; will retry", { pod: `${e.namespace}/${e.name}`, err: err instanceof StatusError ? err.message : String(err) });
      this.retry(uid, e);
    }
  }
}
