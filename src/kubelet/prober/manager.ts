/**
 * The kubelet's prober manager (upstream pkg/kubelet/prober/prober_manager.go):
 * a worker per pod, container and probe type for every regular and
 * sidecar container with probes, the per-container results they decide,
 * and the answers the status computation asks for (`started`, `ready` —
 * {@link ProbeResults}) and the sync loop acts on (liveness and startup
 * failures restart containers). Result changes are reported through
 * `onUpdate` so the kubelet syncs the pod at once.
 */
import type { Container, Pod, PodStatus } from "kubernetes-types/core/v1.js";
import type { Timers } from "../../client/timers.js";
import type { Logger } from "../../machinery/log.js";
import type { ContainerRuntime } from "../../runtime/types.js";
import type { KubeletEvents } from "../events.js";
import { isRestartableInit } from "../pod/container-rules.js";
import type { ProbeResults } from "../status/generate.js";
import { Prober, type ProberRuntime, probeSpec } from "./prober.js";
import { ResultsManager, type ResultUpdate } from "./results.js";
import { PROBE_TYPES, type ProbeResult, type ProbeType } from "./types.js";
import { ProbeWorker, type WorkerHost } from "./worker.js";

/** Dependencies of a {@link ProberManager}. */
export interface ProberManagerOptions {
  readonly runtime: ProberRuntime & Partial<Pick<ContainerRuntime, "containerStatus">>;
  readonly events: KubeletEvents;
  readonly timers: Timers;
  readonly logger: Logger;
  /** The status manager's latest status of a pod (what workers probe against). */
  readonly podStatus: (uid: string) => PodStatus | undefined;
  /** A cached result changed (see the module comment). */
  readonly onUpdate?: (update: ResultUpdate) => void;
  /** [0, 1) numbers for spreading first runs after a kubelet start (Math.random). */
  readonly random?: () => number;
  /** Runs probes; the default is a {@link Prober} over `runtime` and `events`. */
  readonly prober?: Pick<Prober, "probe">;
}

function key(uid: string, container: string, type: ProbeType): string {
  return `${uid}/${container}/${type}`;
}

/** Containers probed: regular ones and sidecars (restartable init containers), as upstream. */
function probedContainers(pod: Pod): Container[] {
  return [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? []).filter(isRestartableInit)];
}

/** One node's prober manager. */
export class ProberManager implements ProbeResults {
  private readonly workers = new Map<string, ProbeWorker>();
  private readonly results: Record<ProbeType, ResultsManager>;
  private readonly host: WorkerHost;
  private stopped = false;

  constructor(o: ProberManagerOptions) {
    const report = (u: ResultUpdate) => o.onUpdate?.(u);
    this.results = {
      liveness: new ResultsManager("liveness", report),
      readiness: new ResultsManager("readiness", report),
      startup: new ResultsManager("startup", report),
    };
    const prober = o.prober ?? new Prober({ runtime: o.runtime, events: o.events, logger: o.logger });
    const runtime = o.runtime;
    this.host = {
      timers: o.timers,
      logger: o.logger,
      startedAt: o.timers.now(),
      random: o.random ?? Math.random,
      podStatus: o.podStatus,
      results: (t) => this.results[t],
      probe: (t, pod, status, c, id) => prober.probe(t, pod, status, c, id),
      async containerStartedAt(id) {
        if (!runtime.containerStatus) return undefined;
        const st = await runtime.containerStatus(id);
        return st.ok && st.value.startedAt > 0 ? st.value.startedAt : undefined;
      },
      workerDone: (w) => this.forget(w),
    };
  }

  /** upstream AddPod: starts the workers a new pod needs (existing ones are kept). */
  addPod(pod: Pod): void {
    const uid = pod.metadata?.uid;
    if (!uid || this.stopped) return;
    for (const c of probedContainers(pod)) {
      for (const type of PROBE_TYPES) {
        if (!probeSpec(c, type)) continue;
        const k = key(uid, c.name, type);
        if (this.workers.has(k)) continue;
        const w = new ProbeWorker(this.host, type, pod, c);
        this.workers.set(k, w);
        w.start();
      }
    }
  }

  /** A newer copy of a pod (its deletionTimestamp matters to the workers). */
  updatePod(pod: Pod): void {
    const uid = pod.metadata?.uid;
    if (!uid) return;
    for (const c of probedContainers(pod)) {
      for (const type of PROBE_TYPES) {
        const w = this.workers.get(key(uid, c.name, type));
        if (w) w.pod = pod;
      }
    }
  }

  /** upstream StopLivenessAndStartup: a terminating pod is no longer restarted for failing probes. */
  stopLivenessAndStartup(pod: Pod): void {
    this.stopWhere(pod.metadata?.uid ?? "", (t) => t !== "readiness");
  }

  /** upstream RemovePod: stops every worker of the pod. */
  removePod(pod: Pod): void {
    this.stopWhere(pod.metadata?.uid ?? "", () => true);
  }

  /** upstream CleanupPods: stops workers of pods not in `desired` (UIDs). */
  cleanupPods(desired: ReadonlySet<string>): void {
    for (const [k, w] of [...this.workers]) {
      const uid = w.pod.metadata?.uid ?? "";
      if (desired.has(uid)) continue;
      this.workers.delete(k);
      w.stop();
    }
  }

  /** Stops every worker. */
  stop(): void {
    this.stopped = true;
    for (const w of this.workers.values()) w.stop();
    this.workers.clear();
  }

  /** Workers running (all pods). */
  get workerCount(): number {
    return this.workers.size;
  }

  // ---- what the status computation asks (upstream UpdatePodStatus) ----

  /** upstream isContainerStarted: the startup probe passed, or there is none. */
  started(pod: Pod, container: Container, containerId: string): boolean {
    const r = this.results.startup.get(containerId);
    if (r !== undefined) return r === "success";
    // A startup probe that has not run yet: not started.
    return !this.workers.has(key(pod.metadata?.uid ?? "", container.name, "startup"));
  }

  /** Readiness of a started, running container; asks for a probe run at once when it has no success yet. */
  ready(pod: Pod, container: Container, containerId: string): boolean {
    if (this.results.readiness.get(containerId) === "success") return true;
    const w = this.workers.get(key(pod.metadata?.uid ?? "", container.name, "readiness"));
    // No readiness probe: always ready.
    if (!w) return true;
    w.trigger();
    return false;
  }

  // ---- what the sync loop acts on ----

  /** The cached result of a probe type for a container, undefined when none. */
  result(type: ProbeType, containerId: string): ProbeResult | undefined {
    return this.results[type].get(containerId);
  }

  private stopWhere(uid: string, which: (t: ProbeType) => boolean): void {
    for (const [k, w] of [...this.workers]) {
      if (w.pod.metadata?.uid !== uid || !which(w.type)) continue;
      this.workers.delete(k);
      w.stop();
    }
  }

  private forget(w: ProbeWorker): void {
    const k = key(w.pod.metadata?.uid ?? "", w.container.name, w.type);
    if (this.workers.get(k) === w) this.workers.delete(k);
  }
}
