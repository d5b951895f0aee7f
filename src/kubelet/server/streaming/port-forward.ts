/**
 * The kubelet's port-forward endpoint (portforward.ServePortForward):
 *
 * - SPDY/3.1 upgrade, protocol `portforward.k8s.io` (kubectl ≤ 1.30, and
 *   later ones when WebSockets are off or fail): stream pairs per
 *   connection, see {@link ./spdy-port-forward.ts}.
 * - WebSocket `SPDY/3.1+portforward.k8s.io` (kubectl 1.31+): the same SPDY
 *   session, tunnelled in binary WebSocket messages.
 * - WebSocket channel protocols (client libraries such as client-node):
 *   ports from the query, see {@link ./ws-port-forward.ts}.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { StreamingService } from "../../../runtime/types.js";
import { isWebSocketRequest, releaseSocket, spdyHandshake, writeHttpError, writeSpdySwitchingProtocols } from "./http-upgrade.js";
import { parsePorts } from "./options.js";
import { type ResolvedStreamingOptions, resolveStreamingOptions } from "./options-defaults.js";
import { SpdySession } from "./spdy/session.js";
import { PORT_FORWARD_PROTOCOL, spdyPortForwardHandler } from "./spdy-port-forward.js";
import type { SandboxTarget } from "../routes.js";
import type { StreamingOptions } from "./types.js";
import { webSocketDuplex } from "./ws-duplex.js";
import { serveWebSocketPortForward, WS_PORT_FORWARD_PROTOCOLS } from "./ws-port-forward.js";
import { acceptWebSocket, selectWebSocketProtocol } from "./ws-upgrade.js";

/** client-go's constants.WebsocketsSPDYTunnelingPrefix + the port-forward protocol. */
export const SPDY_TUNNEL_PROTOCOL = `SPDY/3.1+${PORT_FORWARD_PROTOCOL}`;

async function runSpdyPortForward(
  transport: Duplex,
  head: Buffer | undefined,
  target: SandboxTarget,
  runtime: StreamingService,
  o: ResolvedStreamingOptions,
  log: ResolvedStreamingOptions["logger"],
): Promise<void> {
  const handler = spdyPortForwardHandler({
    podSandboxId: target.podSandboxId,
    runtime,
    streamCreationTimeoutMs: o.streamCreationTimeoutMs,
    graceMs: o.portForwardGraceMs,
    log,
  });
  const session = new SpdySession(transport, { role: "server", idleTimeoutMs: o.idleTimeoutMs, logger: log, onStream: handler.onStream }, head);
  handler.attach(session);
  await session.closed;
}

/** `GET|POST /portForward/{ns}/{pod}[?port=N…]` upgraded to SPDY/3.1 or WebSocket. */
export async function servePortForward(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  target: SandboxTarget,
  runtime: StreamingService,
  options?: StreamingOptions,
): Promise<void> {
  const o = resolveStreamingOptions(options);
  const log = o.logger.with({ op: "portforward", pod: `${target.podNamespace}/${target.podName}` });
  try {
    if (!isWebSocketRequest(req)) {
      const protocol = spdyHandshake(req, socket, [PORT_FORWARD_PROTOCOL]);
      if (!protocol) return;
      writeSpdySwitchingProtocols(socket, protocol);
      await runSpdyPortForward(socket, head, target, runtime, o, log.with({ transport: "spdy" }));
      return;
    }
    const selected = selectWebSocketProtocol(req, [SPDY_TUNNEL_PROTOCOL, ...Object.keys(WS_PORT_FORWARD_PROTOCOLS)]);
    if (!selected.ok) return writeHttpError(socket, 403, selected.message);
    if (selected.protocol === SPDY_TUNNEL_PROTOCOL) {
      const ws = await acceptWebSocket(req, socket, head, selected.protocol);
      if (!ws) return;
      await runSpdyPortForward(webSocketDuplex(ws), undefined, target, runtime, o, log.with({ transport: "websocket-spdy" }));
      return;
    }
    const ports = parsePorts(new URL(req.url ?? "/", "http://kubelet").searchParams);
    if (!ports.ok) return writeHttpError(socket, 400, ports.message);
    const ws = await acceptWebSocket(req, socket, head, selected.protocol);
    if (!ws) return;
    await serveWebSocketPortForward(ws, selected.protocol, ports.value, {
      podSandboxId: target.podSandboxId,
      runtime,
      idleTimeoutMs: o.idleTimeoutMs,
      finishTimeoutMs: o.finishTimeoutMs,
      graceMs: o.portForwardGraceMs,
      log: log.with({ transport: "websocket" }),
    });
  } catch (err) {
    log.error("port-forward failed", { err: (err as Error).stack ?? String(err) });
  } finally {
    await releaseSocket(socket);
  }
}
