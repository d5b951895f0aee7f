/**
 * The kubelet's webhook authentication and authorization, as upstream's
 * (KubeletConfiguration `authentication.webhook` and `authorization.mode:
 * Webhook`): bearer tokens are checked with a TokenReview and requests
 * with a SubjectAccessReview, both sent to the API server through the
 * kubelet's own client, and the answers cached (tokens 2 min; allowed
 * 5 min, denied 30 s, upstream's defaults) so a busy `kubectl logs -f` or
 * metrics scraper does not turn into one API call per request. Failed
 * calls are not cached.
 */
import { createHash } from "node:crypto";
import type { RestClient } from "../../client/rest-client.js";
import { type Clock, systemClock } from "../../machinery/clock.js";
import type { KubeletAuthorizer, KubeletDecision, KubeletRequestAttributes, KubeletUser, TokenAuthenticator, TokenResult } from "./auth.js";

/** A bounded map whose entries expire. */
class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expires: number }>();
  constructor(
    private readonly clock: Clock,
    private readonly max = 4096,
  ) {}

  get(key: string): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expires <= this.clock.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  set(key: string, value: V, ttlMs: number): void {
    if (ttlMs <= 0) return;
    this.entries.delete(key);
    // Oldest first out: Map keeps insertion order.
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, expires: this.clock.now() + ttlMs });
  }
}

interface TokenReviewStatus {
  authenticated?: boolean;
  user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  error?: string;
}

/** Options of {@link WebhookTokenAuthenticator}. */
export interface WebhookTokenAuthenticatorOptions {
  /** The kubelet's API client. */
  readonly client: RestClient;
  /** How long an answer is reused (authentication.webhook.cacheTTL, 2 min). */
  readonly cacheTtlMs?: number;
  /** Audiences to ask for (none: the API server's own). */
  readonly audiences?: readonly string[];
  readonly clock?: Clock;
}

/** Checks bearer tokens with the API server's TokenReview. */
export class WebhookTokenAuthenticator implements TokenAuthenticator {
  private readonly cache: TtlCache<KubeletUser | null>;
  private readonly ttl: number;

  constructor(private readonly o: WebhookTokenAuthenticatorOptions) {
    this.cache = new TtlCache(o.clock ?? systemClock);
    this.ttl = o.cacheTtlMs ?? 120_000;
  }

  async authenticateToken(token: string): Promise<TokenResult> {
    // Tokens are secrets: the cache holds their hashes only.
    const key = createHash("sha256").update(token).digest("hex");
    const cached = this.cache.get(key);
    if (cached !== undefined) return { ok: true, user: cached ?? undefined };
    let status: TokenReviewStatus;
    try {
      const review = await this.o.client.request<{ status?: TokenReviewStatus }>("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {
        body: {
          apiVersion: "authentication.k8s.io/v1",
          kind: "TokenReview",
          spec: { token, ...(this.o.audiences?.length ? { audiences: this.o.audiences } : {}) },
        },
      });
      status = review?.status ?? {};
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
    const u = status.user;
    const user: KubeletUser | null =
      status.authenticated && u?.username
        ? { username: u.username, ...(u.uid ? { uid: u.uid } : {}), groups: u.groups ?? [], ...(u.extra ? { extra: u.extra } : {}) }
        : null;
    this.cache.set(key, user, this.ttl);
    return { ok: true, user: user ?? undefined };
  }
}

/** Options of {@link WebhookAuthorizer}. */
export interface WebhookAuthorizerOptions {
  readonly client: RestClient;
  /** Reuse of an allow (authorization.webhook.cacheAuthorizedTTL, 5 min). */
  readonly authorizedTtlMs?: number;
  /** Reuse of a deny (cacheUnauthorizedTTL, 30 s). */
  readonly unauthorizedTtlMs?: number;
  readonly clock?: Clock;
}

/** Decides kubelet requests with the API server's SubjectAccessReview. */
export class WebhookAuthorizer implements KubeletAuthorizer {
  private readonly cache: TtlCache<KubeletDecision>;

  constructor(private readonly o: WebhookAuthorizerOptions) {
    this.cache = new TtlCache(o.clock ?? systemClock);
  }

  async authorize(a: KubeletRequestAttributes): Promise<KubeletDecision> {
    const spec = {
      resourceAttributes: { verb: a.verb, version: a.apiVersion, resource: a.resource, subresource: a.subresource, name: a.name },
      user: a.user.username,
      ...(a.user.groups.length ? { groups: a.user.groups } : {}),
      ...(a.user.extra ? { extra: a.user.extra } : {}),
      ...(a.user.uid ? { uid: a.user.uid } : {}),
    };
    const key = JSON.stringify(spec);
    const cached = this.cache.get(key);
    if (cached) return cached;
    let status: { allowed?: boolean; denied?: boolean; reason?: string; evaluationError?: string };
    try {
      const review = await this.o.client.request<{ status?: typeof status }>("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", {
        body: { apiVersion: "authorization.k8s.io/v1", kind: "SubjectAccessReview", spec },
      });
      status = review?.status ?? {};
    } catch (err) {
      return { decision: "error", error: (err as Error).message };
    }
    const reason = status.reason ? { reason: status.reason } : {};
    const decision: KubeletDecision = status.allowed
      ? { decision: "allow", ...reason }
      : status.denied
        ? { decision: "deny", ...reason }
        : { decision: "no-opinion", ...reason };
    this.cache.set(key, decision, decision.decision === "allow" ? (this.o.authorizedTtlMs ?? 300_000) : (this.o.unauthorizedTtlMs ?? 30_000));
    return decision;
  }
}
