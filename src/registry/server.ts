/**
 * The cluster's image registry: the OCI distribution API (and Docker's
 * registry v2 flavour of it) over HTTPS, with token auth (see auth.ts),
 * storage on disk (storage.ts) and garbage collection (gc.ts).
 *
 * Routes (name = repository name, may contain `/`):
 *   GET /v2/                                   API version check (needs any valid token)
 *   GET|POST /v2/token                         token endpoint (Basic `skiff:<login password>`, a node's client certificate, or anonymous)
 *   GET /v2/_catalog?n=&last=                  repositories (scope registry:catalog:*)
 *   GET /v2/<name>/tags/list?n=&last=          tags
 *   GET|HEAD|PUT|DELETE /v2/<name>/manifests/<tag|digest>
 *   GET|HEAD|DELETE /v2/<name>/blobs/<digest>  (GET honours Range)
 *   POST /v2/<name>/blobs/uploads/[?digest=|?mount=&from=]
 *   GET|PATCH|PUT|DELETE /v2/<name>/blobs/uploads/<uuid>
 *   GET /v2/<name>/referrers/<digest>[?artifactType=]
 */
import { createReadStream } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import type { Logger } from "../machinery/log.js";
import { type Access, covers, formatScope, LOGIN_USERNAME, nodeFromSubject, parseScope, type Principal, SERVICE, type SigningKey, TokenAuthority } from "./auth.js";
import { RegistryError, writeError } from "./errors.js";
import { garbageCollect, type GcResult } from "./gc.js";
import { DOCKER_LIST, DOCKER_MANIFEST, isForeign, OCI_INDEX, OCI_MANIFEST, type ParsedManifest, parseManifest } from "./manifests.js";
import { ANY_DIGEST_RE, DIGEST_RE, NAME_RE, RegistryStorage, sha256Digest, TAG_RE } from "./storage.js";

/** Options of {@link startRegistry}. */
export interface RegistryOptions {
  /** Storage directory (`<data-dir>/registry`). */
  readonly dir: string;
  readonly listen: { readonly host: string; readonly port: number };
  /**
   * Serving key and certificate; `clientCaPem` (the cluster's client CA) makes the
   * registry ask for client certificates, so nodes can pull as themselves (see auth.ts).
   */
  readonly tls: { readonly keyPem: string; readonly certPem: string; readonly clientCaPem?: string };
  /** Signs login passwords and access tokens. */
  readonly signingKey: SigningKey;
  /** Repository globs anonymous clients may pull (`*` within a path component, `**` across). */
  readonly anonymousPull?: readonly string[];
  readonly logger: Logger;
  /** Upload sessions older than this are removed (distribution's purge age is 168 h; 24 h here). */
  readonly uploadExpiryMs?: number;
  /** Blobs younger than this survive garbage collection (1 h by default). */
  readonly gcGracePeriodMs?: number;
  /** The token realm's URL; `https://<request Host>/v2/token` by default. */
  readonly realm?: string;
}

