/**
 * The kubelet's exec and attach endpoints over SPDY/3.1 and WebSocket
 * (remotecommand.ServeExec / ServeAttach): parse the request, bring up the
 * client's streams, run the runtime session, report how it ended.
 *
 * Exec reports the exit code: Success for 0, `NonZeroExitCode` with the code
 * as an `ExitCode` cause otherwise (kubectl turns that into "command
 * terminated with exit code N" and exits N). A runtime failure, at start or
 * mid-session, is an `InternalError` Status.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { RuntimeResult, StreamingService, StreamOptions, StreamSession } from "../../../runtime/types.js";
import type { CommandStreams } from "./command-streams.js";
import { isWebSocketRequest, releaseSocket, writeHttpError } from "./http-upgrade.js";
import { parseCommand, parseStreamOptions } from "./options.js";
import { type ResolvedStreamingOptions, resolveStreamingOptions } from "./options-defaults.js";
import { runCommand } from "./run-command.js";
import { createSpdyCommandStreams } from "./spdy-command-streams.js";
import { internalError, nonZeroExit, SUCCESS } from "./status.js";
import type { ContainerTarget } from "../routes.js";
import type { StreamingOptions } from "./types.js";
import { createWebSocketCommandStreams } from "./ws-command-streams.js";

function requestQuery(req: IncomingMessage): URLSearchParams {
  return new URL(req.url ?? "/", "http://kubelet").searchParams;
}

function openStreams(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  opts: StreamOptions,
  o: ResolvedStreamingOptions,
  logger: ResolvedStreamingOptions["logger"],
): Promise<CommandStreams | undefined> {
  return isWebSocketRequest(req)
    ? createWebSocketCommandStreams(req, socket, head, opts, { ...o, logger })
    : createSpdyCommandStreams(req, socket, head, opts, { ...o, logger });
}

/**
 * Runs `body`, turning a bug (a throw) into a log line and a dropped
 * connection, never a rejection; the socket is destroyed at the end either way.
 */
async function guarded(socket: Duplex, o: ResolvedStreamingOptions, what: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    o.logger.error(`${what} failed`, { err: (err as Error).stack ?? String(err) });
  }
  await releaseSocket(socket);
}

function podName(t: ContainerTarget): string {
  return `${t.podNamespace}/${t.podName}`;
}

/**
 * `GET|POST /exec/{ns}/{pod}/{container}?command=…&stdin=1&stdout=1&stderr=1&tty=1`
 * upgraded to SPDY/3.1 or WebSocket.
 */
export function serveExec(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  target: ContainerTarget,
  runtime: StreamingService,
  options?: StreamingOptions,
): Promise<void> {
  const o = resolveStreamingOptions(options);
  return guarded(socket, o, "exec", async () => {
    const q = requestQuery(req);
    const opts = parseStreamOptions(q);
    if (!opts.ok) return writeHttpError(socket, 400, opts.message);
    const cmd = parseCommand(q);
    if (!cmd.ok) return writeHttpError(socket, 400, cmd.message);
    const containerId = target.containerId;
    const log = o.logger.with({ op: "exec", pod: podName(target), container: target.containerName });
    const streams = await openStreams(req, socket, head, opts.value, o, log);
    if (!streams) return;
    log.debug("exec session started", { transport: streams.transport, protocol: streams.protocol, tty: opts.value.tty });
    await runCommand(streams, {
      opts: opts.value,
      log,
      start: (initialSize) => runtime.exec(containerId, cmd.value, initialSize ? { ...opts.value, initialSize } : opts.value),
      outcome: (exit: RuntimeResult<number>) => {
        if (!exit.ok) return internalError(`error executing command in container: ${exit.error.message}`);
        return exit.value === 0 ? SUCCESS : nonZeroExit(cmd.value, exit.value);
      },
      startFailure: (e) => internalError(`error executing command in container: ${e.message}`),
    });
  });
}

/** `GET|POST /attach/{ns}/{pod}/{container}?stdin=1&stdout=1&stderr=1&tty=1` upgraded to SPDY/3.1 or WebSocket. */
export function serveAttach(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  target: ContainerTarget,
  runtime: StreamingService,
  options?: StreamingOptions,
): Promise<void> {
  const o = resolveStreamingOptions(options);
  return guarded(socket, o, "attach", async () => {
    const opts = parseStreamOptions(requestQuery(req));
    if (!opts.ok) return writeHttpError(socket, 400, opts.message);
    const containerId = target.containerId;
    const log = o.logger.with({ op: "attach", pod: podName(target), container: target.containerName });
    const streams = await openStreams(req, socket, head, opts.value, o, log);
    if (!streams) return;
    log.debug("attach session started", { transport: streams.transport, protocol: streams.protocol, tty: opts.value.tty });
    await runCommand(streams, {
      opts: opts.value,
      log,
      start: (): Promise<RuntimeResult<StreamSession>> => runtime.attach(containerId, opts.value),
      // Attach reports no exit code upstream: the attachment ending is a success.
      outcome: (exit) => (exit.ok ? SUCCESS : internalError(`error attaching to container: ${exit.error.message}`)),
      startFailure: (e) => internalError(`error attaching to container: ${e.message}`),
    });
  });
}
