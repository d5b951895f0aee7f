/**
 * buildah as skiff runs it: storage of its own under `<data-dir>/build/`
 * (never the machine's /var/lib/containers), overlay without the bind mount
 * of its home (so nothing stays mounted between builds), runc as the OCI
 * runtime, and a registries.conf with no search registries (the user's own
 * `CONTAINERS_REGISTRIES_CONF` wins when set). The machine's short-name
 * aliases (registries.conf.d) still apply, so `skiff image build` refuses
 * short names itself before buildah runs (dockerfile-from.ts).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ensureHostTools, type HostTool } from "../machinery/debian-packages.js";

/** The buildah command line and environment for one data dir. */
export interface Buildah {
  /** `<data-dir>/build` */
  readonly dir: string;
  /** Global flags (`--root`, `--runroot`, `--storage-driver`, …) that go before the subcommand. */
  readonly globalArgs: readonly string[];
  readonly env: NodeJS.ProcessEnv;
}

/** Where buildah's state lives in a data dir. */
export function buildDir(dataDir: string): string {
  return join(resolve(dataDir), "build");
}

const REGISTRIES_CONF = `# Written by skiff: no unqualified-search registries, so a short image name
# fails with a clear message instead of going to the internet. Name images
# fully, e.g. FROM localhost:5000/skiff/debian:bookworm.
unqualified-search-registries = []
short-name-mode = "enforcing"
`;

/** The tools `skiff image build|push` run. */
export const BUILD_TOOLS: readonly HostTool[] = [
  { command: "buildah", debianPackage: "buildah", neededFor: "skiff image build" },
  { command: "runc", debianPackage: "runc", neededFor: "RUN steps of skiff image build" },
];

/** Sets up (idempotently) buildah's directories for `dataDir`, installing buildah when missing (as root). */
export function buildahFor(dataDir: string, say: (line: string) => void): Buildah {
  ensureHostTools(BUILD_TOOLS, say);
  const dir = buildDir(dataDir);
  mkdirSync(join(dir, "storage"), { recursive: true, mode: 0o700 });
  mkdirSync(join(dir, "run"), { recursive: true, mode: 0o700 });
  const conf = join(dir, "registries.conf");
  if (!existsSync(conf) || readFileSync(conf, "utf8") !== REGISTRIES_CONF) writeFileSync(conf, REGISTRIES_CONF);
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (!env.CONTAINERS_REGISTRIES_CONF) env.CONTAINERS_REGISTRIES_CONF = conf;
  // buildah writes temporary layer tarballs under TMPDIR: keep them beside its storage, not in a small /tmp.
  if (!env.TMPDIR) {
    mkdirSync(join(dir, "tmp"), { recursive: true, mode: 0o700 });
    env.TMPDIR = join(dir, "tmp");
  }
  return {
    dir,
    globalArgs: [
      "--root",
      join(dir, "storage"),
      "--runroot",
      join(dir, "run"),
      "--storage-driver",
      "overlay",
      "--storage-opt",
      "overlay.skip_mount_home=true",
    ],
    env,
  };
}

/** How a buildah run ended; `stderr` keeps the tail for the error message. */
export interface ToolResult {
  readonly code: number;
  readonly stderr: string;
}

/**
 * Runs a tool, streaming its output to `out`/`err` as it comes (the user
 * sees buildah's steps and copy progress) and keeping the tail of stderr.
 */
export function runStreaming(
  command: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; out: (t: string) => void; err: (t: string) => void },
): Promise<ToolResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    // Ctrl-C reaches the whole process group, but a SIGTERM to skiff alone would leave buildah or mmdebstrap
    // running with its mounts and temp dirs: pass it on and let the tool clean up before skiff exits.
    let interrupted: NodeJS.Signals | undefined;
    const forward = (signal: NodeJS.Signals) => {
      interrupted = signal;
      child.kill(signal);
    };
    process.on("SIGINT", forward);
    process.on("SIGTERM", forward);
    let tail = "";
    child.stdout.on("data", (d: Buffer) => opts.out(d.toString()));
    child.stderr.on("data", (d: Buffer) => {
      const s = d.toString();
      tail = (tail + s).slice(-16_384);
      opts.err(s);
    });
    const done = () => {
      process.off("SIGINT", forward);
      process.off("SIGTERM", forward);
    };
    child.once("error", (err) => {
      done();
      reject(err);
    });
    child.once("close", (code, signal) => {
      done();
      if (interrupted) reject(new Error(`${command} stopped by ${interrupted}`));
      else resolvePromise({ code: code ?? (signal ? 128 : 1), stderr: tail });
    });
  });
}

/** Mount points at or below `dir`, deepest first (from /proc/self/mountinfo). */
export function mountsUnder(dir: string): string[] {
  const root = resolve(dir);
  let info: string;
  try {
    info = readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return [];
  }
  const points = info
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((p): p is string => !!p)
    .map((p) => p.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8))))
    .filter((p) => p === root || p.startsWith(`${root}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/**
 * Removes buildah's working containers for `dataDir` and unmounts anything
 * left mounted under its build directory, so the directory can be deleted
 * (tests, `skiff uninstall`). Images stay unless `images` is set.
 */
export function releaseBuildStorage(dataDir: string, opts: { images?: boolean } = {}): void {
  const dir = buildDir(dataDir);
  if (!existsSync(join(dir, "storage"))) return;
  const b = buildahFor(dataDir, () => {});
  spawnSync("buildah", [...b.globalArgs, "rm", "--all"], { env: b.env, stdio: "ignore", timeout: 60_000 });
  if (opts.images) spawnSync("buildah", [...b.globalArgs, "rmi", "--all", "--force"], { env: b.env, stdio: "ignore", timeout: 60_000 });
  for (const m of mountsUnder(dir)) spawnSync("umount", ["-l", m], { stdio: "ignore" });
}
