/**
 * ServiceAccount token claims, as upstream's pkg/serviceaccount/claims.go
 * and legacy.go: bound tokens (TokenRequest) carry `iss`, `sub`, `aud`,
 * `exp`, `iat`, `nbf`, `jti` and a `kubernetes.io` object naming the
 * namespace, the ServiceAccount and the object the token is bound to; legacy
 * Secret tokens carry `iss: kubernetes/serviceaccount`, `sub` and four
 * `kubernetes.io/serviceaccount/...` claims, and never expire.
 */
import { randomUUID } from "node:crypto";

/** The issuer of legacy Secret-based tokens. */
export const LEGACY_ISSUER = "kubernetes/serviceaccount";
/** The lifetime the ServiceAccount admission plugin asks for; tokens of it are extended, warning after it (upstream's WarnOnlyBoundTokenExpirationSeconds). */
export const WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS = 3607;
/** What such tokens are extended to: a year (upstream's ExpirationExtensionSeconds). */
export const EXPIRATION_EXTENSION_SECONDS = 24 * 365 * 60 * 60;

export const SERVICE_ACCOUNT_USERNAME_PREFIX = "system:serviceaccount:";
export const ALL_SERVICE_ACCOUNTS_GROUP = "system:serviceaccounts";
/** Extra keys of a ServiceAccount user (upstream apiserver/pkg/authentication/serviceaccount). */
export const POD_NAME_KEY = "authentication.kubernetes.io/pod-name";
export const POD_UID_KEY = "authentication.kubernetes.io/pod-uid";
export const NODE_NAME_KEY = "authentication.kubernetes.io/node-name";
export const NODE_UID_KEY = "authentication.kubernetes.io/node-uid";
export const CREDENTIAL_ID_KEY = "authentication.kubernetes.io/credential-id";

/** `system:serviceaccount:NS:NAME`. */
export function makeUsername(namespace: string, name: string): string {
  return `${SERVICE_ACCOUNT_USERNAME_PREFIX}${namespace}:${name}`;
}

/** The namespace and name of a ServiceAccount username, or undefined (upstream's SplitUsername). */
export function splitUsername(username: string): { namespace: string; name: string } | undefined {
  if (!username.startsWith(SERVICE_ACCOUNT_USERNAME_PREFIX)) return undefined;
  const parts = username.slice(SERVICE_ACCOUNT_USERNAME_PREFIX.length).split(":");
  if (parts.length !== 2 || !parts[0] || !parts[1]) return undefined;
  return { namespace: parts[0], name: parts[1] };
}

/** `system:serviceaccounts` and `system:serviceaccounts:NS`. */
export function makeGroupNames(namespace: string): string[] {
  return [ALL_SERVICE_ACCOUNTS_GROUP, `${ALL_SERVICE_ACCOUNTS_GROUP}:${namespace}`];
}

/** A name and uid, as upstream's `ref`. */
export interface ObjectRef {
  readonly name?: string;
  readonly uid?: string;
}

/** The `kubernetes.io` claim of a bound token. */
export interface KubernetesClaim {
  readonly namespace?: string;
  readonly serviceaccount?: ObjectRef;
  readonly pod?: ObjectRef;
  readonly secret?: ObjectRef;
  readonly node?: ObjectRef;
  /** NumericDate after which use is reported (extended tokens). */
  readonly warnafter?: number;
}

/** A bound token's payload (the issuer is added when signing). */
export interface BoundClaims {
  readonly sub: string;
  readonly aud: readonly string[];
  readonly exp: number;
  readonly iat: number;
  readonly nbf: number;
  readonly jti: string;
  readonly "kubernetes.io": KubernetesClaim;
}

/** A legacy token's payload (the issuer is added when signing). */
export interface LegacyClaims {
  readonly sub: string;
  readonly "kubernetes.io/serviceaccount/namespace": string;
  readonly "kubernetes.io/serviceaccount/secret.name": string;
  readonly "kubernetes.io/serviceaccount/service-account.name": string;
  readonly "kubernetes.io/serviceaccount/service-account.uid": string;
}

/** What a bound token is minted for. */
export interface BoundClaimsInput {
  readonly serviceAccount: { readonly namespace: string; readonly name: string; readonly uid: string };
  readonly pod?: { readonly name: string; readonly uid: string };
  readonly secret?: { readonly name: string; readonly uid: string };
  /** The pod's node (pod-bound tokens), or the node the token is bound to. */
  readonly node?: { readonly name: string; readonly uid: string };
  readonly expirationSeconds: number;
  /** Non-zero for extended tokens: seconds after which use is reported. */
  readonly warnAfterSeconds?: number;
  readonly audiences: readonly string[];
  /** Milliseconds since the epoch. */
  readonly now: number;
}

/** Upstream's Claims(): throws only on an impossible binding (pod and secret together). */
export function boundClaims(i: BoundClaimsInput): BoundClaims {
  if (i.pod && i.secret) throw new Error("internal error, token can only be bound to one object type");
  const now = Math.floor(i.now / 1000);
  const k: {
    namespace: string;
    serviceaccount: ObjectRef;
    pod?: ObjectRef;
    secret?: ObjectRef;
    node?: ObjectRef;
    warnafter?: number;
  } = { namespace: i.serviceAccount.namespace, serviceaccount: { name: i.serviceAccount.name, uid: i.serviceAccount.uid } };
  if (i.pod) {
    k.pod = { name: i.pod.name, uid: i.pod.uid };
    if (i.node) k.node = { name: i.node.name, uid: i.node.uid };
  } else if (i.secret) {
    k.secret = { name: i.secret.name, uid: i.secret.uid };
  } else if (i.node) {
    k.node = { name: i.node.name, uid: i.node.uid };
  }
  if (i.warnAfterSeconds) k.warnafter = now + i.warnAfterSeconds;
  return {
    aud: [...i.audiences],
    exp: now + i.expirationSeconds,
    iat: now,
    jti: randomUUID(),
    "kubernetes.io": k,
    nbf: now,
    sub: makeUsername(i.serviceAccount.namespace, i.serviceAccount.name),
  };
}

/** Upstream's LegacyClaims(): the ServiceAccount and the Secret holding the token. */
export function legacyClaims(sa: { namespace: string; name: string; uid: string }, secretName: string): LegacyClaims {
  return {
    "kubernetes.io/serviceaccount/namespace": sa.namespace,
    "kubernetes.io/serviceaccount/secret.name": secretName,
    "kubernetes.io/serviceaccount/service-account.name": sa.name,
    "kubernetes.io/serviceaccount/service-account.uid": sa.uid,
    sub: makeUsername(sa.namespace, sa.name),
  };
}
