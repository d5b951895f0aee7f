/**
 * Interactive exec without a terminal: `runc exec` in the foreground with
 * pipes. runc copies between our pipes and the process's: the end of our
 * stdin closes the process's stdin, and runc exits with the process's exit
 * code once the process exited and its output ended (a background child
 * still holding stdout keeps the session open, as with other runtimes).
 */
import { spawn } from "node:child_process";
import { PassThrough } from "node:stream";
import type { Logger } from "../../../machinery/log.js";
import { fail, ok, type RuntimeResult, type StreamOptions, type StreamSession } from "../../types.js";
import type { RuncStreamTarget } from "../stream-target.js";
import { containerGoneFailure } from "./container-gone.js";
import { waitExecStarted } from "./exec-started.js";
import { describeExit, type ExecStateDir, execStartFailure, runcExecArgs } from "./runc-exec.js";
import { CLOSE_GRACE_MS, killSession } from "./session.js";

interface RuncEnd {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Starts `cmd` with pipes; the state directory is removed once the session ends. */
export async function execWithPipes(
  target: RuncStreamTarget,
  cmd: readonly string[],
  opts: StreamOptions,
  state: ExecStateDir,
  log: Logger,
): Promise<RuntimeResult<StreamSession>> {
  const child = spawn(target.runcPath, runcExecArgs(target, state, cmd, false), { stdio: ["pipe", "pipe", "pipe"] });
  // Without client stdin the process reads EOF at once, as from /dev/null.
  if (!opts.stdin) child.stdin.end();
  const spawned = new Promise<Error | undefined>((resolve) => {
    child.once("spawn", () => resolve(undefined));
    child.once("error", (e) => resolve(e));
  });
  const spawnError = await spawned;
  if (spawnError) {
    await state.remove();
    return fail("Unavailable", `cannot run ${target.runcPath}: ${spawnError.message}`);
  }

  let runcEnd: RuncEnd | undefined;
  const exited = new Promise<RuncEnd>((resolve) =>
    child.once("exit", (code, signal) => {
      runcEnd = { code, signal };
      resolve(runcEnd);
    }),
  );
  const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
  // Consume the child's output at once: Node discards (resumes) stdio that
  // nothing listens to when the child exits, which a short command does
  // before the caller has had the session in hand.
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  child.stdout.pipe(stdout);
  child.stderr.pipe(stderr);
  // Writes after the process is gone fail with EPIPE: the session's exit reports the outcome.
  child.stdin.on("error", (e) => log.debug("exec stdin closed", { err: e.message }));

  const pid = await waitExecStarted(state, exited);
  if (pid === undefined) {
    stdout.resume();
    stderr.resume();
    await closed;
    const result = await execStartFailure<StreamSession>(target, state, describeExit(runcEnd?.code ?? null, runcEnd?.signal ?? null));
    await state.remove();
    return result;
  }
  log.debug("exec started", { pid });

  // Output nobody asked for is read and dropped, so the process never blocks on it.
  if (!opts.stdout) stdout.resume();
  if (!opts.stderr) stderr.resume();

  void exited.then(async (end) => {
    if (end.signal === null) return;
    // runc itself was killed: the process it ran lives on, reparented,
    // with nobody reading its output. End it and what it started.
    await killSession(pid);
  });

  const exit = (async (): Promise<RuntimeResult<number>> => {
    const end = await exited;
    await closed;
    await state.remove();
    if (end.code === null) {
      return fail("Unavailable", `runc ended with ${describeExit(end.code, end.signal)} during the exec in container ${target.containerId}`);
    }
    return (await containerGoneFailure<number>(target, end.code)) ?? ok(end.code);
  })();

  return ok({
    stdin: opts.stdin ? child.stdin : undefined,
    stdout: opts.stdout ? stdout : undefined,
    stderr: opts.stderr ? stderr : undefined,
    // No terminal, nothing to resize (StreamSession.resize applies to tty sessions only).
    resize: () => undefined,
    close: () => {
      if (runcEnd !== undefined) return;
      void killSession(pid).then(() => {
        // runc waits for the process's output to end; something that left
        // the session (its own setsid) could hold it open for good.
        const t = setTimeout(() => {
          if (runcEnd === undefined) child.kill("SIGKILL");
        }, CLOSE_GRACE_MS);
        t.unref();
      });
    },
    exit,
  });
}
