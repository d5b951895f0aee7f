/**
 * Port-forward over WebSocket channels (portforward's
 * handleWebSocketStreams): the ports come from the query; each port gets
 * channel 2n (data, both ways) and 2n+1 (error, to the client), and the
 * first message on each carries the port as 2 bytes little-endian. One
 * connection per port per WebSocket; the WebSocket closes when all are done.
 */
import { Duplex } from "node:stream";
import type { WebSocket } from "ws";
import type { Logger } from "../../../machinery/log.js";
import type { StreamingService } from "../../../runtime/types.js";
import { waitClosed } from "./finish-wait.js";
import { forwardConnection } from "./forward-connection.js";
import { forwardErrorMessage } from "./spdy-port-forward.js";
import { type ChannelKind, type ChannelProtocol, WebSocketChannels } from "./ws-channels.js";

/** Channel subprotocols served for port-forward. */
export const WS_PORT_FORWARD_PROTOCOLS: Readonly<Record<string, ChannelProtocol>> = {
  "v4.channel.k8s.io": { binary: true, supportsClose: false },
  "v4.base64.channel.k8s.io": { binary: false, supportsClose: false },
  "portforward.k8s.io": { binary: true, supportsClose: false },
  "": { binary: true, supportsClose: false },
};

export interface WsPortForwardContext {
  readonly podSandboxId: string;
  readonly runtime: StreamingService;
  readonly idleTimeoutMs: number;
  readonly finishTimeoutMs: number;
  readonly graceMs: number;
  readonly log: Logger;
}

export async function serveWebSocketPortForward(ws: WebSocket, protocol: string, ports: readonly number[], ctx: WsPortForwardContext): Promise<void> {
  const kinds: ChannelKind[] = ports.flatMap((): ChannelKind[] => ["readwrite", "write"]);
  const conn = new WebSocketChannels(ws, protocol, WS_PORT_FORWARD_PROTOCOLS[protocol]!, kinds, {
    idleTimeoutMs: ctx.idleTimeoutMs,
    logger: ctx.log,
  });
  ports.forEach((port, i) => {
    const portBytes = Buffer.alloc(2);
    portBytes.writeUInt16LE(port, 0);
    void conn.send(2 * i, portBytes);
    void conn.send(2 * i + 1, portBytes);
  });
  await Promise.all(
    ports.map(async (port, i) => {
      const data = Duplex.from({ readable: conn.reader(2 * i)!, writable: conn.writer(2 * i) });
      data.on("error", () => undefined);
      const log = ctx.log.with({ port });
      const upstream = await ctx.runtime.portForward(ctx.podSandboxId, port);
      const err = upstream.ok ? await forwardConnection(data, upstream.value, ctx.graceMs, conn.closed) : upstream.error.message;
      if (err !== undefined) {
        const message = forwardErrorMessage(port, ctx.podSandboxId, err);
        log.info("port forward failed", { err: message });
        await conn.send(2 * i + 1, Buffer.from(message, "utf8"));
      }
      conn.reader(2 * i)!.resume();
    }),
  );
  conn.close(1000);
  if (!(await waitClosed(conn.closed, ctx.finishTimeoutMs))) conn.destroy();
}
