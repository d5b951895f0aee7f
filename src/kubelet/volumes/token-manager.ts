/**
 * Service account tokens for projected volumes (upstream
 * pkg/kubelet/token TokenManager): requested through the TokenRequest API,
 * bound to the pod, kept until 80% of their lifetime (or 24 h) has passed,
 * then requested again, so the projected file is refreshed before expiry.
 */
import type { TokenRequest } from "kubernetes-types/authentication/v1.js";
import type { Pod } from "kubernetes-types/core/v1.js";
import type { PodObjects } from "./objects.js";

/** upstream maxTTL: a token is refreshed at least daily. */
const MAX_TTL_MS = 24 * 60 * 60 * 1000;

interface Cached {
  readonly token: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly podUid: string;
}

/** A token, or the message the mount fails with. */
export type TokenResult = { readonly ok: true; readonly token: string } | { readonly ok: false; readonly message: string };

/** Tokens by pod, service account, audience and lifetime. */
export class TokenManager {
  private readonly cache = new Map<string, Cached>();

  constructor(
    private readonly objects: PodObjects | undefined,
    private readonly now: () => number,
  ) {}

  /** A token for the pod's service account (see the file comment). */
  async get(pod: Pod, audience: string | undefined, expirationSeconds: number | undefined): Promise<TokenResult> {
    const m = pod.metadata ?? {};
    const ns = m.namespace ?? "";
    const sa = pod.spec?.serviceAccountName || "default";
    const exp = expirationSeconds ?? 3600;
    const key = `${m.uid}/${ns}/${sa}/${audience ?? ""}/${exp}`;
    const now = this.now();
    const hit = this.cache.get(key);
    if (hit && !this.requiresRefresh(hit, now)) return { ok: true, token: hit.token };
    if (!this.objects) return { ok: false, message: "failed to fetch token: this kubelet has no API client" };
    const request: TokenRequest = {
      spec: {
        audiences: audience ? [audience] : [],
        expirationSeconds: exp,
        boundObjectRef: { apiVersion: "v1", kind: "Pod", name: m.name, uid: m.uid },
      },
    };
    const r = await this.objects.createToken(ns, sa, request);
    if (!r.ok) {
      // A token still valid is better than none while the API server is away (upstream keeps it too).
      if (hit && now < hit.expiresAt) return { ok: true, token: hit.token };
      if (r.unserved) {
        return {
          ok: false,
          message: `failed to fetch token: the API server does not serve the TokenRequest API (POST /api/v1/namespaces/${ns}/serviceaccounts/${sa}/token): ${r.message}`,
        };
      }
      return { ok: false, message: `failed to fetch token: ${r.message}` };
    }
    const token = r.value.status?.token;
    if (!token) return { ok: false, message: "failed to fetch token: the TokenRequest answer has no status.token" };
    const parsed = r.value.status?.expirationTimestamp ? Date.parse(r.value.status.expirationTimestamp) : Number.NaN;
    const expiresAt = Number.isFinite(parsed) ? parsed : now + exp * 1000;
    this.cache.set(key, { token, issuedAt: now, expiresAt, podUid: m.uid ?? "" });
    return { ok: true, token };
  }

  /** Forgets the tokens of a pod (its volumes are gone). */
  deletePod(uid: string): void {
    for (const [k, v] of this.cache) if (v.podUid === uid) this.cache.delete(k);
  }

  /** upstream requiresRefresh: past 80% of the lifetime, or older than a day. */
  private requiresRefresh(c: Cached, now: number): boolean {
    if (now >= c.expiresAt) return true;
    if (now - c.issuedAt >= MAX_TTL_MS) return true;
    return now >= c.issuedAt + (c.expiresAt - c.issuedAt) * 0.8;
  }
}