/** A running registry. */
export interface RunningRegistry {
  readonly port: number;
  stop(): Promise<void>;
  garbageCollect(opts?: { gracePeriodMs?: number }): Promise<GcResult>;
}

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Catalog pages are at most this long (distribution's default maxentries). */
const MAX_CATALOG_ENTRIES = 1000;
const DEFAULT_UPLOAD_EXPIRY_MS = 24 * 3600 * 1000;
const DEFAULT_GC_GRACE_MS = 3600 * 1000;

const ROUTE_RE = /^\/v2\/(.+?)\/(manifests\/([^/]+)|blobs\/uploads\/([^/]*)|blobs\/([^/]+)|tags\/list|referrers\/([^/]+))$/;

interface Ctx {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly method: string;
  readonly head: boolean;
  readonly base: string;
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on("data", (c: Buffer) => {
      n += c.length;
      if (n > limit) {
        reject(new RegistryError("MANIFEST_INVALID", { message: `manifest too big (over ${limit} bytes)` }));
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** Media types an Accept header list names (parameters and q-values ignored, as distribution does). */
function acceptedTypes(req: IncomingMessage): Set<string> {
  const out = new Set<string>();
  const raw = req.headersDistinct.accept ?? [];
  for (const h of raw) for (const part of h.split(",")) out.add(part.split(";")[0]?.trim().toLowerCase() ?? "");
  return out;
}

function parsePageSize(url: URL, max: number | undefined): number | undefined {
  const raw = url.searchParams.get("n");
  if (raw === null || raw === "") return undefined;
  if (!/^\d+$/.test(raw)) throw new RegistryError("PAGINATION_NUMBER_INVALID", { detail: { n: raw } });
  const n = Number(raw);
  if (max !== undefined && n > max) throw new RegistryError("PAGINATION_NUMBER_INVALID", { detail: { n, max } });
  return n;
}

/** One page of a sorted list after `last`; `next` is set when more follow. */
function paginate(all: readonly string[], last: string | null, n: number | undefined): { page: string[]; more: boolean } {
  const after = last === null || last === "" ? [...all] : all.filter((x) => x > last);
  if (n === undefined) return { page: after, more: false };
  return { page: after.slice(0, n), more: n > 0 && after.length > n };
}

function checkDigest(raw: string | null | undefined): string {
  if (raw === null || raw === undefined || raw === "") throw new RegistryError("DIGEST_INVALID", { message: "digest missing" });
  if (!ANY_DIGEST_RE.test(raw)) throw new RegistryError("DIGEST_INVALID", { message: "invalid digest", detail: { digest: raw } });
  if (!DIGEST_RE.test(raw)) throw new RegistryError("DIGEST_INVALID", { message: "unsupported digest algorithm (only sha256 is stored)", detail: { digest: raw } });
  return raw;
}

function checkName(name: string): void {
  if (name.length > 255 || !NAME_RE.test(name)) throw new RegistryError("NAME_INVALID", { detail: { name } });
}

/** The registry's request handling; one per server. */
class Registry {
  readonly storage: RegistryStorage;
  readonly auth: TokenAuthority;

  constructor(readonly opts: RegistryOptions) {
    this.storage = new RegistryStorage(opts.dir);
    this.auth = new TokenAuthority(opts.signingKey, opts.anonymousPull ?? []);
  }

  /** Requests on one upload session run one at a time (a PATCH racing a PUT would corrupt the data). */
  private readonly uploadLocks = new Map<string, Promise<void>>();

  private async withUploadLock(uuid: string, fn: () => Promise<void>): Promise<void> {
    const prev = this.uploadLocks.get(uuid) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.uploadLocks.set(uuid, tail);
    try {
      await run;
    } finally {
      if (this.uploadLocks.get(uuid) === tail) this.uploadLocks.delete(uuid);
    }
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    const host = req.headers.host ?? `${this.opts.listen.host}:${this.opts.listen.port}`;
    const ctx: Ctx = { req, res, url: new URL(req.url ?? "/", `https://${host}`), method, head: method === "HEAD", base: `https://${host}` };
    res.setHeader("Docker-Distribution-API-Version", "registry/2.0");
    try {
      await this.route(ctx);
    } catch (err) {
      const e =
        err instanceof RegistryError ? err : new RegistryError("UNKNOWN", { message: (err as Error).message ?? String(err) });
      if (e.code === "UNKNOWN") this.opts.logger.error("registry request failed", { method, path: ctx.url.pathname, err: e.message });
      req.resume();
      if (!res.headersSent) writeError(res, e, ctx.head);
      else res.destroy();
    }
    this.opts.logger.debug("registry request", { method, path: ctx.url.pathname, status: res.statusCode });
  }

  private async route(ctx: Ctx): Promise<void> {
    const path = ctx.url.pathname;
    const m = ctx.method;
    if (path === "/v2/token") {
      if (m === "GET" || m === "POST") return this.token(ctx);
      throw new RegistryError("UNSUPPORTED");
    }
    if (path === "/v2/" || path === "/v2") {
      if (m !== "GET" && m !== "HEAD") throw new RegistryError("UNSUPPORTED");
      await this.authorize(ctx, []);
      return this.json(ctx, 200, {});
    }
    if (path === "/v2/_catalog") {
      if (m !== "GET") throw new RegistryError("UNSUPPORTED");
      await this.authorize(ctx, [{ type: "registry", name: "catalog", actions: ["*"] }]);
      return this.catalog(ctx);
    }
    const r = ROUTE_RE.exec(path);
    if (r === null) {
      // As distribution's router: a path outside the API is a plain 404.
      ctx.req.resume();
      ctx.res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff" });
      ctx.res.end(ctx.head ? undefined : "404 page not found\n");
      return;
    }
    const name = decodeURIComponent(r[1] as string);
    checkName(name);
    const kind = r[2] as string;
    const repo = (actions: string[]): Access => ({ type: "repository", name, actions });
    if (kind.startsWith("manifests/")) {
      const ref = decodeURIComponent(r[3] as string);
      if (m === "GET" || m === "HEAD") {
        await this.authorize(ctx, [repo(["pull"])]);
        return this.getManifest(ctx, name, ref);
      }
      if (m === "PUT") {
        await this.authorize(ctx, [repo(["pull", "push"])]);
        return this.putManifest(ctx, name, ref);
      }
      if (m === "DELETE") {
        await this.authorize(ctx, [repo(["delete"])]);
        return this.deleteManifest(ctx, name, ref);
      }
      throw new RegistryError("UNSUPPORTED");
    }
    if (kind.startsWith("blobs/uploads/")) {
      const uuid = r[4] as string;
      const needed = [repo(["pull", "push"])];
      const from = ctx.url.searchParams.get("from");
      if (uuid === "") {
        if (m !== "POST") throw new RegistryError("UNSUPPORTED");
        if (from !== null && ctx.url.searchParams.get("mount") !== null) {
          checkName(from);
          needed.push({ type: "repository", name: from, actions: ["pull"] });
        }
        await this.authorize(ctx, needed);
        return this.startUpload(ctx, name);
      }
      await this.authorize(ctx, needed);
      return this.withUploadLock(uuid, () => this.upload(ctx, name, uuid));
    }
    if (kind.startsWith("blobs/")) {
      const digest = checkDigest(decodeURIComponent(r[5] as string));
      if (m === "GET" || m === "HEAD") {
        await this.authorize(ctx, [repo(["pull"])]);
        return this.getBlob(ctx, name, digest);
      }
      if (m === "DELETE") {
        await this.authorize(ctx, [repo(["delete"])]);
        if (!(await this.storage.unlinkBlob(name, digest))) throw new RegistryError("BLOB_UNKNOWN", { detail: { digest } });
        return this.empty(ctx, 202, { "Docker-Content-Digest": digest });
      }
      throw new RegistryError("UNSUPPORTED");
    }
    if (kind === "tags/list") {
      if (m !== "GET") throw new RegistryError("UNSUPPORTED");
      await this.authorize(ctx, [repo(["pull"])]);
      return this.tagsList(ctx, name);
    }
    if (m !== "GET") throw new RegistryError("UNSUPPORTED");
    await this.authorize(ctx, [repo(["pull"])]);
    return this.referrers(ctx, name, checkDigest(decodeURIComponent(r[6] as string)));
  }

  // ---- auth

  private challenge(ctx: Ctx, needed: readonly Access[], error?: string): string {
    const realm = this.opts.realm ?? `${ctx.base}/v2/token`;
    let h = `Bearer realm="${realm}",service="${SERVICE}"`;
    if (needed.length > 0) h += `,scope="${needed.map(formatScope).join(" ")}"`;
    if (error !== undefined) h += `,error="${error}"`;
    return h;
  }

  /** Passes when the request's Bearer token (or anonymous pull) covers `needed`; else 401 with the challenge. */
  private async authorize(ctx: Ctx, needed: readonly Access[]): Promise<void> {
    const header = ctx.req.headers.authorization;
    const detail = needed.map((a) => ({ Type: a.type, Name: a.name, Action: a.actions.join(",") }));
    if (header === undefined || !/^bearer\s+/i.test(header)) {
      const anon = needed.length > 0 && needed.every((a) => a.type === "repository" && a.actions.every((x) => x === "pull") && this.auth.anonymousMayPull(a.name));
      if (anon) return;
      throw new RegistryError("UNAUTHORIZED", { detail: detail.length > 0 ? detail : undefined, headers: { "WWW-Authenticate": this.challenge(ctx, needed) } });
    }
    const v = await this.auth.verify(header.replace(/^bearer\s+/i, "").trim());
    if ("error" in v) {
      throw new RegistryError("UNAUTHORIZED", { message: v.error, headers: { "WWW-Authenticate": this.challenge(ctx, needed, "invalid_token") } });
    }
    for (const a of needed) {
      const anonPull = a.type === "repository" && a.actions.every((x) => x === "pull") && this.auth.anonymousMayPull(a.name);
      if (!anonPull && !covers(v.access, a)) {
        throw new RegistryError("UNAUTHORIZED", {
          message: "insufficient scope",
          detail,
          headers: { "WWW-Authenticate": this.challenge(ctx, needed, "insufficient_scope") },
        });
      }
    }
  }

  /** The token endpoint: GET with Basic auth and `scope` parameters, or OAuth2's POST password grant. */
  private async token(ctx: Ctx): Promise<void> {
    let params = ctx.url.searchParams;
    let username: string | undefined;
    let password: string | undefined;
    let oauth = false;
    if (ctx.method === "POST") {
      oauth = true;
      params = new URLSearchParams((await readBody(ctx.req, 64 * 1024)).toString("utf8"));
      const grant = params.get("grant_type");
      if (grant !== "password") {
        throw new RegistryError("UNSUPPORTED", { status: 400, message: `unsupported grant_type ${JSON.stringify(grant)}: use "password"` });
      }
      username = params.get("username") ?? undefined;
      password = params.get("password") ?? undefined;
    } else {
      const h = ctx.req.headers.authorization;
      if (h !== undefined && /^basic\s+/i.test(h)) {
        const dec = Buffer.from(h.replace(/^basic\s+/i, ""), "base64").toString("utf8");
        const i = dec.indexOf(":");
        username = i < 0 ? dec : dec.slice(0, i);
        password = i < 0 ? "" : dec.slice(i + 1);
      }
    }
    const service = params.get("service");
    if (service !== null && service !== SERVICE) {
      throw new RegistryError("DENIED", { status: 400, message: `unknown service ${JSON.stringify(service)}: this registry is "${SERVICE}"` });
    }
    const rawScopes = oauth ? (params.get("scope") ?? "").split(" ") : params.getAll("scope").flatMap((s) => s.split(" "));
    const requested: Access[] = [];
    for (const s of rawScopes.filter((x) => x !== "")) {
      const a = parseScope(s);
      if (a === undefined) throw new RegistryError("DENIED", { status: 400, message: `invalid scope ${JSON.stringify(s)}` });
      requested.push(a);
    }
    let who: Principal = { kind: "anonymous" };
    if (username !== undefined) {
      const refused = await this.auth.checkLogin(username, password ?? "");
      if (refused !== undefined) {
        this.opts.logger.info("registry login refused", { username, reason: refused });
        throw new RegistryError("UNAUTHORIZED", {
          message: refused,
          headers: { "WWW-Authenticate": `Basic realm="${SERVICE}"` },
        });
      }
      who = { kind: "login" };
    } else {
      const node = this.peerNode(ctx);
      if (node !== undefined) who = { kind: "node", name: node };
    }
    const granted = this.auth.grant(who, requested);
    const subject = who.kind === "login" ? LOGIN_USERNAME : who.kind === "node" ? `system:node:${who.name}` : "";
    const t = await this.auth.issue(subject, granted);
    const body: Record<string, unknown> = oauth
      ? { access_token: t.token, scope: granted.filter((a) => a.actions.length > 0).map(formatScope).join(" "), expires_in: t.expiresIn, issued_at: t.issuedAt }
      : { token: t.token, access_token: t.token, expires_in: t.expiresIn, issued_at: t.issuedAt };
    return this.json(ctx, 200, body);
  }

  /** The node the TLS client certificate names, when the cluster's client CA signed it (checked by the TLS layer). */
  private peerNode(ctx: Ctx): string | undefined {
    if (this.opts.tls.clientCaPem === undefined) return undefined;
    const socket = ctx.req.socket as TLSSocket;
    if (!socket.authorized) return undefined;
    return nodeFromSubject(socket.getPeerCertificate()?.subject);
  }

  // ---- responses

  private json(ctx: Ctx, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const s = JSON.stringify(body);
    ctx.res.writeHead(status, { ...headers, "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(s) });
    ctx.res.end(ctx.head ? undefined : s);
  }

  private empty(ctx: Ctx, status: number, headers: Record<string, string>): void {
    ctx.res.writeHead(status, { ...headers, "Content-Length": 0 });
    ctx.res.end();
  }

  // ---- catalog and tags

  private async catalog(ctx: Ctx): Promise<void> {
    const n = parsePageSize(ctx.url, MAX_CATALOG_ENTRIES) ?? MAX_CATALOG_ENTRIES;
    const { page, more } = paginate(await this.storage.repositories(), ctx.url.searchParams.get("last"), n);
    const headers: Record<string, string> = {};
    if (more) headers.Link = `</v2/_catalog?last=${encodeURIComponent(page[page.length - 1] as string)}&n=${n}>; rel="next"`;
    return this.json(ctx, 200, { repositories: page }, headers);
  }

  private async tagsList(ctx: Ctx, name: string): Promise<void> {
    if (!(await this.storage.repositoryExists(name))) throw new RegistryError("NAME_UNKNOWN", { detail: { name } });
    const n = parsePageSize(ctx.url, undefined);
    const { page, more } = paginate(await this.storage.tags(name), ctx.url.searchParams.get("last"), n);
    const headers: Record<string, string> = {};
    if (more) headers.Link = `</v2/${name}/tags/list?last=${encodeURIComponent(page[page.length - 1] as string)}&n=${n}>; rel="next"`;
    return this.json(ctx, 200, { name, tags: page }, headers);
  }

  // ---- manifests

  /** Digest of a reference (tag resolved), or throws MANIFEST_UNKNOWN. */
  private async resolve(name: string, ref: string): Promise<{ digest: string; byTag: boolean }> {
    if (ref.includes(":")) return { digest: checkDigest(ref), byTag: false };
    if (!TAG_RE.test(ref)) throw new RegistryError("TAG_INVALID", { message: "invalid tag", detail: { tag: ref } });
    const digest = await this.storage.resolveTag(name, ref);
    if (digest === undefined) throw new RegistryError("MANIFEST_UNKNOWN", { message: `manifest unknown: unknown tag=${ref}`, detail: { Tag: ref } });
    return { digest, byTag: true };
  }

  private async loadManifest(name: string, digest: string): Promise<{ body: Buffer; parsed: ParsedManifest }> {
    const body = await this.storage.getManifest(name, digest);
    if (body === undefined) throw new RegistryError("MANIFEST_UNKNOWN", { message: `manifest unknown: unknown manifest=${digest}`, detail: { Digest: digest } });
    // Content addressing is the integrity check: never serve bytes that do not hash to their name.
    if (sha256Digest(body) !== digest) throw new RegistryError("UNKNOWN", { message: `stored manifest ${digest} is corrupt` });
    return { body, parsed: parseManifest(body, "") };
  }

  private async getManifest(ctx: Ctx, name: string, ref: string): Promise<void> {
    let { digest, byTag } = await this.resolve(name, ref);
    let { body, parsed } = await this.loadManifest(name, digest);
    const accepts = acceptedTypes(ctx.req);
    if (parsed.mediaType === OCI_MANIFEST && !accepts.has(OCI_MANIFEST)) {
      throw new RegistryError("MANIFEST_UNKNOWN", { message: "OCI manifest found, but accept header does not support OCI manifests" });
    }
    if (parsed.mediaType === OCI_INDEX && !accepts.has(OCI_INDEX)) {
      throw new RegistryError("MANIFEST_UNKNOWN", { message: "OCI index found, but accept header does not support OCI indexes" });
    }
    if (parsed.mediaType === DOCKER_LIST && !accepts.has(DOCKER_LIST) && byTag) {
      // As distribution: a client that cannot read a manifest list gets the linux/amd64 image.
      const child = parsed.manifests.find((d) => d.platform?.os === "linux" && d.platform?.architecture === "amd64");
      if (child === undefined) throw new RegistryError("MANIFEST_UNKNOWN", { message: "manifest list has no linux/amd64 image and the client does not accept manifest lists" });
      digest = child.digest;
      ({ body, parsed } = await this.loadManifest(name, digest));
      byTag = false;
    }
    ctx.res.writeHead(200, {
      "Content-Type": parsed.mediaType,
      "Content-Length": body.length,
      "Docker-Content-Digest": digest,
      ETag: `"${digest}"`,
    });
    ctx.res.end(ctx.head ? undefined : body);
  }

  private async putManifest(ctx: Ctx, name: string, ref: string): Promise<void> {
    const body = await readBody(ctx.req, MAX_MANIFEST_BYTES);
    const digest = sha256Digest(body);
    let tag: string | undefined;
    if (ref.includes(":")) {
      if (checkDigest(ref) !== digest) throw new RegistryError("DIGEST_INVALID", { detail: { expected: ref, actual: digest } });
    } else {
      if (!TAG_RE.test(ref)) throw new RegistryError("TAG_INVALID", { message: "invalid tag", detail: { tag: ref } });
      tag = ref;
    }
    let parsed: ParsedManifest;
    try {
      parsed = parseManifest(body, ctx.req.headers["content-type"] ?? "");
    } catch (err) {
      throw new RegistryError("MANIFEST_INVALID", { detail: (err as Error).message });
    }
    // Touch first so a concurrent garbage collection keeps what this manifest is about to reference.
    for (const d of parsed.blobs) if (!isForeign(d)) await this.storage.touch(d.digest);
    for (const d of parsed.blobs) {
      if (isForeign(d)) continue;
      if (!DIGEST_RE.test(d.digest) || (await this.storage.repoBlobSize(name, d.digest)) === undefined) {
        throw new RegistryError("MANIFEST_BLOB_UNKNOWN", { detail: { digest: d.digest } });
      }
    }
    for (const d of parsed.manifests) {
      if (!DIGEST_RE.test(d.digest) || !(await this.storage.hasManifest(name, d.digest))) {
        throw new RegistryError("MANIFEST_BLOB_UNKNOWN", { message: "manifest unknown to registry", detail: { digest: d.digest } });
      }
      await this.storage.touch(d.digest);
    }
    if (parsed.mediaType === DOCKER_MANIFEST || parsed.mediaType === DOCKER_LIST) {
      if (parsed.subject !== undefined) throw new RegistryError("MANIFEST_INVALID", { detail: "subject is an OCI field" });
    }
    await this.storage.putManifest(name, body, tag);
    this.opts.logger.info("registry manifest pushed", { repo: name, reference: ref, digest, mediaType: parsed.mediaType });
    const headers: Record<string, string> = { Location: `${ctx.base}/v2/${name}/manifests/${digest}`, "Docker-Content-Digest": digest };
    if (parsed.subject !== undefined) headers["OCI-Subject"] = parsed.subject.digest;
    return this.empty(ctx, 201, headers);
  }

  private async deleteManifest(ctx: Ctx, name: string, ref: string): Promise<void> {
    if (ref.includes(":")) {
      const digest = checkDigest(ref);
      if (!(await this.storage.deleteManifest(name, digest))) throw new RegistryError("MANIFEST_UNKNOWN", { detail: { Digest: digest } });
    } else {
      if (!TAG_RE.test(ref)) throw new RegistryError("TAG_INVALID", { message: "invalid tag", detail: { tag: ref } });
      if (!(await this.storage.deleteTag(name, ref))) throw new RegistryError("MANIFEST_UNKNOWN", { message: `manifest unknown: unknown tag=${ref}`, detail: { Tag: ref } });
    }
    this.opts.logger.info("registry manifest deleted", { repo: name, reference: ref });
    return this.empty(ctx, 202, {});
  }

  private async referrers(ctx: Ctx, name: string, subject: string): Promise<void> {
    const filter = ctx.url.searchParams.get("artifactType");
    const manifests: Record<string, unknown>[] = [];
    for (const digest of await this.storage.manifestDigests(name)) {
      const body = await this.storage.getManifest(name, digest);
      if (body === undefined) continue;
      let p: ParsedManifest;
      try {
        p = parseManifest(body, "");
      } catch {
        continue;
      }
      if (p.subject?.digest !== subject) continue;
      const artifactType = p.artifactType ?? p.configMediaType;
      if (filter !== null && artifactType !== filter) continue;
      const d: Record<string, unknown> = { mediaType: p.mediaType, digest, size: body.length };
      if (artifactType !== undefined) d.artifactType = artifactType;
      if (p.annotations !== undefined) d.annotations = p.annotations;
      manifests.push(d);
    }
    const s = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests });
    const headers: Record<string, string | number> = { "Content-Type": OCI_INDEX, "Content-Length": Buffer.byteLength(s) };
    if (filter !== null) headers["OCI-Filters-Applied"] = "artifactType";
    ctx.res.writeHead(200, headers);
    ctx.res.end(s);
  }

  // ---- blobs

  private async getBlob(ctx: Ctx, name: string, digest: string): Promise<void> {
    const size = await this.storage.repoBlobSize(name, digest);
    if (size === undefined) throw new RegistryError("BLOB_UNKNOWN", { detail: { digest } });
    const common = {
      "Content-Type": "application/octet-stream",
      "Docker-Content-Digest": digest,
      ETag: `"${digest}"`,
      "Accept-Ranges": "bytes",
      "Cache-Control": "max-age=31536000",
    };
    let start = 0;
    let end = size - 1;
    let partial = false;
    const range = ctx.req.headers.range;
    if (range !== undefined && !ctx.head) {
      const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
      const bad = () => new RegistryError("RANGE_INVALID", { detail: { range, size }, headers: { "Content-Range": `bytes */${size}` } });
      // Several ranges (a comma) are not supported: answer with the whole blob, which HTTP allows.
      if (!range.includes(",")) {
        if (m === null || (m[1] === "" && m[2] === "")) throw bad();
        if (m[1] === "") {
          const suffix = Number(m[2]);
          if (suffix === 0) throw bad();
          start = Math.max(0, size - suffix);
        } else {
          start = Number(m[1]);
          if (m[2] !== "") end = Math.min(Number(m[2]), size - 1);
        }
        if (start >= size || start > end) throw bad();
        partial = true;
      }
    }
    if (partial) {
      ctx.res.writeHead(206, { ...common, "Content-Length": end - start + 1, "Content-Range": `bytes ${start}-${end}/${size}` });
    } else {
      ctx.res.writeHead(200, { ...common, "Content-Length": size });
    }
    if (ctx.head || size === 0) {
      ctx.res.end();
      return;
    }
    const stream = createReadStream(this.storage.blobPath(digest), { start, end });
    await new Promise<void>((resolve) => {
      stream.on("error", () => {
        ctx.res.destroy();
        resolve();
      });
      ctx.res.on("close", resolve);
      stream.pipe(ctx.res);
    });
  }

  private uploadHeaders(ctx: Ctx, name: string, uuid: string, size: number): Record<string, string> {
    return {
      Location: `${ctx.base}/v2/${name}/blobs/uploads/${uuid}`,
      Range: `0-${size > 0 ? size - 1 : 0}`,
      "Docker-Upload-UUID": uuid,
    };
  }

  private async startUpload(ctx: Ctx, name: string): Promise<void> {
    const q = ctx.url.searchParams;
    const mount = q.get("mount");
    const from = q.get("from");
    if (mount !== null && from !== null) {
      const digest = checkDigest(mount);
      if ((await this.storage.repoBlobSize(from, digest)) !== undefined) {
        await this.storage.linkBlob(name, digest);
        this.opts.logger.info("registry blob mounted", { repo: name, from, digest });
        ctx.req.resume();
        return this.empty(ctx, 201, { Location: `${ctx.base}/v2/${name}/blobs/${digest}`, "Docker-Content-Digest": digest });
      }
      // As distribution: a mount that cannot be done starts an ordinary upload.
    }
    const want = q.get("digest");
    const info = await this.storage.createUpload(name);
    if (want !== null) {
      const digest = checkDigest(want);
      await this.finishUpload(ctx, name, info.uuid, digest, true);
      return;
    }
    ctx.req.resume();
    return this.empty(ctx, 202, this.uploadHeaders(ctx, name, info.uuid, 0));
  }

  /** Appends the body (when `withBody`), checks the digest and the length, stores the blob; 201. */
  private async finishUpload(ctx: Ctx, name: string, uuid: string, digest: string, withBody: boolean): Promise<void> {
    let size = (await this.storage.getUpload(name, uuid))?.size ?? 0;
    if (withBody) {
      const before = size;
      size = await this.storage.appendUpload(uuid, ctx.req);
      const declared = ctx.req.headers["content-length"];
      if (declared !== undefined && Number(declared) !== size - before) {
        await this.storage.cancelUpload(uuid);
        throw new RegistryError("SIZE_INVALID", { detail: { declared: Number(declared), received: size - before } });
      }
    }
    const actual = await this.storage.uploadDigest(uuid);
    if (actual !== digest) {
      await this.storage.cancelUpload(uuid);
      throw new RegistryError("DIGEST_INVALID", { detail: { expected: digest, actual } });
    }
    await this.storage.commitUpload(name, uuid, digest);
    this.opts.logger.debug("registry blob pushed", { repo: name, digest, size });
    return this.empty(ctx, 201, {
      Location: `${ctx.base}/v2/${name}/blobs/${digest}`,
      "Docker-Content-Digest": digest,
    });
  }

  private async upload(ctx: Ctx, name: string, uuid: string): Promise<void> {
    const session = await this.storage.getUpload(name, uuid);
    if (session === undefined) throw new RegistryError("BLOB_UPLOAD_UNKNOWN", { detail: { uuid } });
    switch (ctx.method) {
      case "GET":
        ctx.res.writeHead(204, this.uploadHeaders(ctx, name, uuid, session.size));
        ctx.res.end();
        return;
      case "DELETE":
        await this.storage.cancelUpload(uuid);
        return this.empty(ctx, 204, {});
      case "PATCH": {
        const cr = ctx.req.headers["content-range"];
        const len = ctx.req.headers["content-length"];
        if (cr !== undefined) {
          const m = /^(?:bytes )?(\d+)-(\d+)$/.exec(cr.trim());
          const ok = m !== null && Number(m[1]) === session.size && Number(m[2]) >= Number(m[1]) && (len === undefined || Number(len) === Number(m[2]) - Number(m[1]) + 1);
          if (!ok) {
            throw new RegistryError("RANGE_INVALID", {
              detail: { contentRange: cr, uploaded: session.size },
              headers: this.uploadHeaders(ctx, name, uuid, session.size),
            });
          }
        }
        const size = await this.storage.appendUpload(uuid, ctx.req);
        if (len !== undefined && Number(len) !== size - session.size) {
          throw new RegistryError("SIZE_INVALID", { detail: { declared: Number(len), received: size - session.size } });
        }
        return this.empty(ctx, 202, this.uploadHeaders(ctx, name, uuid, size));
      }
      case "PUT": {
        const digest = checkDigest(ctx.url.searchParams.get("digest"));
        return this.finishUpload(ctx, name, uuid, digest, true);
      }
      default:
        throw new RegistryError("UNSUPPORTED");
    }
  }
}

/** Starts the registry on `opts.listen` (HTTPS); see the file header for the API. */
export async function startRegistry(opts: RegistryOptions): Promise<RunningRegistry> {
  const registry = new Registry(opts);
  const logger = opts.logger;
  // A client certificate is asked for, never required: logins and anonymous pulls come without one.
  const clientAuth = opts.tls.clientCaPem === undefined ? {} : { requestCert: true, rejectUnauthorized: false, ca: opts.tls.clientCaPem };
  const server: Server = createServer({ key: opts.tls.keyPem, cert: opts.tls.certPem, ...clientAuth }, (req, res) => {
    void registry.handle(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.listen.port, opts.listen.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const expiry = opts.uploadExpiryMs ?? DEFAULT_UPLOAD_EXPIRY_MS;
  const purge = async () => {
    try {
      const n = await registry.storage.purgeUploads(expiry);
      if (n > 0) logger.info("registry expired upload sessions removed", { count: n });
    } catch (err) {
      logger.warn("registry upload purge failed", { err: (err as Error).message });
    }
  };
  await purge();
  const timer = setInterval(() => void purge(), Math.min(expiry, 10 * 60 * 1000));
  timer.unref();
  logger.info("registry listening", { host: opts.listen.host, port, dir: opts.dir });
  return {
    port,
    async stop() {
      clearInterval(timer);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
    garbageCollect(o = {}) {
      return garbageCollect(registry.storage, { gracePeriodMs: o.gracePeriodMs ?? opts.gcGracePeriodMs ?? DEFAULT_GC_GRACE_MS, logger });
    },
  };
}

export { DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST };
