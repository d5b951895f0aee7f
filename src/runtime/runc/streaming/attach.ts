/**
 * CRI Attach for the runc runtime: the streams of a container's main
 * process, through its conmon's attach socket (see attach-relay.ts for why
 * a small Perl relay holds the socket).
 */
import { spawn } from "node:child_process";
import { basename, dirname } from "node:path";
import { PassThrough } from "node:stream";
import { type Logger, silentLogger } from "../../../machinery/log.js";
import { fail, ok, type RuntimeResult, type StreamOptions, type StreamSession } from "../../types.js";
import type { RuncStreamTarget } from "../stream-target.js";
import { ATTACH_RELAY_SCRIPT, FrameDecoder, STDERR_PIPE, STDOUT_PIPE } from "./attach-relay.js";
import { resizeContainerTerminal } from "./ctl-fifo.js";
import { validateStreamOptions } from "./exec.js";
import { runcStatus } from "./runc-exec.js";

/** What {@link attach} needs besides the target. */
export interface AttachOptions {
  /**
   * The container's exit code as conmon recorded it (its exit file), or
   * undefined while there is none (yet). Asked when conmon closes the
   * attachment, to tell "the container exited with N" from "conmon went
   * away"; attach itself waits for conmon to finish recording.
   */
  readonly containerExitCode: () => Promise<number | undefined>;
  readonly logger?: Logger;
  /** The Perl interpreter (default `perl` from PATH; perl-base is Essential in Debian). */
  readonly perlPath?: string;
}

function connectFailure(target: RuncStreamTarget, stderr: string): RuntimeResult<never> {
  const why = stderr.trim() || "the attach relay exited before connecting";
  // conmon removes its socket when it exits; a socket nobody listens on is a conmon that died.
  if (why.includes("No such file or directory") || why.includes("Connection refused")) {
    return fail("FailedPrecondition", `container ${target.containerId} is not running (no conmon listens on ${target.attachPath})`);
  }
  return fail("Unknown", `cannot attach to container ${target.containerId}: ${why}`);
}

/** How long to wait for conmon to record the exit code after it closed the attachment. */
const EXIT_RECORD_WAIT_MS = 5000;
const EXIT_RECORD_POLL_MS = 20;

/**
 * conmon closes its attach sockets when the container exited, a moment
 * before it writes the exit file. So: the recorded exit code when there is
 * one; while runc still sees the container running, conmon went away (or
 * dropped us) under a live container; otherwise wait, briefly, for conmon
 * to finish recording.
 */
async function exitCodeAfterDetach(target: RuncStreamTarget, exitCode: () => Promise<number | undefined>): Promise<RuntimeResult<number>> {
  const deadline = Date.now() + EXIT_RECORD_WAIT_MS;
  for (;;) {
    const code = await exitCode();
    if (code !== undefined) return ok(code);
    const status = await runcStatus(target);
    if (status === "running" || status === "paused" || status === "created") {
      return fail("Unavailable", `conmon closed the attachment while container ${target.containerId} was still running`);
    }
    if (Date.now() >= deadline) {
      return fail("Unknown", `container ${target.containerId} exited but conmon recorded no exit code`);
    }
    await new Promise((r) => setTimeout(r, EXIT_RECORD_POLL_MS));
  }
}

/**
 * Attaches to the container's main process. `opts.tty` must match how the
 * container was created (a process's terminal cannot change after it
 * started), and `opts.stdin` needs a container created with stdin. Output
 * starts with what the process writes after the attachment (conmon keeps
 * no backlog; the log has the rest). With stdinOnce (and no tty), the end
 * of the client's stdin closes the container's stdin, as CRI-O does.
 *
 * `exit` resolves once the attachment ends: with the exit code when the
 * container exited; with a failure when conmon went away while the
 * container ran, or when the client detached (`close()`).
 */
