/**
 * Upgrade pass-through (exec, attach, port-forward, and upgrades through
 * nodes/proxy), as upstream's UpgradeAwareHandler: the client's upgrade
 * request goes to the backend with its query and protocol headers
 * (`Upgrade`, `X-Stream-Protocol-Version`, `Sec-WebSocket-*`) untouched;
 * a 101 is copied back byte for byte and the two connections are piped
 * until either side ends; any other answer is echoed to the client. A
 * backend that cannot be reached is a 500 `error dialing backend: …`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Agent } from "node:http";
import type { Duplex } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Logger } from "../../machinery/log.js";
import { BackendError, forwardHeaders, rawResponseHead, responseHeaders, sendUpgrade, type UpgradeOutcome } from "./backend.js";
import { unknownError } from "./connection.js";
import { takeOverUpgrade } from "./upgrade-request.js";

/**
 * Proxies the upgrade request `req` to `url`; throws a Status error when
 * the backend cannot be reached. Piped connections are added to `open`
 * (and removed when they end), so a stopping server can end them.
 */
export async function proxyUpgrade(req: IncomingMessage, res: ServerResponse, url: URL, agent: Agent, log: Logger, open?: Set<Duplex>): Promise<void> {
  let outcome: UpgradeOutcome;
  try {
    const method = req.method ?? "GET";
    const headers = forwardHeaders(req, { upgrade: true });
    // An upgrade request has no body: without a length Node would send a chunked one (its end marker
    // would reach the backend as the first bytes of the new protocol).
    for (const k of Object.keys(headers)) if (k.toLowerCase() === "content-length") delete headers[k];
    if (method !== "GET" && method !== "HEAD") headers["Content-Length"] = "0";
    outcome = await sendUpgrade({ url, agent, method, headers });
  } catch (err) {
    if (err instanceof BackendError) throw unknownError(`error dialing backend: ${err.goText}`);
    throw err;
  }
  if (outcome.kind === "response") {
    // The backend refused to switch (an error, usually): echo its answer.
    const r = outcome.res;
    res.writeHead(r.statusCode ?? 502, r.statusMessage, responseHeaders(r));
    await pipeline(r, res).catch(() => {});
    return;
  }
  const conn = takeOverUpgrade(req, res);
  const backend = outcome.socket;
  if (!conn) {
    backend.destroy();
    throw new Error("upgrade answered for a request that is not an upgrade");
  }
  const client = conn.socket;
  open?.add(client);
  const close = () => {
    open?.delete(client);
    client.destroy();
    backend.destroy();
  };
  client.on("error", close);
  backend.on("error", close);
  client.on("close", close);
  backend.on("close", close);
  const r = outcome.res;
  client.write(rawResponseHead(101, r.statusMessage || "Switching Protocols", r.rawHeaders));
  if (outcome.head.length > 0) client.write(outcome.head);
  if (conn.head.length > 0) backend.write(conn.head);
  client.pipe(backend);
  backend.pipe(client);
  log.debug("upgraded connection proxied", { path: url.pathname, upgrade: req.headers.upgrade });
}
