/**
 * The simulated container runtime (`--runtime sim`), KWOK-style: sandboxes
 * get IPs from the node's pod range and containers move through created →
 * running → exited on timers, with no process anywhere. What each
 * container does comes from its spec (see knobs.ts), so tests ask for
 * outcomes; start delay, pull delay and a random failure rate are options.
 * One instance serves one node; a thousand fit in one process.
 */
import { createHash, randomBytes } from "node:crypto";
import { systemTimers, type Timers } from "../../client/timers.js";
import {
  type ContainerConfig,
  type ContainerEvent,
  type ContainerFilter,
  type ContainerRuntime,
  type ContainerState,
  type ExecSyncResult,
  type ContainerStatus,
  type ContainerSummary,
  fail,
  type Image,
  ok,
  type PodSandbox,
  type PodSandboxConfig,
  type PodSandboxFilter,
  type PodSandboxStatus,
  type RuntimeCondition,
  type RuntimeConfig,
  type RuntimeResult,
  type RuntimeVersion,
  type StreamSession,
  type StringMap,
} from "../types.js";
import { type Cidr, formatCidr, IpPool, parseCidr } from "../../machinery/cidr.js";
import { behaviourOf, type SimBehaviour, simulatedPullFailure } from "./knobs.js";

/** Version the sim runtime reports (`sim://0.1.0` on the node). */
export const SIM_RUNTIME_VERSION = "0.1.0";

/** Options of a {@link SimRuntime}. */
export interface SimRuntimeOptions {
  /** The node's pod range, e.g. `10.42.3.0/24`. */
  readonly podCidr: string;
  /** The node's IP: what host-network sandboxes report. */
  readonly hostIp?: string;
  /** Time from `startContainer` to running (0). */
  readonly containerStartDelayMs?: number;
  /** Time a pull takes (0). */
  readonly imagePullDelayMs?: number;
  /** Probability (0–1) that a started container fails at once with exit code 1 (0). */
  readonly failureRate?: number;
  /** Seed of the failure-rate generator, so runs repeat (1). */
  readonly seed?: number;
  /** Images present from the start (as if pulled). */
  readonly preloadedImages?: readonly string[];
  readonly timers?: Timers;
}

interface SimSandbox {
  readonly id: string;
  readonly config: PodSandboxConfig;
  readonly createdAt: number;
  state: "ready" | "notready";
  ips: string[];
}

interface SimContainer {
  readonly id: string;
  readonly sandboxId: string;
  readonly config: ContainerConfig;
  readonly imageRef: string;
  readonly createdAt: number;
  readonly behaviour: SimBehaviour;
  state: ContainerState;
  startedAt: number;
  finishedAt: number;
  exitCode: number;
  reason: string;
  message: string;
  /** Cancels the pending exit timer. */
  cancel?: () => void;
  /** Resolves waiters of a stop in progress. */
  exitWaiters: (() => void)[];
}

/** mulberry32: a small seeded generator, so failure injection repeats run to run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function matchesLabels(labels: StringMap, selector: StringMap | undefined): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}

function newId(): string {
  return randomBytes(32).toString("hex");
}

/** The repository part of an image reference (no tag, no digest). */
function repository(image: string): string {
  const at = image.indexOf("@");
  const ref = at >= 0 ? image.slice(0, at) : image;
  const slash = ref.lastIndexOf("/");
  const colon = ref.indexOf(":", slash + 1);
  return colon >= 0 ? ref.slice(0, colon) : ref;
}

function digestOf(image: string): string {
  return `sha256:${createHash("sha256").update(image).digest("hex")}`;
}

function exitReason(code: number, oom: boolean): string {
  if (oom) return "OOMKilled";
  return code === 0 ? "Completed" : "Error";
}

/** A container runtime that runs nothing: see the module comment. */
export class SimRuntime implements ContainerRuntime {
  readonly type = "sim";
  private readonly timers: Timers;
  private readonly random: () => number;
  private readonly sandboxes = new Map<string, SimSandbox>();
  private readonly containers = new Map<string, SimContainer>();
  private readonly images = new Map<string, Image>();
  private readonly listeners = new Set<(e: ContainerEvent) => void>();
  private pool: IpPool;
  private closed = false;

  constructor(private readonly opts: SimRuntimeOptions) {
    this.timers = opts.timers ?? systemTimers;
    this.random = seeded(opts.seed ?? 1);
    this.pool = new IpPool(parseCidr(opts.podCidr));
    for (const image of opts.preloadedImages ?? []) this.addImage(image);
  }

