/**
 * Registry mirrors, credentials and TLS in k3s' `registries.yaml` format:
 *
 * ```yaml
 * mirrors:
 *   "127.0.0.1:5000":
 *     endpoint: ["http://127.0.0.1:5000"]
 *     rewrite: { "^library/(.*)": "mirrored/$1" }
 * configs:
 *   "127.0.0.1:5000":
 *     auth: { username: u, password: p }
 *     tls: { ca_file: /etc/ca.pem, insecure_skip_verify: false }
 * ```
 *
 * A registry is reached through its mirror endpoints in order, then its own
 * `https://host` (unless an endpoint is that very host, which then replaces
 * it: how a registry is made plain HTTP). `"*"` applies to every registry
 * without an entry of its own. Plain HTTP is used only for endpoints written
 * with `http://`. Unknown keys are rejected rather than ignored.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";

/** Credentials for one registry host (k3s `configs.<host>.auth`). */
export interface RegistryAuth {
  readonly username?: string;
  readonly password?: string;
  /** base64 of `username:password`. */
  readonly auth?: string;
  /** An OAuth2 refresh token for the token service (docker's identitytoken). */
  readonly identityToken?: string;
}

/**
 * TLS settings for one registry host (k3s `configs.<host>.tls`). The PEM
 * fields are never read from registries.yaml: the agent sets them for the
 * cluster registry (cluster CA, the node's own certificate), which it holds
 * in memory; a file and a PEM for the same thing: the PEM wins.
 */
export interface RegistryTls {
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly insecureSkipVerify?: boolean;
  readonly caPem?: string;
  readonly certPem?: string;
  readonly keyPem?: string;
}

/** One mirror entry (k3s `mirrors.<registry>`). */
export interface RegistryMirror {
  /** Endpoint URLs, tried in order; `http://` makes an endpoint plain HTTP; no scheme means https. */
  readonly endpoint: readonly string[];
  /** Repository rewrites (regexp → replacement with `$1`…), applied when pulling through this mirror's endpoints. */
  readonly rewrite?: Readonly<Record<string, string>>;
  /**
   * Never fall back to the registry's own host (not a registries.yaml field): set for the cluster
   * registry, whose name `localhost:PORT` is only an alias on a node, so that a missing image reads
   * "not found" rather than whatever the node's own localhost answers.
   */
  readonly mirrorOnly?: boolean;
}

/** The whole registries configuration. */
export interface RegistryConfig {
  readonly mirrors: Readonly<Record<string, RegistryMirror>>;
  readonly configs: Readonly<Record<string, { readonly auth?: RegistryAuth; readonly tls?: RegistryTls }>>;
}

/** An empty configuration: every registry over https at its own host. */
export const EMPTY_REGISTRY_CONFIG: RegistryConfig = { mirrors: {}, configs: {} };

/** A registries.yaml that cannot be used, with what is wrong in it. */
export class RegistryConfigError extends Error {}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function onlyKeys(v: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k)) throw new RegistryConfigError(`${where}: unsupported field "${k}" (supported: ${allowed.join(", ")})`);
  }
}

function str(v: unknown, where: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new RegistryConfigError(`${where}: must be a string`);
  return v;
}

function parseMirror(v: unknown, where: string): RegistryMirror {
  if (!isRecord(v)) throw new RegistryConfigError(`${where}: must be a mapping`);
  onlyKeys(v, ["endpoint", "rewrite"], where);
  const endpoint = v.endpoint ?? [];
  if (!Array.isArray(endpoint) || endpoint.some((e) => typeof e !== "string")) throw new RegistryConfigError(`${where}.endpoint: must be a list of URLs`);
  for (const e of endpoint as string[]) endpointUrl(e, `${where}.endpoint`);
  let rewrite: Record<string, string> | undefined;
  if (v.rewrite !== undefined && v.rewrite !== null) {
    if (!isRecord(v.rewrite)) throw new RegistryConfigError(`${where}.rewrite: must be a mapping of regexp to replacement`);
    rewrite = {};
    for (const [re, to] of Object.entries(v.rewrite)) {
      if (typeof to !== "string") throw new RegistryConfigError(`${where}.rewrite[${re}]: replacement must be a string`);
      try {
        new RegExp(re);
      } catch (err) {
        throw new RegistryConfigError(`${where}.rewrite: invalid regexp ${JSON.stringify(re)}: ${(err as Error).message}`);
      }
      rewrite[re] = to;
    }
  }
  return { endpoint: endpoint as string[], ...(rewrite ? { rewrite } : {}) };
}

function parseHostConfig(v: unknown, where: string): { auth?: RegistryAuth; tls?: RegistryTls } {
  if (!isRecord(v)) throw new RegistryConfigError(`${where}: must be a mapping`);
  onlyKeys(v, ["auth", "tls"], where);
  const out: { auth?: RegistryAuth; tls?: RegistryTls } = {};
  if (v.auth !== undefined && v.auth !== null) {
    if (!isRecord(v.auth)) throw new RegistryConfigError(`${where}.auth: must be a mapping`);
    onlyKeys(v.auth, ["username", "password", "auth", "identitytoken"], `${where}.auth`);
    const a = v.auth;
    out.auth = {
      username: str(a.username, `${where}.auth.username`),
      password: str(a.password, `${where}.auth.password`),
      auth: str(a.auth, `${where}.auth.auth`),
      identityToken: str(a.identitytoken, `${where}.auth.identitytoken`),
    };
  }
  if (v.tls !== undefined && v.tls !== null) {
    if (!isRecord(v.tls)) throw new RegistryConfigError(`${where}.tls: must be a mapping`);
    onlyKeys(v.tls, ["ca_file", "cert_file", "key_file", "insecure_skip_verify"], `${where}.tls`);
    const t = v.tls;
    if (t.insecure_skip_verify !== undefined && typeof t.insecure_skip_verify !== "boolean") {
      throw new RegistryConfigError(`${where}.tls.insecure_skip_verify: must be true or false`);
    }
    if ((t.cert_file === undefined) !== (t.key_file === undefined)) throw new RegistryConfigError(`${where}.tls: cert_file and key_file go together`);
    out.tls = {
      caFile: str(t.ca_file, `${where}.tls.ca_file`),
      certFile: str(t.cert_file, `${where}.tls.cert_file`),
      keyFile: str(t.key_file, `${where}.tls.key_file`),
      insecureSkipVerify: t.insecure_skip_verify === true,
    };
  }
  return out;
}

