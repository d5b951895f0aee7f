/**
 * Pull behaviour that a real registry never shows: tampered content,
 * redirects, concurrent pulls sharing downloads, cancellation, failures.
 * A small in-test registry (node:http on loopback) serves the content.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { sha256Digest } from "./digest.js";
import { MediaType } from "./manifest.js";
import type { RegistryConfig } from "./registry-config.js";
import { FileImageStore } from "./store.js";
import { buildTar } from "./tar-writer.js";

interface FakeImage {
  readonly manifest: Buffer;
  readonly manifestDigest: string;
  readonly config: Buffer;
  readonly configDigest: string;
  readonly layer: Buffer;
  readonly layerDigest: string;
}

function makeImage(content: string, layerMediaType: string = MediaType.OciLayerGzip): FakeImage {
  const tar = buildTar([{ path: "hello.txt", type: "file", body: content }]);
  const layer = gzipSync(tar);
  const config = Buffer.from(JSON.stringify({ os: "linux", architecture: "amd64", config: { Cmd: ["cat", "/hello.txt"] }, rootfs: { type: "layers", diff_ids: [sha256Digest(tar)] } }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: sha256Digest(config), size: config.length },
      layers: [{ mediaType: layerMediaType, digest: sha256Digest(layer), size: layer.length }],
    }),
  );
  return { manifest, manifestDigest: sha256Digest(manifest), config, configDigest: sha256Digest(config), layer, layerDigest: sha256Digest(layer) };
}

/** A registry in a few lines: manifests by tag or digest, blobs by digest, with hooks to misbehave. */
class FakeRegistry {
  readonly manifests = new Map<string, { body: Buffer; headers?: Record<string, string> }>();
  readonly blobs = new Map<string, Buffer>();
  readonly requests: string[] = [];
  /** When set, blob responses wait for it. */
  gate: Promise<void> | undefined;
  manifestStatus: number | undefined;
  /** Blob paths answered with a redirect to /storage/… */
  redirectBlobs = false;
  private server: Server | undefined;
  private blobSeen: (() => void)[] = [];
  port = 0;

  add(repo: string, tag: string, img: FakeImage): void {
    this.manifests.set(`${repo}/${tag}`, { body: img.manifest, headers: { "Docker-Content-Digest": img.manifestDigest } });
    this.manifests.set(`${repo}/${img.manifestDigest}`, { body: img.manifest });
    this.blobs.set(img.configDigest, img.config);
    this.blobs.set(img.layerDigest, img.layer);
  }

  /** Resolves once a blob request for anything has arrived. */
  nextBlobRequest(): Promise<void> {
    return new Promise((r) => this.blobSeen.push(r));
  }

