/**
 * What a server joining a cluster receives from a running one, as k3s'
 * `/v1-k3s/server-bootstrap` hands it over: the files every server must
 * share (cluster CAs with their keys, the etcd CAs, the ServiceAccount
 * signing key, the secrets-encryption config, the registry's signing key,
 * the join token) and the client URLs of the etcd members.
 *
 * `GET /v1-skiff/server-bootstrap` answers only Basic credentials with the
 * *server* token's secret (user `server`), over TLS that the joining side
 * verifies against the CA its token pins, so the keys never travel to
 * anyone who does not already hold the cluster's token.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { dirname, join, normalize } from "node:path";
import { fetchTrustedCa, joinRequest } from "../kubelet/join.js";
import { writeFileAtomic } from "../machinery/atomic-file.js";
import type { Logger } from "../machinery/log.js";
import type { JoinToken } from "../pki/join-token.js";
import { hasTokenCredentials, sendText } from "../apiserver/join/token-auth.js";

/** The bootstrap answer. */
export interface ServerBootstrap {
  /** File contents by path relative to the data dir. */
  readonly files: Readonly<Record<string, string>>;
  /** Client URLs of every started etcd member. */
  readonly etcdClientURLs: readonly string[];
}

/** Shared files that must exist on a server that others join. */
const REQUIRED = ["tls/server-ca.crt", "tls/server-ca.key", "tls/client-ca.crt", "tls/client-ca.key", "tls/etcd/server-ca.crt", "tls/etcd/server-ca.key", "tls/etcd/peer-ca.crt", "tls/etcd/peer-ca.key", "tls/service-account.key", "token"];
/** Shared files a server may not have (no registry ever started). */
const OPTIONAL = ["tls/registry-signing.key"];
/** Where the secrets-encryption config goes on a joining server (its default path). */
export const ENCRYPTION_CONFIG_FILE = "tls/encryption-config.yaml";

export const SERVER_BOOTSTRAP_PATH = "/v1-skiff/server-bootstrap";

/** The shared files of the server in `dataDir`; `encryptionConfig` is the config file it really uses. */
export function readServerBootstrapFiles(dataDir: string, encryptionConfig: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const rel of REQUIRED) files[rel] = readFileSync(join(dataDir, rel), "utf8");
  for (const rel of OPTIONAL) if (existsSync(join(dataDir, rel))) files[rel] = readFileSync(join(dataDir, rel), "utf8");
  files[ENCRYPTION_CONFIG_FILE] = readFileSync(encryptionConfig, "utf8");
  return files;
}

/** Options of {@link serverBootstrapRoute}. */
export interface ServerBootstrapRouteOptions {
  readonly token: JoinToken;
  /** The answer; undefined when this server cannot be joined (no embedded etcd). */
  readonly bootstrap: () => Promise<ServerBootstrap | undefined>;
  readonly logger: Logger;
}

/** The route handler (true when it answered). */
export function serverBootstrapRoute(o: ServerBootstrapRouteOptions): (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean> {
  return async (req, res, url) => {
    if (url.pathname !== SERVER_BOOTSTRAP_PATH) return false;
    if (req.method !== "GET") return sendText(res, 405, "method not allowed: GET\n");
    if (!hasTokenCredentials(req, o.token, ["server"])) {
      return sendText(res, 401, "unauthorized: joining as a server needs the server token (user server) of this cluster\n", { "WWW-Authenticate": 'Basic realm="skiff-join"' });
    }
    let answer: ServerBootstrap | undefined;
    try {
      answer = await o.bootstrap();
    } catch (err) {
      return sendText(res, 503, `cannot read the cluster's bootstrap data: ${(err as Error).message}\n`);
    }
    if (!answer) return sendText(res, 409, "this server does not run an embedded etcd member, so no server can join it; start the first server with --cluster-init\n");
    o.logger.info("handed the bootstrap data to a joining server", { remote: req.socket.remoteAddress });
    res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-store" });
    res.end(JSON.stringify(answer));
    return true;
  };
}

/** Fetches the bootstrap data from `server`, trusting it by the token's CA hash; throws what to check. */
export async function fetchServerBootstrap(server: string, token: JoinToken): Promise<ServerBootstrap> {
  if (token.username !== "server") throw new Error(`a server joins with the server token (K10…::server:…); this token's user is ${token.username}`);
  const ca = await fetchTrustedCa({ server, token });
  const auth = Buffer.from(`server:${token.secret}`).toString("base64");
  const r = await joinRequest(new URL(SERVER_BOOTSTRAP_PATH, server), { method: "GET", ca, headers: { Authorization: `Basic ${auth}` } });
  if (r.status === 401) throw new Error(`${server} refused the token: its secret is not this cluster's server token (see the first server's <data-dir>/token)`);
  if (r.status !== 200) throw new Error(`${server} cannot be joined (${r.status}): ${r.body.trim()}`);
  const b = JSON.parse(r.body) as Partial<ServerBootstrap>;
  if (!b.files || !Array.isArray(b.etcdClientURLs)) throw new Error(`${server}'s bootstrap answer is incomplete: is it a skiff server of this version?`);
  for (const rel of REQUIRED) if (typeof b.files[rel] !== "string") throw new Error(`${server}'s bootstrap data lacks ${rel}`);
  return b as ServerBootstrap;
}

/**
 * Writes the shared files into a joining server's data dir (keys 0600).
 * Refuses a data dir that already holds another cluster's CA: joining it
 * would strand whatever that cluster signed.
 */
export function writeServerBootstrap(dataDir: string, b: ServerBootstrap): void {
  const ownCa = join(dataDir, "tls", "server-ca.crt");
  if (existsSync(ownCa) && readFileSync(ownCa, "utf8") !== b.files["tls/server-ca.crt"]) {
    throw new Error(`${dataDir} already belongs to another cluster (its tls/server-ca.crt differs); join with an empty --data-dir`);
  }
  for (const [rel, content] of Object.entries(b.files)) {
    const path = normalize(join(dataDir, rel));
    if (!path.startsWith(`${normalize(dataDir)}/`)) throw new Error(`bootstrap file ${rel} is outside the data dir`);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileAtomic(path, content, { mode: /\.crt$/.test(rel) ? 0o644 : 0o600 });
  }
}
