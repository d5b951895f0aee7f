/**
 * A `skiff` child process for the kubelet benchmark (`skiff agent`, run from
 * the sources under tsx or from a build), started with its own node flags
 * (e.g. --heapsnapshot-signal) and stopped by PID. Its standard error is
 * drained (a full pipe would stall it), its tail kept for error messages,
 * and optionally copied to a log file. Also: the process's CPU time from
 * /proc, as the benchmark measures it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const cliMain = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

/** A running skiff command. */
export interface SkiffProcess {
  readonly process: ChildProcess;
  readonly pid: number;
  /** The last lines it wrote to standard error. */
  tail(): string;
  /** Resolves with the first line (seen so far or later) matching `re`; rejects after `timeoutMs` or if the process exits. */
  waitForLine(re: RegExp, timeoutMs: number): Promise<string>;
  /** SIGTERM, SIGKILL after 20 s; resolves once it has exited. */
  stop(): Promise<void>;
}

/** Options of {@link startSkiff}. */
export interface StartSkiffOptions {
  /** A built `main.js` instead of src/cli/main.ts (run under tsx). */
  readonly main?: string;
  /** Flags for node itself, before the script. */
  readonly nodeArgs?: readonly string[];
  /** Append the child's standard output and error here. */
  readonly logFile?: string;
}

/** Starts `skiff ARGS…`; the caller stops it with {@link SkiffProcess.stop}. */
export function startSkiff(args: readonly string[], opts: StartSkiffOptions = {}): SkiffProcess {
  const script = opts.main ?? cliMain;
  const loader = script.endsWith(".ts") ? ["--import", "tsx"] : [];
  const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...loader, script, ...args], {
    cwd: repoRoot,
    env: process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const log = opts.logFile ? createWriteStream(opts.logFile, { flags: "a" }) : undefined;
  const tail: string[] = [];
  const watchers = new Set<(line: string) => void>();
  let partial = "";
  proc.stdout!.on("data", (d: Buffer) => log?.write(d));
  proc.stderr!.setEncoding("utf8");
  proc.stderr!.on("data", (d: string) => {
    log?.write(d);
    partial += d;
    const parts = partial.split("\n");
    partial = parts.pop()!;
    for (const l of parts) {
      tail.push(l);
      if (tail.length > 80) tail.shift();
      for (const w of watchers) w(l);
    }
  });
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  void exited.then(() => log?.end());
  // Lines already seen, for waiters that start late: only the ones that matter are short-lived and rare.
  const seen: string[] = [];
  watchers.add((l) => {
    if (seen.length < 10_000) seen.push(l);
  });
  const running = () => proc.exitCode === null && proc.signalCode === null;
  return {
    process: proc,
    pid: proc.pid!,
    tail: () => tail.join("\n"),
    waitForLine(re, timeoutMs) {
      const found = seen.find((l) => re.test(l));
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const done = (err: Error | undefined, line?: string) => {
          clearTimeout(timer);
          watchers.delete(onLine);
          proc.off("exit", onExit);
          if (err) reject(err);
          else resolve(line!);
        };
        const onLine = (l: string) => {
          if (re.test(l)) done(undefined, l);
        };
        const onExit = (code: number | null, sig: string | null) => done(new Error(`skiff ${args[0]} exited (${code ?? sig}) before logging ${re}:\n${tail.join("\n")}`));
        const timer = setTimeout(() => done(new Error(`timed out after ${timeoutMs / 1000}s waiting for ${re}:\n${tail.join("\n")}`)), timeoutMs);
        watchers.add(onLine);
        proc.once("exit", onExit);
        if (!running()) onExit(proc.exitCode, proc.signalCode);
      });
    },
    async stop() {
      if (!running()) return;
      proc.kill("SIGTERM");
      const t = setTimeout(() => {
        if (running()) proc.kill("SIGKILL");
      }, 20_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Clock ticks per second of /proc/PID/stat times (USER_HZ, 100 on Linux). */
const CLK_TCK = 100;

/** CPU seconds (user + system) a process has used so far, from /proc/PID/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name may hold spaces: fields are counted from after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}
