/**
 * Upgrade requests (`Connection: Upgrade`) through an ordinary request
 * handler. Node hands them to a server's `upgrade` event with the raw
 * socket instead of a response; serving them as a request with a response
 * bound to that socket lets them pass the same authentication,
 * authorization and error answers as every other request, and a handler
 * that wants the connection takes it over with {@link takeOverUpgrade}.
 * Both the API server and the kubelet server mount their `upgrade` event
 * through this.
 */
import { type IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";

/** The raw connection of an upgrade request. */
export interface UpgradeConnection {
  readonly socket: Duplex;
  /** Bytes already read after the request headers; they belong to the upgraded protocol. */
  readonly head: Buffer;
}

const connections = new WeakMap<IncomingMessage, UpgradeConnection>();

/** Whether `req` asks to switch protocols (a `Connection: Upgrade` token and an `Upgrade` header). */
export function isUpgradeRequest(req: IncomingMessage): boolean {
  const conn = req.headers.connection ?? "";
  return !!req.headers.upgrade && conn.split(",").some((t) => t.trim().toLowerCase() === "upgrade");
}

/** The connection of an upgrade request served through {@link serveUpgradeAsRequest}, else undefined. */
export function upgradeConnectionOf(req: IncomingMessage): UpgradeConnection | undefined {
  return connections.get(req);
}

/**
 * Serves an upgrade request with `handler(req, res)`: `res` writes to the
 * socket (then closes it), unless the handler takes the connection over.
 */
export function serveUpgradeAsRequest(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  handler: (req: IncomingMessage, res: ServerResponse) => unknown,
): void {
  connections.set(req, { socket, head });
  // A reset by the client must not become an uncaught error.
  socket.on("error", () => socket.destroy());
  const res = new ServerResponse(req);
  res.assignSocket(socket as Socket);
  res.shouldKeepAlive = false;
  res.on("finish", () => {
    res.detachSocket(socket as Socket);
    (socket as Socket).destroySoon?.();
  });
  void handler(req, res);
}

/**
 * Takes the raw connection of an upgrade request over: `res` no longer
 * writes to it, and the caller owns (and must eventually destroy) the
 * socket. Undefined for a request that is not an upgrade.
 */
export function takeOverUpgrade(req: IncomingMessage, res: ServerResponse): UpgradeConnection | undefined {
  const c = connections.get(req);
  if (!c) return undefined;
  connections.delete(req);
  res.removeAllListeners("finish");
  if (res.socket) res.detachSocket(res.socket);
  return c;
}
