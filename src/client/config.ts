/**
 * Where a client connects and how it proves who it is, as client-go's
 * `rest.Config`: built from a kubeconfig file (what users and agents have)
 * or from certificate files (what the server hands its in-process
 * components, from `ClusterPki.clients`).
 */
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { parse as parseYaml } from "yaml";

/** Everything a {@link RestClient} needs to reach one API server. */
export interface ClientConfig {
  /** The API server's URL, e.g. `https://127.0.0.1:6443` (a path prefix is kept). */
  readonly server: string;
  /** PEM bundle of the CA(s) the server's certificate must chain to; the system roots when absent. */
  readonly caPem?: string;
  /** PEM client certificate (with {@link keyPem}) for x509 authentication. */
  readonly certPem?: string;
  readonly keyPem?: string;
  /** Bearer token, sent as `Authorization: Bearer …`. */
  readonly token?: string;
  /** Accept any serving certificate (kubeconfig `insecure-skip-tls-verify`). */
  readonly insecureSkipTlsVerify?: boolean;
  /** Name to verify the serving certificate against instead of the URL's host (`tls-server-name`). */
  readonly tlsServerName?: string;
  /** `User-Agent` of every request; `skiff-client` unless given. */
  readonly userAgent?: string;
  /** Client-side rate limit (requests per second); off when absent or 0. */
  readonly qps?: number;
  /** Burst of the client-side rate limit; `qps` rounded up unless given. */
  readonly burst?: number;
  /** The kubeconfig context's namespace, when it sets one. */
  readonly namespace?: string;
}

interface NamedEntry<T> {
  name?: string;
  cluster?: T;
  user?: T;
  context?: T;
}

type Fields = Record<string, unknown>;

function str(v: unknown, what: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new Error(`${what} must be a string`);
  return v;
}

function findNamed(list: unknown, key: "cluster" | "user" | "context", name: string, path: string): Fields {
  const entries = Array.isArray(list) ? (list as NamedEntry<Fields>[]) : [];
  const hit = entries.find((e) => e?.name === name);
  if (!hit) throw new Error(`kubeconfig ${path}: no ${key} named "${name}"`);
  return hit[key] ?? {};
}

/**
 * Reads a kubeconfig and returns the config of `context` (the file's
 * `current-context` unless given). Supports `certificate-authority(-data)`,
 * `client-certificate(-data)`, `client-key(-data)`, `token`, `tokenFile`,
 * `insecure-skip-tls-verify` and `tls-server-name`; relative file paths are
 * resolved against the kubeconfig's directory, as kubectl does. Exec and
 * auth-provider plugins and basic auth are refused with a clear error
 * rather than silently ignored.
 */
export function configFromKubeconfig(path: string, context?: string): ClientConfig {
  const doc = parseYaml(readFileSync(path, "utf8")) as Fields | null;
  if (!doc || typeof doc !== "object") throw new Error(`kubeconfig ${path} is empty or not a mapping`);
  const ctxName = context ?? str(doc["current-context"], "current-context");
  if (!ctxName) throw new Error(`kubeconfig ${path} has no current-context; name a context`);
  const ctx = findNamed(doc.contexts, "context", ctxName, path);
  const clusterName = str(ctx.cluster, "context.cluster");
  if (!clusterName) throw new Error(`kubeconfig ${path}: context "${ctxName}" names no cluster`);
  const cluster = findNamed(doc.clusters, "cluster", clusterName, path);
  const userName = str(ctx.user, "context.user");
  const user = userName ? findNamed(doc.users, "user", userName, path) : {};
  const base = dirname(resolve(path));
  const file = (p: string) => readFileSync(isAbsolute(p) ? p : resolve(base, p), "utf8");
  const b64 = (s: string) => Buffer.from(s, "base64").toString("utf8");
  const pem = (fields: Fields, name: string): string | undefined => {
    const data = str(fields[`${name}-data`], `${name}-data`);
    if (data) return b64(data);
    const f = str(fields[name], name);
    return f ? file(f) : undefined;
  };

  for (const unsupported of ["exec", "auth-provider", "username", "password"]) {
    if (user[unsupported] !== undefined) {
      throw new Error(`kubeconfig ${path}: user "${userName}" uses ${unsupported}, which skiff's client does not support (use a client certificate or a token)`);
    }
  }
  const server = str(cluster.server, "cluster.server");
  if (!server) throw new Error(`kubeconfig ${path}: cluster "${clusterName}" has no server`);
  const tokenFile = str(user.tokenFile, "tokenFile");
  const token = str(user.token, "token") ?? (tokenFile ? file(tokenFile).trim() : undefined);
  return {
    server,
    caPem: pem(cluster, "certificate-authority"),
    certPem: pem(user, "client-certificate"),
    keyPem: pem(user, "client-key"),
    token,
    insecureSkipTlsVerify: cluster["insecure-skip-tls-verify"] === true,
    tlsServerName: str(cluster["tls-server-name"], "tls-server-name"),
    namespace: str(ctx.namespace, "context.namespace"),
  };
}

/** Files (and identity) for {@link configFromFiles}. */
export interface ConfigFiles {
  readonly server: string;
  /** CA bundle that signed the serving certificate. */
  readonly caFile: string;
  /** Client certificate and key, e.g. `pki.clients.kubeScheduler.certFile` / `.keyFile`. */
  readonly certFile: string;
  readonly keyFile: string;
  readonly userAgent?: string;
  readonly qps?: number;
  readonly burst?: number;
}

/** A config from certificate files, as in-process components get from the server's PKI. */
export function configFromFiles(files: ConfigFiles): ClientConfig {
  return {
    server: files.server,
    caPem: readFileSync(files.caFile, "utf8"),
    certPem: readFileSync(files.certFile, "utf8"),
    keyPem: readFileSync(files.keyFile, "utf8"),
    userAgent: files.userAgent,
    qps: files.qps,
    burst: files.burst,
  };
}
