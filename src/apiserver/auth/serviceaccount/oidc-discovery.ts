/**
 * ServiceAccount issuer discovery, as upstream's
 * pkg/serviceaccount/openidmetadata.go and pkg/routes/openidmetadata.go:
 * `GET /.well-known/openid-configuration` (the OpenID provider metadata)
 * and `GET /openid/v1/jwks` (the public keys, `application/jwk-set+json`),
 * both cacheable for an hour. Served only when the issuer is an https URL,
 * as upstream. Who may read them is the authorizer's business (RBAC's
 * `system:service-account-issuer-discovery`).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { exportJWK } from "jose";
import type { VerificationKey } from "./keys.js";

export const OPENID_CONFIG_PATH = "/.well-known/openid-configuration";
export const JWKS_PATH = "/openid/v1/jwks";
const CACHE_CONTROL = "public, max-age=3600";

/** The discovery paths, with and without a trailing slash (what RBAC's discovery role names). */
export function isDiscoveryPath(pathname: string): boolean {
  const p = pathname.length > 1 ? pathname.replace(/\/$/, "") : pathname;
  return p === OPENID_CONFIG_PATH || p === JWKS_PATH;
}

/** Whether discovery can be served for `issuer` (an https URL without query or fragment). */
export function discoverableIssuer(issuer: string): boolean {
  try {
    const u = new URL(issuer);
    return u.protocol === "https:" && !u.search && !u.hash;
  } catch {
    return false;
  }
}

/** The provider metadata document. */
export function openIdConfiguration(issuer: string, jwksUri: string, keys: readonly VerificationKey[]): Record<string, unknown> {
  return {
    issuer,
    jwks_uri: jwksUri,
    response_types_supported: ["id_token"],
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: [...new Set(keys.map((k) => k.alg))].sort(),
  };
}

/** The key set, each key in go-jose's field order. */
export async function jwks(keys: readonly VerificationKey[]): Promise<{ keys: Record<string, unknown>[] }> {
  const out: Record<string, unknown>[] = [];
  for (const k of keys) {
    const j = await exportJWK(k.publicKey);
    out.push(j.kty === "RSA" ? { use: "sig", kty: "RSA", kid: k.kid, alg: k.alg, n: j.n, e: j.e } : { use: "sig", kty: j.kty, kid: k.kid, crv: j.crv, alg: k.alg, x: j.x, y: j.y });
  }
  return { keys: out };
}

/** Serves both documents from prepared bodies; answers false for other paths. */
export class OidcDiscovery {
  private jwksBody?: string;

  constructor(
    private readonly issuer: string,
    private readonly keys: readonly VerificationKey[],
    /** --service-account-jwks-uri, or `https://<external address>/openid/v1/jwks` once known. */
    private readonly jwksUri: () => string,
  ) {}

  get enabled(): boolean {
    return discoverableIssuer(this.issuer);
  }

  async serve(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    if (!this.enabled || !isDiscoveryPath(url.pathname)) return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { "Content-Type": "text/plain; charset=utf-8", Allow: "GET" });
      res.end("405: Method Not Allowed");
      return true;
    }
    const isConfig = url.pathname.replace(/\/$/, "") === OPENID_CONFIG_PATH;
    let body: string;
    if (isConfig) body = JSON.stringify(openIdConfiguration(this.issuer, this.jwksUri(), this.keys));
    else body = this.jwksBody ??= JSON.stringify(await jwks(this.keys));
    res.writeHead(200, {
      "Cache-Control": CACHE_CONTROL,
      "Content-Type": isConfig ? "application/json" : "application/jwk-set+json",
      "Content-Length": Buffer.byteLength(body),
    });
    res.end(req.method === "HEAD" ? undefined : body);
    return true;
  }
}
