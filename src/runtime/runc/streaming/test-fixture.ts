/**
 * Test fixture (root only): real busybox containers run by runc under
 * conmon, launched the way CRI-O launches them, so the streaming tests
 * exercise the same sockets, FIFOs and processes the runtime has. Not
 * production code: the runtime proper lives in `src/runtime/runc/`.
 *
 * Everything lives under one `/tmp/skiff-streaming-*` directory; cleanup()
 * kills every container and conmon it started (by pid), deletes them from
 * runc (which removes their cgroups), deletes the network namespaces it
 * made and removes the directory.
 */
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { RuncStreamTarget } from "../stream-target.js";

const run = promisify(execFile);

export const RUNC = "/usr/sbin/runc";
export const CONMON = "/usr/bin/conmon";
const BUSYBOX = "/usr/bin/busybox";

export interface TestContainerOptions {
  readonly args: readonly string[];
  readonly tty?: boolean;
  readonly stdin?: boolean;
  readonly stdinOnce?: boolean;
  /** Join this network namespace (from {@link TestHost.makeNetns}); a fresh one otherwise. */
  readonly netnsPath?: string;
}

export interface TestContainer {
  readonly target: RuncStreamTarget;
  /** conmon's k8s-file log. */
  readonly logPath: string;
  /** The exit code conmon recorded, once the container exited. */
  exitCode(): Promise<number | undefined>;
  /** SIGKILLs the container and waits until its conmon is gone. */
  kill(): Promise<void>;
}

export interface TestHost {
  readonly dir: string;
  makeContainer(opts: TestContainerOptions): Promise<TestContainer>;
  /** A fresh network namespace with `lo` up; returns its path. */
  makeNetns(): Promise<string>;
  cleanup(): Promise<void>;
}

function alive(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return false;
  }
  // A zombie nobody reaped yet is gone for our purposes.
  const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
  return state !== "Z" && state !== "X";
}