/** Parses registries.yaml text; throws {@link RegistryConfigError} naming the bad field. */
export function parseRegistryConfig(text: string, source = "registries.yaml"): RegistryConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new RegistryConfigError(`${source}: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return EMPTY_REGISTRY_CONFIG;
  if (!isRecord(doc)) throw new RegistryConfigError(`${source}: must be a mapping with "mirrors" and "configs"`);
  onlyKeys(doc, ["mirrors", "configs"], source);
  const mirrors: Record<string, RegistryMirror> = {};
  const configs: Record<string, { auth?: RegistryAuth; tls?: RegistryTls }> = {};
  if (doc.mirrors !== undefined && doc.mirrors !== null) {
    if (!isRecord(doc.mirrors)) throw new RegistryConfigError(`${source}: mirrors must be a mapping`);
    for (const [host, m] of Object.entries(doc.mirrors)) mirrors[host] = parseMirror(m, `${source}: mirrors["${host}"]`);
  }
  if (doc.configs !== undefined && doc.configs !== null) {
    if (!isRecord(doc.configs)) throw new RegistryConfigError(`${source}: configs must be a mapping`);
    for (const [host, c] of Object.entries(doc.configs)) configs[host] = parseHostConfig(c, `${source}: configs["${host}"]`);
  }
  return { mirrors, configs };
}

/**
 * Reads registries.yaml; a missing file is an empty configuration (as k3s).
 * Throws {@link RegistryConfigError} for a file that exists but is invalid.
 */
export function loadRegistryConfig(file: string): RegistryConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return EMPTY_REGISTRY_CONFIG;
    throw new RegistryConfigError(`${file}: ${(err as Error).message}`);
  }
  return parseRegistryConfig(text, file);
}

function endpointUrl(raw: string, where: string): URL {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new RegistryConfigError(`${where}: invalid URL ${JSON.stringify(raw)}`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new RegistryConfigError(`${where}: ${JSON.stringify(raw)}: scheme must be http or https`);
  if (u.search || u.hash || u.username || u.password) throw new RegistryConfigError(`${where}: ${JSON.stringify(raw)}: no query, fragment or credentials allowed in an endpoint`);
  return u;
}

/** A concrete place to pull a registry's content from. */
export interface RegistryEndpoint {
  /** The API root, e.g. `http://127.0.0.1:5000/v2` (no trailing slash). */
  readonly apiRoot: string;
  /** `host:port` of the endpoint (as in its URL), for `configs` lookups and messages. */
  readonly host: string;
  /** Repository rewrites of the mirror entry this endpoint came from. */
  readonly rewrite?: Readonly<Record<string, string>>;
  readonly auth?: RegistryAuth;
  readonly tls?: RegistryTls;
}

/** `host:port` of a URL as written (URL.host drops default ports; keep what configs are keyed by). */
function hostOf(u: URL): string {
  return u.host;
}

/**
 * The endpoints to try for registry `domain`, in order: its mirrors (or
 * `"*"`'s), then `defaultEndpoint(domain)` unless a mirror endpoint is the
 * registry host itself. Credentials and TLS come from `configs` by the
 * endpoint's host, else by the registry's, else `"*"`.
 */
export function registryEndpoints(
  config: RegistryConfig,
  domain: string,
  defaultEndpoint: (domain: string) => string = (d) => `https://${d}`,
): RegistryEndpoint[] {
  const mirror = config.mirrors[domain] ?? config.mirrors["*"];
  const urls: { url: URL; rewrite?: Readonly<Record<string, string>> }[] = (mirror?.endpoint ?? []).map((e) => ({
    url: endpointUrl(e, `mirrors["${domain}"].endpoint`),
    ...(mirror?.rewrite ? { rewrite: mirror.rewrite } : {}),
  }));
  if (!mirror?.mirrorOnly && !urls.some((u) => hostOf(u.url) === domain)) urls.push({ url: endpointUrl(defaultEndpoint(domain), "default endpoint") });
  return urls.map(({ url, rewrite }) => {
    const host = hostOf(url);
    const hostConfig = config.configs[host] ?? config.configs[domain] ?? config.configs["*"];
    const path = url.pathname.replace(/\/+$/, "");
    // As k3s: an endpoint without a path gets the standard /v2 root; a path given is the API root itself.
    const apiRoot = `${url.protocol}//${url.host}${path === "" ? "/v2" : path}`;
    return {
      apiRoot,
      host,
      ...(rewrite ? { rewrite } : {}),
      ...(hostConfig?.auth ? { auth: hostConfig.auth } : {}),
      ...(hostConfig?.tls ? { tls: hostConfig.tls } : {}),
    };
  });
}

/** Applies a mirror's rewrites to a repository path (the first matching rule wins, as containerd). */
export function rewriteRepository(path: string, rewrite: Readonly<Record<string, string>> | undefined): string {
  if (!rewrite) return path;
  for (const [re, to] of Object.entries(rewrite)) {
    const r = new RegExp(re);
    if (r.test(path)) return path.replace(r, to);
  }
  return path;
}
