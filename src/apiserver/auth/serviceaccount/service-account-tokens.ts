/**
 * Everything the API server does with ServiceAccount tokens, in one place:
 * the signing key, the TokenRequest subresource, the bound and legacy token
 * authenticators (for the bearer-token chain, after x509) and issuer
 * discovery. Built before the API server (the authenticators go into its
 * chain), then {@link ServiceAccountTokens.attach attached} to the
 * server's objects once they exist.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type Clock, systemClock } from "../../../machinery/clock.js";
import { parseDuration } from "../../../machinery/duration.js";
import { type Logger, silentLogger } from "../../../machinery/log.js";
import { isNotFound } from "../../../machinery/status-error.js";
import type { KObject } from "../../registry/types.js";
import type { RequestInfo } from "../../request-info.js";
import type { TokenAuthenticator } from "../authn.js";
import { EXPIRATION_EXTENSION_SECONDS, WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS } from "./claims.js";
import type { SigningKey } from "./keys.js";
import { JWKS_PATH, OidcDiscovery } from "./oidc-discovery.js";
import { ServiceAccountTokenAuthenticator, type ServiceAccountTokenGetter } from "./token-authenticator.js";
import { jwtTokenGenerator } from "./token-generator.js";
import { type TokenRequestAdmission, type TokenRequestCall, TokenRequestHandler } from "./token-request.js";

/** kube-apiserver's default issuer in skiff (the in-cluster name of the API server). */
export const DEFAULT_SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local";

/** The kube-apiserver flags this takes, already parsed. */
export interface ServiceAccountTokenConfig {
  /** --service-account-issuer: the first signs, all are accepted. */
  readonly issuers: readonly string[];
  /** --api-audiences (the issuers when not given). */
  readonly apiAudiences: readonly string[];
  /** --service-account-max-token-expiration in seconds; 0 for none. */
  readonly maxExpirationSeconds: number;
  /** --service-account-extend-token-expiration. */
  readonly extendExpiration: boolean;
  /** --service-account-jwks-uri, if given. */
  readonly jwksUri?: string;
}

/** The flags as commander gives them. */
export interface ServiceAccountFlags {
  serviceAccountIssuer?: string[];
  apiAudiences?: string;
  serviceAccountMaxTokenExpiration?: string;
  serviceAccountExtendTokenExpiration?: boolean;
  serviceAccountJwksUri?: string;
}

