/**
 * The node join token, in k3s' format: `K10<hash>::<user>:<secret>`, where
 * `<hash>` is the hex SHA-256 of the CA bundle the server serves at
 * `/cacerts`. A joining agent fetches that bundle over an unverified
 * connection, and trusts it only when its hash matches the token: the token
 * pins the cluster CA (as kubeadm's `--discovery-token-ca-cert-hash`), and
 * its secret then authenticates the request for the node's own client
 * certificate. `skiff server` keeps its token in `<data-dir>/token`.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { writeFileAtomic } from "../machinery/atomic-file.js";

/** A parsed join token. */
export interface JoinToken {
  /** Hex SHA-256 of the CA bundle. */
  readonly caHash: string;
  /** "server" for the server token (k3s' naming), "node" for agent-only tokens. */
  readonly username: string;
  readonly secret: string;
}

/** Hex SHA-256 of a CA bundle exactly as served (what the token pins). */
export function caBundleHash(caPem: string): string {
  return createHash("sha256").update(caPem).digest("hex");
}

/** `K10<hash>::<username>:<secret>`. */
export function formatJoinToken(caPem: string, username: string, secret: string): string {
  return `K10${caBundleHash(caPem)}::${username}:${secret}`;
}

/**
 * Parses `K10<64 hex>::user:secret`; undefined for anything else (k3s'
 * short secret-only tokens pin no CA, so skiff does not take them).
 */
export function parseJoinToken(text: string): JoinToken | undefined {
  const full = /^K10([0-9a-f]{64})::([^:\s]+):(\S+)$/.exec(text.trim());
  return full ? { caHash: full[1]!, username: full[2]!, secret: full[3]! } : undefined;
}

/** Whether `given` equals `expected`, in constant time. */
export function secretMatches(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The server's token in `file`: kept across restarts (its secret never
 * changes), rewritten with the current hash when the CA bundle changed,
 * made with a fresh random secret the first time. Mode 0600.
 */
export function ensureServerToken(file: string, caPem: string): JoinToken & { readonly text: string } {
  let secret: string | undefined;
  if (existsSync(file)) secret = parseJoinToken(readFileSync(file, "utf8"))?.secret;
  secret ??= randomBytes(16).toString("hex");
  const text = formatJoinToken(caPem, "server", secret);
  if (!existsSync(file) || readFileSync(file, "utf8").trim() !== text) writeFileAtomic(file, `${text}\n`, { mode: 0o600 });
  return { caHash: caBundleHash(caPem), username: "server", secret, text };
}
