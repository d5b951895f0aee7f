/**
 * The machine's own figures from procfs, as cadvisor's machine stats and
 * the kubelet's rlimit and network stats read them: cpu time from
 * `/proc/stat`, memory from `/proc/meminfo` and `/proc/vmstat`, task limits
 * from `/proc/sys/kernel` and `/proc/loadavg`, interface counters from a
 * process's `/proc/<pid>/net/dev` (its network namespace's view). The proc
 * root is injectable so tests read fixture files.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseFlatKeyed } from "./cgroup-fs.js";
import type { InterfaceStats } from "./types.js";

/** procfs' USER_HZ: the unit of /proc/stat (100 on every Linux architecture skiff runs on). */
const USER_HZ = 100;

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/**
 * Busy cpu time of the whole machine in nanoseconds from the aggregate
 * `cpu` line of /proc/stat: user + nice + system + irq + softirq + steal
 * (idle and iowait are not use; guest time is already inside user).
 */
export function parseProcStatCpuNanos(text: string): number | undefined {
  const line = text.split("\n").find((l) => /^cpu\s/.test(l));
  if (!line) return undefined;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  if (f.length < 4 || f.some((n) => !Number.isFinite(n))) return undefined;
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
  return ((user + nice + system + irq + softirq + steal) * 1e9) / USER_HZ;
}

/** /proc/meminfo as bytes by key ("MemTotal", "Inactive(file)", …). */
export function parseMeminfo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^([^:]+):\s+(\d+)(?:\s+kB)?\s*$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]) * (line.trimEnd().endsWith("kB") ? 1024 : 1));
  }
  return out;
}

/** The machine's memory, cadvisor-style: what the node's MemoryStats say. */
export interface MachineMemory {
  readonly capacityBytes: number;
  /** MemTotal − MemFree: everything in use, page cache included. */
  readonly usageBytes: number;
  /** usage − Inactive(file). */
  readonly workingSetBytes: number;
  /** AnonPages. */
  readonly rssBytes: number;
  readonly pageFaults: number;
  readonly majorPageFaults: number;
}

/** Memory of the machine from meminfo and vmstat texts; undefined when meminfo lacks MemTotal/MemFree. */
export function machineMemory(meminfo: string, vmstat: string | undefined): MachineMemory | undefined {
  const m = parseMeminfo(meminfo);
  const total = m.get("MemTotal");
  const free = m.get("MemFree");
  if (total === undefined || free === undefined) return undefined;
  const usage = Math.max(0, total - free);
  const inactiveFile = m.get("Inactive(file)") ?? 0;
  const vm = vmstat ? parseFlatKeyed(vmstat) : new Map<string, number>();
  return {
    capacityBytes: total,
    usageBytes: usage,
    workingSetBytes: Math.max(0, usage - inactiveFile),
    rssBytes: m.get("AnonPages") ?? 0,
    pageFaults: vm.get("pgfault") ?? 0,
    majorPageFaults: vm.get("pgmajfault") ?? 0,
  };
}

/** Running tasks from /proc/loadavg's `running/total` field (the total), as upstream's pidlimit. */
export function parseLoadavgTasks(text: string): number | undefined {
  const m = /^\S+\s+\S+\s+\S+\s+\d+\/(\d+)/.exec(text.trim());
  return m ? Number(m[1]) : undefined;
}

/** Interfaces cadvisor leaves out of network stats (loopback, host ends of veth pairs, docker's). */
const IGNORED_INTERFACE_PREFIXES = ["lo", "veth", "docker", "nerdctl"];

/** Interface counters from a `net/dev` text, in file order, without ignored interfaces. */
export function parseNetDev(text: string): InterfaceStats[] {
  const out: InterfaceStats[] = [];
  for (const line of text.split("\n").slice(2)) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    if (!name || IGNORED_INTERFACE_PREFIXES.some((p) => name.startsWith(p))) continue;
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    if (f.length < 16 || f.some((n) => !Number.isFinite(n))) continue;
    // Receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes packets errs …
    out.push({ name, rxBytes: f[0]!, rxErrors: f[2]!, txBytes: f[8]!, txErrors: f[10]! });
  }
  return out;
}

/** procfs reads of one machine (root injectable for tests). */
export class ProcFs {
  constructor(readonly root = "/proc") {}

  /** Busy cpu nanoseconds since boot (see {@link parseProcStatCpuNanos}). */
  cpuUsageNanos(): number | undefined {
    const t = readText(join(this.root, "stat"));
    return t === undefined ? undefined : parseProcStatCpuNanos(t);
  }

  memory(): MachineMemory | undefined {
    const meminfo = readText(join(this.root, "meminfo"));
    return meminfo === undefined ? undefined : machineMemory(meminfo, readText(join(this.root, "vmstat")));
  }

  /** When the machine booted (epoch ms), from /proc/uptime and `now`. */
  bootTime(now: number): number | undefined {
    const up = Number(readText(join(this.root, "uptime"))?.trim().split(/\s+/)[0]);
    return Number.isFinite(up) ? now - up * 1000 : undefined;
  }

  /** The task limit (min of pid_max and threads-max) and the tasks now, as upstream's pidlimit.Stats. */
  rlimit(): { maxpid?: number; curproc?: number } {
    // Both limits bound the number of tasks; upstream reports the lower, and nothing unless both read.
    const limits = ["sys/kernel/pid_max", "sys/kernel/threads-max"].map((f) => {
      const t = readText(join(this.root, f))?.trim();
      return t ? Number(t) : Number.NaN;
    });
    const max = limits.every(Number.isFinite) ? Math.min(...limits) : undefined;
    const load = readText(join(this.root, "loadavg"));
    const cur = load === undefined ? undefined : parseLoadavgTasks(load);
    return { ...(max !== undefined ? { maxpid: max } : {}), ...(cur !== undefined ? { curproc: cur } : {}) };
  }

  /** Interfaces as seen from `pid`'s network namespace ("self" for this process's). */
  netDev(pid: number | "self"): InterfaceStats[] | undefined {
    const t = readText(join(this.root, String(pid), "net", "dev"));
    return t === undefined ? undefined : parseNetDev(t);
  }
}
