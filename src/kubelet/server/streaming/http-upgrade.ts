/**
 * The HTTP side of a streaming upgrade, written straight to the socket Node
 * hands an `upgrade` listener: protocol negotiation as
 * k8s.io/apimachinery/pkg/util/httpstream.Handshake does it, the plain-text
 * error responses Go's `http.Error` writes, and the 101 response.
 */
import { type IncomingMessage, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";

/** `X-Stream-Protocol-Version`: one header line per protocol the client offers, and the one chosen. */
export const HEADER_PROTOCOL_VERSION = "X-Stream-Protocol-Version";
/** `X-Accepted-Stream-Protocol-Versions`: what the server accepts, on a failed negotiation. */
export const HEADER_ACCEPTED_PROTOCOL_VERSIONS = "X-Accepted-Stream-Protocol-Versions";
export const SPDY_31 = "SPDY/3.1";

/** Every value of a request header: one per header line, as Go's `req.Header[name]`. */
export function headerLines(req: IncomingMessage, name: string): string[] {
  const out: string[] = [];
  const lower = name.toLowerCase();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() === lower) out.push(req.rawHeaders[i + 1]!.trim());
  }
  return out;
}

/** A WebSocket upgrade (wsstream.IsWebSocketRequest): `Upgrade: websocket` and `Connection` listing `upgrade`. */
export function isWebSocketRequest(req: IncomingMessage): boolean {
  const upgrade = (req.headers.upgrade ?? "").toLowerCase();
  if (upgrade !== "websocket") return false;
  return /(^|.*,\s*)upgrade($|\s*,)/.test((req.headers.connection ?? "").toLowerCase());
}

/** A SPDY/3.1 upgrade (the checks of apimachinery's spdy ResponseUpgrader). */
export function isSpdyUpgrade(req: IncomingMessage): boolean {
  const connection = (req.headers.connection ?? "").toLowerCase();
  const upgrade = (req.headers.upgrade ?? "").toLowerCase();
  return connection.includes("upgrade") && upgrade.includes(SPDY_31.toLowerCase());
}

/** The first client protocol the server supports (client order wins), or undefined. */
export function negotiateProtocol(client: readonly string[], server: readonly string[]): string | undefined {
  return client.find((p) => server.includes(p));
}

/** Formats a Go string slice as `%v` does: `[a b c]`. */
export function goSlice(values: readonly string[]): string {
  return `[${values.join(" ")}]`;
}

/**
 * Writes a complete plain-text error response (Go's `http.Error`) and closes
 * the socket once it is flushed.
 */
export function writeHttpError(socket: Duplex, code: number, message: string, extraHeaders: readonly [string, string][] = []): void {
  const body = Buffer.from(`${message}\n`, "utf8");
  const lines = [
    `HTTP/1.1 ${code} ${STATUS_CODES[code] ?? "Error"}`,
    "Content-Type: text/plain; charset=utf-8",
    "X-Content-Type-Options: nosniff",
    ...extraHeaders.map(([k, v]) => `${k}: ${v}`),
    `Content-Length: ${body.length}`,
    "Connection: close",
  ];
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  // Destroy once flushed: the request was read to its end, so no reset can discard the answer.
  socket.end(Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"), body]), () => socket.destroy());
}

/**
 * Ends a handler's ownership of `socket`: waits (at most 5 s) for a
 * response still being flushed, then destroys it. Sessions have closed
 * their socket by the time they return; this catches every other path.
 */
export async function releaseSocket(socket: Duplex): Promise<void> {
  if (!socket.destroyed) {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      socket.once("close", () => resolve());
      timer = setTimeout(resolve, 5_000);
    });
    clearTimeout(timer);
  }
  socket.destroy();
}

/** Writes the `101 Switching Protocols` response of a SPDY upgrade. */
export function writeSpdySwitchingProtocols(socket: Duplex, protocol: string): void {
  const lines = ["HTTP/1.1 101 Switching Protocols", "Connection: Upgrade", `Upgrade: ${SPDY_31}`];
  if (protocol) lines.push(`${HEADER_PROTOCOL_VERSION}: ${protocol}`);
  socket.write(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
}

/**
 * httpstream.Handshake plus the SPDY upgrade checks: the negotiated
 * protocol, or undefined after an error response was written (400 without
 * the protocol header or the upgrade headers, 403 when no protocol matches,
 * listing the accepted ones in `X-Accepted-Stream-Protocol-Versions`).
 */
export function spdyHandshake(req: IncomingMessage, socket: Duplex, serverProtocols: readonly string[]): string | undefined {
  const client = headerLines(req, HEADER_PROTOCOL_VERSION).flatMap((v) =>
    v
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );
  if (client.length === 0) {
    writeHttpError(socket, 400, `unable to upgrade: ${HEADER_PROTOCOL_VERSION} is required`);
    return undefined;
  }
  const chosen = negotiateProtocol(client, serverProtocols);
  if (!chosen) {
    writeHttpError(
      socket,
      403,
      `unable to upgrade: unable to negotiate protocol: client supports ${goSlice(client)}, server accepts ${goSlice(serverProtocols)}`,
      serverProtocols.map((p) => [HEADER_ACCEPTED_PROTOCOL_VERSIONS, p]),
    );
    return undefined;
  }
  if (!isSpdyUpgrade(req)) {
    writeHttpError(socket, 400, "unable to upgrade: missing upgrade headers in request");
    return undefined;
  }
  return chosen;
}

/** WebSocket subprotocols the client offered, in its order (`Sec-WebSocket-Protocol`, comma-separated). */
export function webSocketProtocols(req: IncomingMessage): string[] {
  return headerLines(req, "Sec-WebSocket-Protocol").flatMap((v) =>
    v
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );
}
