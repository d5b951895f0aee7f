/**
 * CRI ExecSync for the runc runtime: run a command in a container to
 * completion and hand back what it printed (exec probes use it).
 */
import { spawn } from "node:child_process";
import { type Logger, silentLogger } from "../../../machinery/log.js";
import { type ExecSyncResult, fail, ok, type RuntimeResult } from "../../types.js";
import type { RuncStreamTarget } from "../stream-target.js";
import { containerGoneFailure } from "./container-gone.js";
import { describeExit, execStartFailure, makeExecStateDir, readExecPid, runcExecArgs } from "./runc-exec.js";
import { killSession } from "./session.js";

/** Each of stdout and stderr keeps at most this much (CRI-O's 16 MiB exec-sync cap); the rest is read and dropped. */
export const EXEC_SYNC_OUTPUT_LIMIT = 16 * 1024 * 1024;

/** Knobs of {@link execSync}. */
export interface ExecSyncOptions {
  readonly logger?: Logger;
  /** Parent of the per-exec state directory (default: the OS temp dir). */
  readonly stateParent?: string;
  /** Override of {@link EXEC_SYNC_OUTPUT_LIMIT} (tests). */
  readonly outputLimit?: number;
}

/** Collects a stream's bytes up to a cap. */
class CappedBuffer {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly limit: number) {}
  add(chunk: Buffer): void {
    const room = this.limit - this.size;
    if (room <= 0) return;
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.chunks.push(kept);
    this.size += kept.length;
  }
  get value(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }
}

/**
 * Runs `cmd` in the container with `runc exec` and waits for it. With
 * `timeoutSeconds > 0`, once the time is up the process and its whole
 * session are SIGKILLed and the result says `timedOut` (exitCode -1); 0
 * means no limit, as in CRI. A command that runs and fails is a value
 * (its exit code); only not being able to run it is a failure.
 */
export async function execSync(
  target: RuncStreamTarget,
  cmd: readonly string[],
  timeoutSeconds: number,
  options: ExecSyncOptions = {},
): Promise<RuntimeResult<ExecSyncResult>> {
  if (cmd.length === 0) return fail("InvalidArgument", "exec command must not be empty");
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds < 0) {
    return fail("InvalidArgument", `exec timeout must be a non-negative number of seconds, got ${timeoutSeconds}`);
  }
  const log = (options.logger ?? silentLogger).with({ container: target.containerId });
  const limit = options.outputLimit ?? EXEC_SYNC_OUTPUT_LIMIT;
  const state = await makeExecStateDir(options.stateParent);
  try {
    const child = spawn(target.runcPath, runcExecArgs(target, state, cmd, false), { stdio: ["ignore", "pipe", "pipe"] });
    const stdout = new CappedBuffer(limit);
    const stderr = new CappedBuffer(limit);
    child.stdout.on("data", (c: Buffer) => stdout.add(c));
    child.stderr.on("data", (c: Buffer) => stderr.add(c));

    let exited = false;
    let timedOut = false;
    child.once("exit", () => {
      exited = true;
      // After a timeout kill, no output is worth waiting for.
      if (timedOut) {
        child.stdout.destroy();
        child.stderr.destroy();
      }
    });
    const timer =
      timeoutSeconds > 0
        ? setTimeout(() => {
            timedOut = true;
            log.debug("exec timed out, killing it", { timeoutSeconds });
            void (async () => {
              const pid = await readExecPid(state);
              if (pid !== undefined && !exited) await killSession(pid);
              if (!exited) child.kill("SIGKILL");
              else {
                child.stdout.destroy();
                child.stderr.destroy();
              }
            })();
          }, timeoutSeconds * 1000)
        : undefined;

    const end = await new Promise<{ code: number | null; signal: NodeJS.Signals | null } | { spawnError: Error }>((resolve) => {
      child.once("error", (spawnError) => resolve({ spawnError }));
      child.once("close", (code, signal) => resolve({ code, signal }));
    });
    if (timer) clearTimeout(timer);
    if ("spawnError" in end) return fail("Unavailable", `cannot run ${target.runcPath}: ${end.spawnError.message}`);

    const pid = await readExecPid(state);
    const started = pid !== undefined;
    if (timedOut) {
      return ok({ exitCode: -1, stdout: stdout.value, stderr: stderr.value, timedOut: true });
    }
    const exit = describeExit(end.code, end.signal);
    if (!started) return execStartFailure(target, state, exit);
    if (end.code === null) {
      // runc was killed under us: the process it ran lives on, reparented. End it.
      await killSession(pid);
      return fail("Unknown", `runc ended with ${exit} while running an exec in container ${target.containerId}`);
    }
    const gone = await containerGoneFailure<ExecSyncResult>(target, end.code);
    if (gone) return gone;
    return ok({ exitCode: end.code, stdout: stdout.value, stderr: stderr.value, timedOut: false });
  } finally {
    await state.remove();
  }
}
