/**
 * Mounting, behind an interface so volume code runs against the real
 * kernel (root: `mount`/`umount` from util-linux, as upstream's mounter
 * execs them) or a simulated one (simulated nodes, whose containers never
 * run, and unit tests that cannot be root). Failures are values carrying
 * upstream's message shape ("mount failed: exit status 32 …").
 */
import { execFile } from "node:child_process";
import { mkdir, readFile } from "node:fs/promises";
import { resolve, sep } from "node:path";

/** The outcome of a mount operation. */
export type MountResult = { readonly ok: true } | { readonly ok: false; readonly message: string };

/** What volume code needs from the kernel's mount table. */
export interface Mounter {
  /** Mounts a tmpfs at `target` (an existing directory), `size=` bytes when given. */
  mountTmpfs(target: string, sizeBytes?: bigint): Promise<MountResult>;
  /**
   * Bind-mounts `source` onto `target` (an existing file or directory).
   * `source` is taken literally (no canonicalisation), so a
   * `/proc/PID/fd/N` source binds exactly the file that descriptor holds.
   */
  bindMount(source: string, target: string): Promise<MountResult>;
  unmount(target: string): Promise<MountResult>;
  /** Mount points at or under `dir`, deepest first. */
  mountPointsUnder(dir: string): Promise<string[]>;
}

/** The mount point field of a mountinfo line decoded (`\040` is a space). */
function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/** Mount points listed in a /proc/PID/mountinfo text. */
export function parseMountinfo(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(" ");
    if (f.length > 4) out.push(unescapeMountinfo(f[4]!));
  }
  return out;
}

/** Paths at or under `dir` from `points`, deepest first (each once). */
export function under(points: Iterable<string>, dir: string): string[] {
  const base = resolve(dir);
  const set = new Set<string>();
  for (const p of points) if (p === base || p.startsWith(base + sep)) set.add(p);
  return [...set].sort((a, b) => b.split(sep).length - a.split(sep).length || (a < b ? 1 : -1));
}

function run(command: string, args: readonly string[]): Promise<MountResult> {
  return new Promise((done) => {
    execFile(command, args, { timeout: 60_000 }, (err, stdout, stderr) => {
      if (!err) return done({ ok: true });
      const code = typeof err.code === "number" ? `exit status ${err.code}` : err.message;
      const output = `${stdout}${stderr}`.trim();
      const verb = command === "umount" ? "unmount" : "mount";
      const what = command === "umount" ? "Unmounting" : "Mounting";
      done({ ok: false, message: `${verb} failed: ${code}\n${what} command: ${command}\n${what} arguments: ${args.join(" ")}\nOutput: ${output}` });
    });
  });
}

/** The kernel's mount table through util-linux `mount`/`umount` (needs root). */
export class SystemMounter implements Mounter {
  mountTmpfs(target: string, sizeBytes?: bigint): Promise<MountResult> {
    const opts = sizeBytes !== undefined && sizeBytes > 0n ? ["-o", `size=${sizeBytes}`] : [];
    return run("mount", ["-t", "tmpfs", ...opts, "tmpfs", target]);
  }

  bindMount(source: string, target: string): Promise<MountResult> {
    return run("mount", ["--no-canonicalize", "--bind", source, target]);
  }

  unmount(target: string): Promise<MountResult> {
    return run("umount", [target]);
  }

  async mountPointsUnder(dir: string): Promise<string[]> {
    return under(parseMountinfo(await readFile("/proc/self/mountinfo", "utf8")), dir);
  }
}

/**
 * A mount table kept in memory: mounts are recorded, nothing is mounted.
 * For simulated nodes (no container ever reads the files) and unit tests
 * without root. A tmpfs target must exist, as for the real thing.
 */
export class SimulatedMounter implements Mounter {
  /** Mount points and what was mounted there (`tmpfs size=N` or the bind source). */
  readonly mounts = new Map<string, string>();

  async mountTmpfs(target: string, sizeBytes?: bigint): Promise<MountResult> {
    await mkdir(target, { recursive: true });
    this.mounts.set(resolve(target), sizeBytes !== undefined ? `tmpfs size=${sizeBytes}` : "tmpfs");
    return { ok: true };
  }

  async bindMount(source: string, target: string): Promise<MountResult> {
    this.mounts.set(resolve(target), source);
    return { ok: true };
  }

  async unmount(target: string): Promise<MountResult> {
    if (!this.mounts.delete(resolve(target))) return { ok: false, message: `umount: ${target}: not mounted.` };
    return { ok: true };
  }

  async mountPointsUnder(dir: string): Promise<string[]> {
    return under(this.mounts.keys(), dir);
  }
}
