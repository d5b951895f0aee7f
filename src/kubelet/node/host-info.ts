/**
 * What a real node reports about its machine (upstream's cadvisor
 * MachineInfo and the kubelet's pressure signals): ids, kernel, OS image,
 * and whether memory or disk is short by the kubelet's default hard
 * eviction thresholds (memory.available<100Mi, nodefs.available<10%,
 * imagefs.available<15%).
 */
import { readFileSync } from "node:fs";
import { statfs } from "node:fs/promises";
import { release } from "node:os";

/** Machine identity and software, as nodeInfo shows it. */
export interface HostInfo {
  readonly machineId: string;
  readonly systemUuid: string;
  readonly bootId: string;
  readonly kernelVersion: string;
  readonly osImage: string;
  readonly architecture: string;
}

/** Which pressure conditions hold. */
export interface PressureSignals {
  readonly memory: boolean;
  readonly disk: boolean;
  readonly pid: boolean;
}

function readTrimmed(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return "";
  }
}

/** GOARCH spelling of Node's process.arch. */
function goArch(arch: string): string {
  return ({ x64: "amd64", ia32: "386", arm64: "arm64", arm: "arm", ppc64: "ppc64le", s390x: "s390x" } as Record<string, string>)[arch] ?? arch;
}

/** Reads this machine's identity (files that are missing leave a field empty, as cadvisor does). */
export function readHostInfo(): HostInfo {
  const osRelease = readTrimmed("/etc/os-release");
  const pretty = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(osRelease)?.[1] ?? "Linux";
  return {
    machineId: readTrimmed("/etc/machine-id"),
    systemUuid: readTrimmed("/sys/class/dmi/id/product_uuid"),
    bootId: readTrimmed("/proc/sys/kernel/random/boot_id"),
    kernelVersion: release(),
    osImage: pretty,
    architecture: goArch(process.arch),
  };
}

const MEMORY_AVAILABLE_MIN = 100 * 1024 * 1024;
const NODEFS_AVAILABLE_MIN = 0.1;
const IMAGEFS_AVAILABLE_MIN = 0.15;

/** MemAvailable of /proc/meminfo in bytes (what memory.available approximates on a node without cgroup accounting). */
export function memoryAvailableBytes(meminfo = readTrimmed("/proc/meminfo")): number | undefined {
  const kb = /^MemAvailable:\s+(\d+) kB$/m.exec(meminfo)?.[1];
  return kb === undefined ? undefined : Number(kb) * 1024;
}

/**
 * The pressure signals now: memory below 100Mi available, or the
 * filesystem of `dataDir` (node and image filesystem in one here) below
 * 15% free. PID pressure has no default threshold upstream, so it holds
 * only when the kernel's pid table is nearly full (under 5% left).
 */
export async function readPressure(dataDir: string): Promise<PressureSignals> {
  const mem = memoryAvailableBytes();
  let disk = false;
  try {
    const fs = await statfs(dataDir);
    const free = fs.bavail / fs.blocks;
    disk = free < Math.max(NODEFS_AVAILABLE_MIN, IMAGEFS_AVAILABLE_MIN);
  } catch {
    // an unreadable data dir shows up elsewhere
  }
  const pidMax = Number(readTrimmed("/proc/sys/kernel/pid_max")) || 0;
  const threads = Number(/^(\d+)/.exec(readTrimmed("/proc/loadavg").split(" ")[3]?.split("/")[1] ?? "")?.[1] ?? 0);
  return { memory: mem !== undefined && mem < MEMORY_AVAILABLE_MIN, disk, pid: pidMax > 0 && threads > pidMax * 0.95 };
}
