/**
 * CRI Exec for the runc runtime: an interactive command in a running
 * container, with or without a terminal.
 */
import { type Logger, silentLogger } from "../../../machinery/log.js";
import { fail, type RuntimeResult, type StreamOptions, type StreamSession } from "../../types.js";
import type { RuncStreamTarget } from "../stream-target.js";
import { execWithPipes } from "./exec-pipes.js";
import { execWithPty } from "./exec-pty.js";
import { makeExecStateDir } from "./runc-exec.js";

/** Knobs of {@link exec}. */
export interface ExecOptions {
  readonly logger?: Logger;
  /** Parent of the per-exec state directory (default: the OS temp dir). */
  readonly stateParent?: string;
}

/**
 * The checks upstream's streaming server makes of every exec and attach
 * request (k8s.io/kubelet/pkg/cri/streaming), with its messages.
 */
export function validateStreamOptions(opts: StreamOptions): string | undefined {
  if (opts.tty && opts.stderr) return "tty and stderr cannot both be true";
  if (!opts.stdin && !opts.stdout && !opts.stderr) return "one of stdin, stdout, or stderr must be set";
  return undefined;
}

/**
 * Starts `cmd` in the container and resolves once it runs (or with why it
 * could not start: NotFound for an unknown container, FailedPrecondition
 * for a stopped one, Unknown with runc's words otherwise).
 *
 * Without `tty`, the process gets our pipes directly: stdin only when
 * `opts.stdin` (its end closes the process's stdin), unwanted output is
 * read and dropped. With `tty`, stdout carries the terminal and `resize`
 * applies. `exit` resolves with the exit code; when the container or runc
 * went away under the exec it resolves with a failure instead. `close()`
 * kills the process and everything it started.
 */
export async function exec(
  target: RuncStreamTarget,
  cmd: readonly string[],
  opts: StreamOptions,
  options: ExecOptions = {},
): Promise<RuntimeResult<StreamSession>> {
  if (cmd.length === 0) return fail("InvalidArgument", "exec command must not be empty");
  const invalid = validateStreamOptions(opts);
  if (invalid) return fail("InvalidArgument", invalid);
  const log = (options.logger ?? silentLogger).with({ container: target.containerId });
  const state = await makeExecStateDir(options.stateParent);
  return opts.tty ? execWithPty(target, cmd, opts, state, log) : execWithPipes(target, cmd, opts, state, log);
}
