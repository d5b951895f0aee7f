/**
 * One repository on one registry endpoint, over the OCI distribution API:
 * fetch manifests and open blobs, answering 401 challenges once per client
 * (the Bearer token is reused for every later request of the pull) and
 * following blob redirects (without credentials when they leave the host).
 */
import { authorize, type Credentials, parseChallenges } from "./auth.js";
import { discard, type HttpResponse, readBody, request, unexpectedStatus } from "./http.js";
import { MANIFEST_ACCEPT } from "./manifest.js";
import { ImageError } from "./pull-error.js";
import type { RegistryEndpoint } from "./registry-config.js";

/** Manifests larger than this are refused (containerd's limit). */
const MAX_MANIFEST_BYTES = 4 << 20;
const MAX_REDIRECTS = 10;

/** A fetched manifest body with what the registry said about it. */
export interface FetchedManifest {
  readonly body: Buffer;
  readonly contentType: string | undefined;
  /** `Docker-Content-Digest`, when the registry sent it. */
  readonly digestHeader: string | undefined;
}

export interface RegistryClientOptions {
  readonly endpoint: RegistryEndpoint;
  /** Repository path on this endpoint (rewrites applied), e.g. `library/busybox`. */
  readonly repository: string;
  readonly credentials?: Credentials;
  readonly signal?: AbortSignal;
}

function statusCode(status: number): ImageError["code"] {
  if (status === 401) return "Unauthenticated";
  if (status === 403) return "PermissionDenied";
  if (status === 404) return "NotFound";
  if (status === 429) return "ResourceExhausted";
  if (status >= 500) return "Unavailable";
  return "Unknown";
}

/**
 * The error for a 401 to a request that carried credentials. A Bearer
 * challenge naming an error is containerd's ErrInvalidAuthorization, the
 * familiar "pull access denied" (what a registry says for a repository
 * that does not exist as much as for one you may not read).
 */
function rejected(method: string, res: HttpResponse): ImageError {
  const bearer = parseChallenges(res.headers["www-authenticate"] as string | undefined).find((c) => c.scheme === "bearer");
  const err = bearer?.params.error;
  if (err) {
    return new ImageError(
      "Unauthenticated",
      `pull access denied, repository does not exist or may require authorization: server message: ${err}: authorization failed`,
    );
  }
  return new ImageError("Unauthenticated", unexpectedStatus(method, res));
}

/** A distribution API client for one repository on one endpoint. */
export class RegistryClient {
  private authorization: string | undefined;

  constructor(private readonly opts: RegistryClientOptions) {}

  /** `http://127.0.0.1:5000/v2/library/busybox` */
  get base(): string {
    return `${this.opts.endpoint.apiRoot}/${this.opts.repository}`;
  }

  /** Fetches `reference` (a tag or a digest). 404 is an {@link ImageError} with code NotFound and message "not found". */
  async getManifest(reference: string): Promise<FetchedManifest> {
    const url = `${this.base}/manifests/${reference}`;
    const res = await this.send("GET", url, { Accept: MANIFEST_ACCEPT });
    if (res.status === 404) {
      discard(res);
      throw new ImageError("NotFound", "not found");
    }
    if (res.status !== 200) {
      discard(res);
      throw new ImageError(statusCode(res.status), unexpectedStatus("GET", res));
    }
    const body = await readBody(res, MAX_MANIFEST_BYTES, this.opts.signal);
    const dcd = res.headers["docker-content-digest"];
    return { body, contentType: res.headers["content-type"], digestHeader: typeof dcd === "string" ? dcd : undefined };
  }

  /** Opens blob `digest` for streaming (the caller verifies it). */
  async openBlob(digest: string): Promise<HttpResponse> {
    let url = `${this.base}/blobs/${digest}`;
    const origin = new URL(url).origin;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const sameOrigin = new URL(url).origin === origin;
      const res = sameOrigin ? await this.send("GET", url, {}) : await request({ method: "GET", url, tls: this.opts.endpoint.tls, signal: this.opts.signal });
      if (res.status >= 300 && res.status < 400 && res.headers.location) {
        discard(res);
        url = new URL(res.headers.location, url).toString();
        continue;
      }
      if (res.status === 200) return res;
      discard(res);
      if (res.status === 404) throw new ImageError("NotFound", `blob ${digest} not found at ${url}`);
      throw new ImageError(statusCode(res.status), unexpectedStatus("GET", res));
    }
    throw new ImageError("Unknown", `too many redirects fetching blob ${digest}`);
  }

  /** Sends with the current authorization; on a 401 answers the challenge once and retries. */
  private async send(method: "GET" | "HEAD", url: string, headers: Record<string, string>): Promise<HttpResponse> {
    const { endpoint, signal } = this.opts;
    const attempt = () =>
      request({ method, url, headers: this.authorization ? { ...headers, Authorization: this.authorization } : headers, tls: endpoint.tls, signal });
    let res = await attempt();
    if (res.status !== 401) return res;
    const challenges = parseChallenges(res.headers["www-authenticate"] as string | undefined);
    discard(res);
    const had = this.authorization;
    // Our token was refused (expired, or not enough scope): a fresh one may do, once.
    if (had !== undefined && !had.startsWith("Bearer ")) throw rejected(method, res);
    const answer = await authorize(challenges, {
      credentials: this.opts.credentials,
      scope: `repository:${this.opts.repository}:pull`,
      tls: endpoint.tls,
      signal,
    });
    // Nothing to answer with, or the same answer again: the 401 stands.
    if (answer === undefined) throw new ImageError("Unauthenticated", unexpectedStatus(method, res));
    if (answer === had) throw rejected(method, res);
    this.authorization = answer;
    res = await attempt();
    if (res.status === 401) {
      discard(res);
      throw rejected(method, res);
    }
    return res;
  }
}
