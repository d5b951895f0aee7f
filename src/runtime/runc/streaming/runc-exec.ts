/**
 * What every `runc exec` the streaming calls start has in common: the
 * command line, a private state directory for runc's pid file and log, how
 * a failed start is told apart from a command's own exit code.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fail, type RuntimeError, type RuntimeResult } from "../../types.js";
import type { RuncStreamTarget } from "../stream-target.js";

/** Where one `runc exec` keeps its pid file and log; removed with {@link ExecStateDir.remove}. */
export interface ExecStateDir {
  readonly dir: string;
  /** runc writes the exec'd process's host pid here once it started (atomically: temp file + rename). */
  readonly pidFile: string;
  /** runc's own log (JSON lines), kept apart from the process's stderr. */
  readonly logFile: string;
  remove(): Promise<void>;
}

/** Makes a fresh state directory (`<tmp>/skiff-exec-XXXXXX`). */
export async function makeExecStateDir(parent: string = tmpdir()): Promise<ExecStateDir> {
  const dir = await mkdtemp(join(parent, "skiff-exec-"));
  return {
    dir,
    pidFile: join(dir, "pid"),
    logFile: join(dir, "runc.log"),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * `runc --root R --log L --log-format json exec --pid-file P [-t] [--env TERM=xterm] ID CMD…`.
 * runc stops parsing its own flags at the container id, so `cmd` is passed
 * verbatim even when it starts with a dash.
 */
export function runcExecArgs(target: RuncStreamTarget, state: ExecStateDir, cmd: readonly string[], tty: boolean): string[] {
  const args = ["--root", target.runcRoot, "--log", state.logFile, "--log-format", "json", "exec", "--pid-file", state.pidFile];
  // As containerd's CRI does for a terminal exec: programs in the container
  // need a TERM to drive the terminal, whatever the image set.
  if (tty) args.push("-t", "--env", "TERM=xterm");
  args.push(target.containerId, ...cmd);
  return args;
}

/** The exec'd process's host pid, or undefined while runc has not started it (or never will). */
export async function readExecPid(state: ExecStateDir): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(state.pidFile, "utf8")).trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The last `level=error` message runc logged, if any. */
export async function lastRuncError(state: ExecStateDir): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(state.logFile, "utf8");
  } catch {
    return undefined;
  }
  let last: string | undefined;
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      const entry = JSON.parse(line) as { level?: unknown; msg?: unknown };
      if (entry.level === "error" && typeof entry.msg === "string") last = entry.msg;
    } catch {
      // A torn or non-JSON line (runc killed mid-write) carries nothing we can show.
    }
  }
  return last;
}

/**
 * Maps why runc could not start an exec to the error CRI runtimes return:
 * a missing container is NotFound, a stopped one FailedPrecondition (as
 * CRI-O's "container is not created or running"), anything else (the
 * command does not exist, …) Unknown with runc's own words.
 */
export function classifyExecFailure(containerId: string, runcMessage: string | undefined, exit: string): RuntimeError {
  const msg = runcMessage?.replace(/^exec failed: /, "");
  if (msg === undefined) return { code: "Unknown", message: `runc exec in container ${containerId} failed (${exit}) before starting the process` };
  if (msg.includes("container does not exist")) return { code: "NotFound", message: `could not find container "${containerId}"` };
  if (msg.includes("stopped container") || msg.includes("cannot exec in a paused") || msg.includes("not running")) {
    return { code: "FailedPrecondition", message: `container ${containerId} is not created or running: ${msg}` };
  }
  return { code: "Unknown", message: `exec in container ${containerId} failed: ${msg}` };
}

/** {@link classifyExecFailure} as a failed result, reading runc's log. */
export async function execStartFailure<T>(target: RuncStreamTarget, state: ExecStateDir, exit: string): Promise<RuntimeResult<T>> {
  const e = classifyExecFailure(target.containerId, await lastRuncError(state), exit);
  return fail(e.code, e.message);
}

/** "exit code 3" / "signal SIGKILL", for messages. */
export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `signal ${signal}` : `exit code ${code ?? "unknown"}`;
}

/**
 * The container's status as runc reports it (`created`, `running`,
 * `paused`, `stopped`), or undefined when runc does not know it.
 */
export function runcStatus(target: RuncStreamTarget): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(target.runcPath, ["--root", target.runcRoot, "state", target.containerId], { encoding: "utf8" }, (err, stdout) => {
      if (err) return resolve(undefined);
      try {
        const state = JSON.parse(stdout) as { status?: unknown };
        resolve(typeof state.status === "string" ? state.status : undefined);
      } catch {
        resolve(undefined);
      }
    });
  });
}
