/**
 * The real container runtime (`--runtime runc`): pod sandboxes are
 * namespaces pinned on disk (no pause process, as CRI-O's pinns), each
 * container is an OCI bundle on an overlayfs root, created by runc and
 * watched by its own conmon, as CRI-O does. All state lives under
 * `rootDir`, so a new RuncRuntime on the same directory (after the agent
 * was killed) adopts every sandbox and container, and conmon records the
 * exits that happen while no agent runs.
 *
 * See ../types.ts for the contract; paths.ts for the directory layout.
 */
import { randomBytes } from "node:crypto";
import { accessSync, constants as fsConstants, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname as osHostname } from "node:os";
import { dirname, join, relative, resolve as resolvePath } from "node:path";
import { type Clock, systemClock } from "../../machinery/clock.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import type { PodNetwork } from "../../network/cni/types.js";
import type { LocalImageStore } from "../images/types.js";
import {
  type AuthConfig,
  type ContainerConfig,
  type ContainerEvent,
  type ContainerFilter,
  type ContainerRuntime,
  type ContainerStatus,
  type ContainerSummary,
  type ExecSyncResult,
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
  type StreamOptions,
  type StreamSession,
  type StringMap,
} from "../types.js";
import { isCgroupV2, oomKillCount, removeCgroupTree } from "./cgroups.js";
import { startConmon } from "./conmon.js";
import { hostnameProblem } from "./etc-files.js";
import { ExitWatcher } from "./exit-watcher.js";
import { isMountPoint, mountOverlay, unmountAllUnder } from "./mounts.js";
import { containerNofile, POD_SHM_SIZE_BYTES } from "./oci-defaults.js";
import { buildSpec, mountProblem } from "./oci-spec.js";
import { RuncPaths } from "./paths.js";
import { isAlive, livePidFromFile } from "./processes.js";
import { describeFailure } from "./run-command.js";
import { isNotExist, parseRuncVersion, RuncCli } from "./runc-cli.js";
import { pinNamespaces, releaseNamespaces } from "./sandbox-namespaces.js";
import { writeSandboxFiles } from "./sandbox-files.js";
import { type ContainerRecord, loadState, STATE_VERSION, type SandboxRecord, saveContainer, saveSandbox } from "./state.js";
import type { RuncStreamTarget } from "./stream-target.js";
import { resolveUser } from "./user.js";

/**
 * The streaming code (exec, attach, port-forward; node-pty among it), loaded
 * on first use: most nodes sit idle most of the time, and an idle agent
 * should not carry it in its memory.
 */
const streaming = () => import("./streaming/index.js");

/** Where the runtime finds runc and conmon when not told. */
export const DEFAULT_RUNC_PATH = "/usr/sbin/runc";
export const DEFAULT_CONMON_PATH = "/usr/bin/conmon";

/** Options of a {@link RuncRuntime}. */
export interface RuncRuntimeOptions {
  /** The runtime's state directory (`<data-dir>/agent/runtime`); created when missing. */
  readonly rootDir: string;
  readonly runcPath?: string;
  readonly conmonPath?: string;
  /**
   * The cgroup (cgroupfs path) all pods of this agent live under, e.g.
   * `/skiff` or `/skiff-<agent>`; pod `<uid>` gets `<cgroupParent>/pod<uid>`.
   */
  readonly cgroupParent: string;
  /** Wires each sandbox's network namespace (CNI). */
  readonly network: PodNetwork;
  /** Where images come from (root filesystems and configs); the image calls delegate to it. */
  readonly images: LocalImageStore;
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** How long `stopContainer` waits for an exit after SIGKILL before reporting DeadlineExceeded (60 s). */
  readonly killWaitMs?: number;
}

/** A container and what is in flight for it. */
interface ContainerEntry {
  rec: ContainerRecord;
  /** `runc start` is running: an exit seen meanwhile is applied after it, so events stay ordered. */
  starting: boolean;
  pendingExit: boolean;
  /** Called once the container exited. */
  readonly exitWaiters: Set<() => void>;
  /** `runc delete` after the exit, while it runs. */
  cleanup?: Promise<void>;
}

const CONTAINER_ID = /^[0-9a-f]{64}$/;

function newId(): string {
  return randomBytes(32).toString("hex");
}

function matchesLabels(labels: StringMap, selector: StringMap | undefined): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}

function exitReason(code: number, oom: boolean, started: boolean): string {
  if (oom) return "OOMKilled";
  if (!started && code === 0) return "";
  return code === 0 ? "Completed" : "Error";
}

/** The runc runtime: see the module comment. */
export class RuncRuntime implements ContainerRuntime {
  readonly type = "runc";
  readonly paths: RuncPaths;
  private readonly runc: RuncCli;
  private readonly runcPath: string;
  private readonly conmonPath: string;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly cgroupV2 = isCgroupV2();
  private readonly nofile = containerNofile();
  private readonly sandboxes = new Map<string, SandboxRecord>();
  private readonly containers = new Map<string, ContainerEntry>();
  private readonly listeners = new Set<(e: ContainerEvent) => void>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly watcher: ExitWatcher;
  private readonly ready: Promise<void>;
  private initError: string | undefined;
  private versionCache: RuntimeVersion | undefined;
  private closed = false;

