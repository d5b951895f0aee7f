/**
 * One probe worker per pod, container and probe type (upstream
 * pkg/kubelet/prober/worker.go): it probes every periodSeconds (plus a run
 * on demand when the status computation wants a readiness answer), starts
 * only once the container has run for initialDelaySeconds, keeps startup
 * probes until the container started and the others until then quiet, and
 * changes the cached result only after failureThreshold failures or
 * successThreshold successes in a row. A container that failed its
 * liveness or startup probe is left alone until it is replaced. The worker
 * ends when the pod reaches a terminal phase, when its container will not
 * run again, or when the pod is being deleted (liveness and startup then
 * report success so the shutdown is quiet).
 */
import type { Container, ContainerStatus, Pod, PodStatus, Probe } from "kubernetes-types/core/v1.js";
import type { Timers } from "../../client/timers.js";
import type { Logger } from "../../machinery/log.js";
import type { ProbeRun } from "./prober.js";
import { probeSpec } from "./prober.js";
import type { ResultsManager } from "./results.js";
import type { ProbeResult, ProbeType } from "./types.js";

/** What a worker needs from its manager. */
export interface WorkerHost {
  readonly timers: Timers;
  readonly logger: Logger;
  /** When the prober manager started (epoch ms): workers of a freshly started kubelet spread their first runs. */
  readonly startedAt: number;
  /** A number in [0, 1) (the start spread). */
  readonly random: () => number;
  /** The status manager's latest status of the pod. */
  podStatus(uid: string): PodStatus | undefined;
  results(type: ProbeType): ResultsManager;
  probe(type: ProbeType, pod: Pod, status: PodStatus, container: Container, containerId: string): Promise<ProbeRun>;
  /** When the container started (epoch ms, exact), if the runtime can say. */
  containerStartedAt(containerId: string): Promise<number | undefined>;
  /** The worker ended by itself. */
  workerDone(worker: ProbeWorker): void;
}

