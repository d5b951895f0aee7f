/**
 * The Summary API of a real node (runc), from the kernel's own accounting:
 *
 * - pods and containers: their cgroups. The runc runtime puts pod `<uid>`
 *   at `<cgroupRoot>/pod<uid>` (Guaranteed), `<cgroupRoot>/burstable/pod<uid>`
 *   or `<cgroupRoot>/besteffort/pod<uid>`, and each container at
 *   `<pod cgroup>/<container id>` (see cgroup-fs.ts for the files read);
 * - the node: cpu from the root cgroup (or /proc/stat), memory from
 *   /proc/meminfo, as cadvisor's machine stats; the `pods` system container
 *   is `<cgroupRoot>` itself;
 * - filesystems: statfs of the kubelet's root and the image store, and
 *   disk usage of writable layers, log directories and pod volumes.
 *
 * Cumulative counters and memory are read when asked (so two requests a
 * second apart give two distinct points to rate), while usageNanoCores and
 * directory sizes come from a housekeeping pass every
 * `housekeepingIntervalMs` (cadvisor's 10 s): walking directories is too
 * slow for every request, and a rate needs a fixed interval to mean much.
 */
import { dirname, join, posix } from "node:path";
import { readdir } from "node:fs/promises";
import type { Pod } from "kubernetes-types/core/v1.js";
import { type Clock, systemClock } from "../../machinery/clock.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import type { ContainerRuntime } from "../../runtime/types.js";
import { PLUGIN_DIR } from "../volumes/paths.js";
import { type CgroupMemory, CgroupFs } from "./cgroup-fs.js";
import { CpuRateTracker } from "./cpu-rate.js";
import { type DiskUsage, diskUsage, type FsInfo, fsInfo } from "./fs-usage.js";
import { ProcFs } from "./proc-stats.js";
import { listRuntimePods, type RuntimePod } from "./runtime-pods.js";
import {
  type ContainerStats,
  type CpuStats,
  type FsStats,
  type InterfaceStats,
  type MemoryStats,
  metaTime,
  type NetworkStats,
  type NodeStats,
  type PodStats,
  type StatsProvider,
  type Summary,
  type SummaryOptions,
  type VolumeStats,
} from "./types.js";

/** cadvisor's default housekeeping interval. */
export const DEFAULT_HOUSEKEEPING_INTERVAL_MS = 10_000;

/** The interface whose counters NetworkStats carries inline (upstream's DefaultInterfaceName). */
const DEFAULT_INTERFACE = "eth0";

/** The name of the system container holding every pod (upstream's SystemContainerPods). */
const PODS_SYSTEM_CONTAINER = "pods";

/** Options of a {@link CgroupStatsProvider}. */
export interface CgroupStatsProviderOptions {
  readonly nodeName: string;
  readonly runtime: ContainerRuntime;
  /** The cgroup every pod lives under (the kubelet's cgroupRoot, e.g. `/skiff`). */
  readonly cgroupRoot: string;
  /** The kubelet's root directory (`<data-dir>/agent/kubelet`): the node's fs, and volumes under `pods/<uid>/volumes`. */
  readonly rootDir: string;
  /** The image store's directory: `runtime.imageFs` (images' total size as its usedBytes). */
  readonly imageFsDir?: string;
  /** A container's writable layer directory (runc: the overlay upper dir), for its rootfs usage. */
  readonly containerWritableDir?: (containerId: string) => string | undefined;
  /** The kubelet's pods: which are on the host network (no own interface counters) and which volumes are claims. */
  readonly pods?: () => readonly Pod[];
  /** How often rates and directory sizes are refreshed (10 s). */
  readonly housekeepingIntervalMs?: number;
  readonly cgroups?: CgroupFs;
  readonly proc?: ProcFs;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/** What one housekeeping pass measured for one directory. */
interface MeasuredDir {
  readonly atMs: number;
  readonly usage: DiskUsage;
}

/** Node cpu key in the rate tracker (cgroup paths all start with "/"). */
const NODE_KEY = "node";

/** See the module comment. */
export class CgroupStatsProvider implements StatsProvider {
  private readonly cgroups: CgroupFs;
  private readonly proc: ProcFs;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly rates = new CpuRateTracker();
  private readonly dirs = new Map<string, MeasuredDir>();
  /** Log directory of each container id (from its status, which does not change). */
  private readonly logDirs = new Map<string, string>();
  private readonly podCgroups = new Map<string, string>();
  private readonly root: string;
  private readonly startedAt: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly o: CgroupStatsProviderOptions) {
    this.cgroups = o.cgroups ?? new CgroupFs();
    this.proc = o.proc ?? new ProcFs();
    this.clock = o.clock ?? systemClock;
    this.log = (o.logger ?? silentLogger).with({ component: "stats" });
    this.root = posix.normalize(`/${o.cgroupRoot}`).replace(/\/+$/, "") || "/";
    this.startedAt = this.clock.now();
  }

