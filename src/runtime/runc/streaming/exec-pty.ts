/**
 * Interactive exec with a terminal: `runc exec -t` in the foreground under a
 * pseudo-terminal of ours (node-pty). runc makes the container's console,
 * puts our terminal in raw mode and relays between the two; it follows
 * SIGWINCH, which the kernel sends it when we resize our terminal, so a
 * resize reaches the process without any protocol of our own.
 */
import { PassThrough, Writable } from "node:stream";
import * as pty from "node-pty";
import type { Logger } from "../../../machinery/log.js";
import { fail, ok, type RuntimeResult, type StreamOptions, type StreamSession } from "../../types.js";
import type { RuncStreamTarget } from "../stream-target.js";
import { containerGoneFailure } from "./container-gone.js";
import { waitExecStarted } from "./exec-started.js";
import { type ExecStateDir, execStartFailure, runcExecArgs } from "./runc-exec.js";
import { CLOSE_GRACE_MS, killSession } from "./session.js";

/** The terminal size until the client sends its own (the usual 80×24). */
const INITIAL_COLS = 80;
const INITIAL_ROWS = 24;

interface PtyEnd {
  readonly exitCode: number;
  readonly signal: number;
}

function stringEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  return env;
}

/** Starts `cmd` on a terminal; the state directory is removed once the session ends. */
export async function execWithPty(
  target: RuncStreamTarget,
  cmd: readonly string[],
  opts: StreamOptions,
  state: ExecStateDir,
  log: Logger,
): Promise<RuntimeResult<StreamSession>> {
  let term: pty.IPty;
  try {
    term = pty.spawn(target.runcPath, runcExecArgs(target, state, cmd, true), {
      name: "xterm",
      cols: opts.initialSize?.width ?? INITIAL_COLS,
      rows: opts.initialSize?.height ?? INITIAL_ROWS,
      cwd: "/",
      env: stringEnv(),
      // Bytes, not text: a multi-byte character may straddle two reads.
      encoding: null,
    });
  } catch (e) {
    await state.remove();
    return fail("Unavailable", `cannot run ${target.runcPath} on a terminal: ${(e as Error).message}`);
  }

  const stdout = new PassThrough();
  let waitingForDrain = false;
  const onData = term.onData((data) => {
    if (!opts.stdout) return;
    if (!stdout.write(data as unknown as Buffer) && !waitingForDrain) {
      waitingForDrain = true;
      term.pause();
      stdout.once("drain", () => {
        waitingForDrain = false;
        term.resume();
      });
    }
  });
  let ptyEnd: PtyEnd | undefined;
  const exited = new Promise<PtyEnd>((resolve) =>
    term.onExit(({ exitCode, signal }) => {
      ptyEnd = { exitCode, signal: signal ?? 0 };
      onData.dispose();
      stdout.end();
      resolve(ptyEnd);
    }),
  );

  const pid = await waitExecStarted(state, exited);
  if (pid === undefined) {
    // What runc printed went to the terminal; its log has the same words without the noise.
    stdout.resume();
    const end = await exited;
    const result = await execStartFailure<StreamSession>(target, state, `exit code ${end.exitCode}`);
    await state.remove();
    return result;
  }
  log.debug("exec started on a terminal", { pid });

  void exited.then(async (end) => {
    if (end.signal === 0) return;
    // runc itself was killed: the process lost its relay; end it and what it started.
    await killSession(pid);
  });

  const exit = (async (): Promise<RuntimeResult<number>> => {
    const end = await exited;
    await state.remove();
    if (end.signal !== 0) {
      return fail("Unavailable", `runc ended with signal ${end.signal} during the exec in container ${target.containerId}`);
    }
    return (await containerGoneFailure<number>(target, end.exitCode)) ?? ok(end.exitCode);
  })();

  // With a terminal, the end of the client's stdin is not an end of input
  // to the process (a terminal has no half-close; ^D is a byte the client
  // sends), so ending this stream only stops forwarding.
  const stdin = opts.stdin
    ? new Writable({
        write(chunk: Buffer, _enc, cb) {
          if (ptyEnd === undefined) term.write(chunk);
          cb();
        },
      })
    : undefined;

  return ok({
    stdin,
    stdout: opts.stdout ? stdout : undefined,
    resize: (width: number, height: number) => {
      if (ptyEnd !== undefined) return;
      if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
        log.debug("ignoring an impossible terminal size", { width, height });
        return;
      }
      term.resize(width, height);
    },
    close: () => {
      if (ptyEnd !== undefined) return;
      void killSession(pid).then(() => {
        // runc waits for the process's output to end; something that left
        // the session (its own setsid) could hold it open for good.
        const t = setTimeout(() => {
          if (ptyEnd === undefined) term.kill("SIGKILL");
        }, CLOSE_GRACE_MS);
        t.unref();
      });
    },
    exit,
  });
}
