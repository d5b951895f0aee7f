/**
 * One worker per pod, serialising everything the kubelet does to it, as
 * upstream's pod_workers.go: a pod is synced (driven toward its spec) until
 * it is deleted or finishes, then terminated (containers stopped within the
 * grace period, sandbox stopped), then — once gone from the API — cleaned
 * out of the runtime. Syncs are triggered by pod updates, runtime events
 * (PLEG), back-off expiry, and a periodic resync; a sync requested while
 * one runs is coalesced into one more run after it.
 */
import type { Pod, PodStatus } from "kubernetes-types/core/v1.js";
import type { Timers } from "../../client/timers.js";
import type { Logger } from "../../machinery/log.js";
import type { Backoff } from "../backoff.js";
import { generateAPIPodStatus, type ProbeResults, type ReasonEntry } from "../status/generate.js";
import type { StatusManager } from "../status/status-manager.js";
import { shouldContainerBeRestarted } from "./container-rules.js";
import { latestContainer, type RuntimePodStatus } from "./runtime-pod-status.js";
import { type PodSyncer, podKey } from "./sync-pod.js";

/** upstream minimumGracePeriodInSeconds: a stop always gets at least this long. */
const MIN_GRACE_SECONDS = 2;

type Phase = "syncing" | "terminating" | "terminated";

interface Worker {
  readonly uid: string;
  pod: Pod;
  phase: Phase;
  running: boolean;
  again: boolean;
  /** Gone from the API: clean up once terminated. */
  removed: boolean;
  graceSeconds: number;
  reasons: Map<string, ReasonEntry>;
  wakeAt: number;
  cancelWake?: () => void;
}

/** Dependencies of {@link PodWorkers}. */
export interface PodWorkersOptions {
  readonly syncer: PodSyncer;
  readonly status: StatusManager;
  readonly timers: Timers;
  readonly logger: Logger;
  readonly crashBackoff: Backoff;
  readonly imageBackoff: Backoff;
  /** Periodic resync of each worker (syncFrequency). */
  readonly syncFrequencyMs: number;
  /** How soon a worker looks again after it changed something (plegRelistPeriod). */
  readonly followUpMs: number;
  readonly hostIPs: () => readonly string[];
  readonly runtimeType: string;
  readonly probes: ProbeResults;
}

/** The pod workers of one node. */
export class PodWorkers {
  private readonly workers = new Map<string, Worker>();
  private stopped = false;

  constructor(private readonly o: PodWorkersOptions) {}

  /** A pod bound to this node was added or changed; `sync` false only records the newer object. */
  update(pod: Pod, sync = true): void {
    const uid = pod.metadata?.uid;
    if (!uid || this.stopped) return;
    let w = this.workers.get(uid);
    if (!w) {
      w = { uid, pod, phase: "syncing", running: false, again: false, removed: false, graceSeconds: 0, reasons: new Map(), wakeAt: Infinity };
      this.workers.set(uid, w);
    } else w.pod = pod;
    if (pod.metadata?.deletionTimestamp && w.phase === "syncing") this.beginTermination(w, deletionGrace(pod));
    else if (!sync) return;
    this.wake(w);
  }

  /** A pod vanished from the API (deleted, or force-deleted). */
  remove(pod: Pod): void {
    const w = this.workers.get(pod.metadata?.uid ?? "");
    if (!w) return;
    w.removed = true;
    if (w.phase === "syncing") this.beginTermination(w, deletionGrace(w.pod));
    this.wake(w);
  }

  /** Something changed in the runtime for pod `uid` (a PLEG event). */
  runtimeChanged(uid: string): void {
    const w = this.workers.get(uid);
    if (w) this.wake(w);
  }

  /** UIDs of pods with a worker. */
  uids(): string[] {
    return [...this.workers.keys()];
  }

  /** The number of workers. */
  get size(): number {
    return this.workers.size;
  }

  /** Stops scheduling work (running syncs finish). */
  stop(): void {
    this.stopped = true;
    for (const w of this.workers.values()) w.cancelWake?.();
  }

  private beginTermination(w: Worker, graceSeconds: number): void {
    w.phase = "terminating";
    w.graceSeconds = Math.max(graceSeconds, MIN_GRACE_SECONDS);
  }

