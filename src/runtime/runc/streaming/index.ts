/**
 * Exec, attach, port-forward, execSync and log reopening for the runc
 * runtime, each a function of a {@link RuncStreamTarget} returning a
 * RuntimeResult, so the runtime's StreamingService methods only look the
 * target up and delegate:
 *
 * - {@link execSync}: `runc exec` to completion, output capped, session
 *   killed on timeout (exec probes).
 * - {@link exec}: interactive `runc exec`, pipes or (tty) a node-pty terminal.
 * - {@link attach}: the main process's streams via conmon's attach socket
 *   (needs the container's exit code from the runtime).
 * - {@link portForward}: one relay per connection inside the sandbox netns.
 * - {@link reopenContainerLog} / {@link resizeContainerTerminal}: conmon's ctl FIFO.
 *
 * Host tools: runc, conmon (for attach and ctl), nsenter (util-linux) and
 * perl (perl-base), the last two Essential in Debian.
 */
export type { RuncStreamTarget } from "../stream-target.js";
export { type AttachOptions, attach } from "./attach.js";
export { type ReopenLogOptions, reopenContainerLog, resizeContainerTerminal } from "./ctl-fifo.js";
export { type ExecOptions, exec, validateStreamOptions } from "./exec.js";
export { EXEC_SYNC_OUTPUT_LIMIT, type ExecSyncOptions, execSync } from "./exec-sync.js";
export { type PortForwardOptions, portForward } from "./port-forward.js";
