/**
 * Accepting a WebSocket upgrade with a subprotocol chosen as upstream's
 * wsstream handshake chooses it: the first protocol in the client's order
 * that the server supports, `""` standing for "the client offered none".
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import { goSlice, webSocketProtocols, writeHttpError } from "./http-upgrade.js";

/**
 * The protocol to accept for `req`, or an error message (upstream answers
 * 403 Forbidden): `requested protocol(s) are not supported: [..]; supports [..]`.
 */
export function selectWebSocketProtocol(
  req: IncomingMessage,
  supported: readonly string[],
): { ok: true; protocol: string } | { ok: false; message: string } {
  const offered = webSocketProtocols(req);
  const candidates = offered.length > 0 ? offered : [""];
  const protocol = candidates.find((p) => supported.includes(p));
  if (protocol === undefined) {
    return { ok: false, message: `requested protocol(s) are not supported: ${goSlice(offered)}; supports ${goSlice(supported)}` };
  }
  return { ok: true, protocol };
}

/**
 * Completes the WebSocket handshake with `protocol` (none when `""`).
 * Resolves with the socket, or undefined after a 400 response when the
 * request is not a valid WebSocket handshake.
 */
export function acceptWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, protocol: string): Promise<WebSocket | undefined> {
  return new Promise((resolve) => {
    const server = new WebSocketServer({ noServer: true, clientTracking: false, perMessageDeflate: false });
    // The protocol was chosen above. ws would re-parse the header as RFC 6455
    // tokens and reject `SPDY/3.1+portforward.k8s.io` ('/' is a separator),
    // which Go's WebSocket libraries accept; so hide the header from ws and
    // answer with the chosen protocol ourselves.
    const offered = req.headers["sec-websocket-protocol"];
    delete req.headers["sec-websocket-protocol"];
    server.on("headers", (headers: string[]) => {
      if (protocol) headers.push(`Sec-WebSocket-Protocol: ${protocol}`);
    });
    server.on("wsClientError", (err: Error, sock: Duplex) => {
      writeHttpError(sock, 400, err.message);
      resolve(undefined);
    });
    server.handleUpgrade(req, socket, head, (ws) => resolve(ws));
    // ws read the headers synchronously; give the request its header back.
    if (offered !== undefined) req.headers["sec-websocket-protocol"] = offered;
  });
}
