/**
 * ServiceAccount token authentication, as upstream's
 * pkg/serviceaccount/jwt.go (JWTTokenAuthenticator) with the bound-token
 * validator (claims.go) or the legacy Secret-token validator (legacy.go).
 * A token whose issuer is not ours is not looked at (the next
 * authenticator may know it); one whose issuer is ours must carry a good
 * signature, one of the API audiences, be within its lifetime (one minute
 * of leeway, as go-jose's) and name objects that still exist with the same
 * uids. Failures are logged with their reason, never with the token.
 */
import { compactVerify, decodeJwt } from "jose";
import type { Clock } from "../../../machinery/clock.js";
import { systemClock } from "../../../machinery/clock.js";
import { type Logger, silentLogger } from "../../../machinery/log.js";
import type { KObject } from "../../registry/types.js";
import type { TokenAuthenticator, UserInfo } from "../authn.js";
import {
  CREDENTIAL_ID_KEY,
  type KubernetesClaim,
  LEGACY_ISSUER,
  makeGroupNames,
  makeUsername,
  NODE_NAME_KEY,
  NODE_UID_KEY,
  POD_NAME_KEY,
  POD_UID_KEY,
  splitUsername,
} from "./claims.js";
import type { VerificationKey } from "./keys.js";

/** go-jose's jwt.DefaultLeeway. */
export const LEEWAY_MS = 60_000;

/** Reads the objects tokens are bound to; undefined when one does not exist. */
export interface ServiceAccountTokenGetter {
  getServiceAccount(namespace: string, name: string): Promise<KObject | undefined>;
  getPod(namespace: string, name: string): Promise<KObject | undefined>;
  getSecret(namespace: string, name: string): Promise<KObject | undefined>;
  getNode(name: string): Promise<KObject | undefined>;
}

/** Options of a {@link ServiceAccountTokenAuthenticator}. */
export interface ServiceAccountTokenAuthenticatorOptions {
  /** "bound": TokenRequest tokens of `issuers`; "legacy": Secret tokens (issuer `kubernetes/serviceaccount`). */
  readonly kind: "bound" | "legacy";
  /** Accepted `iss` values (--service-account-issuer, all of them); ignored for legacy tokens. */
  readonly issuers?: readonly string[];
  /** Public keys a token may be signed with (--service-account-key-file). */
  readonly keys: readonly VerificationKey[];
  /** The API server's audiences (--api-audiences): a token must carry one of them. */
  readonly implicitAudiences: readonly string[];
  readonly getter: ServiceAccountTokenGetter;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/** Why a token was refused (what upstream's authenticator returns as its error). */
class TokenRejected extends Error {}

type Obj = Record<string, unknown>;
const str = (v: unknown): string => (typeof v === "string" ? v : "");

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function audiencesOf(aud: unknown): string[] {
  if (typeof aud === "string") return aud ? [aud] : [];
  return Array.isArray(aud) ? aud.filter((a): a is string => typeof a === "string") : [];
}

/** A deleted object still being finalized stops vouching for tokens a minute after its deletion (upstream's invalidIfDeletedBefore). */
function deletedBefore(o: KObject, cutoffMs: number): boolean {
  const ts = o.metadata?.deletionTimestamp;
  return !!ts && Date.parse(ts) < cutoffMs;
}

/** One ServiceAccount token backend for the bearer-token authenticator. */
export class ServiceAccountTokenAuthenticator implements TokenAuthenticator {
  private readonly issuers: ReadonlySet<string>;
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(private readonly o: ServiceAccountTokenAuthenticatorOptions) {
    this.issuers = new Set(o.kind === "legacy" ? [LEGACY_ISSUER] : (o.issuers ?? []));
    this.clock = o.clock ?? systemClock;
    this.log = o.logger ?? silentLogger;
  }

  async authenticateToken(token: string): Promise<UserInfo | undefined> {
    if (!this.hasCorrectIssuer(token)) return undefined;
    try {
      return await this.verify(token);
    } catch (err) {
      if (!(err instanceof TokenRejected)) throw err;
      // The reason only: the token itself is a credential.
      this.log.info("Unable to authenticate the request", { authenticator: `serviceaccount-${this.o.kind}`, err: err.message });
      return undefined;
    }
  }

