/**
 * Host mounts the runtime makes itself: a container's overlayfs root, a
 * pod's /dev/shm tmpfs, and (through unshare) its pinned namespaces. Node
 * has no mount(2), so util-linux `mount`/`umount` do the work; what is
 * mounted is read back from /proc/self/mountinfo, so cleanup never depends
 * on remembering what was done.
 */
import { readFileSync } from "node:fs";
import { describeFailure, runCommand } from "./run-command.js";
import { fail, ok, type RuntimeResult } from "../types.js";

/** Decodes mountinfo's octal escapes (`\040` for a space, …). */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/** Every mount point of this mount namespace, in mount order. */
export function mountPoints(): string[] {
  let text: string;
  try {
    text = readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const fields = line.split(" ");
    if (fields.length > 4) out.push(unescapeMountPath(fields[4]!));
  }
  return out;
}

/** Mount points at or below `dir`, deepest (most recently mounted) first, so they unmount cleanly. */
export function mountPointsUnder(dir: string): string[] {
  const prefix = dir.endsWith("/") ? dir : `${dir}/`;
  return mountPoints()
    .filter((m) => m === dir || m.startsWith(prefix))
    .reverse();
}

/** Whether `path` is a mount point. */
export function isMountPoint(path: string): boolean {
  return mountPoints().includes(path);
}

/** Unmounts `target`; lazily when it is busy. Succeeds when nothing is mounted there. */
export async function unmount(target: string): Promise<RuntimeResult<void>> {
  if (!isMountPoint(target)) return ok(undefined);
  const r = await runCommand("umount", [target]);
  if (r.code === 0) return ok(undefined);
  // Busy (a process still has it open): detach now, the kernel frees it when the last user goes.
  const lazy = await runCommand("umount", ["-l", target]);
  if (lazy.code === 0 || !isMountPoint(target)) return ok(undefined);
  return fail("Unknown", describeFailure(`failed to unmount ${target}`, lazy));
}

/**
 * Unmounts everything mounted at or below `dir` (a sandbox's or a
 * container's directory) so the directory can be removed without
 * reaching into a mounted filesystem.
 */
export async function unmountAllUnder(dir: string): Promise<RuntimeResult<void>> {
  for (const m of mountPointsUnder(dir)) {
    const r = await unmount(m);
    if (!r.ok) return r;
  }
  const left = mountPointsUnder(dir);
  if (left.length > 0) return fail("Unknown", `still mounted after unmounting: ${left.join(", ")}`);
  return ok(undefined);
}

/** Mounts a tmpfs at `target` with `options` (e.g. `mode=1777,size=67108864`). */
export async function mountTmpfs(target: string, source: string, options: string): Promise<RuntimeResult<void>> {
  const r = await runCommand("mount", ["-t", "tmpfs", "-o", options, source, target]);
  return r.code === 0 ? ok(undefined) : fail("Unknown", describeFailure(`failed to mount tmpfs at ${target}`, r));
}

/**
 * Mounts an overlayfs at `target`: `lowerDirs` top-most first (read-only
 * image layers), writes go to `upper` (with `work` as overlayfs' scratch
 * directory, on the same filesystem as `upper`).
 */
export async function mountOverlay(target: string, lowerDirs: readonly string[], upper: string, work: string): Promise<RuntimeResult<void>> {
  if (lowerDirs.length === 0) return fail("InvalidArgument", "the image has no layers to mount");
  for (const p of [...lowerDirs, upper, work]) {
    // overlayfs splits its options at "," and lowerdir at ":"; such paths cannot be expressed.
    if (/[,:]/.test(p)) return fail("InvalidArgument", `cannot mount overlay: path ${JSON.stringify(p)} contains "," or ":"`);
  }
  const options = `lowerdir=${lowerDirs.join(":")},upperdir=${upper},workdir=${work}`;
  // The kernel takes at most one page of mount data.
  if (options.length > 4000) return fail("InvalidArgument", `cannot mount overlay: ${lowerDirs.length} layers make the mount options too long`);
  const r = await runCommand("mount", ["-t", "overlay", "-o", options, "overlay", target]);
  return r.code === 0 ? ok(undefined) : fail("Unknown", describeFailure(`failed to mount the container's root filesystem`, r));
}