  /** Runs housekeeping now and then every interval, until {@link stop}. */
  start(): void {
    if (this.timer) return;
    void this.housekeeping();
    this.timer = setInterval(() => void this.housekeeping(), this.o.housekeepingIntervalMs ?? DEFAULT_HOUSEKEEPING_INTERVAL_MS);
    this.timer.unref();
  }

  /** Stops housekeeping and waits for a pass in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /**
   * One housekeeping pass: records every cgroup's cpu counter (for
   * usageNanoCores) and measures writable layers, log directories and
   * volumes. A pass still running when the next is due is not doubled.
   */
  housekeeping(): Promise<void> {
    if (!this.running) {
      this.running = this.pass()
        .catch((err: Error) => this.log.warn("stats housekeeping failed", { err: err.message }))
        .finally(() => {
          this.running = undefined;
        });
    }
    return this.running;
  }

  private async pass(): Promise<void> {
    const pods = await listRuntimePods(this.o.runtime);
    const now = this.clock.now();
    const live = new Set<string>([NODE_KEY, this.root]);
    const nodeCpu = this.nodeCpuNanos();
    if (nodeCpu !== undefined) this.rates.record(NODE_KEY, now, nodeCpu);
    const rootCpu = this.cgroups.cpuUsageNanos(this.root);
    if (rootCpu !== undefined) this.rates.record(this.root, now, rootCpu);
    const dirs: string[] = [];
    const liveIds = new Set<string>();
    for (const p of pods) {
      const cg = this.podCgroup(p.uid);
      if (cg) {
        live.add(cg);
        const cpu = this.cgroups.cpuUsageNanos(cg);
        if (cpu !== undefined) this.rates.record(cg, now, cpu);
      }
      for (const c of p.containers) {
        liveIds.add(c.id);
        if (cg) {
          const path = `${cg}/${c.id}`;
          live.add(path);
          const cpu = this.cgroups.cpuUsageNanos(path);
          if (cpu !== undefined) this.rates.record(path, now, cpu);
        }
        const writable = this.o.containerWritableDir?.(c.id);
        if (writable) dirs.push(writable);
        const logDir = await this.logDir(c.id);
        if (logDir) dirs.push(logDir);
      }
      for (const v of await this.volumeDirs(p.uid)) dirs.push(v.path);
    }
    this.rates.retain(live);
    for (const id of this.logDirs.keys()) if (!liveIds.has(id)) this.logDirs.delete(id);
    for (const uid of this.podCgroups.keys()) if (!pods.some((p) => p.uid === uid)) this.podCgroups.delete(uid);
    const measured = new Map<string, MeasuredDir>();
    for (const d of dirs) {
      const usage = await diskUsage(d);
      if (usage) measured.set(d, { atMs: this.clock.now(), usage });
    }
    this.dirs.clear();
    for (const [k, v] of measured) this.dirs.set(k, v);
  }

  async summary(opts: SummaryOptions = {}): Promise<Summary> {
    const pods = await listRuntimePods(this.o.runtime);
    const full = !opts.onlyCpuAndMemory;
    const node = await this.nodeStats(full);
    const specs = new Map((this.o.pods?.() ?? []).map((p) => [p.metadata?.uid ?? "", p]));
    const rootFs = full ? await fsInfo(this.o.rootDir) : undefined;
    const out: PodStats[] = [];
    for (const p of pods) out.push(await this.podStats(p, specs.get(p.uid), full, rootFs));
    return { node, pods: out };
  }

