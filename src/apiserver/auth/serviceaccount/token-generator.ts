/**
 * Signs ServiceAccount tokens (upstream's pkg/serviceaccount/jwt.go
 * TokenGenerator): a compact JWS with header `{alg, kid}` over the claims
 * plus `iss`, keys in sorted order as go-jose writes them.
 */
import { CompactSign } from "jose";
import type { BoundClaims, LegacyClaims } from "./claims.js";
import type { SigningKey } from "./keys.js";

/** Mints tokens for one issuer. */
export interface TokenGenerator {
  readonly issuer: string;
  generate(claims: BoundClaims | LegacyClaims): Promise<string>;
}

function sortedKeys(v: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) out[k] = v[k];
  return out;
}

/** A generator signing with `key` as `issuer`. */
export function jwtTokenGenerator(issuer: string, key: SigningKey): TokenGenerator {
  return {
    issuer,
    async generate(claims) {
      const payload = sortedKeys({ ...claims, iss: issuer });
      return new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader({ alg: key.alg, kid: key.kid }).sign(key.privateKey);
    },
  };
}
