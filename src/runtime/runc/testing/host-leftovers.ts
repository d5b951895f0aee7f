/**
 * For tests of the runc runtime: what a test left on the host (mounts,
 * cgroups, network namespaces, processes), and a last-resort cleanup that
 * removes exactly the things under the test's own root directory, cgroup
 * parent and netns prefix, so a failing test does not leak into the next.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { cgroupMountPoints, removeCgroupTree } from "../cgroups.js";
import { mountPointsUnder, unmountAllUnder } from "../mounts.js";
import { runCommand } from "../run-command.js";

/** What is still there; every list empty means clean. */
export interface Leftovers {
  readonly mounts: string[];
  readonly cgroups: string[];
  readonly netns: string[];
  /** `pid cmdline` of processes whose command line names the root directory (conmon) or that live in the cgroup parent. */
  readonly processes: string[];
}

function pidsInCgroupTree(dir: string, out: Set<number>): void {
  if (!existsSync(dir)) return;
  try {
    for (const p of readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n")) if (p.trim()) out.add(Number(p));
  } catch {
    // Not readable: nothing to report from here.
  }
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) pidsInCgroupTree(join(dir, e.name), out);
}

function cmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return undefined;
  }
}

/** Processes (pids) that belong to the test: conmon with `rootDir` on its command line, anything in `cgroupParent`. */
export function testProcesses(rootDir: string, cgroupParent: string): number[] {
  const pids = new Set<number>();
  for (const m of cgroupMountPoints()) pidsInCgroupTree(join(m, cgroupParent), pids);
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const cmd = cmdline(pid);
    if (cmd?.includes(rootDir)) pids.add(pid);
  }
  return [...pids];
}

/** Lists what the test left behind. */
export async function findLeftovers(rootDir: string, cgroupParent: string, netnsPrefix: string): Promise<Leftovers> {
  const cgroups = cgroupMountPoints()
    .map((m) => join(m, cgroupParent))
    .filter((d) => existsSync(d))
    .flatMap((d) => readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(d, e.name)));
  const netns = existsSync("/run/netns") ? readdirSync("/run/netns").filter((n) => n.startsWith(netnsPrefix)) : [];
  const processes = testProcesses(rootDir, cgroupParent).map((p) => `${p} ${cmdline(p) ?? "?"}`);
  return { mounts: mountPointsUnder(rootDir), cgroups, netns, processes };
}

/**
 * Kills the test's processes (by pid), deletes runc's containers under
 * `<rootDir>/**\/runc`, unmounts everything under `rootDir`, removes the
 * cgroup parent and the prefixed network namespaces, then `rootDir` itself.
 */
export async function forceCleanup(rootDir: string, cgroupParent: string, netnsPrefix: string): Promise<void> {
  for (const pid of testProcesses(rootDir, cgroupParent)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  // Give the kernel a moment to reap what was killed before removing cgroups.
  for (let i = 0; i < 50 && testProcesses(rootDir, cgroupParent).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
  const um = await unmountAllUnder(rootDir);
  removeCgroupTree(cgroupParent);
  if (existsSync("/run/netns")) {
    for (const n of readdirSync("/run/netns")) if (n.startsWith(netnsPrefix)) await runCommand("ip", ["netns", "del", n]);
  }
  // Never remove through a mount that would not go: that would delete inside the mounted filesystem.
  if (um.ok && mountPointsUnder(rootDir).length === 0) rmSync(rootDir, { recursive: true, force: true });
}