  // ---- node ----

  private nodeCpuNanos(): number | undefined {
    // The root cgroup counts in nanoseconds; /proc/stat only in ticks, so it is the fallback.
    return this.cgroups.cpuUsageNanos("/") ?? this.proc.cpuUsageNanos();
  }

  private async nodeStats(full: boolean): Promise<NodeStats> {
    const now = this.clock.now();
    const time = metaTime(now);
    const cpuNanos = this.nodeCpuNanos();
    const mem = this.proc.memory();
    if (cpuNanos === undefined && mem === undefined) throw new Error("failed to get root cgroup stats: neither cgroupfs nor /proc is readable");
    const cpu = cpuNanos === undefined ? undefined : cpuStats(time, cpuNanos, this.rates.nanoCores(NODE_KEY));
    const memory: MemoryStats | undefined = mem && {
      time,
      availableBytes: Math.max(0, mem.capacityBytes - mem.workingSetBytes),
      usageBytes: mem.usageBytes,
      workingSetBytes: mem.workingSetBytes,
      rssBytes: mem.rssBytes,
      pageFaults: mem.pageFaults,
      majorPageFaults: mem.majorPageFaults,
    };
    const pods = this.systemContainer(PODS_SYSTEM_CONTAINER, this.root, time);
    const base: NodeStats = {
      nodeName: this.o.nodeName,
      ...(pods ? { systemContainers: [pods] } : {}),
      startTime: metaTime(this.proc.bootTime(now) ?? this.startedAt),
      ...(cpu ? { cpu } : {}),
      ...(memory ? { memory } : {}),
    };
    if (!full) return base;
    const interfaces = this.proc.netDev("self");
    const network = interfaces ? networkStats(time, interfaces) : undefined;
    const fs = await fsInfo(this.o.rootDir);
    const imageFs = this.o.imageFsDir ? await fsInfo(this.o.imageFsDir) : undefined;
    let imagesBytes: number | undefined;
    const images = await this.o.runtime.listImages();
    if (images.ok) imagesBytes = images.value.reduce((n, i) => n + i.size, 0);
    const rlimit = this.proc.rlimit();
    return {
      ...base,
      ...(network ? { network } : {}),
      ...(fs ? { fs: fsStats(time, fs) } : {}),
      ...(imageFs ? { runtime: { imageFs: { ...fsStats(time, imageFs, false), ...(imagesBytes !== undefined ? { usedBytes: imagesBytes } : {}) } } } : {}),
      rlimit: { time, ...rlimit },
    };
  }

  private systemContainer(name: string, path: string, time: string): ContainerStats | undefined {
    const created = this.cgroups.createdAt(path);
    if (created === undefined) return undefined;
    const cpuNanos = this.cgroups.cpuUsageNanos(path);
    const mem = this.cgroups.memory(path);
    return {
      name,
      startTime: metaTime(created),
      ...(cpuNanos !== undefined ? { cpu: cpuStats(time, cpuNanos, this.rates.nanoCores(path)) } : {}),
      ...(mem ? { memory: memoryStats(time, mem) } : {}),
    };
  }

  // ---- pods ----

  /** The pod's cgroup path, or undefined when none of the QoS places has it. */
  private podCgroup(uid: string): string | undefined {
    const known = this.podCgroups.get(uid);
    if (known && this.cgroups.exists(known)) return known;
    for (const qos of ["", "/burstable", "/besteffort"]) {
      const path = posix.join(this.root, `${qos}/pod${uid}`);
      if (this.cgroups.exists(path)) {
        this.podCgroups.set(uid, path);
        return path;
      }
    }
    return undefined;
  }