  /** The pod range IPs come from. */
  get podCidr(): string {
    return formatCidr(this.pool.range);
  }

  // ---- runtime ----

  async version(): Promise<RuntimeResult<RuntimeVersion>> {
    return ok({ runtimeName: "sim", runtimeVersion: SIM_RUNTIME_VERSION, runtimeApiVersion: "v1" });
  }

  async status(): Promise<RuntimeResult<readonly RuntimeCondition[]>> {
    return ok([
      { type: "RuntimeReady", status: true },
      { type: "NetworkReady", status: true },
    ]);
  }

  async updateRuntimeConfig(config: RuntimeConfig): Promise<RuntimeResult<void>> {
    if (!config.podCidr) return ok(undefined);
    let cidr: Cidr;
    try {
      cidr = parseCidr(config.podCidr);
    } catch (err) {
      return fail("InvalidArgument", (err as Error).message);
    }
    if (formatCidr(cidr) === this.podCidr) return ok(undefined);
    // New sandboxes use the new range; running ones keep their addresses, as CNI would.
    this.pool = new IpPool(cidr);
    return ok(undefined);
  }

  subscribe(listener: (event: ContainerEvent) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  simulatedProbe(containerId: string, probe: "readiness" | "liveness" | "startup"): boolean | undefined {
    const c = this.containers.get(containerId);
    if (!c || probe !== "readiness") return undefined;
    return c.behaviour.ready;
  }

  // ---- streaming: nothing runs, so there is nothing to stream into ----

  async execSync(containerId: string): Promise<RuntimeResult<ExecSyncResult>> {
    const c = this.containers.get(containerId);
    if (!c) return fail("NotFound", `container ${containerId} not found`);
    // A simulated command succeeds silently, as the simulated probes do.
    return ok({ exitCode: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), timedOut: false });
  }

  async exec(): Promise<RuntimeResult<StreamSession>> {
    return fail("Unimplemented", "the simulated runtime runs no processes: exec is not available on simulated nodes");
  }

  async attach(): Promise<RuntimeResult<StreamSession>> {
    return fail("Unimplemented", "the simulated runtime runs no processes: attach is not available on simulated nodes");
  }

  async portForward(): Promise<RuntimeResult<NodeJS.ReadWriteStream>> {
    return fail("Unimplemented", "the simulated runtime runs no processes: port-forward is not available on simulated nodes");
  }