export async function attach(target: RuncStreamTarget, opts: StreamOptions, options: AttachOptions): Promise<RuntimeResult<StreamSession>> {
  const invalid = validateStreamOptions(opts);
  if (invalid) return fail("InvalidArgument", invalid);
  if (opts.tty !== target.tty) {
    return fail(
      "InvalidArgument",
      `tty=${opts.tty} does not match container ${target.containerId}, which was created with tty=${target.tty}`,
    );
  }
  if (opts.stdin && !target.stdin) {
    return fail("FailedPrecondition", `container ${target.containerId} was not created with stdin open: there is no stdin to attach to`);
  }
  const log = (options.logger ?? silentLogger).with({ container: target.containerId });
  const halfClose = opts.stdin && target.stdinOnce && !target.tty;

  const relay = spawn(
    options.perlPath ?? "perl",
    ["-e", ATTACH_RELAY_SCRIPT, dirname(target.attachPath), basename(target.attachPath), halfClose ? "1" : "0"],
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  let stderrText = "";
  relay.stderr.on("data", (c: Buffer) => {
    stderrText += c.toString("utf8");
  });
  relay.stdin.on("error", (e) => log.debug("attach stdin closed", { err: e.message }));
  if (!opts.stdin) relay.stdin.end();

  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: Error }>((resolve) => {
    relay.once("error", (spawnError) => resolve({ code: null, signal: null, spawnError }));
    relay.once("close", (code, signal) => resolve({ code, signal }));
  });

  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const decoder = new FrameDecoder();
  let connected: (v: boolean) => void = () => undefined;
  const isConnected = new Promise<boolean>((resolve) => {
    connected = resolve;
  });
  let sawMarker = false;
  let waitingForDrain = false;
  relay.stdout.on("data", (chunk: Buffer) => {
    for (const msg of decoder.push(chunk)) {
      if (!sawMarker) {
        sawMarker = true;
        connected(true);
        continue;
      }
      const pipe = msg[0];
      const data = msg.subarray(1);
      const dest = pipe === STDOUT_PIPE ? (opts.stdout ? stdout : undefined) : pipe === STDERR_PIPE ? (opts.stderr ? stderr : undefined) : undefined;
      if (dest === undefined) continue;
      // Backpressure reaches conmon through the socket, as with CRI-O's copy loop.
      if (!dest.write(data) && !waitingForDrain) {
        waitingForDrain = true;
        relay.stdout.pause();
        dest.once("drain", () => {
          waitingForDrain = false;
          relay.stdout.resume();
        });
      }
    }
  });
  void closed.then(() => connected(false));

  if (!(await isConnected)) {
    const end = await closed;
    stdout.destroy();
    stderr.destroy();
    if (end.spawnError) return fail("Unavailable", `cannot run the attach relay (${options.perlPath ?? "perl"}): ${end.spawnError.message}`);
    return connectFailure(target, stderrText);
  }
  log.debug("attached", { stdin: opts.stdin, tty: opts.tty });

  let detachedByClient = false;
  const exit = (async (): Promise<RuntimeResult<number>> => {
    const end = await closed;
    stdout.end();
    stderr.end();
    if (detachedByClient) return fail("Unavailable", `the client detached from container ${target.containerId}`);
    if (end.code !== 0 || decoder.buffered !== 0) {
      const why = stderrText.trim() || (end.signal ? `signal ${end.signal}` : `exit code ${end.code}`);
      return fail("Unavailable", `the attachment to container ${target.containerId} broke: ${why}`);
    }
    return exitCodeAfterDetach(target, options.containerExitCode);
  })();

  return ok({
    stdin: opts.stdin ? relay.stdin : undefined,
    stdout: opts.stdout ? stdout : undefined,
    stderr: opts.stderr && !opts.tty ? stderr : undefined,
    resize: (width: number, height: number) => {
      if (!target.tty) return;
      void resizeContainerTerminal(target, width, height).then((r) => {
        if (!r.ok) log.debug("terminal resize not delivered", { err: r.error.message });
      });
    },
    close: () => {
      if (relay.exitCode !== null || relay.signalCode !== null) return;
      detachedByClient = true;
      // Closing the socket detaches; conmon and the container carry on
      // (closing the container's stdin if it was created with stdinOnce).
      relay.kill("SIGKILL");
    },
    exit,
  });
}
