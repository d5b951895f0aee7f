/**
 * Exec and attach over WebSocket (remotecommand's createWebSocketStreams):
 * five channels — 0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize — opened
 * at once. Channels the request did not ask for ignore traffic. Right after
 * the handshake the server sends an empty message on the first writable
 * channel so the client knows the session is up.
 *
 * `v5.channel.k8s.io` and the v4 protocols carry a metav1.Status JSON on the
 * error channel; the others carry the failure message only. v5 also lets
 * the client half-close stdin with the close signal `[255, 0]`.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { finished } from "node:stream/promises";
import type { Logger } from "../../../machinery/log.js";
import type { StreamOptions } from "../../../runtime/types.js";
import type { CommandStreams } from "./command-streams.js";
import { waitClosed } from "./finish-wait.js";
import { writeHttpError } from "./http-upgrade.js";
import { encodeStatus, type StreamStatus } from "./status.js";
import { type ChannelKind, type ChannelProtocol, WebSocketChannels } from "./ws-channels.js";
import { acceptWebSocket, selectWebSocketProtocol } from "./ws-upgrade.js";

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const RESIZE = 4;

/** Subprotocols served for exec/attach, and how each frames messages. */
export const WS_COMMAND_PROTOCOLS: Readonly<Record<string, ChannelProtocol & { readonly jsonStatus: boolean }>> = {
  "v5.channel.k8s.io": { binary: true, supportsClose: true, jsonStatus: true },
  "v4.channel.k8s.io": { binary: true, supportsClose: false, jsonStatus: true },
  "v4.base64.channel.k8s.io": { binary: false, supportsClose: false, jsonStatus: true },
  "v3.channel.k8s.io": { binary: true, supportsClose: false, jsonStatus: false },
  "v2.channel.k8s.io": { binary: true, supportsClose: false, jsonStatus: false },
  "channel.k8s.io": { binary: true, supportsClose: false, jsonStatus: false },
  "base64.channel.k8s.io": { binary: false, supportsClose: false, jsonStatus: false },
  // A client that offers no subprotocol gets the original binary protocol.
  "": { binary: true, supportsClose: false, jsonStatus: false },
};

export interface WsCommandOptions {
  readonly idleTimeoutMs: number;
  readonly finishTimeoutMs: number;
  readonly logger: Logger;
}

/** Accepts the WebSocket; undefined when the handshake failed (already answered). */
export async function createWebSocketCommandStreams(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  opts: StreamOptions,
  o: WsCommandOptions,
): Promise<CommandStreams | undefined> {
  const selected = selectWebSocketProtocol(req, Object.keys(WS_COMMAND_PROTOCOLS));
  if (!selected.ok) {
    writeHttpError(socket, 403, selected.message);
    return undefined;
  }
  const protocol = selected.protocol;
  const codec = WS_COMMAND_PROTOCOLS[protocol]!;
  const ws = await acceptWebSocket(req, socket, head, protocol);
  if (!ws) return undefined;
  const log = o.logger.with({ protocol: protocol || "none" });
  const kinds: ChannelKind[] = [
    opts.stdin ? "read" : "ignore",
    opts.stdout ? "write" : "ignore",
    opts.stderr ? "write" : "ignore",
    "write",
    "read",
  ];
  const conn = new WebSocketChannels(ws, protocol, codec, kinds, { idleTimeoutMs: o.idleTimeoutMs, logger: log });
  void conn.send(opts.stdout ? STDOUT : opts.stderr ? STDERR : ERROR, Buffer.alloc(0));
  const stdin = opts.stdin ? conn.reader(STDIN) : undefined;
  const resize = conn.reader(RESIZE);
  const stdout = opts.stdout ? conn.writer(STDOUT) : undefined;
  const stderr = opts.stderr ? conn.writer(STDERR) : undefined;
  return {
    transport: "websocket",
    protocol,
    stdin,
    stdout,
    stderr,
    resize,
    closed: conn.closed,
    abort: () => conn.destroy(),
    finish: async (status: StreamStatus) => {
      for (const s of [stdin, resize]) {
        if (!s) continue;
        s.unpipe();
        s.removeAllListeners("data");
        s.resume();
      }
      // Output still buffered in the writers must go out before the status:
      // clients (client-node) end their output streams when the status arrives.
      const outputs = [stdout, stderr].filter((w) => w !== undefined);
      for (const w of outputs) w.end();
      await Promise.allSettled(outputs.map((w) => finished(w)));
      const bytes = encodeStatus(status, codec.jsonStatus);
      if (bytes) await conn.send(ERROR, bytes);
      // A close frame ends the session for the client after everything sent before it.
      conn.close(1000);
      if (!(await waitClosed(conn.closed, o.finishTimeoutMs))) conn.destroy();
    },
  };
}