  private async podStats(p: RuntimePod, spec: Pod | undefined, full: boolean, rootFs: FsInfo | undefined): Promise<PodStats> {
    const time = metaTime(this.clock.now());
    const cg = this.podCgroup(p.uid);
    const containers: ContainerStats[] = [];
    for (const c of p.containers) {
      const path = cg ? `${cg}/${c.id}` : undefined;
      const cpuNanos = path ? this.cgroups.cpuUsageNanos(path) : undefined;
      const mem = path ? this.cgroups.memory(path) : undefined;
      let rootfs: FsStats | undefined;
      let logs: FsStats | undefined;
      if (full && rootFs) {
        const writable = this.o.containerWritableDir?.(c.id);
        rootfs = writable ? this.dirStats(writable, rootFs) : undefined;
        const logDir = this.logDirs.get(c.id);
        logs = logDir ? this.dirStats(logDir, rootFs) : undefined;
      }
      containers.push({
        name: c.name,
        startTime: metaTime(c.createdAt),
        ...(cpuNanos !== undefined ? { cpu: cpuStats(time, cpuNanos, path ? this.rates.nanoCores(path) : undefined) } : {}),
        ...(mem ? { memory: memoryStats(time, mem) } : {}),
        ...(rootfs ? { rootfs } : {}),
        ...(logs ? { logs } : {}),
      });
    }
    const cpuNanos = cg ? this.cgroups.cpuUsageNanos(cg) : undefined;
    const mem = cg ? this.cgroups.memory(cg) : undefined;
    const stats: PodStats = {
      podRef: { name: p.name, namespace: p.namespace, uid: p.uid },
      startTime: metaTime(p.createdAt),
      containers,
      ...(cpuNanos !== undefined ? { cpu: cpuStats(time, cpuNanos, cg ? this.rates.nanoCores(cg) : undefined) } : {}),
      ...(mem ? { memory: memoryStats(time, mem) } : {}),
    };
    if (!full) return stats;
    const network = spec?.spec?.hostNetwork ? undefined : this.podNetwork(cg, p, time);
    const volumes = rootFs ? await this.volumeStats(p.uid, spec, rootFs) : [];
    const tasks = cg ? this.cgroups.tasks(cg) : undefined;
    const ephemeral = rootFs ? ephemeralStorage(time, rootFs, containers, volumes) : undefined;
    return {
      ...stats,
      ...(network ? { network } : {}),
      ...(volumes.length > 0 ? { volume: volumes.map((v) => v.stats) } : {}),
      ...(ephemeral ? { "ephemeral-storage": ephemeral } : {}),
      ...(tasks !== undefined ? { process_stats: { process_count: tasks } } : {}),
    };
  }

  /** The pod's interfaces, read through a process of one of its containers (they share the sandbox's netns). */
  private podNetwork(cg: string | undefined, p: RuntimePod, time: string): NetworkStats | undefined {
    if (!cg) return undefined;
    for (const c of p.containers) {
      for (const pid of this.cgroups.procs(`${cg}/${c.id}`)) {
        const interfaces = this.proc.netDev(pid);
        if (interfaces) return networkStats(time, interfaces);
      }
    }
    return undefined;
  }

  /** A directory's FsStats: the last housekeeping's usage on the filesystem `fs`; undefined before the first pass. */
  private dirStats(dir: string, fs: FsInfo): FsStats | undefined {
    const m = this.dirs.get(dir);
    if (!m) return undefined;
    return {
      time: metaTime(m.atMs),
      availableBytes: fs.availableBytes,
      capacityBytes: fs.capacityBytes,
      usedBytes: m.usage.usedBytes,
      inodesFree: fs.inodesFree,
      inodes: fs.inodes,
      inodesUsed: m.usage.inodesUsed,
    };
  }

  /** The log directory of a container (`<pod logs>/<container>`), from its status; cached. */
  private async logDir(id: string): Promise<string | undefined> {
    const known = this.logDirs.get(id);
    if (known) return known;
    const st = await this.o.runtime.containerStatus(id);
    if (!st.ok || !st.value.logPath) return undefined;
    const dir = dirname(st.value.logPath);
    this.logDirs.set(id, dir);
    return dir;
  }