  /** Upstream's hasCorrectIssuer: an unverified look at `iss`, so other JWTs pass to other authenticators. */
  private hasCorrectIssuer(token: string): boolean {
    if (token.split(".").length !== 3) return false;
    try {
      const claims = decodeJwt(token);
      return typeof claims.iss === "string" && this.issuers.has(claims.iss);
    } catch {
      return false;
    }
  }

  private async verify(token: string): Promise<UserInfo> {
    let payload: Obj | undefined;
    const errors: string[] = [];
    for (const key of this.o.keys) {
      try {
        const r = await compactVerify(token, key.publicKey, { algorithms: [key.alg] });
        const parsed: unknown = JSON.parse(new TextDecoder().decode(r.payload));
        if (!isObj(parsed)) throw new TokenRejected("invalid bearer token");
        payload = parsed;
        break;
      } catch (err) {
        if (err instanceof TokenRejected) throw err;
        errors.push((err as Error).message);
      }
    }
    if (!payload) throw new TokenRejected(errors.length > 0 ? errors.join(", ") : "no public keys to verify the token with");
    // Checked again now that the signature is known good.
    if (!this.issuers.has(str(payload.iss))) throw new TokenRejected(`token issuer "${str(payload.iss)}" is invalid`);
    let auds = audiencesOf(payload.aud);
    // Tokens without audiences (legacy ones) are for the API server only.
    if (auds.length === 0) auds = [...this.o.implicitAudiences];
    const granted = auds.filter((a) => this.o.implicitAudiences.includes(a));
    if (granted.length === 0 && this.o.implicitAudiences.length > 0) {
      throw new TokenRejected(`token audiences ${JSON.stringify(auds)} is invalid for the target audiences ${JSON.stringify(this.o.implicitAudiences)}`);
    }
    return this.o.kind === "legacy" ? this.validateLegacy(token, payload) : this.validateBound(payload);
  }

  /** Upstream's validator.Validate for bound tokens. */
  private async validateBound(p: Obj): Promise<UserInfo> {
    const now = this.clock.now();
    const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v * 1000 : undefined);
    const nbf = num(p.nbf);
    const exp = num(p.exp);
    const iat = num(p.iat);
    if (nbf !== undefined && now + LEEWAY_MS < nbf) throw new TokenRejected("service account token is not valid yet");
    if (exp !== undefined && now - LEEWAY_MS > exp) throw new TokenRejected("service account token has expired");
    if (iat !== undefined && now + LEEWAY_MS < iat) throw new TokenRejected("service account token is issued in the future");
    const k = (isObj(p["kubernetes.io"]) ? p["kubernetes.io"] : {}) as KubernetesClaim;
    const namespace = str(k.namespace);
    const saRef = isObj(k.serviceaccount) ? k.serviceaccount : {};
    const cutoff = now - LEEWAY_MS;
    const sa = await this.o.getter.getServiceAccount(namespace, str(saRef.name));
    if (!sa) throw new TokenRejected(`serviceaccounts "${str(saRef.name)}" not found`);
    if (deletedBefore(sa, cutoff)) throw new TokenRejected("service account token has been invalidated");
    if (sa.metadata?.uid !== str(saRef.uid)) throw new TokenRejected(`service account UID (${sa.metadata?.uid ?? ""}) does not match claim (${str(saRef.uid)})`);
    if (isObj(k.secret)) {
      const name = str(k.secret.name);
      const secret = await this.o.getter.getSecret(namespace, name);
      if (!secret) throw new TokenRejected(`secrets "${name}" not found`);
      if (deletedBefore(secret, cutoff)) throw new TokenRejected("service account token has been invalidated");
      if (secret.metadata?.uid !== str(k.secret.uid)) throw new TokenRejected(`secret UID (${secret.metadata?.uid ?? ""}) does not match service account secret ref claim (${str(k.secret.uid)})`);
    }
    let podName = "";
    let podUid = "";
    if (isObj(k.pod)) {
      const name = str(k.pod.name);
      const pod = await this.o.getter.getPod(namespace, name);
      if (!pod) throw new TokenRejected(`pods "${name}" not found`);
      if (deletedBefore(pod, cutoff)) throw new TokenRejected("service account token has been invalidated");
      if (pod.metadata?.uid !== str(k.pod.uid)) throw new TokenRejected(`pod UID (${pod.metadata?.uid ?? ""}) does not match service account pod ref claim (${str(k.pod.uid)})`);
      podName = name;
      podUid = str(k.pod.uid);
    }
    let nodeName = "";
    let nodeUid = "";
    if (isObj(k.node)) {
      const name = str(k.node.name);
      if (!isObj(k.pod)) {
        // A node-bound token: the node must still be there.
        const node = await this.o.getter.getNode(name);
        if (!node) throw new TokenRejected(`nodes "${name}" not found`);
        if (deletedBefore(node, cutoff)) throw new TokenRejected("service account token has been invalidated");
        if (node.metadata?.uid !== str(k.node.uid)) throw new TokenRejected(`node UID (${node.metadata?.uid ?? ""}) does not match service account node ref claim (${str(k.node.uid)})`);
      }
      nodeName = name;
      nodeUid = str(k.node.uid);
    }
    const extra: Record<string, string[]> = {};
    if (podName && podUid) {
      extra[POD_NAME_KEY] = [podName];
      extra[POD_UID_KEY] = [podUid];
    }
    const jti = str(p.jti);
    if (jti) extra[CREDENTIAL_ID_KEY] = [`JTI=${jti}`];
    if (nodeName) {
      extra[NODE_NAME_KEY] = [nodeName];
      if (nodeUid) extra[NODE_UID_KEY] = [nodeUid];
    }
    return {
      username: makeUsername(namespace, str(saRef.name)),
      uid: str(saRef.uid),
      groups: makeGroupNames(namespace),
      ...(Object.keys(extra).length > 0 ? { extra } : {}),
    };
  }