  constructor(private readonly opts: RuncRuntimeOptions) {
    this.paths = new RuncPaths(resolvePath(opts.rootDir));
    this.runcPath = opts.runcPath ?? DEFAULT_RUNC_PATH;
    this.conmonPath = opts.conmonPath ?? DEFAULT_CONMON_PATH;
    this.runc = new RuncCli(this.runcPath, this.paths.runcRoot);
    this.log = (opts.logger ?? silentLogger).with({ component: "runc-runtime" });
    this.clock = opts.clock ?? systemClock;
    this.watcher = new ExitWatcher(
      this.paths.exitDir,
      (id) => this.onExitFile(id),
      (err) => this.log.error("exit watcher failed; exits are seen on the next list", { err: err.message }),
    );
    this.ready = this.init().catch((err: Error) => {
      this.initError = `the runc runtime could not load its state from ${this.paths.root}: ${err.message}`;
      this.log.error("runtime init failed", { err: err.message });
    });
  }

  // ---- lifecycle ----

  private async init(): Promise<void> {
    if (!this.opts.cgroupParent.startsWith("/") || this.opts.cgroupParent.split("/").includes("..")) {
      throw new Error(`cgroupParent ${JSON.stringify(this.opts.cgroupParent)} must be an absolute cgroup path`);
    }
    for (const d of [this.paths.root, this.paths.runcRoot, this.paths.exitDir, this.paths.socketDir, this.paths.execDir, this.paths.sandboxesDir, this.paths.containersDir]) {
      mkdirSync(d, { recursive: true, mode: 0o700 });
    }
    const state = loadState(this.paths);
    for (const id of state.orphanContainerDirs) await this.discardContainerDir(id);
    for (const id of state.orphanSandboxDirs) await this.discardSandboxDir(id);
    for (const rec of state.sandboxes) this.sandboxes.set(rec.id, rec);
    for (const rec of state.containers) this.containers.set(rec.id, { rec, starting: false, pendingExit: false, exitWaiters: new Set() });
    for (const sb of this.sandboxes.values()) await this.adoptSandbox(sb);
    for (const e of this.containers.values()) await this.adoptContainer(e);
    // Exit files of containers nobody knows (a create cut short by a crash) would stay forever.
    for (const name of readdirSync(this.paths.exitDir)) {
      // Only final names: a temporary name may be conmon writing a known container's exit right now.
      if (CONTAINER_ID.test(name) && !this.containers.has(name)) rmSync(join(this.paths.exitDir, name), { force: true });
    }
    // Exits from now on (and exit files already there) arrive through the watcher.
    this.watcher.start();
    this.log.info("runtime state loaded", { root: this.paths.root, sandboxes: this.sandboxes.size, containers: this.containers.size });
  }

  /** Makes an adopted sandbox's state agree with what still exists (after a reboot nothing does). */
  private async adoptSandbox(sb: SandboxRecord): Promise<void> {
    if (sb.state !== "ready") return;
    const pinned = isMountPoint(this.paths.sandboxNs(sb.id, "ipc"));
    const attached = sb.config.hostNetwork ? true : (await this.opts.network.attachment(sb.id)) !== undefined;
    if (!pinned || !attached) {
      this.log.warn("adopted sandbox lost its namespaces; marking it not ready", { sandbox: sb.id, pinned, attached });
      sb.state = "notready";
      sb.ips = [];
      this.persistSandbox(sb);
    }
  }

