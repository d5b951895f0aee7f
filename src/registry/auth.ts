/**
 * Token authentication as Docker's token spec and ECR speak it.
 *
 * A client that gets `401` with `WWW-Authenticate: Bearer realm=…,service=…,scope=…`
 * calls the realm (`GET /v2/token?service=skiff-registry&scope=repository:NAME:pull,push`)
 * with Basic credentials and gets a short-lived JWT (`token`/`access_token`) whose
 * `access` claim lists the granted scopes; it then sends `Authorization: Bearer JWT`.
 *
 * Credentials: the username is always `skiff` — like ECR's `AWS`, it names no
 * person; it only says "this is a registry login password". Who may do what is
 * carried by the password itself: a JWT signed by the registry's key
 * (audience `skiff-registry-login`, 12 h by default as ECR's), minted by
 * {@link mintLoginPassword} (`skiff registry login-password`). Holding one grants
 * pull, push and delete on every repository and the catalog. Anonymous
 * clients (no credentials) get pull on the repositories matched by the
 * `anonymousPull` globs and nothing else.
 *
 * Nodes: a client that shows no Basic credentials but a TLS client
 * certificate from the cluster's client CA naming a node (`CN=system:node:NAME`,
 * `O=system:nodes`, the kubelet's own) gets **pull** on every repository and
 * nothing else: every node can run the cluster's images with no
 * configuration, and a compromised node still cannot replace them.
 */
import { createPrivateKey, createPublicKey, type KeyObject, randomUUID } from "node:crypto";
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";

export const SERVICE = "skiff-registry";
export const LOGIN_USERNAME = "skiff";
const LOGIN_AUDIENCE = "skiff-registry-login";
const ISSUER = "skiff-registry";
/** ECR's passwords last 12 hours. */
export const DEFAULT_LOGIN_TTL_SECONDS = 12 * 3600;
/** Access tokens are short: clients fetch a new one per scope anyway (distribution's default is 60 s minimum; 5 min here). */
export const ACCESS_TOKEN_TTL_SECONDS = 300;

/** One entry of a token's `access` claim, as distribution's token spec. */
export interface Access {
  readonly type: string;
  readonly name: string;
  readonly actions: readonly string[];
}

/** Signing key: a private key object or PEM (EC P-256 → ES256, RSA → RS256, Ed25519 → EdDSA). */
export type SigningKey = KeyObject | string;

function privateKey(key: SigningKey): KeyObject {
  return typeof key === "string" ? createPrivateKey(key) : key;
}

function algorithmOf(key: KeyObject): string {
  switch (key.asymmetricKeyType) {
    case "ec":
      if (key.asymmetricKeyDetails?.namedCurve !== "prime256v1") throw new Error("an EC signing key must use P-256");
      return "ES256";
    case "rsa":
      return "RS256";
    case "ed25519":
      return "EdDSA";
    default:
      throw new Error(`unsupported signing key type ${key.asymmetricKeyType ?? "unknown"}`);
  }
}

/**
 * A short-lived registry password (a signed JWT), the `skiff registry
 * login-password` output; use it with username `skiff`. `ttl` is in
 * seconds (12 h by default).
 */
export async function mintLoginPassword(opts: { key: SigningKey; ttl?: number; now?: Date }): Promise<string> {
  const key = privateKey(opts.key);
  const ttl = opts.ttl ?? DEFAULT_LOGIN_TTL_SECONDS;
  if (!(ttl > 0)) throw new Error(`ttl must be positive, got ${ttl}`);
  const iat = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: algorithmOf(key), typ: "JWT" })
    .setIssuer(ISSUER)
    .setAudience(LOGIN_AUDIENCE)
    .setSubject(LOGIN_USERNAME)
    .setIssuedAt(iat)
    .setExpirationTime(iat + Math.floor(ttl))
    .setJti(randomUUID())
    .sign(key);
}

/** Parses `repository:NAME:pull,push` (NAME may hold colons only before a tag-less name; we split at the last colon). */
export function parseScope(scope: string): Access | undefined {
  const last = scope.lastIndexOf(":");
  const first = scope.indexOf(":");
  if (first <= 0 || last === first) return undefined;
  const type = scope.slice(0, first);
  const name = scope.slice(first + 1, last);
  const actions = scope
    .slice(last + 1)
    .split(",")
    .map((a) => a.trim())
    .filter((a) => a !== "");
  if (name === "") return undefined;
  return { type, name, actions };
}

export function formatScope(a: Access): string {
  return `${a.type}:${a.name}:${a.actions.join(",")}`;
}

