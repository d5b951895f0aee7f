/**
 * conmon's control FIFO (`<bundle>/ctl`). conmon reads lines of three
 * integers, `TYPE A B\n` (conmon's ctrl.c): type 1 resizes the container's
 * terminal to A rows × B columns, type 2 reopens the container's log file
 * (A and B unused, sent as 0). conmon holds the read end for as long as it
 * runs, so opening the write end without blocking tells whether it still
 * does (ENXIO when no one reads).
 */
import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { type Logger, silentLogger } from "../../../machinery/log.js";
import { fail, ok, type RuntimeResult } from "../../types.js";
import type { RuncStreamTarget } from "../stream-target.js";

/** conmon's WIN_RESIZE_EVENT and REOPEN_LOGS_EVENT. */
export const CTL_WIN_RESIZE = 1;
export const CTL_REOPEN_LOGS = 2;

/** Writes one control line; a value tells why it could not be delivered. */
export async function writeCtl(target: RuncStreamTarget, type: number, a: number, b: number): Promise<RuntimeResult<void>> {
  const line = `${type} ${a} ${b}\n`;
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(target.ctlPath, constants.O_WRONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return fail("NotFound", `container ${target.containerId} has no conmon control file ${target.ctlPath}`);
    if (code === "ENXIO") return fail("FailedPrecondition", `container ${target.containerId} is not running (its conmon is gone)`);
    return fail("Unknown", `cannot open conmon's control file ${target.ctlPath}: ${(e as Error).message}`);
  }
  try {
    // Shorter than PIPE_BUF, so the line arrives whole even with other writers.
    await fh.write(line);
    return ok(undefined);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EAGAIN") return fail("Unavailable", `conmon of container ${target.containerId} is not reading its control file`);
    return fail("Unknown", `cannot write to conmon's control file ${target.ctlPath}: ${(e as Error).message}`);
  } finally {
    await fh.close();
  }
}

/**
 * Resizes the terminal of a container created with `tty`. Sizes conmon
 * would reject (it takes 0–1000 in conmon's ctrl.c) are refused here.
 */
export async function resizeContainerTerminal(target: RuncStreamTarget, width: number, height: number): Promise<RuntimeResult<void>> {
  if (!target.tty) return fail("FailedPrecondition", `container ${target.containerId} has no terminal to resize`);
  for (const [name, v] of [
    ["width", width],
    ["height", height],
  ] as const) {
    if (!Number.isInteger(v) || v < 1 || v > 1000) return fail("InvalidArgument", `terminal ${name} must be an integer from 1 to 1000, got ${v}`);
  }
  return writeCtl(target, CTL_WIN_RESIZE, height, width);
}

/** Knobs of {@link reopenContainerLog}. */
export interface ReopenLogOptions {
  readonly logger?: Logger;
}

/**
 * CRI ReopenContainerLog: asks the container's conmon to close and reopen
 * its log file (after the kubelet renamed it for rotation). conmon acts on
 * it asynchronously; the new file appears as soon as conmon has read the
 * line. A container whose conmon is gone fails with FailedPrecondition, as
 * CRI-O answers "container is not running".
 */
export async function reopenContainerLog(target: RuncStreamTarget, options: ReopenLogOptions = {}): Promise<RuntimeResult<void>> {
  const r = await writeCtl(target, CTL_REOPEN_LOGS, 0, 0);
  (options.logger ?? silentLogger).debug("asked conmon to reopen the container log", {
    container: target.containerId,
    ok: r.ok,
    err: r.ok ? undefined : r.error.message,
  });
  return r;
}