  /** Requests whose path ends with `suffix`. */
  count(suffix: string): number {
    return this.requests.filter((r) => r.endsWith(suffix)).length;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    this.port = (this.server.address() as { port: number }).port;
  }

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  config(): RegistryConfig {
    return { mirrors: { [this.host]: { endpoint: [`http://${this.host}`] } }, configs: {} };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? "";
    this.requests.push(`${req.method} ${url}`);
    if (url === "/v2/") return void res.writeHead(200).end("{}");
    const storage = /^\/storage\/(sha256:[a-f0-9]{64})$/.exec(url);
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url);
    if (m?.[2] === "manifests") {
      if (this.manifestStatus) return void res.writeHead(this.manifestStatus).end();
      const hit = this.manifests.get(`${m[1]}/${m[3]}`);
      if (!hit) return void res.writeHead(404, { "Content-Type": "application/json" }).end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
      res.writeHead(200, { "Content-Type": MediaType.OciManifest, ...hit.headers });
      return void res.end(hit.body);
    }
    const digest = storage?.[1] ?? (m?.[2] === "blobs" ? m[3] : undefined);
    if (digest) {
      for (const r of this.blobSeen.splice(0)) r();
      if (this.redirectBlobs && !storage) return void res.writeHead(307, { Location: `/storage/${digest}` }).end();
      const body = this.blobs.get(digest);
      if (!body) return void res.writeHead(404).end();
      if (this.gate) {
        res.writeHead(200, { "Content-Length": body.length });
        res.write(body.subarray(0, 1));
        await this.gate;
        return void res.end(body.subarray(1));
      }
      return void res.writeHead(200, { "Content-Length": body.length }).end(body);
    }
    res.writeHead(404).end();
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

let base: string;
before(() => {
  base = mkdtempSync(join(tmpdir(), "skiff-pull-"));
});
after(() => rmSync(base, { recursive: true, force: true }));

let n = 0;
function storeFor(reg: FakeRegistry): { store: FileImageStore; root: string } {
  const root = join(base, `store${n++}`);
  return { store: new FileImageStore({ root, registryConfig: reg.config(), platform: { os: "linux", architecture: "amd64" } }), root };
}

async function withRegistry(fn: (reg: FakeRegistry) => Promise<void>): Promise<void> {
  const reg = new FakeRegistry();
  await reg.start();
  try {
    await fn(reg);
  } finally {
    reg.gate = undefined;
    await reg.stop();
  }
}

describe("pull verification", () => {
  it("rejects a layer whose content does not match its digest, storing nothing", () =>
    withRegistry(async (reg) => {
      const img = makeImage("good");
      reg.add("app", "v1", img);
      reg.blobs.set(img.layerDigest, gzipSync(buildTar([{ path: "hello.txt", type: "file", body: "evil" }])));
      const { store, root } = storeFor(reg);
      const r = await store.pull(`${reg.host}/app:v1`);
      assert.ok(!r.ok);
      assert.equal(r.error.code, "FailedPrecondition");
      assert.match(r.error.message, /^failed to pull and unpack image "127\.0\.0\.1:\d+\/app:v1": failed to copy sha256:[a-f0-9]{64}: unexpected (size|commit digest)/);
      assert.equal(readdirSync(join(root, "blobs/sha256")).includes(img.layerDigest.slice(7)), false);
      assert.deepEqual(readdirSync(join(root, "ingest")), []);
      assert.deepEqual(await store.listImages(), { ok: true, value: [] });
    }));

  it("rejects a manifest that does not match the digest it was asked by, or the one the registry announced", () =>
    withRegistry(async (reg) => {
      const img = makeImage("x");
      const other = makeImage("y");
      reg.add("app", "v1", img);
      reg.manifests.set(`app/${img.manifestDigest}`, { body: other.manifest });
      const { store } = storeFor(reg);
      const byDigest = await store.pull(`${reg.host}/app@${img.manifestDigest}`);
      assert.ok(!byDigest.ok);
      assert.equal(byDigest.error.code, "FailedPrecondition");
      assert.match(byDigest.error.message, /manifest digest mismatch: got sha256:[a-f0-9]{64}, expected sha256:/);
      reg.manifests.set("app/v2", { body: img.manifest, headers: { "Docker-Content-Digest": other.manifestDigest } });
      const byTag = await store.pull(`${reg.host}/app:v2`);
      assert.ok(!byTag.ok);
      assert.match(byTag.error.message, /manifest digest mismatch: registry says/);
    }));

  it("pulls through blob redirects and reports progress up to the total", () =>
    withRegistry(async (reg) => {
      const img = makeImage("redirected");
      reg.add("app", "v1", img);
      reg.redirectBlobs = true;
      const { store } = storeFor(reg);
      const seen: { doneBytes: number; totalBytes: number }[] = [];
      const r = await store.pull(`${reg.host}/app:v1`, { onProgress: (p) => seen.push(p) });
      assert.deepEqual(r, { ok: true, value: `${reg.host}/app@${img.manifestDigest}` });
      assert.equal(reg.requests.filter((r) => r.startsWith("GET /storage/")).length, 2);
      const last = seen.at(-1)!;
      assert.equal(last.totalBytes, img.config.length + img.layer.length);
      assert.equal(last.doneBytes, last.totalBytes);
      const st = await store.imageStatus(`${reg.host}/app:v1`);
      assert.ok(st.ok && st.value);
      assert.equal(st.value.id, img.configDigest);
      assert.equal(st.value.size, img.manifest.length + img.config.length + img.layer.length);
    }));

  it("shares one download between overlapping pulls of an image and of another tag with the same layer", () =>
    withRegistry(async (reg) => {
      const img = makeImage("shared");
      reg.add("app", "v1", img);
      reg.add("app", "v1-again", img);
      let open!: () => void;
      reg.gate = new Promise<void>((r) => (open = r));
      const { store } = storeFor(reg);
      const firstBlob = reg.nextBlobRequest();
      const a = store.pull(`${reg.host}/app:v1`);
      await firstBlob;
      const b = store.pull(`${reg.host}/app:v1`);
      const c = store.pull(`${reg.host}/app:v1-again`);
      // c resolves its own tag while a's download hangs; its blobs then join a's download or find them stored.
      while (reg.count("/manifests/v1-again") === 0) await new Promise((r) => setTimeout(r, 5));
      open();
      const results = await Promise.all([a, b, c]);
      for (const r of results) assert.ok(r.ok, JSON.stringify(r));
      assert.equal(reg.count(`/blobs/${img.layerDigest}`), 1, "one layer download");
      assert.equal(reg.count(`/blobs/${img.configDigest}`), 1, "one config download");
      assert.equal(reg.count("/manifests/v1"), 1, "overlapping pulls of one reference are one pull");
      assert.equal(reg.count("/manifests/v1-again"), 1);
      const st = await store.imageStatus(img.configDigest);
      assert.ok(st.ok && st.value);
      assert.deepEqual([...st.value.repoTags].sort(), [`${reg.host}/app:v1`, `${reg.host}/app:v1-again`]);
    }));

  it("stops a pull when its signal fires, leaving no partial blob", () =>
    withRegistry(async (reg) => {
      const img = makeImage("slow");
      reg.add("app", "v1", img);
      reg.gate = new Promise<void>(() => {});
      const { store, root } = storeFor(reg);
      const ac = new AbortController();
      const blobAsked = reg.nextBlobRequest();
      const p = store.pull(`${reg.host}/app:v1`, { signal: ac.signal });
      await blobAsked;
      ac.abort();
      const r = await p;
      assert.deepEqual(r, { ok: false, error: { code: "Unknown", message: "context canceled" } });
      // The shared download is aborted too (no waiter left); its temporary file goes away.
      for (let i = 0; i < 200 && readdirSync(join(root, "ingest")).length > 0; i++) await new Promise((res) => setTimeout(res, 10));
      assert.deepEqual(readdirSync(join(root, "ingest")), []);
      const timedOut = await store.pull(`${reg.host}/app:v1`, { signal: AbortSignal.abort(new DOMException("t", "TimeoutError")) });
      assert.ok(!timedOut.ok && timedOut.error.code === "DeadlineExceeded");
    }));

  it("maps registry failures to codes", () =>
    withRegistry(async (reg) => {
      const { store } = storeFor(reg);
      const missing = await store.pull(`${reg.host}/nope:v1`);
      assert.deepEqual(missing, {
        ok: false,
        error: {
          code: "NotFound",
          message: `failed to pull and unpack image "${reg.host}/nope:v1": failed to resolve reference "${reg.host}/nope:v1": ${reg.host}/nope:v1: not found`,
        },
      });
      reg.manifestStatus = 503;
      const down = await store.pull(`${reg.host}/app:v1`);
      assert.ok(!down.ok && down.error.code === "Unavailable");
      assert.match(down.error.message, /unexpected status from GET request to http:\/\/127\.0\.0\.1:\d+\/v2\/app\/manifests\/v1: 503 Service Unavailable$/);
      reg.manifestStatus = undefined;
      const zstd = makeImage("z", MediaType.OciLayerZstd);
      reg.add("zstd", "v1", zstd);
      const z = await store.pull(`${reg.host}/zstd:v1`);
      assert.ok(!z.ok && z.error.code === "Unimplemented" && /zstd/.test(z.error.message));
      const bad = await store.pull("not a reference");
      assert.deepEqual(bad, { ok: false, error: { code: "InvalidArgument", message: 'failed to parse image reference "not a reference": invalid reference format' } });
    }));

  it("says Unavailable with Go's words when nothing listens", async () => {
    const reg = new FakeRegistry();
    await reg.start();
    const host = reg.host;
    const cfg = reg.config();
    await reg.stop();
    const store = new FileImageStore({ root: join(base, `store${n++}`), registryConfig: cfg });
    const r = await store.pull(`${host}/app:v1`);
    assert.ok(!r.ok);
    assert.equal(r.error.code, "Unavailable");
    assert.equal(
      r.error.message,
      `failed to pull and unpack image "${host}/app:v1": failed to resolve reference "${host}/app:v1": failed to do request: Get "http://${host}/v2/app/manifests/v1": dial tcp ${host}: connect: connection refused`,
    );
  });
});
