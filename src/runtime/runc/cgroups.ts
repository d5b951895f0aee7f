/**
 * The cgroupfs side of containers: runc creates and fills each container's
 * cgroup (`<cgroupParent>/pod<uid>/<containerId>` as its cgroupsPath); this
 * module reads what the kernel recorded there (OOM kills) and removes the
 * pod level once its containers are gone. Works on cgroup v1 (one
 * hierarchy per controller, as on this host) and v2 (unified).
 */
import { existsSync, readdirSync, readFileSync, rmdirSync, type Stats, statSync } from "node:fs";
import { join } from "node:path";

const CGROUP_ROOT = "/sys/fs/cgroup";

/** Whether the host runs the unified (v2) hierarchy at /sys/fs/cgroup. */
export function isCgroupV2(): boolean {
  return existsSync(join(CGROUP_ROOT, "cgroup.controllers"));
}

/** Mount points of every cgroup hierarchy (v1 controllers, named ones, and v2), from mountinfo. */
export function cgroupMountPoints(): string[] {
  let text: string;
  try {
    text = readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const fstype = line.slice(sep + 3).split(" ")[0];
    if (fstype !== "cgroup" && fstype !== "cgroup2") continue;
    out.push(line.split(" ")[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8))));
  }
  return out;
}

/** Reads `key N` from a flat-keyed cgroup file (memory.events, memory.oom_control). */
function readKeyed(file: string, key: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k === key && v !== undefined) return Number(v);
  }
  return undefined;
}

/**
 * How many processes the kernel OOM-killed in the cgroup at `cgroupsPath`
 * (v2 `memory.events`, v1 `memory.oom_control`'s oom_kill), or undefined
 * when the cgroup is gone or the kernel does not say. Read it before runc
 * deletes the cgroup.
 */
export function oomKillCount(cgroupsPath: string): number | undefined {
  if (isCgroupV2()) return readKeyed(join(CGROUP_ROOT, cgroupsPath, "memory.events"), "oom_kill");
  return readKeyed(join(CGROUP_ROOT, "memory", cgroupsPath, "memory.oom_control"), "oom_kill");
}

/** Whether a cgroup exists at `cgroupsPath` in any hierarchy. */
export function cgroupExists(cgroupsPath: string): boolean {
  return cgroupMountPoints().some((m) => existsSync(join(m, cgroupsPath)));
}

function rmdirTree(dir: string): string | undefined {
  let st: Stats;
  try {
    st = statSync(dir);
  } catch {
    return undefined;
  }
  if (!st.isDirectory()) return undefined;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) {
      const err = rmdirTree(join(dir, e.name));
      if (err) return err;
    }
  }
  try {
    // cgroupfs directories go with rmdir only (their files are not removable), and only when empty of processes.
    rmdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "ENOENT") return `${dir}: ${(e as Error).message}`;
  }
  return undefined;
}

/**
 * Removes the cgroup at `cgroupsPath` and everything below it in every
 * hierarchy. Returns a description of what could not be removed (a cgroup
 * that still has processes), or undefined when all is gone.
 */
export function removeCgroupTree(cgroupsPath: string): string | undefined {
  if (!cgroupsPath.startsWith("/") || cgroupsPath === "/" || cgroupsPath.split("/").includes("..")) {
    return `refusing to remove cgroup ${JSON.stringify(cgroupsPath)}`;
  }
  const errors: string[] = [];
  for (const m of cgroupMountPoints()) {
    const err = rmdirTree(join(m, cgroupsPath));
    if (err) errors.push(err);
  }
  return errors.length > 0 ? errors.join("; ") : undefined;
}