/** `scheme://id` → `id`. */
export function runtimeIdOf(containerID: string | undefined): string {
  return (containerID ?? "").replace(/^[^:]*:\/\//, "");
}

function findStatus(status: PodStatus, name: string): ContainerStatus | undefined {
  const c = status.containerStatuses?.find((s) => s.name === name);
  if (c?.containerID) return c;
  const i = status.initContainerStatuses?.find((s) => s.name === name);
  return i?.containerID ? i : undefined;
}

/** One probe worker. */
export class ProbeWorker {
  readonly spec: Probe;
  private readonly initialValue: ProbeResult;
  private readonly periodMs: number;
  private containerId = "";
  private startedAtMs: number | undefined;
  private onHold = false;
  private lastResult: ProbeResult | undefined;
  private resultRun = 0;
  private running = false;
  private pending = false;
  private stopped = false;
  private cleaned = false;
  private cancelTick: (() => void) | undefined;

  constructor(
    private readonly host: WorkerHost,
    readonly type: ProbeType,
    /** The pod as last seen (the manager refreshes it, e.g. for its deletionTimestamp). */
    public pod: Pod,
    readonly container: Container,
  ) {
    this.spec = probeSpec(container, type)!;
    this.initialValue = type === "readiness" ? "failure" : type === "liveness" ? "success" : "unknown";
    this.periodMs = Math.max(1, this.spec.periodSeconds ?? 10) * 1000;
  }

  /** The container id the worker currently probes ("" before it saw one). */
  get currentContainerId(): string {
    return this.containerId;
  }

  /** Starts probing: at once, or after a random part of the period when the kubelet just started. */
  start(): void {
    const h = this.host;
    const sinceStart = h.timers.now() - h.startedAt;
    const delay = this.periodMs > sinceStart ? Math.floor(h.random() * this.periodMs) : 0;
    this.cancelTick = h.timers.after(delay, () => {
      this.scheduleTick(h.timers.now() + this.periodMs);
      this.trigger();
    });
  }

  /** Runs a probe now unless one runs (then one more run follows it), as upstream's manual trigger. */
  trigger(): void {
    if (this.stopped) return;
    if (this.running) {
      this.pending = true;
      return;
    }
    void this.run();
  }

  /** Stops the worker; its cached result is dropped once any running probe ends. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.cancelTick?.();
    if (!this.running) this.cleanup();
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  private scheduleTick(at: number): void {
    if (this.stopped) return;
    this.cancelTick = this.host.timers.after(at - this.host.timers.now(), () => {
      // A ticker: the next tick is due a period after this one, however long the probe takes.
      this.scheduleTick(at + this.periodMs);
      this.trigger();
    });
  }

  private async run(): Promise<void> {
    this.running = true;
    let keepGoing = true;
    try {
      do {
        this.pending = false;
        keepGoing = await this.doProbe();
      } while (keepGoing && this.pending && !this.stopped);
    } catch (err) {
      // A throw is a bug; upstream's worker survives panics too.
      this.host.logger.error("probe worker failed", { pod: podName(this.pod), container: this.container.name, probe: this.type, err: String((err as Error)?.stack ?? err) });
    } finally {
      this.running = false;
    }
    if (!keepGoing && !this.stopped) {
      this.stopped = true;
      this.cancelTick?.();
      this.host.workerDone(this);
    }
    if (this.stopped) this.cleanup();
  }

  private cleanup(): void {
    if (this.cleaned) return;
    this.cleaned = true;
    if (this.containerId) this.host.results(this.type).remove(this.containerId);
  }

  private setResult(result: ProbeResult): void {
    this.host.results(this.type).set(this.containerId, result, this.pod.metadata?.uid ?? "");
  }

  /** upstream doProbe: one probe and its bookkeeping; false ends the worker. */
  private async doProbe(): Promise<boolean> {
    const h = this.host;
    const uid = this.pod.metadata?.uid ?? "";
    const status = h.podStatus(uid);
    // No status yet (not created) or none any more (deleted).
    if (!status) return true;
    if (status.phase === "Failed" || status.phase === "Succeeded") return false;
    const c = findStatus(status, this.container.name);
    // The container has not been created yet, or was deleted: wait.
    if (!c) return true;
    const id = runtimeIdOf(c.containerID);
    if (id !== this.containerId) {
      if (this.containerId) h.results(this.type).remove(this.containerId);
      this.containerId = id;
      this.startedAtMs = undefined;
      this.setResult(this.initialValue);
      // A new container: probe again.
      this.onHold = false;
    }
    if (this.onHold) return true;
    if (!c.state?.running) {
      this.setResult("failure");
      // Ends only when the container will not run again.
      return !c.state?.terminated || (this.pod.spec?.restartPolicy ?? "Always") !== "Never";
    }
    if (this.pod.metadata?.deletionTimestamp && (this.type === "liveness" || this.type === "startup")) {
      // A last result so the shutdown is quiet, then no more probing.
      this.setResult("success");
      return false;
    }
    const startedAt = await this.startedAt(c);
    if (startedAt !== undefined && Math.trunc((h.timers.now() - startedAt) / 1000) < (this.spec.initialDelaySeconds ?? 0)) return true;
    if (c.started === true) {
      // Startup probing ends once the container started (the worker stays for a restarted container).
      if (this.type === "startup") return true;
    } else if (this.type !== "startup") {
      // Other probes wait for the startup probe.
      return true;
    }

    const run = await h.probe(this.type, this.pod, status, this.container, this.containerId);
    // The container may have been replaced or the worker stopped while the probe ran.
    if (this.stopped || run.errored) return true;
    const result: ProbeResult = run.result;
    if (this.lastResult === result) this.resultRun++;
    else {
      this.lastResult = result;
      this.resultRun = 1;
    }
    const failureThreshold = this.spec.failureThreshold ?? 3;
    const successThreshold = this.spec.successThreshold ?? 1;
    if ((result === "failure" && this.resultRun < failureThreshold) || (result === "success" && this.resultRun < successThreshold)) return true;
    this.setResult(result);
    if ((this.type === "liveness" || this.type === "startup") && result === "failure") {
      // It will be restarted: leave it alone until a new container shows up.
      this.onHold = true;
      this.resultRun = 0;
    }
    return true;
  }

  /** The container's start time: the runtime's exact one, else the status's (whole seconds). */
  private async startedAt(c: ContainerStatus): Promise<number | undefined> {
    if (this.startedAtMs !== undefined) return this.startedAtMs;
    const id = this.containerId;
    const exact = await this.host.containerStartedAt(id);
    const fromStatus = c.state?.running?.startedAt ? Date.parse(c.state.running.startedAt) : Number.NaN;
    const value = exact !== undefined && exact > 0 ? exact : Number.isNaN(fromStatus) ? undefined : fromStatus;
    if (id === this.containerId) this.startedAtMs = value;
    return value;
  }
}

function podName(pod: Pod): string {
  return `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;
}