  /** The pod's prepared volumes under the kubelet's root: `pods/<uid>/volumes/<plugin>/<name>`. */
  private async volumeDirs(uid: string): Promise<{ name: string; path: string }[]> {
    const base = join(this.o.rootDir, "pods", uid, "volumes");
    const out: { name: string; path: string }[] = [];
    for (const plugin of Object.values(PLUGIN_DIR)) {
      let names: string[];
      try {
        names = await readdir(join(base, plugin));
      } catch {
        continue;
      }
      for (const name of names) out.push({ name, path: join(base, plugin, name) });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  private async volumeStats(uid: string, spec: Pod | undefined, rootFs: FsInfo): Promise<{ stats: VolumeStats; ephemeral: boolean }[]> {
    const out: { stats: VolumeStats; ephemeral: boolean }[] = [];
    for (const v of await this.volumeDirs(uid)) {
      const m = this.dirs.get(v.path);
      if (!m) continue;
      // A memory-backed emptyDir is its own (tmpfs) filesystem: its capacity is that mount's.
      const fs = (await fsInfo(v.path)) ?? rootFs;
      const claim = spec?.spec?.volumes?.find((x) => x.name === v.name)?.persistentVolumeClaim?.claimName;
      out.push({
        stats: {
          time: metaTime(m.atMs),
          availableBytes: fs.availableBytes,
          capacityBytes: fs.capacityBytes,
          usedBytes: m.usage.usedBytes,
          inodesFree: fs.inodesFree,
          inodes: fs.inodes,
          inodesUsed: m.usage.inodesUsed,
          name: v.name,
          ...(claim ? { pvcRef: { name: claim, namespace: spec?.metadata?.namespace ?? "" } } : {}),
        },
        // Every volume kept under the pod directory (emptyDir and the API-backed ones) is ephemeral storage.
        ephemeral: !claim,
      });
    }
    return out;
  }
}

function cpuStats(time: string, usageNanos: number, nanoCores: number | undefined): CpuStats {
  return { time, ...(nanoCores !== undefined ? { usageNanoCores: nanoCores } : {}), usageCoreNanoSeconds: Math.round(usageNanos) };
}

function memoryStats(time: string, m: CgroupMemory): MemoryStats {
  return {
    time,
    // cadvisor: availableBytes only under a limit.
    ...(m.limitBytes !== undefined ? { availableBytes: Math.max(0, m.limitBytes - m.workingSetBytes) } : {}),
    usageBytes: m.usageBytes,
    workingSetBytes: m.workingSetBytes,
    rssBytes: m.rssBytes,
    pageFaults: m.pageFaults,
    majorPageFaults: m.majorPageFaults,
  };
}

function fsStats(time: string, fs: FsInfo, withUsed = true): FsStats {
  return {
    time,
    availableBytes: fs.availableBytes,
    capacityBytes: fs.capacityBytes,
    ...(withUsed ? { usedBytes: fs.usedBytes } : {}),
    inodesFree: fs.inodesFree,
    inodes: fs.inodes,
    ...(withUsed ? { inodesUsed: fs.inodesUsed } : {}),
  };
}

/** NetworkStats: eth0's counters inline (when present), every interface listed. */
export function networkStats(time: string, interfaces: readonly InterfaceStats[]): NetworkStats {
  const main = interfaces.find((i) => i.name === DEFAULT_INTERFACE);
  return { time, ...(main ?? {}), interfaces: [...interfaces] };
}

/**
 * A pod's ephemeral storage as upstream's calcEphemeralStorage: the
 * writable layers and logs of its containers plus its ephemeral volumes,
 * on the kubelet's root filesystem.
 */
export function ephemeralStorage(time: string, rootFs: FsInfo, containers: readonly ContainerStats[], volumes: readonly { stats: VolumeStats; ephemeral: boolean }[]): FsStats {
  let used = 0;
  let inodes = 0;
  for (const c of containers) {
    for (const f of [c.rootfs, c.logs]) {
      used += f?.usedBytes ?? 0;
      inodes += f?.inodesUsed ?? 0;
    }
  }
  for (const v of volumes) {
    if (!v.ephemeral) continue;
    used += v.stats.usedBytes ?? 0;
    inodes += v.stats.inodesUsed ?? 0;
  }
  return {
    time,
    availableBytes: rootFs.availableBytes,
    capacityBytes: rootFs.capacityBytes,
    usedBytes: used,
    inodesFree: rootFs.inodesFree,
    inodes: rootFs.inodes,
    inodesUsed: inodes,
  };
}