/** Validates the flags as kube-apiserver does; throws a message naming the flag. */
export function serviceAccountConfigFromFlags(f: ServiceAccountFlags): ServiceAccountTokenConfig {
  const issuers = (f.serviceAccountIssuer ?? []).flatMap((s) => s.split(",")).map((s) => s.trim()).filter(Boolean);
  if (issuers.length === 0) issuers.push(DEFAULT_SERVICE_ACCOUNT_ISSUER);
  for (const iss of issuers) {
    // Upstream: a URL must parse; a plain string (no colon) is allowed.
    if (iss.includes(":")) {
      try {
        new URL(iss);
      } catch (err) {
        throw new Error(`--service-account-issuer ${iss} contained a ':' but was not a valid URL: ${(err as Error).message}`);
      }
    }
  }
  if (new Set(issuers).size !== issuers.length) throw new Error("--service-account-issuer contains duplicate values");
  const auds = (f.apiAudiences ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  let maxExpirationSeconds = 0;
  if (f.serviceAccountMaxTokenExpiration !== undefined && f.serviceAccountMaxTokenExpiration !== "0") {
    let ms: number;
    try {
      ms = parseDuration(f.serviceAccountMaxTokenExpiration);
    } catch (err) {
      throw new Error(`--service-account-max-token-expiration: ${(err as Error).message}`);
    }
    maxExpirationSeconds = Math.floor(ms / 1000);
    if (maxExpirationSeconds < 3600 || maxExpirationSeconds > 2 ** 32) {
      throw new Error("the service-account-max-token-expiration must be between 1 hour and 2^32 seconds");
    }
  }
  const extendExpiration = f.serviceAccountExtendTokenExpiration ?? true;
  if (extendExpiration && maxExpirationSeconds > 0 && maxExpirationSeconds < WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS) {
    throw new Error(
      `service-account-extend-token-expiration is true, in order to correctly trigger safe transition logic, service-account-max-token-expiration must be set longer than ${WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS} seconds (currently ${maxExpirationSeconds}s)`,
    );
  }
  if (f.serviceAccountJwksUri) {
    let u: URL;
    try {
      u = new URL(f.serviceAccountJwksUri);
    } catch (err) {
      throw new Error(`--service-account-jwks-uri: ${(err as Error).message}`);
    }
    if (u.protocol !== "https:") throw new Error("--service-account-jwks-uri requires https scheme");
  }
  return { issuers, apiAudiences: auds.length > 0 ? auds : [...issuers], maxExpirationSeconds, extendExpiration, jwksUri: f.serviceAccountJwksUri };
}

/** Options of {@link ServiceAccountTokens}. */
export interface ServiceAccountTokensOptions {
  readonly key: SigningKey;
  readonly config: ServiceAccountTokenConfig;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/** A getter that refuses until the API server's objects are attached. */
class LateGetter implements ServiceAccountTokenGetter {
  target?: ServiceAccountTokenGetter;
  private t(): ServiceAccountTokenGetter {
    if (!this.target) throw new Error("ServiceAccount tokens used before the API server attached its objects");
    return this.target;
  }
  getServiceAccount(ns: string, name: string) {
    return this.t().getServiceAccount(ns, name);
  }
  getPod(ns: string, name: string) {
    return this.t().getPod(ns, name);
  }
  getSecret(ns: string, name: string) {
    return this.t().getSecret(ns, name);
  }
  getNode(name: string) {
    return this.t().getNode(name);
  }
}

export class ServiceAccountTokens {
  /** Bound (TokenRequest) tokens of the configured issuers. */
  readonly boundAuthenticator: TokenAuthenticator;
  /** Legacy Secret tokens (`kubernetes/serviceaccount`). */
  readonly legacyAuthenticator: TokenAuthenticator;
  readonly config: ServiceAccountTokenConfig;
  private readonly getter = new LateGetter();
  private readonly discovery: OidcDiscovery;
  private externalAddress = "";
  private handler?: TokenRequestHandler;

  constructor(private readonly o: ServiceAccountTokensOptions) {
    this.config = o.config;
    const log = o.logger ?? silentLogger;
    const keys = [o.key];
    const common = { keys, implicitAudiences: o.config.apiAudiences, getter: this.getter, clock: o.clock, logger: log };
    this.boundAuthenticator = new ServiceAccountTokenAuthenticator({ kind: "bound", issuers: o.config.issuers, ...common });
    this.legacyAuthenticator = new ServiceAccountTokenAuthenticator({ kind: "legacy", ...common });
    this.discovery = new OidcDiscovery(o.config.issuers[0]!, keys, () => o.config.jwksUri ?? `https://${this.externalAddress}${JWKS_PATH}`);
    if (o.config.maxExpirationSeconds > 0 && o.config.extendExpiration && o.config.maxExpirationSeconds < EXPIRATION_EXTENSION_SECONDS) {
      log.warn("service-account-extend-token-expiration is true, tokens validity will be capped by service-account-max-token-expiration", {
        maxSeconds: o.config.maxExpirationSeconds,
      });
    }
  }

  /** Gives the tokens the API server's objects, and the admission run on TokenRequests. */
  attach(getter: ServiceAccountTokenGetter, admission?: TokenRequestAdmission): void {
    this.getter.target = getter;
    const clock = this.o.clock ?? systemClock;
    this.handler = new TokenRequestHandler(
      {
        generator: jwtTokenGenerator(this.o.config.issuers[0]!, this.o.key),
        apiAudiences: this.o.config.apiAudiences,
        maxExpirationSeconds: this.o.config.maxExpirationSeconds,
        extendExpiration: this.o.config.extendExpiration,
        now: () => clock.now(),
      },
      getter,
      admission,
    );
  }

  /** The API server's host:port as other machines reach it, for the default `jwks_uri`. */
  setExternalAddress(hostPort: string): void {
    this.externalAddress = hostPort;
  }

  /** Whether `info` is a TokenRequest. */
  handles(info: RequestInfo): boolean {
    return TokenRequestHandler.handles(info);
  }

  /** Serves a TokenRequest (after authentication and authorization). */
  serve(call: TokenRequestCall): Promise<void> {
    if (!this.handler) throw new Error("TokenRequest served before the API server attached its objects");
    return this.handler.serve(call);
  }

  /** Serves the discovery documents; false for other paths. */
  serveDiscovery(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    return this.discovery.serve(req, res, url);
  }
}

/** Something objects can be read from by namespace and name (an ObjectStore or ObjectCache); NotFound throws. */
export interface ObjectReader {
  get(ns: string | undefined, name: string): Promise<KObject>;
}

/** A {@link ServiceAccountTokenGetter} over the API server's own stores. */
export function readerGetter(r: { serviceAccounts: ObjectReader; pods: ObjectReader; secrets: ObjectReader; nodes: ObjectReader }): ServiceAccountTokenGetter {
  const find = async (reader: ObjectReader, ns: string | undefined, name: string): Promise<KObject | undefined> => {
    if (!name) return undefined;
    try {
      return await reader.get(ns, name);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };
  return {
    getServiceAccount: (ns, name) => find(r.serviceAccounts, ns, name),
    getPod: (ns, name) => find(r.pods, ns, name),
    getSecret: (ns, name) => find(r.secrets, ns, name),
    getNode: (name) => find(r.nodes, undefined, name),
  };
}