  async reopenContainerLog(containerId: string): Promise<RuntimeResult<void>> {
    return this.containers.has(containerId) ? ok(undefined) : fail("NotFound", `container ${containerId} not found`);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const c of this.containers.values()) c.cancel?.();
    this.listeners.clear();
  }

  // ---- sandboxes ----

  async runPodSandbox(config: PodSandboxConfig): Promise<RuntimeResult<string>> {
    let ips: string[] = [];
    if (config.hostNetwork) {
      ips = this.opts.hostIp ? [this.opts.hostIp] : [];
    } else {
      const ip = this.pool.allocate();
      if (!ip) return fail("ResourceExhausted", `failed to allocate for range 0: no IP addresses available in range set: ${this.podCidr}`);
      ips = [ip];
    }
    const sb: SimSandbox = { id: newId(), config, createdAt: this.timers.now(), state: "ready", ips };
    this.sandboxes.set(sb.id, sb);
    return ok(sb.id);
  }

  async stopPodSandbox(id: string): Promise<RuntimeResult<void>> {
    const sb = this.sandboxes.get(id);
    if (!sb) return ok(undefined);
    // As CRI runtimes do: whatever still runs is killed at once.
    for (const c of this.containers.values()) {
      if (c.sandboxId === id && (c.state === "running" || c.state === "created")) this.exit(c, 137, false, "");
    }
    this.releaseNetwork(sb);
    sb.state = "notready";
    return ok(undefined);
  }

  async removePodSandbox(id: string): Promise<RuntimeResult<void>> {
    const sb = this.sandboxes.get(id);
    if (!sb) return ok(undefined);
    for (const c of [...this.containers.values()]) {
      if (c.sandboxId !== id) continue;
      if (c.state === "running" || c.state === "created") this.exit(c, 137, false, "");
      this.deleteContainer(c);
    }
    this.releaseNetwork(sb);
    this.sandboxes.delete(id);
    return ok(undefined);
  }

  async podSandboxStatus(id: string): Promise<RuntimeResult<PodSandboxStatus>> {
    const sb = this.sandboxes.get(id);
    if (!sb) return fail("NotFound", `an error occurred when try to find sandbox: not found: ${id}`);
    return ok({ ...this.sandboxSummary(sb), ips: [...sb.ips] });
  }

  async listPodSandbox(filter: PodSandboxFilter = {}): Promise<RuntimeResult<readonly PodSandbox[]>> {
    const out: PodSandbox[] = [];
    for (const sb of this.sandboxes.values()) {
      if (filter.id && sb.id !== filter.id) continue;
      if (filter.state && sb.state !== filter.state) continue;
      if (!matchesLabels(sb.config.labels, filter.labelSelector)) continue;
      out.push(this.sandboxSummary(sb));
    }
    return ok(out);
  }

  // ---- containers ----

  async createContainer(podSandboxId: string, config: ContainerConfig, _sandboxConfig: PodSandboxConfig): Promise<RuntimeResult<string>> {
    const sb = this.sandboxes.get(podSandboxId);
    if (!sb) return fail("NotFound", `failed to get sandbox ${podSandboxId}: not found`);
    if (sb.state !== "ready") return fail("FailedPrecondition", `sandbox ${podSandboxId} is not running`);
    const image = this.images.get(config.image);
    if (!image) return fail("NotFound", `failed to get image "${config.image}": not found`);
    const c: SimContainer = {
      id: newId(),
      sandboxId: podSandboxId,
      config,
      imageRef: image.repoDigests[0] ?? image.id,
      createdAt: this.timers.now(),
      behaviour: behaviourOf(config),
      state: "created",
      startedAt: 0,
      finishedAt: 0,
      exitCode: 0,
      reason: "",
      message: "",
      exitWaiters: [],
    };
    this.containers.set(c.id, c);
    this.emit("created", c);
    return ok(c.id);
  }

  async startContainer(id: string): Promise<RuntimeResult<void>> {
    const c = this.containers.get(id);
    if (!c) return fail("NotFound", `container "${id}" not found`);
    if (c.state !== "created") return fail("FailedPrecondition", `container "${id}" is in ${c.state} state, not created`);
    const delay = this.opts.containerStartDelayMs ?? 0;
    if (delay > 0) await new Promise<void>((r) => this.timers.after(delay, r));
    if (c.state !== "created" || this.closed) return fail("FailedPrecondition", `container "${id}" was stopped before it started`);
    const b = c.behaviour;
    if (b.startError) {
      this.exit(c, 128, false, b.startError);
      c.reason = "StartError";
      return fail("Unknown", b.startError);
    }
    c.state = "running";
    c.startedAt = this.timers.now();
    this.emit("started", c);
    const rate = this.opts.failureRate ?? 0;
    if (rate > 0 && this.random() < rate) {
      c.cancel = this.timers.after(0, () => this.exit(c, 1, false, "simulated failure (failureRate)"));
    } else if (b.runMs !== undefined) {
      c.cancel = this.timers.after(b.runMs, () => this.exit(c, b.exitCode, b.oomKilled, ""));
    }
    return ok(undefined);
  }

  async stopContainer(id: string, timeoutSeconds: number): Promise<RuntimeResult<void>> {
    const c = this.containers.get(id);
    if (!c) return fail("NotFound", `container "${id}" not found`);
    if (c.state === "exited" || c.state === "unknown") return ok(undefined);
    if (c.state === "created") {
      this.exit(c, 0, false, "");
      return ok(undefined);
    }
    const exited = new Promise<void>((r) => c.exitWaiters.push(r));
    const graceMs = Math.max(0, timeoutSeconds) * 1000;
    const b = c.behaviour;
    c.cancel?.();
    if (b.termMs <= graceMs) {
      if (b.termMs === 0) this.exit(c, b.termExitCode, false, "");
      else c.cancel = this.timers.after(b.termMs, () => this.exit(c, b.termExitCode, false, ""));
    } else {
      // It ignores the stop signal: killed when the grace period ends.
      c.cancel = this.timers.after(graceMs, () => this.exit(c, 137, false, ""));
    }
    await exited;
    return ok(undefined);
  }

  async removeContainer(id: string): Promise<RuntimeResult<void>> {
    const c = this.containers.get(id);
    if (!c) return ok(undefined);
    if (c.state === "running") return fail("FailedPrecondition", `container "${id}" is running: stop it before removing it`);
    this.deleteContainer(c);
    return ok(undefined);
  }

  async listContainers(filter: ContainerFilter = {}): Promise<RuntimeResult<readonly ContainerSummary[]>> {
    const out: ContainerSummary[] = [];
    for (const c of this.containers.values()) {
      if (filter.id && c.id !== filter.id) continue;
      if (filter.podSandboxId && c.sandboxId !== filter.podSandboxId) continue;
      if (filter.state && c.state !== filter.state) continue;
      if (!matchesLabels(c.config.labels, filter.labelSelector)) continue;
      out.push(this.summary(c));
    }
    return ok(out);
  }

  async containerStatus(id: string): Promise<RuntimeResult<ContainerStatus>> {
    const c = this.containers.get(id);
    if (!c) return fail("NotFound", `an error occurred when try to find container "${id}": not found`);
    return ok({
      ...this.summary(c),
      startedAt: c.startedAt,
      finishedAt: c.finishedAt,
      exitCode: c.exitCode,
      reason: c.reason,
      message: c.message,
      mounts: c.config.mounts,
      logPath: c.config.logPath ?? "",
    });
  }

  // ---- images ----

  async listImages(): Promise<RuntimeResult<readonly Image[]>> {
    return ok([...this.images.values()]);
  }

  async imageStatus(image: string): Promise<RuntimeResult<Image | undefined>> {
    return ok(this.images.get(image));
  }

  async pullImage(image: string): Promise<RuntimeResult<string>> {
    const delay = this.opts.imagePullDelayMs ?? 0;
    if (delay > 0) await new Promise<void>((r) => this.timers.after(delay, r));
    const failure = simulatedPullFailure(image);
    if (failure) return fail(failure.code, failure.message);
    const img = this.addImage(image);
    return ok(img.repoDigests[0] ?? img.id);
  }

  async removeImage(image: string): Promise<RuntimeResult<void>> {
    this.images.delete(image);
    return ok(undefined);
  }

  // ---- internals ----

  private addImage(image: string): Image {
    let img = this.images.get(image);
    if (!img) {
      const digest = digestOf(image);
      img = { id: digest, repoTags: [image], repoDigests: [`${repository(image)}@${digest}`], size: 1_048_576 };
      this.images.set(image, img);
    }
    return img;
  }

  private exit(c: SimContainer, code: number, oom: boolean, message: string): void {
    if (c.state === "exited") return;
    c.cancel?.();
    c.cancel = undefined;
    const wasRunning = c.state === "running";
    c.state = "exited";
    c.exitCode = code;
    c.reason = wasRunning || code !== 0 ? exitReason(code, oom) : "";
    c.message = message;
    c.finishedAt = this.timers.now();
    const waiters = c.exitWaiters;
    c.exitWaiters = [];
    for (const w of waiters) w();
    this.emit("stopped", c);
  }

  private deleteContainer(c: SimContainer): void {
    c.cancel?.();
    this.containers.delete(c.id);
    this.emit("deleted", c);
  }

  private releaseNetwork(sb: SimSandbox): void {
    if (!sb.config.hostNetwork) for (const ip of sb.ips) this.pool.release(ip);
    sb.ips = [];
  }

  private emit(type: ContainerEvent["type"], c: SimContainer): void {
    if (this.listeners.size === 0) return;
    const sb = this.sandboxes.get(c.sandboxId);
    const ev: ContainerEvent = { type, containerId: c.id, podSandboxId: c.sandboxId, sandboxLabels: sb?.config.labels ?? {}, at: this.timers.now() };
    for (const l of this.listeners) l(ev);
  }

  private sandboxSummary(sb: SimSandbox): PodSandbox {
    return { id: sb.id, metadata: sb.config.metadata, state: sb.state, createdAt: sb.createdAt, labels: sb.config.labels, annotations: sb.config.annotations };
  }

  private summary(c: SimContainer): ContainerSummary {
    return {
      id: c.id,
      podSandboxId: c.sandboxId,
      metadata: c.config.metadata,
      image: c.config.image,
      imageRef: c.imageRef,
      state: c.state,
      createdAt: c.createdAt,
      labels: c.config.labels,
      annotations: c.config.annotations,
    };
  }
}