  /** Brings an adopted container up to date: exits while no agent ran, starts that were not recorded. */
  private async adoptContainer(e: ContainerEntry): Promise<void> {
    const c = e.rec;
    if (c.state === "exited") {
      // The runc record and cgroup may have outlived the agent that saw the exit.
      this.scheduleCleanup(e);
      return;
    }
    if (this.readExit(e)) return;
    const conmonAlive = livePidFromFile(this.paths.conmonPidFile(c.id), "conmon") !== undefined;
    const st = await this.runc.state(c.id);
    if (c.state === "created" && st?.status === "running") {
      // The agent died between `runc start` and recording it.
      c.state = "running";
      c.startedAt = this.clock.now();
      this.persistContainer(c);
    }
    // conmon may have written the exit and gone while we looked.
    if (this.readExit(e)) return;
    if (!conmonAlive && (!st || st.status === "stopped")) {
      this.markLost(e, "the container's monitor (conmon) is gone and recorded no exit code");
    } else if (!conmonAlive) {
      this.log.warn("container runs without its conmon; its exit will not be seen until it is stopped", { container: c.id });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.ready;
    this.watcher.close();
    this.listeners.clear();
    await Promise.all([...this.containers.values()].map((e) => e.cleanup));
  }

  subscribe(listener: (event: ContainerEvent) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  // ---- runtime ----

  async version(): Promise<RuntimeResult<RuntimeVersion>> {
    if (this.versionCache) return ok(this.versionCache);
    const r = await this.runc.version();
    const v = r.code === 0 ? parseRuncVersion(r.stdout) : undefined;
    if (!v) return fail("Unavailable", describeFailure(`failed to get the runc version from ${this.runcPath}`, r));
    this.versionCache = { runtimeName: "runc", runtimeVersion: v, runtimeApiVersion: "v1" };
    return ok(this.versionCache);
  }

  async status(): Promise<RuntimeResult<readonly RuntimeCondition[]>> {
    await this.ready;
    const problems: string[] = [];
    for (const [what, p] of [
      ["runc", this.runcPath],
      ["conmon", this.conmonPath],
    ] as const) {
      try {
        accessSync(p, fsConstants.X_OK);
      } catch {
        problems.push(`${what} is not executable at ${p}`);
      }
    }
    if (this.initError) problems.push(this.initError);
    const runtimeReady: RuntimeCondition =
      problems.length === 0 ? { type: "RuntimeReady", status: true } : { type: "RuntimeReady", status: false, reason: "RuntimeNotReady", message: problems.join("; ") };
    return ok([runtimeReady, this.opts.network.condition()]);
  }

  async updateRuntimeConfig(config: RuntimeConfig): Promise<RuntimeResult<void>> {
    if (!config.podCidr) return ok(undefined);
    return this.opts.network.setPodCidr(config.podCidr);
  }

  // ---- sandboxes ----

  runPodSandbox(config: PodSandboxConfig): Promise<RuntimeResult<string>> {
    return this.guard("runPodSandbox", () => this.doRunPodSandbox(config));
  }

  private async doRunPodSandbox(config: PodSandboxConfig): Promise<RuntimeResult<string>> {
    const md = config.metadata;
    if (!md?.name || !md.namespace || !md.uid) return fail("InvalidArgument", "sandbox metadata must have name, namespace and uid");
    if (/[^A-Za-z0-9_.-]/.test(md.uid)) return fail("InvalidArgument", `pod uid ${JSON.stringify(md.uid)} has characters not allowed in a cgroup name`);
    const hostNetwork = config.hostNetwork === true;
    const hostname = hostNetwork ? osHostname() : config.hostname || md.name;
    if (!hostNetwork) {
      const problem = hostnameProblem(hostname);
      if (problem) return fail("InvalidArgument", problem);
    }
    let podCgroup = `${this.opts.cgroupParent.replace(/\/+$/, "")}/pod${md.uid}`;
    if (config.cgroupParent) {
      if (config.cgroupParent.split("/").includes("..")) return fail("InvalidArgument", `cgroupParent ${JSON.stringify(config.cgroupParent)} must not contain ".."`);
      // The kubelet's QoS tree (e.g. "kubepods/burstable/pod<uid>") lives under this agent's cgroup.
      podCgroup = join(this.opts.cgroupParent, config.cgroupParent);
    }

    const id = newId();
    const dir = this.paths.sandboxDir(id);
    mkdirSync(join(dir, "ns"), { recursive: true, mode: 0o755 });
    let networkUp = false;
    const undo = async (why: RuntimeResult<string>) => {
      await unmountAllUnder(dir);
      if (networkUp) await this.opts.network.tearDown(id);
      rmSync(dir, { recursive: true, force: true });
      return why;
    };

    mkdirSync(this.paths.sandboxShm(id), { mode: 0o1777 });
    // The network and the namespaces are independent: set both up at once.
    const [att, pinned] = await Promise.all([
      hostNetwork
        ? Promise.resolve(undefined)
        : this.opts.network.setUp({ sandboxId: id, podName: md.name, podNamespace: md.namespace, podUid: md.uid, portMappings: config.portMappings ?? [] }),
      pinNamespaces({
        ipcPath: this.paths.sandboxNs(id, "ipc"),
        ...(hostNetwork ? {} : { utsPath: this.paths.sandboxNs(id, "uts") }),
        hostname,
        shmPath: this.paths.sandboxShm(id),
        shmOptions: `mode=1777,size=${POD_SHM_SIZE_BYTES},nosuid,nodev,noexec`,
      }),
    ]);
    networkUp = att?.ok === true;
    if (att && !att.ok) return undo(fail(att.error.code, `failed to setup network for sandbox "${id}": ${att.error.message}`));
    if (!pinned.ok) return undo(fail(pinned.error.code, pinned.error.message));
    const ips = att ? [...att.value.ips] : [];
    const netnsPath = att?.value.netnsPath;
    writeSandboxFiles(this.paths, id, config, hostname, ips);

    const rec: SandboxRecord = {
      version: STATE_VERSION,
      id,
      config,
      createdAt: this.clock.now(),
      state: "ready",
      ips,
      ...(netnsPath ? { netnsPath } : {}),
      hostname,
      podCgroup,
      ownUts: !hostNetwork,
    };
    try {
      saveSandbox(this.paths, rec);
    } catch (err) {
      return undo(fail("Unknown", `failed to save the sandbox state: ${(err as Error).message}`));
    }
    this.sandboxes.set(id, rec);
    this.log.debug("sandbox ready", { sandbox: id, pod: `${md.namespace}/${md.name}`, ip: ips[0] });
    return ok(id);
  }

  stopPodSandbox(id: string): Promise<RuntimeResult<void>> {
    return this.guard("stopPodSandbox", () => this.serialize(`sb:${id}`, () => this.doStopPodSandbox(id)));
  }

  private async doStopPodSandbox(id: string): Promise<RuntimeResult<void>> {
    const sb = this.sandboxes.get(id);
    if (!sb) return ok(undefined);
    // As CRI runtimes do: whatever still runs is killed at once (the kubelet stopped them gracefully before).
    for (const e of [...this.containers.values()]) {
      if (e.rec.sandboxId !== id || e.rec.state === "exited") continue;
      const r = await this.stopContainer(e.rec.id, 0);
      if (!r.ok) return r;
    }
    if (!sb.config.hostNetwork) {
      const r = await this.opts.network.tearDown(id);
      if (!r.ok) return fail(r.error.code, `failed to destroy network for sandbox "${id}": ${r.error.message}`);
    }
    const released = await releaseNamespaces({
      ipcPath: this.paths.sandboxNs(id, "ipc"),
      ...(sb.ownUts ? { utsPath: this.paths.sandboxNs(id, "uts") } : {}),
      shmPath: this.paths.sandboxShm(id),
    });
    if (!released.ok) return released;
    if (sb.state !== "notready" || sb.ips.length > 0 || sb.netnsPath) {
      sb.state = "notready";
      sb.ips = [];
      delete sb.netnsPath;
      this.persistSandbox(sb);
      this.log.debug("sandbox stopped", { sandbox: id, pod: `${sb.config.metadata.namespace}/${sb.config.metadata.name}` });
    }
    return ok(undefined);
  }

  removePodSandbox(id: string): Promise<RuntimeResult<void>> {
    return this.guard("removePodSandbox", async () => {
      const sb = this.sandboxes.get(id);
      if (!sb) return ok(undefined);
      const stopped = await this.stopPodSandbox(id);
      if (!stopped.ok) return stopped;
      return this.serialize(`sb:${id}`, async () => {
        for (const e of [...this.containers.values()]) {
          if (e.rec.sandboxId !== id) continue;
          const r = await this.removeContainer(e.rec.id);
          if (!r.ok) return r;
        }
        // A pod's next sandbox (attempt + 1) lives in the same pod cgroup: it goes with the pod's last sandbox.
        const shared = [...this.sandboxes.values()].some((o) => o.id !== id && o.podCgroup === sb.podCgroup);
        if (!shared) {
          const cg = removeCgroupTree(sb.podCgroup);
          if (cg) return fail("Unknown", `failed to remove the pod cgroup: ${cg}`);
        }
        const um = await unmountAllUnder(this.paths.sandboxDir(id));
        if (!um.ok) return um;
        rmSync(this.paths.sandboxDir(id), { recursive: true, force: true });
        this.sandboxes.delete(id);
        this.log.debug("sandbox removed", { sandbox: id });
        return ok(undefined);
      });
    });
  }

  async podSandboxStatus(id: string): Promise<RuntimeResult<PodSandboxStatus>> {
    await this.ready;
    const sb = this.sandboxes.get(id);
    if (!sb) return fail("NotFound", `an error occurred when try to find sandbox: not found: ${id}`);
    return ok({ ...this.sandboxSummary(sb), ips: [...sb.ips] });
  }

  async listPodSandbox(filter: PodSandboxFilter = {}): Promise<RuntimeResult<readonly PodSandbox[]>> {
    await this.ready;
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

  createContainer(podSandboxId: string, config: ContainerConfig, _sandboxConfig: PodSandboxConfig): Promise<RuntimeResult<string>> {
    return this.guard("createContainer", () => this.serialize(`sb:${podSandboxId}`, () => this.doCreateContainer(podSandboxId, config)));
  }

  private async doCreateContainer(podSandboxId: string, config: ContainerConfig): Promise<RuntimeResult<string>> {
    const sb = this.sandboxes.get(podSandboxId);
    if (!sb) return fail("NotFound", `failed to get sandbox ${podSandboxId}: not found`);
    if (sb.state !== "ready") return fail("FailedPrecondition", `sandbox ${podSandboxId} is not running`);
    const md = config.metadata;
    if (!md?.name) return fail("InvalidArgument", "container metadata must have a name");
    const pod = sb.config.metadata;
    const name = `k8s_${md.name}_${pod.name}_${pod.namespace}_${pod.uid}_${md.attempt}`;
    for (const e of this.containers.values()) {
      if (e.rec.sandboxId === podSandboxId && e.rec.name === name) {
        return fail("AlreadyExists", `failed to reserve container name "${name}": name "${name}" is reserved for "${e.rec.id}"`);
      }
    }
    const mp = mountProblem(config.mounts);
    if (mp) return fail("InvalidArgument", mp);
    const resolved = await this.opts.images.resolveImage(config.image);
    if (!resolved.ok) return fail(resolved.error.code, `failed to get image "${config.image}": ${resolved.error.message}`);
    const image = resolved.value;
    if (!image) return fail("NotFound", `failed to get image "${config.image}": image not found; pull it first`);

    let logPath: string;
    const id = newId();
    const bundle = this.paths.bundle(id);
    if (sb.config.logDirectory && config.logPath) {
      logPath = resolvePath(sb.config.logDirectory, config.logPath);
      const rel = relative(resolvePath(sb.config.logDirectory), logPath);
      if (rel.startsWith("..") || rel === "") return fail("InvalidArgument", `log path ${JSON.stringify(config.logPath)} leaves the pod's log directory`);
    } else {
      logPath = join(bundle, "console.log");
    }

    for (const d of [this.paths.rootfs(id), this.paths.upper(id), this.paths.work(id)]) mkdirSync(d, { recursive: true, mode: 0o755 });
    const undo = async (why: RuntimeResult<string>): Promise<RuntimeResult<string>> => {
      await this.discardContainerDir(id);
      return why;
    };

    for (const m of config.mounts) {
      // A missing host path becomes a directory, as containerd does.
      if (!existsSync(m.hostPath)) mkdirSync(m.hostPath, { recursive: true, mode: 0o755 });
    }
    // conmon opens the log file as it starts.
    mkdirSync(dirname(logPath), { recursive: true, mode: 0o755 });

    // conmon starts up (held before runc create) while the root filesystem is mounted and the spec written.
    const conmon = startConmon({
      conmonPath: this.conmonPath,
      runcPath: this.runcPath,
      runcRoot: this.paths.runcRoot,
      id,
      name,
      bundle,
      pidFile: this.paths.pidFile(id),
      conmonPidFile: this.paths.conmonPidFile(id),
      logPath,
      exitDir: this.paths.exitDir,
      persistDir: bundle,
      socketDirPath: this.paths.socketDir,
      tty: config.tty === true,
      stdin: config.stdin === true,
      stdinOnce: config.stdinOnce === true,
    });
    const abort = (why: RuntimeResult<string>) => {
      conmon.abort();
      return undo(why);
    };
    const mounted = await mountOverlay(this.paths.rootfs(id), image.lowerDirs, this.paths.upper(id), this.paths.work(id));
    if (!mounted.ok) return abort(fail(mounted.error.code, mounted.error.message));
    const user = resolveUser(this.paths.rootfs(id), image.config.user);
    if (!user.ok) return abort(fail("InvalidArgument", user.message));

    const cgroupsPath = `${sb.podCgroup}/${id}`;
    const spec = buildSpec({
      config,
      image: image.config,
      rootfs: this.paths.rootfs(id),
      user: user.user,
      cgroupsPath,
      cgroupV2: this.cgroupV2,
      nofile: this.nofile,
      sandbox: {
        sandboxId: sb.id,
        ...(sb.config.hostNetwork || !sb.netnsPath ? {} : { netnsPath: sb.netnsPath }),
        ipcNsPath: this.paths.sandboxNs(sb.id, "ipc"),
        ...(sb.ownUts ? { utsNsPath: this.paths.sandboxNs(sb.id, "uts") } : {}),
        hostname: sb.hostname,
        shmPath: this.paths.sandboxShm(sb.id),
        hostsPath: this.paths.sandboxFile(sb.id, "hosts"),
        resolvConfPath: this.paths.sandboxFile(sb.id, "resolv.conf"),
        hostnamePath: this.paths.sandboxFile(sb.id, "hostname"),
      },
    });
    if (spec.process.args.length === 0) return abort(fail("InvalidArgument", `no command specified for container "${md.name}": the image has no entrypoint or cmd`));
    writeFileSync(join(bundle, "config.json"), JSON.stringify(spec), { mode: 0o600 });

    const created = await conmon.release();
    if (!created.ok) return undo(fail(created.error.code, created.error.message));

    const rec: ContainerRecord = {
      version: STATE_VERSION,
      id,
      sandboxId: sb.id,
      config,
      imageRef: image.imageRef,
      createdAt: this.clock.now(),
      state: "created",
      startedAt: 0,
      finishedAt: 0,
      exitCode: 0,
      reason: "",
      message: "",
      pid: created.value,
      logPath,
      cgroupsPath,
      stopSignal: image.config.stopSignal || "SIGTERM",
      name,
    };
    try {
      saveContainer(this.paths, rec);
    } catch (err) {
      return undo(fail("Unknown", `failed to save the container state: ${(err as Error).message}`));
    }
    const entry: ContainerEntry = { rec, starting: false, pendingExit: false, exitWaiters: new Set() };
    this.containers.set(id, entry);
    this.emit("created", rec);
    this.log.debug("container created", { container: id, name, pod: `${pod.namespace}/${pod.name}`, pid: rec.pid });
    // An exit that raced the record (killed at once) was skipped by the watcher: look now.
    this.readExit(entry);
    return ok(id);
  }

  startContainer(id: string): Promise<RuntimeResult<void>> {
    return this.guard("startContainer", () => this.serialize(`c:${id}`, () => this.doStartContainer(id)));
  }

  private async doStartContainer(id: string): Promise<RuntimeResult<void>> {
    const e = this.containers.get(id);
    if (!e) return fail("NotFound", `container "${id}" not found`);
    const c = e.rec;
    if (c.state !== "created") return fail("FailedPrecondition", `container "${id}" is in ${c.state} state, not created`);
    e.starting = true;
    // The process cannot run before this instant; taking it first keeps startedAt ≤ finishedAt for instant exits.
    const startedAt = this.clock.now();
    const r = await this.runc.start(id);
    if (r.code !== 0) {
      const message = describeFailure("failed to start container", r);
      // As containerd: a container that could not start is exited with StartError (128) and the reason shown.
      // `starting` stays set until then, so conmon's exit record of the kill does not overwrite it.
      await this.runc.kill(id, "KILL");
      e.starting = false;
      e.pendingExit = false;
      c.state = "exited";
      c.exitCode = 128;
      c.reason = "StartError";
      c.message = message;
      c.finishedAt = this.clock.now();
      this.persistContainer(c);
      this.finishExit(e);
      return fail("Unknown", message);
    }
    e.starting = false;
    c.state = "running";
    c.startedAt = startedAt;
    this.persistContainer(c);
    this.emit("started", c);
    if (e.pendingExit) {
      e.pendingExit = false;
      this.readExit(e);
    }
    return ok(undefined);
  }

  stopContainer(id: string, timeoutSeconds: number): Promise<RuntimeResult<void>> {
    return this.guard("stopContainer", () => this.serialize(`c:${id}`, () => this.doStopContainer(id, timeoutSeconds)));
  }

  private async doStopContainer(id: string, timeoutSeconds: number): Promise<RuntimeResult<void>> {
    const e = this.containers.get(id);
    if (!e) return fail("NotFound", `container "${id}" not found`);
    const c = e.rec;
    if (this.readExit(e) || c.state === "exited" || c.state === "unknown") return ok(undefined);
    const graceMs = Math.max(0, timeoutSeconds) * 1000;
    if (c.state === "running" && graceMs > 0) {
      const r = await this.runc.kill(id, c.stopSignal);
      if (r.code !== 0 && !isNotExist(r)) this.log.warn("stop signal failed; killing", { container: id, signal: c.stopSignal, err: describeFailure("runc kill", r) });
      else if (await this.waitExit(e, graceMs)) return ok(undefined);
    }
    const k = await this.runc.kill(id, "KILL");
    if (k.code !== 0 && !isNotExist(k) && !/not running|stopped/i.test(k.stderr)) {
      this.log.warn("runc kill failed", { container: id, err: describeFailure("runc kill", k) });
    }
    if (await this.waitExit(e, this.opts.killWaitMs ?? 60_000)) return ok(undefined);
    return fail("DeadlineExceeded", `container "${id}" did not exit after SIGKILL`);
  }

  removeContainer(id: string): Promise<RuntimeResult<void>> {
    return this.guard("removeContainer", () => this.serialize(`c:${id}`, () => this.doRemoveContainer(id)));
  }

  private async doRemoveContainer(id: string): Promise<RuntimeResult<void>> {
    const e = this.containers.get(id);
    if (!e) return ok(undefined);
    this.readExit(e);
    if (e.rec.state === "running") return fail("FailedPrecondition", `container "${id}" is running: stop it before removing it`);
    if (e.rec.state === "created") {
      // Never started: nothing to be graceful about.
      await this.runc.kill(id, "KILL");
      if (!(await this.waitExit(e, this.opts.killWaitMs ?? 60_000))) return fail("DeadlineExceeded", `container "${id}" did not exit after SIGKILL`);
    }
    await e.cleanup;
    const d = await this.runc.delete(id);
    if (d.code !== 0 && !isNotExist(d)) return fail("Unknown", describeFailure(`failed to delete container "${id}"`, d));
    const cg = removeCgroupTree(e.rec.cgroupsPath);
    if (cg) return fail("Unknown", `failed to remove the container cgroup: ${cg}`);
    const um = await unmountAllUnder(this.paths.bundle(id));
    if (!um.ok) return um;
    rmSync(this.paths.exitFile(id), { force: true });
    rmSync(this.paths.containerSocketDir(id), { force: true });
    rmSync(this.paths.bundle(id), { recursive: true, force: true });
    this.containers.delete(id);
    this.emit("deleted", e.rec);
    this.log.debug("container removed", { container: id, name: e.rec.name });
    return ok(undefined);
  }

  async listContainers(filter: ContainerFilter = {}): Promise<RuntimeResult<readonly ContainerSummary[]>> {
    await this.ready;
    const out: ContainerSummary[] = [];
    for (const e of this.containers.values()) {
      const c = e.rec;
      if (filter.id && c.id !== filter.id) continue;
      if (filter.podSandboxId && c.sandboxId !== filter.podSandboxId) continue;
      // A missed watcher event costs nothing more than this stat.
      if (c.state !== "exited") this.readExit(e);
      if (filter.state && c.state !== filter.state) continue;
      if (!matchesLabels(c.config.labels, filter.labelSelector)) continue;
      out.push(this.summary(c));
    }
    return ok(out);
  }

  async containerStatus(id: string): Promise<RuntimeResult<ContainerStatus>> {
    await this.ready;
    const e = this.containers.get(id);
    if (!e) return fail("NotFound", `an error occurred when try to find container "${id}": not found`);
    const c = e.rec;
    if (c.state !== "exited") this.readExit(e);
    return ok({
      ...this.summary(c),
      startedAt: c.startedAt,
      finishedAt: c.finishedAt,
      exitCode: c.exitCode,
      reason: c.reason,
      message: c.message,
      mounts: c.config.mounts,
      logPath: c.logPath,
    });
  }

  // ---- streaming ----

  /**
   * What the streaming functions need to reach container `id`, or why it
   * cannot be reached (unknown id, not running).
   */
  async streamTarget(id: string): Promise<RuntimeResult<RuncStreamTarget>> {
    await this.ready;
    const e = this.containers.get(id);
    if (!e) return fail("NotFound", `container "${id}" not found`);
    const c = e.rec;
    if (c.state !== "exited") this.readExit(e);
    if (c.state !== "running") return fail("FailedPrecondition", `container "${id}" is not running (state: ${c.state})`);
    const sb = this.sandboxes.get(c.sandboxId);
    const socketDir = this.paths.containerSocketDir(id);
    return ok({
      runcPath: this.runcPath,
      runcRoot: this.paths.runcRoot,
      containerId: id,
      ...(sb?.netnsPath ? { netnsPath: sb.netnsPath } : {}),
      socketDir,
      attachPath: join(socketDir, "attach"),
      ctlPath: join(this.paths.bundle(id), "ctl"),
      tty: c.config.tty === true,
      stdin: c.config.stdin === true,
      stdinOnce: c.config.stdinOnce === true,
      pid: c.pid,
      bundleDir: this.paths.bundle(id),
    });
  }

  /** The stream target of a sandbox for port-forward: its network namespace (none: the host's). */
  private async sandboxStreamTarget(id: string): Promise<RuntimeResult<RuncStreamTarget>> {
    const sb = this.sandboxes.get(id);
    if (!sb) return fail("NotFound", `sandbox "${id}" not found`);
    if (sb.state !== "ready") return fail("FailedPrecondition", `sandbox "${id}" is not ready`);
    if (!sb.config.hostNetwork && !sb.netnsPath) return fail("FailedPrecondition", `sandbox "${id}" has no network namespace`);
    const dir = this.paths.sandboxDir(id);
    return ok({
      runcPath: this.runcPath,
      runcRoot: this.paths.runcRoot,
      containerId: id,
      ...(sb.netnsPath ? { netnsPath: sb.netnsPath } : {}),
      socketDir: dir,
      attachPath: join(dir, "attach"),
      ctlPath: join(dir, "ctl"),
      tty: false,
      stdin: false,
      stdinOnce: false,
      pid: 0,
      bundleDir: dir,
    });
  }

  /**
   * The exit code of container `id` once conmon recorded it, for attach.
   * conmon closes the attach socket a moment before it writes the exit
   * file, so this waits briefly while conmon is still there.
   */
  private async exitCodeOf(id: string): Promise<number | undefined> {
    for (let i = 0; i < 80; i++) {
      const e = this.containers.get(id);
      if (!e) return undefined;
      if (this.readExit(e)) return e.rec.exitCode;
      if (livePidFromFile(this.paths.conmonPidFile(id), "conmon") === undefined) return this.readExit(e) ? e.rec.exitCode : undefined;
      await new Promise((r) => setTimeout(r, 25));
    }
    return undefined;
  }

  execSync(containerId: string, cmd: readonly string[], timeoutSeconds: number): Promise<RuntimeResult<ExecSyncResult>> {
    return this.guard("execSync", async () => {
      const t = await this.streamTarget(containerId);
      if (!t.ok) return fail(t.error.code, t.error.message);
      return (await streaming()).execSync(t.value, cmd, timeoutSeconds, { logger: this.log, stateParent: this.paths.execDir });
    });
  }

  exec(containerId: string, cmd: readonly string[], opts: StreamOptions): Promise<RuntimeResult<StreamSession>> {
    return this.guard("exec", async () => {
      const t = await this.streamTarget(containerId);
      if (!t.ok) return fail(t.error.code, t.error.message);
      return (await streaming()).exec(t.value, cmd, opts, { logger: this.log, stateParent: this.paths.execDir });
    });
  }

  attach(containerId: string, opts: StreamOptions): Promise<RuntimeResult<StreamSession>> {
    return this.guard("attach", async () => {
      const t = await this.streamTarget(containerId);
      if (!t.ok) return fail(t.error.code, t.error.message);
      return (await streaming()).attach(t.value, opts, { logger: this.log, containerExitCode: () => this.exitCodeOf(containerId) });
    });
  }

  portForward(podSandboxId: string, port: number): Promise<RuntimeResult<NodeJS.ReadWriteStream>> {
    return this.guard("portForward", async () => {
      const t = await this.sandboxStreamTarget(podSandboxId);
      if (!t.ok) return fail(t.error.code, t.error.message);
      return (await streaming()).portForward(t.value, port, { logger: this.log });
    });
  }

  reopenContainerLog(containerId: string): Promise<RuntimeResult<void>> {
    return this.guard("reopenContainerLog", async () => {
      const t = await this.streamTarget(containerId);
      if (!t.ok) return fail(t.error.code, t.error.message);
      return (await streaming()).reopenContainerLog(t.value, { logger: this.log });
    });
  }

  // ---- images: the store does the work ----

  listImages(): Promise<RuntimeResult<readonly Image[]>> {
    return this.opts.images.listImages();
  }

  imageStatus(image: string): Promise<RuntimeResult<Image | undefined>> {
    return this.opts.images.imageStatus(image);
  }

  pullImage(image: string, auth?: AuthConfig): Promise<RuntimeResult<string>> {
    return this.opts.images.pullImage(image, auth);
  }

  removeImage(image: string): Promise<RuntimeResult<void>> {
    return this.opts.images.removeImage(image);
  }

  // ---- exits ----

  private onExitFile(id: string): void {
    const e = this.containers.get(id);
    if (e && e.rec.state !== "exited") this.readExit(e);
  }

  /**
   * Applies conmon's exit record of `e` when there is one; returns whether
   * the container is exited now. Synchronous, so no other step interleaves.
   */
  private readExit(e: ContainerEntry): boolean {
    const c = e.rec;
    if (c.state === "exited") return true;
    if (e.starting) {
      // Applied once `runc start` returns, so "started" is emitted before "stopped".
      if (existsSync(this.paths.persistExit(c.id)) || existsSync(this.paths.exitFile(c.id))) e.pendingExit = true;
      return false;
    }
    let text: string | undefined;
    let mtime = 0;
    for (const f of [this.paths.persistExit(c.id), this.paths.exitFile(c.id)]) {
      try {
        text = readFileSync(f, "utf8");
        mtime = statSync(f).mtimeMs;
        break;
      } catch {
        // Not written (yet).
      }
    }
    if (text === undefined) return false;
    const code = Number.parseInt(text.trim(), 10);
    // The OOM file can lag the exit on cgroup v1 (conmon's eventfd races SIGCHLD); the cgroup's counter does not.
    const oom = existsSync(this.paths.oomFile(c.id)) || (oomKillCount(c.cgroupsPath) ?? 0) > 0;
    const started = c.state === "running";
    c.state = "exited";
    c.exitCode = Number.isFinite(code) ? code : 255;
    c.reason = exitReason(c.exitCode, oom, started);
    c.finishedAt = Math.max(Math.round(mtime), c.startedAt);
    if (!Number.isFinite(code)) c.message = `conmon recorded an unreadable exit code: ${JSON.stringify(text.slice(0, 40))}`;
    this.persistContainer(c);
    this.log.debug("container exited", { container: c.id, name: c.name, exitCode: c.exitCode, reason: c.reason });
    this.finishExit(e);
    return true;
  }

  /** Records that a container ended without an exit code (its conmon is gone). */
  private markLost(e: ContainerEntry, message: string): void {
    const c = e.rec;
    if (c.state === "exited") return;
    const started = c.state === "running";
    c.state = "exited";
    c.exitCode = 255;
    c.reason = exitReason(255, (oomKillCount(c.cgroupsPath) ?? 0) > 0, started);
    c.message = message;
    c.finishedAt = Math.max(this.clock.now(), c.startedAt);
    this.persistContainer(c);
    this.log.warn("container exit lost", { container: c.id, name: c.name, message });
    this.finishExit(e);
  }

  private finishExit(e: ContainerEntry): void {
    for (const w of e.exitWaiters) w();
    e.exitWaiters.clear();
    this.emit("stopped", e.rec);
    this.scheduleCleanup(e);
  }

  /** Frees runc's record and the container's cgroup once it exited (after its OOM count was read). */
  private scheduleCleanup(e: ContainerEntry): void {
    if (e.cleanup) return;
    const id = e.rec.id;
    e.cleanup = this.runc.delete(id).then((r) => {
      if (r.code !== 0 && !isNotExist(r)) this.log.warn("runc delete after exit failed", { container: id, err: describeFailure("runc delete", r) });
    });
  }

  /**
   * Resolves true once `e` exited, false after `ms`. Exits arrive through
   * the watcher; a slow check of the exit file and of conmon covers a
   * missed event or a monitor that died.
   */
  private waitExit(e: ContainerEntry, ms: number): Promise<boolean> {
    if (this.readExit(e)) return Promise.resolve(true);
    return new Promise((resolve) => {
      let done = false;
      const finish = (v: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        clearInterval(poll);
        e.exitWaiters.delete(onExit);
        resolve(v);
      };
      const onExit = () => finish(true);
      e.exitWaiters.add(onExit);
      const timer = setTimeout(() => finish(this.readExit(e)), ms);
      const poll = setInterval(() => {
        if (this.readExit(e)) return finish(true);
        if (!isAlive(e.rec.pid) && livePidFromFile(this.paths.conmonPidFile(e.rec.id), "conmon") === undefined && !this.readExit(e)) {
          this.markLost(e, "the container's monitor (conmon) is gone and recorded no exit code");
          finish(true);
        }
      }, 250);
    });
  }

  // ---- internals ----

  /** Removes a container directory that has no record (a create cut short by a crash). */
  private async discardContainerDir(id: string): Promise<void> {
    if (!CONTAINER_ID.test(id)) return;
    const d = await this.runc.delete(id);
    if (d.code !== 0 && !isNotExist(d)) this.log.warn("runc delete of a half-created container failed", { container: id, err: describeFailure("runc delete", d) });
    const um = await unmountAllUnder(this.paths.bundle(id));
    if (!um.ok) {
      this.log.error("cannot unmount a half-created container; leaving its directory", { container: id, err: um.error.message });
      return;
    }
    rmSync(this.paths.exitFile(id), { force: true });
    rmSync(this.paths.containerSocketDir(id), { force: true });
    rmSync(this.paths.bundle(id), { recursive: true, force: true });
  }

  /** Removes a sandbox directory that has no record. */
  private async discardSandboxDir(id: string): Promise<void> {
    if (!CONTAINER_ID.test(id)) return;
    await this.opts.network.tearDown(id);
    const um = await unmountAllUnder(this.paths.sandboxDir(id));
    if (!um.ok) {
      this.log.error("cannot unmount a half-created sandbox; leaving its directory", { sandbox: id, err: um.error.message });
      return;
    }
    rmSync(this.paths.sandboxDir(id), { recursive: true, force: true });
  }

  private persistSandbox(sb: SandboxRecord): void {
    try {
      saveSandbox(this.paths, sb);
    } catch (err) {
      this.log.error("failed to save sandbox state", { sandbox: sb.id, err: (err as Error).message });
    }
  }

  private persistContainer(c: ContainerRecord): void {
    try {
      saveContainer(this.paths, c);
    } catch (err) {
      this.log.error("failed to save container state", { container: c.id, err: (err as Error).message });
    }
  }

  /** Runs `fn` after every earlier call with the same key finished. */
  private serialize<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(key, tail);
    void tail.then(() => {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    });
    return run;
  }

  /** Waits for init, and turns a thrown error (a bug) into an Unknown result instead of a rejection. */
  private async guard<T>(op: string, fn: () => Promise<RuntimeResult<T>>): Promise<RuntimeResult<T>> {
    await this.ready;
    if (this.initError) return fail("Unavailable", this.initError);
    if (this.closed) return fail("Unavailable", "the runtime is closed");
    try {
      return await fn();
    } catch (err) {
      this.log.error("runtime operation failed unexpectedly", { op, err: (err as Error).stack ?? String(err) });
      return fail("Unknown", `${op}: ${(err as Error).message}`);
    }
  }

  private emit(type: ContainerEvent["type"], c: ContainerRecord): void {
    if (this.listeners.size === 0) return;
    const sb = this.sandboxes.get(c.sandboxId);
    const ev: ContainerEvent = { type, containerId: c.id, podSandboxId: c.sandboxId, sandboxLabels: sb?.config.labels ?? {}, at: this.clock.now() };
    for (const l of this.listeners) {
      try {
        l(ev);
      } catch (err) {
        this.log.error("container event listener threw", { err: (err as Error).message });
      }
    }
  }

  private sandboxSummary(sb: SandboxRecord): PodSandbox {
    return { id: sb.id, metadata: sb.config.metadata, state: sb.state, createdAt: sb.createdAt, labels: sb.config.labels, annotations: sb.config.annotations };
  }

  private summary(c: ContainerRecord): ContainerSummary {
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
