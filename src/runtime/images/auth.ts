/**
 * Registry authorization, as docker and containerd do it: answer a 401's
 * `WWW-Authenticate` challenge with Basic credentials, or with a Bearer
 * token fetched from the challenge's realm (anonymously, with Basic
 * credentials, or with an OAuth2 refresh token).
 */
import type { AuthConfig } from "../types.js";
import { discard, readBody, request, statusLine } from "./http.js";
import { ImageError } from "./pull-error.js";
import type { RegistryAuth, RegistryTls } from "./registry-config.js";

/** One challenge of a `WWW-Authenticate` header. */
export interface Challenge {
  /** Lower-cased scheme: "basic", "bearer". */
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/** Parses a `WWW-Authenticate` header (RFC 7235: several challenges, quoted or token params). */
export function parseChallenges(header: string | undefined): Challenge[] {
  if (!header) return [];
  const out: { scheme: string; params: Record<string, string> }[] = [];
  let i = 0;
  const s = header;
  const skipWs = () => {
    while (i < s.length && (s[i] === " " || s[i] === "\t")) i++;
  };
  const token = () => {
    const start = i;
    while (i < s.length && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  while (i < s.length) {
    skipWs();
    if (s[i] === ",") {
      i++;
      continue;
    }
    const name = token();
    if (name === "") {
      i++;
      continue;
    }
    skipWs();
    if (s[i] === "=" && out.length > 0) {
      // A parameter of the current challenge.
      i++;
      skipWs();
      let value = "";
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === "\\" && i + 1 < s.length) i++;
          value += s[i];
          i++;
        }
        i++;
      } else {
        value = token();
      }
      out[out.length - 1]!.params[name.toLowerCase()] = value;
    } else {
      out.push({ scheme: name.toLowerCase(), params: {} });
    }
  }
  return out;
}

/** Credentials to answer a challenge with. */
export interface Credentials {
  readonly username?: string;
  readonly password?: string;
  /** OAuth2 refresh token (docker's identitytoken). */
  readonly identityToken?: string;
  /** A bearer token to use as is. */
  readonly registryToken?: string;
}

function decodeAuth(auth: string): { username: string; password: string } {
  const text = Buffer.from(auth, "base64").toString("utf8");
  const i = text.indexOf(":");
  if (i < 0) throw new ImageError("InvalidArgument", "invalid auth configuration: auth is not base64 of username:password");
  return { username: text.slice(0, i), password: text.slice(i + 1) };
}

/**
 * The credentials for a pull: the pull's own (from imagePullSecrets) when
 * it has any, else the registry configuration's, else none (anonymous).
 */
export function pickCredentials(pull: AuthConfig | undefined, configured: RegistryAuth | undefined): Credentials | undefined {
  for (const a of [pull, configured] as const) {
    if (!a) continue;
    const registryToken = "registryToken" in a ? a.registryToken : undefined;
    if (registryToken) return { registryToken };
    if (a.identityToken) return { identityToken: a.identityToken, ...(a.username ? { username: a.username } : {}) };
    if (a.username || a.password) return { username: a.username ?? "", password: a.password ?? "" };
    if (a.auth) return decodeAuth(a.auth);
  }
  return undefined;
}

function basic(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username ?? ""}:${c.password ?? ""}`).toString("base64")}`;
}

/** Context for fetching a token. */
export interface AuthorizeContext {
  readonly credentials?: Credentials;
  /** The scope to ask for when the challenge names none: `repository:NAME:pull`. */
  readonly scope: string;
  readonly tls?: RegistryTls;
  readonly signal?: AbortSignal;
}

/**
 * The `Authorization` header answering `challenges`; undefined when there
 * is nothing to answer with (a Basic challenge and no credentials, or no
 * known scheme). The token service refusing is an {@link ImageError}.
 */
export async function authorize(challenges: readonly Challenge[], ctx: AuthorizeContext): Promise<string | undefined> {
  const bearer = challenges.find((c) => c.scheme === "bearer");
  const creds = ctx.credentials;
  if (bearer) {
    if (creds?.registryToken) return `Bearer ${creds.registryToken}`;
    return `Bearer ${await fetchToken(bearer, ctx)}`;
  }
  const basicChallenge = challenges.find((c) => c.scheme === "basic");
  if (basicChallenge) {
    if (!creds || (creds.username === undefined && creds.password === undefined)) return undefined;
    return basic(creds);
  }
  return undefined;
}

async function fetchToken(ch: Challenge, ctx: AuthorizeContext): Promise<string> {
  const realm = ch.params.realm;
  if (!realm) throw new ImageError("Unauthenticated", "failed to authorize: bearer challenge without realm");
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new ImageError("Unauthenticated", `failed to authorize: invalid realm ${JSON.stringify(realm)}`);
  }
  const scope = ch.params.scope || ctx.scope;
  const service = ch.params.service;
  const creds = ctx.credentials;
  if (creds?.identityToken) {
    // OAuth2 refresh-token grant, as containerd does with an identity token.
    const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: creds.identityToken, client_id: "skiff", scope });
    if (service) form.set("service", service);
    const res = await request({
      method: "POST",
      url: url.toString(),
      headers: { "Content-Type": "application/x-www-form-urlencoded; charset=utf-8" },
      body: form.toString(),
      tls: ctx.tls,
      signal: ctx.signal,
    });
    return tokenFrom(res, "POST", "failed to fetch oauth token", ctx.signal);
  }
  if (service) url.searchParams.set("service", service);
  for (const sc of scope.split(" ").filter((x) => x)) url.searchParams.append("scope", sc);
  const anonymous = !creds || (creds.username === undefined && creds.password === undefined);
  const res = await request({
    method: "GET",
    url: url.toString(),
    headers: anonymous ? {} : { Authorization: basic(creds!) },
    tls: ctx.tls,
    signal: ctx.signal,
  });
  return tokenFrom(res, "GET", anonymous ? "failed to fetch anonymous token" : "failed to fetch token", ctx.signal);
}

async function tokenFrom(res: Awaited<ReturnType<typeof request>>, method: string, what: string, signal?: AbortSignal): Promise<string> {
  if (res.status !== 200) {
    discard(res);
    const code = res.status === 401 || res.status === 403 ? "Unauthenticated" : res.status >= 500 ? "Unavailable" : "Unknown";
    throw new ImageError(code, `failed to authorize: ${what}: unexpected status from ${method} request to ${res.url}: ${statusLine(res)}`);
  }
  const body = await readBody(res, 1 << 20, signal);
  let doc: { token?: unknown; access_token?: unknown };
  try {
    doc = JSON.parse(body.toString("utf8")) as typeof doc;
  } catch {
    throw new ImageError("Unauthenticated", `failed to authorize: ${what}: token response is not JSON`);
  }
  const token = typeof doc.token === "string" && doc.token ? doc.token : typeof doc.access_token === "string" ? doc.access_token : "";
  if (!token) throw new ImageError("Unauthenticated", `failed to authorize: ${what}: no token in response`);
  return token;
}
