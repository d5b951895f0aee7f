/**
 * The `continue` token of paged lists, in upstream's format: unpadded
 * URL-safe base64 of `{"v":"meta.k8s.io/v1","rv":N,"start":"<key after prefix>"}`.
 */
import { badRequest } from "../../machinery/status-error.js";

interface Token {
  v: string;
  rv: number;
  start: string;
}

export function encodeContinue(revision: number, nextKey: string, prefix: string): string {
  const t: Token = { v: "meta.k8s.io/v1", rv: revision, start: nextKey.slice(prefix.length) };
  return Buffer.from(JSON.stringify(t)).toString("base64url");
}

/** Decodes a token for a list under `prefix`; a 400 for anything malformed. */
export function decodeContinue(token: string, prefix: string): { revision: number; startKey: string } {
  let t: Token;
  try {
    t = JSON.parse(Buffer.from(token, "base64url").toString()) as Token;
  } catch {
    throw badRequest("continue key is not valid: invalid continue token");
  }
  if (t?.v !== "meta.k8s.io/v1") throw badRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
  if (!Number.isInteger(t.rv) || t.rv <= 0) throw badRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
  if (typeof t.start !== "string" || t.start.includes("..") || t.start.startsWith("/")) {
    throw badRequest("continue key is not valid: continue key is not valid");
  }
  return { revision: t.rv, startKey: prefix + t.start };
}