/** Glob over repository names: `*` matches within one path component, `**` across components. */
export function globMatch(glob: string, name: string): boolean {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === "*" && glob[i + 1] === "*") {
      re += ".*";
      i++;
    } else if (c === "*") re += "[^/]*";
    else re += c.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`).test(name);
}

/** Who a token request is from. */
export type Principal = { kind: "login" } | { kind: "node"; name: string } | { kind: "anonymous" };

/** The node a client certificate subject names (`CN=system:node:NAME`, `O=system:nodes`), as the API server's Node authorizer reads it. */
export function nodeFromSubject(subject: { readonly CN?: string | readonly string[]; readonly O?: string | readonly string[] } | undefined): string | undefined {
  if (subject === undefined) return undefined;
  const list = (v: string | readonly string[] | undefined): readonly string[] => (v === undefined ? [] : typeof v === "string" ? [v] : v);
  const cn = list(subject.CN);
  if (cn.length !== 1 || !list(subject.O).includes("system:nodes")) return undefined;
  const m = /^system:node:(.+)$/.exec(cn[0] as string);
  return m?.[1];
}

/** Issues and checks tokens with one signing key. */
export class TokenAuthority {
  private readonly key: KeyObject;
  private readonly publicKey: KeyObject;
  private readonly alg: string;

  constructor(
    signingKey: SigningKey,
    private readonly anonymousPull: readonly string[],
  ) {
    this.key = privateKey(signingKey);
    this.publicKey = createPublicKey(this.key);
    this.alg = algorithmOf(this.key);
  }

  /** Checks a Basic login; an error message when it is refused. */
  async checkLogin(username: string, password: string): Promise<string | undefined> {
    if (username !== LOGIN_USERNAME) return `unknown user ${JSON.stringify(username)}: the username is always "${LOGIN_USERNAME}"`;
    try {
      await jwtVerify(password, this.publicKey, { issuer: ISSUER, audience: LOGIN_AUDIENCE, subject: LOGIN_USERNAME, algorithms: [this.alg] });
      return undefined;
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) return "the password has expired; get a new one with `skiff registry login-password`";
      return "incorrect username or password";
    }
  }

  /** The part of `requested` that `who` is granted (actions narrowed; scopes with nothing left dropped). */
  grant(who: Principal, requested: readonly Access[]): Access[] {
    const out: Access[] = [];
    for (const r of requested) {
      let allowed: string[];
      if (who.kind === "login") {
        allowed = r.type === "repository" || (r.type === "registry" && r.name === "catalog") ? [...r.actions] : [];
      } else if (who.kind === "node") {
        // Pull only: `*` would include push and delete, so it is narrowed to pull too.
        allowed = r.type === "repository" && r.actions.some((a) => a === "pull" || a === "*") ? ["pull"] : [];
      } else {
        const pullable = r.type === "repository" && this.anonymousPull.some((g) => globMatch(g, r.name));
        allowed = pullable ? r.actions.filter((a) => a === "pull") : [];
      }
      out.push({ type: r.type, name: r.name, actions: allowed });
    }
    return out;
  }

  /** Whether anonymous clients may pull `repo`. */
  anonymousMayPull(repo: string): boolean {
    return this.anonymousPull.some((g) => globMatch(g, repo));
  }

  async issue(subject: string, access: readonly Access[], now = new Date()): Promise<{ token: string; expiresIn: number; issuedAt: string }> {
    const iat = Math.floor(now.getTime() / 1000);
    const token = await new SignJWT({ access: access.map((a) => ({ type: a.type, name: a.name, actions: [...a.actions] })) })
      .setProtectedHeader({ alg: this.alg, typ: "JWT" })
      .setIssuer(ISSUER)
      .setAudience(SERVICE)
      .setSubject(subject)
      .setIssuedAt(iat)
      .setNotBefore(iat - 1)
      .setExpirationTime(iat + ACCESS_TOKEN_TTL_SECONDS)
      .setJti(randomUUID())
      .sign(this.key);
    return { token, expiresIn: ACCESS_TOKEN_TTL_SECONDS, issuedAt: new Date(iat * 1000).toISOString() };
  }

  /** The access a Bearer token grants, or an error message (invalid_token). */
  async verify(token: string): Promise<{ access: Access[] } | { error: string }> {
    try {
      const { payload } = await jwtVerify(token, this.publicKey, { issuer: ISSUER, audience: SERVICE, algorithms: [this.alg] });
      const raw = Array.isArray(payload.access) ? (payload.access as Access[]) : [];
      const access = raw.filter((a) => typeof a?.type === "string" && typeof a.name === "string" && Array.isArray(a.actions));
      return { access };
    } catch (err) {
      return { error: err instanceof joseErrors.JWTExpired ? "token expired" : "invalid token" };
    }
  }
}

/** Whether `granted` covers every action of `needed` (`*` covers all). */
export function covers(granted: readonly Access[], needed: Access): boolean {
  return needed.actions.every((action) =>
    granted.some((g) => g.type === needed.type && g.name === needed.name && (g.actions.includes(action) || g.actions.includes("*"))),
  );
}