  private wake(w: Worker, delayMs = 0): void {
    if (this.stopped) return;
    const at = this.o.timers.now() + delayMs;
    if (delayMs > 0 && at >= w.wakeAt) return;
    w.cancelWake?.();
    w.wakeAt = at;
    w.cancelWake = this.o.timers.after(delayMs, () => {
      w.cancelWake = undefined;
      w.wakeAt = Infinity;
      void this.run(w);
    });
  }

  private async run(w: Worker): Promise<void> {
    if (w.running) {
      w.again = true;
      return;
    }
    w.running = true;
    try {
      do {
        w.again = false;
        await this.step(w);
      } while (w.again && !this.stopped);
    } catch (err) {
      // A throw here is a bug; keep the node going and look again later.
      this.o.logger.error("pod worker failed", { pod: podKey(w.pod), err: (err as Error)?.stack ?? String(err) });
      this.wake(w, this.o.syncFrequencyMs);
    } finally {
      w.running = false;
    }
  }

  private setStatus(w: Worker, runtime: RuntimePodStatus, podIsTerminal: boolean, finished: boolean): PodStatus {
    const s = generateAPIPodStatus({
      pod: w.pod,
      runtime,
      oldStatus: this.o.status.getPodStatus(w.uid) ?? w.pod.status ?? {},
      reasons: w.reasons,
      podIsTerminal,
      hostIPs: this.o.hostIPs(),
      runtimeType: this.o.runtimeType,
      probes: this.o.probes,
    });
    this.o.status.setPodStatus(w.pod, s, finished);
    return s;
  }

  private async step(w: Worker): Promise<void> {
    if (w.phase === "syncing") {
      const before = await this.o.syncer.status(w.uid);
      this.setStatus(w, before, false, false);
      const out = await this.o.syncer.syncPod(w.pod, w.reasons);
      const s = this.setStatus(w, out.status, false, false);
      if (s.phase === "Succeeded" || s.phase === "Failed" || this.regularContainersDone(w.pod, out.status)) {
        // The pod is done: nothing will run again (upstream: the worker moves to terminating).
        this.beginTermination(w, w.pod.spec?.terminationGracePeriodSeconds ?? 30);
        w.again = true;
        return;
      }
      const now = this.o.timers.now();
      let next = now + this.o.syncFrequencyMs * (1 + Math.random() * 0.5);
      if (out.retryAt !== undefined) next = Math.min(next, Math.max(out.retryAt, now));
      if (out.changed) next = Math.min(next, now + this.o.followUpMs);
      this.wake(w, next - now);
      return;
    }
    if (w.phase === "terminating") {
      const rs = await this.o.syncer.killPod(w.pod, w.graceSeconds);
      w.phase = "terminated";
      w.reasons.clear();
      this.setStatus(w, rs, true, true);
      this.o.logger.debug("pod terminated", { pod: podKey(w.pod) });
    }
    if (w.phase === "terminated" && w.removed) {
      await this.o.syncer.removePod(w.uid);
      const m = w.pod.metadata ?? {};
      this.o.crashBackoff.deletePrefix(`${m.name}_${m.namespace}_${w.uid}_`);
      this.o.imageBackoff.deletePrefix(`${w.uid}_`);
      this.o.status.forget(w.uid);
      w.cancelWake?.();
      this.workers.delete(w.uid);
      this.o.logger.debug("pod removed from the node", { pod: podKey(w.pod) });
    }
  }

  /**
   * A pod that does not restart everything (Never/OnFailure) whose regular
   * containers all exited for good is done, even while sidecars still run:
   * upstream then stops the sidecars and the pod reaches a terminal phase.
   */
  private regularContainersDone(pod: Pod, status: RuntimePodStatus): boolean {
    if ((pod.spec?.restartPolicy ?? "Always") === "Always") return false;
    const containers = pod.spec?.containers ?? [];
    if (containers.length === 0) return false;
    return containers.every((c) => latestContainer(status, c.name)?.state === "exited" && !shouldContainerBeRestarted(c, pod, status));
  }
}

/** The grace period of a deleted pod: what the API server stamped, else the spec's. */
function deletionGrace(pod: Pod): number {
  return pod.metadata?.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
}
