/**
 * Drives one exec or attach session between the client's streams and the
 * runtime's: stdin in (its EOF closes the process's stdin), stdout/stderr
 * out, resizes to the terminal, and at the end one Status. The session ends
 * when the runtime reports the exit and the output is drained; if the
 * client goes away first, the runtime session is closed and no status is
 * sent.
 */
import { finished } from "node:stream/promises";
import type { Logger } from "../../../machinery/log.js";
import type { RuntimeError, RuntimeResult, StreamOptions, StreamSession } from "../../../runtime/types.js";
import type { CommandStreams } from "./command-streams.js";
import { readResizes, type TerminalSize } from "./resize.js";
import type { StreamStatus } from "./status.js";

export interface CommandRun {
  readonly opts: StreamOptions;
  /** Starts the runtime session (exec or attach), on a terminal of `initialSize` when the client sent one. */
  start(initialSize?: TerminalSize): Promise<RuntimeResult<StreamSession>>;
  /** The status for how the session ended. */
  outcome(exit: RuntimeResult<number>): StreamStatus;
  /** The status for a session that could not start. */
  startFailure(error: RuntimeError): StreamStatus;
  readonly log: Logger;
}

/** How long a tty session waits for the client's first terminal size before it starts anyway. */
const FIRST_SIZE_WAIT_MS = 1000;

export async function runCommand(streams: CommandStreams, run: CommandRun): Promise<void> {
  const { opts, log } = run;
  // Sizes are read from the start: kubectl sends its terminal's size first
  // thing, and a process started before it (a shell asking `stty size`)
  // would see 80x24. Upstream has this race; waiting for the size closes it.
  let session: StreamSession | undefined;
  let first: TerminalSize | undefined;
  let latest: TerminalSize | undefined;
  let gotFirst: () => void = () => {};
  const firstSize = new Promise<void>((resolve) => {
    gotFirst = resolve;
  });
  if (streams.resize) {
    if (opts.tty) {
      readResizes(
        streams.resize,
        (size) => {
          first ??= size;
          latest = size;
          gotFirst();
          session?.resize(size.width, size.height);
        },
        (err) => log.warn("bad terminal size from the client, ignoring further resizes", { err: err.message }),
      );
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([firstSize, new Promise<void>((r) => (timer = setTimeout(r, FIRST_SIZE_WAIT_MS)))]);
      clearTimeout(timer);
    } else {
      streams.resize.resume();
    }
  }
  const started = await run.start(first);
  if (!started.ok) {
    log.info("streaming session could not start", { err: started.error.message });
    await streams.finish(run.startFailure(started.error));
    return;
  }
  session = started.value;
  // A resize that arrived while the session started.
  if (latest && latest !== first) session.resize(latest.width, latest.height);
  let done = false;
  let clientGone = false;
  void streams.closed.then(() => {
    if (done) return;
    clientGone = true;
    log.debug("client went away before the session ended, closing it");
    session.stdin?.end();
    session.close();
  });

  // Runtime pipes fail with EPIPE and the like once the process is gone; that is not ours to report.
  for (const s of [session.stdin, session.stdout, session.stderr]) {
    s?.on("error", (err: Error) => log.debug("runtime stream error", { err: err.message }));
  }

  if (streams.stdin) {
    if (session.stdin) streams.stdin.pipe(session.stdin);
    else streams.stdin.resume();
  } else if (session.stdin) {
    session.stdin.end();
  }

  const outputs: Promise<unknown>[] = [];
  const wire = (from: NodeJS.ReadableStream | undefined, to: NodeJS.WritableStream | undefined) => {
    if (!from) return;
    if (to) from.pipe(to, { end: false });
    else from.resume();
    outputs.push(finished(from));
  };
  wire(session.stdout, streams.stdout);
  wire(session.stderr, streams.stderr);

  const exit = await session.exit;
  if (exit.ok) {
    // As CRI runtimes do: the status follows the last byte of output.
    await Promise.allSettled(outputs);
  } else {
    // The runtime went away: its pipes may never end (an orphaned child can
    // hold them open), so report now rather than wait on them.
    session.stdout?.unpipe();
    session.stderr?.unpipe();
  }
  done = true;
  if (clientGone) return;
  if (!exit.ok) log.info("streaming session ended with a runtime error", { err: exit.error.message });
  await streams.finish(run.outcome(exit));
}
