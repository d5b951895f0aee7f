/**
 * Joining a cluster with a join token (src/pki/join-token.ts), as a k3s
 * agent does: fetch the CA bundle at `/cacerts` without trusting the
 * connection, accept it only when its hash matches the token, then — now
 * verifying the server against that CA — send a fresh P-256 public key with
 * the token's secret and get back a client certificate for
 * `system:node:NAME`. The key and certificate are kept in the agent's
 * directory and reused while valid for this node name and CA, so a
 * restarted agent needs no round trip.
 */
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { NODE_NAME_HEADER } from "../apiserver/join/header.js";
import { writeFileAtomic } from "../machinery/atomic-file.js";
import type { Logger } from "../machinery/log.js";
import type { KeyPairPem } from "../pki/certs.js";
import { caBundleHash, type JoinToken } from "../pki/join-token.js";

/** A node's credentials after joining. */
export interface NodeCredentials {
  /** The server CA (what the API server's certificate chains to). */
  readonly caPem: string;
  /** `system:node:NAME` client certificate and its key. */
  readonly certPem: string;
  readonly keyPem: string;
  /** The CA client certificates chain to (the kubelet API verifies callers with it). */
  readonly clientCaPem: string;
}

/** Options of {@link joinCluster}. */
export interface JoinOptions {
  /** `https://HOST:PORT` of a server. */
  readonly server: string;
  readonly token: JoinToken;
  readonly nodeName: string;
  /** Where the credentials are kept (`<data-dir>/agent/<node>/`). */
  readonly dir: string;
  readonly logger: Logger;
}

const FILES = { ca: "server-ca.crt", clientCa: "client-ca.crt", cert: "client-kubelet.crt", key: "client-kubelet.key" };
const RENEW_BEFORE_MS = 30 * 24 * 60 * 60 * 1000;

/** A join endpoint's answer. */
export interface JoinReply {
  readonly status: number;
  readonly body: string;
}

/** One request to a server's join endpoints; without `ca` the connection is unverified (only for `/cacerts`). */
export function joinRequest(url: URL, opts: { method: string; ca?: string; headers?: Record<string, string>; body?: string }): Promise<JoinReply> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: opts.method,
        headers: opts.headers,
        // Unverified only for /cacerts, whose answer is checked against the token's hash.
        ...(opts.ca ? { ca: opts.ca } : { rejectUnauthorized: false }),
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer from ${url.origin} in 30 s`)));
    req.on("error", reject);
    req.end(opts.body);
  });
}

/** The stored credentials, when they are still good for this node and CA. */
export function storedCredentials(dir: string, nodeName: string, caPem: string): NodeCredentials | undefined {
  const path = (f: string) => join(dir, f);
  if (!Object.values(FILES).every((f) => existsSync(path(f)))) return undefined;
  const creds: NodeCredentials = {
    caPem: readFileSync(path(FILES.ca), "utf8"),
    clientCaPem: readFileSync(path(FILES.clientCa), "utf8"),
    certPem: readFileSync(path(FILES.cert), "utf8"),
    keyPem: readFileSync(path(FILES.key), "utf8"),
  };
  if (creds.caPem !== caPem) return undefined;
  try {
    const cert = new X509Certificate(creds.certPem);
    if (!cert.subject.split("\n").includes(`CN=system:node:${nodeName}`)) return undefined;
    if (new Date(cert.validTo).getTime() - Date.now() < RENEW_BEFORE_MS) return undefined;
    if (!cert.checkIssued(new X509Certificate(creds.clientCaPem))) return undefined;
  } catch {
    return undefined;
  }
  return creds;
}

/** Keeps `creds` in `dir` (the key 0600) for {@link storedCredentials}. */
export function storeCredentials(dir: string, creds: NodeCredentials): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileAtomic(join(dir, FILES.key), creds.keyPem, { mode: 0o600 });
  writeFileAtomic(join(dir, FILES.cert), creds.certPem, { mode: 0o644 });
  writeFileAtomic(join(dir, FILES.ca), creds.caPem, { mode: 0o644 });
  writeFileAtomic(join(dir, FILES.clientCa), creds.clientCaPem, { mode: 0o644 });
}

/**
 * Credentials for a node on the server's own machine, issued directly with
 * the client CA (no join round trip), kept and reused as a joined agent's.
 */
export async function localNodeCredentials(dir: string, nodeName: string, caPem: string, clientCa: KeyPairPem): Promise<NodeCredentials> {
  const kept = storedCredentials(dir, nodeName, caPem);
  if (kept) return kept;
  // Loaded only here: the X.509 library costs an agent that never issues anything ~20 MB of RSS.
  const { issueCertificate } = await import("../pki/certs.js");
  const issued = await issueCertificate({ ca: clientCa, commonName: `system:node:${nodeName}`, organizations: ["system:nodes"], usages: ["client"], validDays: 365 });
  const creds: NodeCredentials = { caPem, certPem: issued.certPem, keyPem: issued.keyPem, clientCaPem: clientCa.certPem };
  storeCredentials(dir, creds);
  return creds;
}

/** The server's CA, trusted by the token's hash. Throws a message saying what to check. */
export async function fetchTrustedCa(o: Pick<JoinOptions, "server" | "token">): Promise<string> {
  const r = await joinRequest(new URL("/cacerts", o.server), { method: "GET" });
  if (r.status !== 200) throw new Error(`GET ${o.server}/cacerts answered ${r.status}: is ${o.server} a skiff server?`);
  const got = caBundleHash(r.body);
  if (got !== o.token.caHash) {
    throw new Error(`the server's CA bundle does not match the join token (token pins sha256 ${o.token.caHash}, server sent ${got}): check --server and --token`);
  }
  return r.body;
}

/** Joins (or reuses stored credentials); throws a message a user can act on. */
export async function joinCluster(o: JoinOptions): Promise<NodeCredentials> {
  const caPem = await fetchTrustedCa(o);
  const kept = storedCredentials(o.dir, o.nodeName, caPem);
  if (kept) {
    o.logger.info("using stored node credentials", { node: o.nodeName, dir: o.dir });
    return kept;
  }
  // The same ECDSA P-256 key pki/certs.ts makes, from node:crypto alone: the agent keeps the X.509 library out of its memory.
  const keys = generateKeyPairSync("ec", { namedCurve: "P-256", publicKeyEncoding: { type: "spki", format: "pem" }, privateKeyEncoding: { type: "pkcs8", format: "pem" } });
  const auth = Buffer.from(`${o.token.username}:${o.token.secret}`).toString("base64");
  const r = await joinRequest(new URL("/v1-skiff/client-kubelet", o.server), {
    method: "POST",
    ca: caPem,
    headers: { Authorization: `Basic ${auth}`, [NODE_NAME_HEADER]: o.nodeName, "Content-Type": "application/x-pem-file" },
    body: keys.publicKey,
  });
  if (r.status === 401) throw new Error("the server refused the join token: its secret is not this cluster's (see the server's <data-dir>/token)");
  if (r.status !== 200) throw new Error(`the server refused to certify node ${o.nodeName} (${r.status}): ${r.body.trim()}`);
  const answer = JSON.parse(r.body) as { certificate?: string; clientCA?: string };
  if (!answer.certificate || !answer.clientCA) throw new Error("the server's join answer has no certificate: is it a skiff server of this version?");
  const creds: NodeCredentials = { caPem, certPem: answer.certificate, keyPem: keys.privateKey, clientCaPem: answer.clientCA };
  storeCredentials(o.dir, creds);
  o.logger.info("joined the cluster", { node: o.nodeName, user: `system:node:${o.nodeName}` });
  return creds;
}
