/**
 * What the join endpoints share: plain-text answers, and checking the
 * Basic credentials a joining node or server sends against the join token
 * (k3s' user names: `node` for agents, `server` for servers).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type JoinToken, secretMatches } from "../../pki/join-token.js";

/** Answers with a plain-text body; true, so handlers can `return sendText(…)`. */
export function sendText(res: ServerResponse, code: number, body: string, extra: Record<string, string> = {}): true {
  res.writeHead(code, { "Content-Type": "text/plain; charset=utf-8", ...extra });
  res.end(body);
  return true;
}

/** Whether the request carries Basic credentials with the token's secret and one of `users`. */
export function hasTokenCredentials(req: IncomingMessage, token: JoinToken, users: readonly string[]): boolean {
  const m = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? "");
  if (!m) return false;
  const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return false;
  return users.includes(decoded.slice(0, colon)) && secretMatches(decoded.slice(colon + 1), token.secret);
}