  /** Upstream's legacyValidator.Validate, with the Secret lookup always on. */
  private async validateLegacy(token: string, p: Obj): Promise<UserInfo> {
    const sub = str(p.sub);
    if (!sub) throw new TokenRejected("sub claim is missing");
    const namespace = str(p["kubernetes.io/serviceaccount/namespace"]);
    if (!namespace) throw new TokenRejected("namespace claim is missing");
    const secretName = str(p["kubernetes.io/serviceaccount/secret.name"]);
    if (!secretName) throw new TokenRejected("secretName claim is missing");
    const saName = str(p["kubernetes.io/serviceaccount/service-account.name"]);
    if (!saName) throw new TokenRejected("serviceAccountName claim is missing");
    const saUid = str(p["kubernetes.io/serviceaccount/service-account.uid"]);
    if (!saUid) throw new TokenRejected("serviceAccountUID claim is missing");
    const subject = splitUsername(sub);
    if (!subject || subject.namespace !== namespace || subject.name !== saName) throw new TokenRejected("sub claim is invalid");
    const cutoff = this.clock.now() - LEEWAY_MS;
    const secret = await this.o.getter.getSecret(namespace, secretName);
    if (!secret || deletedBefore(secret, cutoff)) throw new TokenRejected("Token has been invalidated");
    const data = isObj(secret.data) ? secret.data : {};
    const stored = typeof data.token === "string" ? Buffer.from(data.token, "base64").toString("utf8") : "";
    if (stored !== token) throw new TokenRejected("Token does not match server's copy");
    const sa = await this.o.getter.getServiceAccount(namespace, saName);
    if (!sa) throw new TokenRejected(`serviceaccounts "${saName}" not found`);
    if (deletedBefore(sa, cutoff)) throw new TokenRejected("Token has been invalidated");
    if (sa.metadata?.uid !== saUid) throw new TokenRejected(`Service account UID (${sa.metadata?.uid ?? ""}) does not match claim (${saUid})`);
    return { username: makeUsername(namespace, saName), uid: saUid, groups: makeGroupNames(namespace) };
  }
}
