/**
 * Child processes for the API benchmark: a `skiff server` run from source on
 * a free loopback port, and the bare node:https server used as the ceiling.
 * Both are stopped by PID; their standard error is drained (a full pipe would
 * stall them) and its tail kept for error messages.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const cliMain = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const bareMain = fileURLToPath(new URL("./bare-server.ts", import.meta.url));

export interface Child {
  readonly process: ChildProcess;
  readonly pid: number;
  readonly port: number;
  /** The last lines the child wrote to standard error. */
  tail(): string;
  stop(): Promise<void>;
}

/**
 * Starts `node [nodeArgs] [--import tsx] SCRIPT ARGS` (tsx for TypeScript
 * sources only) and waits for a stderr line matching `ready`. With `logFile`,
 * the child's standard output and error are also appended there.
 */
async function startChild(
  script: string,
  args: string[],
  nodeArgs: string[],
  ready: RegExp,
  timeoutMs: number,
  logFile?: string,
): Promise<{ child: Child; line: string }> {
  const loader = script.endsWith(".ts") ? ["--import", "tsx"] : [];
  const proc = spawn(process.execPath, [...nodeArgs, ...loader, script, ...args], {
    cwd: repoRoot,
    env: process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const log = logFile ? createWriteStream(logFile, { flags: "a" }) : undefined;
  const lines: string[] = [];
  let partial = "";
  let onLine: ((l: string) => void) | undefined;
  proc.stdout!.on("data", (d: Buffer) => log?.write(d));
  proc.stderr!.setEncoding("utf8");
  proc.stderr!.on("data", (d: string) => {
    log?.write(d);
    partial += d;
    const parts = partial.split("\n");
    partial = parts.pop()!;
    for (const l of parts) {
      lines.push(l);
      if (lines.length > 60) lines.shift();
      onLine?.(l);
    }
  });
  proc.once("exit", () => log?.end());
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  const child = {
    process: proc,
    pid: proc.pid!,
    port: 0,
    tail: () => lines.join("\n"),
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
  try {
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${ready}:\n${child.tail()}`)), timeoutMs);
      const found = lines.find((l) => ready.test(l));
      if (found) {
        clearTimeout(timer);
        return resolve(found);
      }
      onLine = (l) => {
        if (ready.test(l)) {
          clearTimeout(timer);
          onLine = undefined;
          resolve(l);
        }
      };
      proc.once("exit", (code, sig) => {
        clearTimeout(timer);
        reject(new Error(`${script} exited (${code ?? sig}) before it was ready:\n${child.tail()}`));
      });
    });
    const port = Number(/port=(\d+)/.exec(line)?.[1]);
    if (!port) throw new Error(`no port in ${JSON.stringify(line)}`);
    return { child: { ...child, port }, line };
  } catch (err) {
    await child.stop();
    throw err;
  }
}

export interface SkiffServer extends Child {
  readonly kubeconfig: string;
}

/**
 * `skiff server` with its state in `dataDir`, on 127.0.0.1 and a free port,
 * no snapshots; from source unless `main` names a built `main.js`.
 */
export async function startSkiffServer(
  dataDir: string,
  opts: { nodeArgs?: string[]; main?: string; logFile?: string; extraArgs?: string[] } = {},
): Promise<SkiffServer> {
  const args = ["server", "--data-dir", dataDir, "--https-port", "0", "--bind-address", "127.0.0.1", "--no-kubeconfig-merge", "--disable-snapshots", "--disable-agent", "--disable", "dns,ingress,registry", ...(opts.extraArgs ?? [])];
  const { child, line } = await startChild(opts.main ?? cliMain, args, opts.nodeArgs ?? [], /msg="API server listening"/, 120_000, opts.logFile);
  const kubeconfig = /kubeconfig=(\S+)/.exec(line)?.[1];
  if (!kubeconfig) throw new Error(`no kubeconfig in ${JSON.stringify(line)}`);
  return { ...child, kubeconfig: kubeconfig.replace(/^"|"$/g, "") };
}

/** The bare node:https server (bench/support/bare-server.ts) with the given TLS files. */
export async function startBareServer(tls: { keyFile: string; certFile: string; clientCaFile: string }): Promise<Child> {
  const { child } = await startChild(bareMain, [tls.keyFile, tls.certFile, tls.clientCaFile], [], /bare server listening/, 60_000);
  return child;
}

/** Resident set size (VmRSS) and its peak (VmHWM) of a process, in MB. */
export function rssMB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m").exec(status)?.[1] ?? Number.NaN);
  return { rss: Math.round((kb("VmRSS") / 1024) * 10) / 10, peak: Math.round((kb("VmHWM") / 1024) * 10) / 10 };
}
