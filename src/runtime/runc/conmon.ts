/**
 * Starts conmon for one container the way CRI-O does: conmon runs
 * `runc create`, double-forks so it outlives the agent, keeps the
 * container's stdio (logs in the CRI format, attach socket, terminal),
 * and writes the exit code when the container ends. The container's pid
 * or runc's error comes back as one JSON line on the `_OCI_SYNCPIPE` fd.
 */
import { spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { fail, ok, type RuntimeResult } from "../types.js";
import { cleanToolMessage } from "./run-command.js";

/** Everything conmon is told about one container. */
export interface ConmonLaunch {
  readonly conmonPath: string;
  readonly runcPath: string;
  readonly runcRoot: string;
  readonly id: string;
  /** Container name for conmon's own logs. */
  readonly name: string;
  readonly bundle: string;
  readonly pidFile: string;
  readonly conmonPidFile: string;
  /** Log file, written in the CRI format (k8s-file driver). */
  readonly logPath: string;
  readonly exitDir: string;
  /** Where conmon writes `exit` and `oom` (the bundle). */
  readonly persistDir: string;
  readonly socketDirPath: string;
  readonly tty: boolean;
  readonly stdin: boolean;
  readonly stdinOnce: boolean;
  readonly logLevel?: "debug" | "info" | "warn" | "error";
  /** Give up waiting for runc create after this long (default 4 min, CRI-O's). */
  readonly timeoutMs?: number;
}

/** conmon's arguments, as CRI-O builds them. */
export function conmonArgs(l: ConmonLaunch): string[] {
  const args = [
    "-b", l.bundle,
    "-c", l.id,
    "--exit-dir", l.exitDir,
    "-l", `k8s-file:${l.logPath}`,
    "--log-level", l.logLevel ?? "info",
    "-n", l.name,
    "-P", l.conmonPidFile,
    "-p", l.pidFile,
    "--persist-dir", l.persistDir,
    "-r", l.runcPath,
    "--runtime-arg", `--root=${l.runcRoot}`,
    "--socket-dir-path", l.socketDirPath,
    "-u", l.id,
  ];
  // As CRI-O: with a terminal, stdin is the terminal itself (conmon writes attach input to the pty).
  if (l.tty) args.push("-t");
  else if (l.stdin) {
    // Without stdinOnce, stdin stays open for the next attach when a client leaves.
    if (!l.stdinOnce) args.push("--leave-stdin-open");
    args.push("-i");
  }
  return args;
}

interface SyncMessage {
  pid?: number;
  data?: number;
  message?: string;
}

/** A conmon started but held before `runc create` (see {@link startConmon}). */
export interface ConmonHandle {
  /** Lets conmon go on to `runc create`; resolves with the container's pid or runc's error. */
  release(): Promise<RuntimeResult<number>>;
  /** Kills the held conmon (it has not forked yet, so nothing else exists). */
  abort(): void;
}

/**
 * Starts conmon held on its `_OCI_STARTPIPE` (as CRI-O does), so the
 * bundle can be finished (root filesystem mounted, config.json written)
 * while conmon starts up; `release()` then lets it create the container.
 */
export function startConmon(l: ConmonLaunch): ConmonHandle {
  const timeoutMs = l.timeoutMs ?? 240_000;
  let stderr = "";
  let sync = "";
  let mainExit: number | null | undefined;
  let spawnError: Error | undefined;
  let settle: ((r: RuntimeResult<number>) => void) | undefined;
  let outcome: RuntimeResult<number> | undefined;
  const child = spawn(l.conmonPath, conmonArgs(l), {
    cwd: l.bundle,
    stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"],
    env: { PATH: process.env.PATH ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", _OCI_SYNCPIPE: "3", _OCI_STARTPIPE: "4" },
  });
  const syncPipe = child.stdio[3] as Readable;
  const startPipe = child.stdio[4] as Writable;
  let timer: NodeJS.Timeout | undefined;
  const finish = (r: RuntimeResult<number>) => {
    if (outcome) return;
    outcome = r;
    if (timer) clearTimeout(timer);
    // conmon's daemon keeps its end open until the container exits; ours goes now.
    syncPipe.destroy();
    startPipe.destroy();
    settle?.(r);
  };
  const onSyncLine = (line: string) => {
    let msg: SyncMessage;
    try {
      msg = JSON.parse(line) as SyncMessage;
    } catch {
      return finish(fail("Unknown", `container create failed: unreadable message from conmon: ${line.slice(0, 200)}`));
    }
    const pid = msg.pid ?? msg.data ?? -1;
    if (pid > 0) return finish(ok(pid));
    const detail = msg.message ? cleanToolMessage(msg.message) : "";
    finish(fail("Unknown", detail ? `container create failed: ${detail}` : "container create failed"));
  };
  child.on("error", (err) => {
    spawnError = err;
    finish(fail("Unavailable", `failed to start conmon (${l.conmonPath}): ${err.message}`));
  });
  child.on("exit", (code) => {
    mainExit = code;
  });
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (d: string) => {
    if (stderr.length < 64 * 1024) stderr += d;
  });
  startPipe.on("error", () => {});
  syncPipe.on("error", () => {});
  syncPipe.setEncoding("utf8");
  syncPipe.on("data", (d: string) => {
    sync += d;
    const nl = sync.indexOf("\n");
    if (nl >= 0) onSyncLine(sync.slice(0, nl));
  });
  syncPipe.on("end", () => {
    if (sync.trim()) return onSyncLine(sync.trim());
    // Every holder of the pipe is gone without a word: conmon failed before or during create.
    const why = cleanToolMessage(stderr) || (mainExit !== undefined ? `conmon exited with status ${mainExit}` : "conmon exited");
    finish(fail("Unknown", `container create failed: ${why}`));
  });
  return {
    release() {
      if (outcome) return Promise.resolve(outcome);
      return new Promise((resolve) => {
        settle = resolve;
        if (spawnError) return;
        timer = setTimeout(() => finish(fail("DeadlineExceeded", `create container timeout: runc did not create the container within ${timeoutMs / 1000}s`)), timeoutMs);
        startPipe.end(Buffer.from([0]));
      });
    },
    abort() {
      // Still held on the start pipe (our direct child, not forked yet): killing it leaves nothing behind.
      if (!outcome && mainExit === undefined && child.pid) child.kill("SIGKILL");
      finish(fail("Unknown", "container create aborted"));
    },
  };
}
