/**
 * Reads usage counters of one cgroup from cgroupfs, as cadvisor (through
 * libcontainer) does, on both layouts:
 *
 * | | v1 (one hierarchy per controller) | v2 (unified) |
 * |---|---|---|
 * | cpu (cumulative ns) | `cpuacct/<path>/cpuacct.usage` | `<path>/cpu.stat` usage_usec × 1000 |
 * | memory usage | `memory/<path>/memory.usage_in_bytes` | `<path>/memory.current` |
 * | working set | usage − memory.stat `total_inactive_file` | usage − memory.stat `inactive_file` |
 * | rss | memory.stat `total_rss` | memory.stat `anon` |
 * | page faults | memory.stat `pgfault`, `pgmajfault` | memory.stat `pgfault`, `pgmajfault` |
 * | limit | `memory.limit_in_bytes` | `memory.max` ("max": none) |
 * | tasks | `pids/<path>/pids.current` | `<path>/pids.current` |
 *
 * Every read is synchronous and tolerant: a cgroup that vanished between
 * listing and reading (a container exiting) reads as undefined, never as
 * an error. The root is injectable so tests read fixture trees.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/** The default cgroupfs mount. */
export const CGROUP_FS_ROOT = "/sys/fs/cgroup";

/** Memory figures of one cgroup, in bytes (counts for the faults). */
export interface CgroupMemory {
  readonly usageBytes: number;
  /** usage − inactive file pages, 0 when inactive file exceeds usage (cadvisor's rule). */
  readonly workingSetBytes: number;
  readonly rssBytes: number;
  readonly pageFaults: number;
  readonly majorPageFaults: number;
  /** The memory limit; undefined when unlimited. */
  readonly limitBytes?: number;
}

/** Limits at or above this mean "no limit" (v1 writes PAGE_COUNTER_MAX rounded to pages, about 2^63). */
const UNLIMITED = 2 ** 62;

/** Parses a flat-keyed cgroup file (`key value` per line: memory.stat, cpu.stat) into numbers. */
export function parseFlatKeyed(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (!k || v === undefined) continue;
    const n = Number(v);
    if (Number.isFinite(n)) out.set(k, n);
  }
  return out;
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

function readNumber(file: string): number | undefined {
  const t = readText(file)?.trim();
  if (t === undefined || t === "") return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** Options of a {@link CgroupFs}. */
export interface CgroupFsOptions {
  /** Where cgroupfs is mounted (/sys/fs/cgroup). */
  readonly root?: string;
  /** The layout; detected from the root when absent (v2 when `cgroup.controllers` is at the root). */
  readonly version?: 1 | 2;
}

/** One cgroupfs tree; see the module comment. */
export class CgroupFs {
  readonly root: string;
  readonly version: 1 | 2;
  private readonly cpuDir: string;
  private readonly memoryDir: string;
  private readonly pidsDir: string;

  constructor(o: CgroupFsOptions = {}) {
    this.root = o.root ?? CGROUP_FS_ROOT;
    this.version = o.version ?? (existsSync(join(this.root, "cgroup.controllers")) ? 2 : 1);
    if (this.version === 2) {
      this.cpuDir = this.memoryDir = this.pidsDir = this.root;
    } else {
      // cpuacct is mounted alone (as here) or co-mounted with cpu ("cpu,cpuacct", usually with symlinks).
      this.cpuDir = ["cpuacct", "cpu,cpuacct", "cpuacct,cpu"].map((d) => join(this.root, d)).find((d) => existsSync(d)) ?? join(this.root, "cpuacct");
      this.memoryDir = join(this.root, "memory");
      this.pidsDir = join(this.root, "pids");
    }
  }

  /** Whether the cgroup exists (in the cpu accounting hierarchy, which every container joins). */
  exists(path: string): boolean {
    return existsSync(join(this.cpuDir, path));
  }

  /** When the cgroup was made (its directory's change time), or undefined when it is gone. */
  createdAt(path: string): number | undefined {
    try {
      return statSync(join(this.cpuDir, path)).ctimeMs;
    } catch {
      return undefined;
    }
  }

  /** Cumulative cpu time of every task in the cgroup and below, in nanoseconds. */
  cpuUsageNanos(path: string): number | undefined {
    if (this.version === 2) {
      const t = readText(join(this.cpuDir, path, "cpu.stat"));
      const usec = t === undefined ? undefined : parseFlatKeyed(t).get("usage_usec");
      return usec === undefined ? undefined : usec * 1000;
    }
    return readNumber(join(this.cpuDir, path, "cpuacct.usage"));
  }

  /** Memory of the cgroup and below; undefined when the cgroup (or its memory controller) is gone. */
  memory(path: string): CgroupMemory | undefined {
    const dir = join(this.memoryDir, path);
    const v2 = this.version === 2;
    const usage = readNumber(join(dir, v2 ? "memory.current" : "memory.usage_in_bytes"));
    const statText = readText(join(dir, "memory.stat"));
    if (usage === undefined || statText === undefined) return undefined;
    const stat = parseFlatKeyed(statText);
    const inactiveFile = stat.get(v2 ? "inactive_file" : "total_inactive_file");
    const workingSet = inactiveFile === undefined ? usage : Math.max(0, usage - inactiveFile);
    const limitText = readText(join(dir, v2 ? "memory.max" : "memory.limit_in_bytes"))?.trim();
    const limit = limitText === undefined || limitText === "max" ? undefined : Number(limitText);
    return {
      usageBytes: usage,
      workingSetBytes: workingSet,
      rssBytes: stat.get(v2 ? "anon" : "total_rss") ?? 0,
      pageFaults: stat.get("pgfault") ?? 0,
      majorPageFaults: stat.get("pgmajfault") ?? 0,
      ...(limit !== undefined && Number.isFinite(limit) && limit < UNLIMITED ? { limitBytes: limit } : {}),
    };
  }

  /** Tasks in the cgroup and below (pids.current); undefined without the pids controller. */
  tasks(path: string): number | undefined {
    return readNumber(join(this.pidsDir, path, "pids.current"));
  }

  /** Process ids directly in the cgroup (cgroup.procs), for finding a network namespace. */
  procs(path: string): number[] {
    const t = readText(join(this.cpuDir, path, "cgroup.procs"));
    if (!t) return [];
    return t
      .split("\n")
      .map((l) => Number(l.trim()))
      .filter((n) => Number.isInteger(n) && n > 0);
  }
}