/** Waits until `pid` is gone, SIGKILLing it if it lingers past `graceMs`. */
async function waitGone(pid: number, graceMs = 10_000): Promise<void> {
  const deadline = Date.now() + graceMs;
  while (alive(pid)) {
    if (Date.now() > deadline) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function makeRootfs(rootfs: string): Promise<void> {
  for (const d of ["bin", "proc", "dev", "sys", "tmp", "etc", "root"]) await mkdir(join(rootfs, d), { recursive: true });
  await copyFile(BUSYBOX, join(rootfs, "bin", "busybox"));
  const { stdout } = await run(BUSYBOX, ["--list"]);
  for (const applet of stdout.split("\n")) {
    // `busybox --list` names busybox itself: linking it would replace the binary.
    if (!applet || applet === "busybox" || applet.includes("/")) continue;
    await symlink("busybox", join(rootfs, "bin", applet));
  }
  await writeFile(join(rootfs, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  await writeFile(join(rootfs, "etc", "group"), "root:x:0:\n");
}

interface OciSpec {
  process: { terminal: boolean; args: string[]; env: string[] };
  root: { path: string; readonly: boolean };
  hostname?: string;
  linux: { cgroupsPath?: string; namespaces: { type: string; path?: string }[] };
}

/** Reads conmon's sync pipe (fd 3): `{"data": PID}` once the container is created, a negative data and a message when not. */
function readSyncPipe(stream: NodeJS.ReadableStream, stderr: () => string): Promise<number> {
  return new Promise((resolve, reject) => {
    let text = "";
    const onData = (c: Buffer) => {
      text += c.toString("utf8");
      const m = /\{[^}]*\}/.exec(text);
      if (!m) return;
      stream.removeListener("data", onData);
      const msg = JSON.parse(m[0]) as { data: number; message?: string };
      if (msg.data > 0) resolve(msg.data);
      else reject(new Error(`conmon could not create the container: ${msg.message ?? ""} ${stderr()}`));
    };
    stream.on("data", onData);
    stream.once("end", () => reject(new Error(`conmon closed its sync pipe without a pid: ${stderr()}`)));
  });
}

/** Makes a fresh fixture host under `/tmp/skiff-streaming-*`. */
export async function makeTestHost(): Promise<TestHost> {
  const dir = await mkdtemp("/tmp/skiff-streaming-");
  const runcRoot = join(dir, "runc");
  const sockDir = join(dir, "sock");
  const exitDir = join(dir, "exits");
  for (const d of [runcRoot, sockDir, exitDir]) await mkdir(d, { recursive: true });
  const containers: { id: string; conmonPid: number }[] = [];
  const netnsNames: string[] = [];

  const makeNetns = async (): Promise<string> => {
    const name = `skiff-stream-${randomBytes(4).toString("hex")}`;
    await run("ip", ["netns", "add", name]);
    netnsNames.push(name);
    await run("ip", ["-n", name, "link", "set", "lo", "up"]);
    return `/run/netns/${name}`;
  };

  const killContainer = async (id: string, conmonPid: number) => {
    await run(RUNC, ["--root", runcRoot, "kill", id, "KILL"]).catch(() => undefined);
    await waitGone(conmonPid);
  };

  const makeContainer = async (opts: TestContainerOptions): Promise<TestContainer> => {
    const id = `skiff-stream-${randomBytes(6).toString("hex")}`;
    const bundle = join(dir, "bundles", id);
    await makeRootfs(join(bundle, "rootfs"));
    await run(RUNC, ["spec", "--bundle", bundle]);
    const spec = JSON.parse(await readFile(join(bundle, "config.json"), "utf8")) as OciSpec;
    spec.process.terminal = opts.tty ?? false;
    spec.process.args = [...opts.args];
    spec.root.readonly = false;
    spec.hostname = "streaming-test";
    spec.linux.cgroupsPath = `/${id}`;
    const netnsPath = opts.netnsPath ?? (await makeNetns());
    spec.linux.namespaces = spec.linux.namespaces.map((ns) => (ns.type === "network" ? { type: "network", path: netnsPath } : ns));
    await writeFile(join(bundle, "config.json"), JSON.stringify(spec));

    const logPath = join(dir, `${id}.log`);
    const conmonPidFile = join(bundle, "conmon.pid");
    // As CRI-O: stdin only when asked, and kept open across attaches unless stdinOnce.
    const args = [
      "--api-version", "1",
      "-b", bundle,
      "-c", id,
      "-u", id,
      "-n", id,
      "-r", RUNC,
      "--runtime-arg", `--root=${runcRoot}`,
      "-P", conmonPidFile,
      "-p", join(bundle, "pidfile"),
      "-l", `k8s-file:${logPath}`,
      "--exit-dir", exitDir,
      "--socket-dir-path", sockDir,
      "--log-level", "info",
    ];
    if (opts.stdin) args.push("--stdin");
    if (opts.stdin && !opts.stdinOnce) args.push("--leave-stdin-open");
    if (opts.tty) args.push("--terminal");
    const conmon = spawn(CONMON, args, {
      stdio: ["ignore", "ignore", "pipe", "pipe"],
      env: { ...process.env, _OCI_SYNCPIPE: "3" },
      detached: true,
    });
    let conmonErr = "";
    conmon.stderr?.on("data", (c: Buffer) => {
      conmonErr += c.toString("utf8");
    });
    const sync = conmon.stdio[3] as NodeJS.ReadableStream & { destroy(): void };
    const pid = await readSyncPipe(sync, () => conmonErr);
    sync.destroy();
    conmon.stderr?.destroy();
    conmon.unref();
    const conmonPid = Number.parseInt((await readFile(conmonPidFile, "utf8")).trim(), 10);
    containers.push({ id, conmonPid });
    await run(RUNC, ["--root", runcRoot, "start", id]);

    const target: RuncStreamTarget = {
      runcPath: RUNC,
      runcRoot,
      containerId: id,
      netnsPath,
      socketDir: join(sockDir, id),
      attachPath: join(sockDir, id, "attach"),
      ctlPath: join(bundle, "ctl"),
      tty: opts.tty ?? false,
      stdin: opts.stdin ?? false,
      stdinOnce: opts.stdinOnce ?? false,
      pid,
      bundleDir: bundle,
    };
    return {
      target,
      logPath,
      exitCode: async () => {
        try {
          return Number.parseInt((await readFile(join(exitDir, id), "utf8")).trim(), 10);
        } catch {
          return undefined;
        }
      },
      kill: () => killContainer(id, conmonPid),
    };
  };

  const cleanup = async () => {
    for (const c of containers) {
      await killContainer(c.id, c.conmonPid);
      await run(RUNC, ["--root", runcRoot, "delete", "--force", c.id]).catch(() => undefined);
    }
    for (const name of netnsNames) await run("ip", ["netns", "del", name]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };

  return { dir, makeContainer, makeNetns, cleanup };
}
