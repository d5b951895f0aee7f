/**
 * Fetching an image from a registry into the content store: resolve the
 * reference on the first endpoint that has it (mirrors, then the registry
 * itself, as containerd), pick this platform's manifest from an index,
 * then fetch config and layers, each verified against its digest. Errors
 * read as containerd's, with the code the kubelet acts on.
 */
import type { Logger } from "../../machinery/log.js";
import type { AuthConfig } from "../types.js";
import { pickCredentials } from "./auth.js";
import type { ContentStore } from "./content-store.js";
import { sha256Digest } from "./digest.js";
import {
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  layerCompression,
  MediaType,
  type ParsedImageConfig,
  type Platform,
  parseImageConfig,
  parseManifest,
  selectPlatform,
} from "./manifest.js";
import { abortError, ImageError, throwIfAborted } from "./pull-error.js";
import { formatReference, type ImageReference } from "./reference.js";
import { type RegistryConfig, registryEndpoints, rewriteRepository } from "./registry-config.js";
import { RegistryClient } from "./registry-client.js";
import type { SharedWork } from "./shared-work.js";

const MAX_CONFIG_BYTES = 32 << 20;
const MAX_INDEX_DEPTH = 4;

/** What a pull needs from the store. */
export interface PullContext {
  readonly content: ContentStore;
  readonly registryConfig: RegistryConfig;
  readonly defaultEndpoint?: (domain: string) => string;
  readonly platform: Platform;
  /** Blob downloads in flight, shared between pulls. */
  readonly downloads: SharedWork<string, void>;
  readonly maxConcurrentDownloads: number;
  readonly log: Logger;
}

/** An image whose content is now in the store. */
export interface FetchedImage {
  /** The digest the reference resolved to (an index or a manifest): what repoDigests record. */
  readonly topDigest: string;
  readonly configDigest: string;
  readonly config: ParsedImageConfig;
  readonly layers: readonly Descriptor[];
  /** Manifest(s), config and layers. */
  readonly blobs: readonly string[];
  /** Bytes of the platform manifest, config and layers. */
  readonly size: number;
}

export interface FetchOptions {
  readonly auth?: AuthConfig;
  readonly signal: AbortSignal;
  readonly onProgress?: (doneBytes: number, totalBytes: number) => void;
}

/** Resolves `ref` on the first endpoint that has it; the client stays bound to that endpoint. */
async function resolve(ctx: PullContext, ref: ImageReference, opts: FetchOptions) {
  const name = formatReference(ref);
  const endpoints = registryEndpoints(ctx.registryConfig, ref.domain, ctx.defaultEndpoint);
  let firstErr: ImageError | undefined;
  for (const endpoint of endpoints) {
    const client = new RegistryClient({
      endpoint,
      repository: rewriteRepository(ref.path, endpoint.rewrite),
      credentials: pickCredentials(opts.auth, endpoint.auth),
      signal: opts.signal,
    });
    try {
      const m = await client.getManifest(ref.digest ?? ref.tag!);
      return { client, manifest: m };
    } catch (err) {
      throwIfAborted(opts.signal);
      if (!(err instanceof ImageError)) throw err;
      ctx.log.debug("trying next host", { image: name, host: endpoint.host, error: err.message });
      // As containerd: a 404 moves on silently; the first other error is what the user sees.
      if (err.code !== "NotFound") firstErr ??= err;
    }
  }
  throw (firstErr ?? new ImageError("NotFound", `${name}: not found`)).wrap(`failed to resolve reference "${name}"`);
}

/** Checks a fetched manifest against what named it. */
function verifyManifest(body: Buffer, expected: { digest?: string; header?: string; size?: number }): string {
  const digest = sha256Digest(body);
  if (expected.digest !== undefined && digest !== expected.digest) {
    throw new ImageError("FailedPrecondition", `manifest digest mismatch: got ${digest}, expected ${expected.digest}`);
  }
  if (expected.header !== undefined && expected.header !== digest) {
    throw new ImageError("FailedPrecondition", `manifest digest mismatch: registry says ${expected.header}, content is ${digest}`);
  }
  if (expected.size !== undefined && body.length !== expected.size) {
    throw new ImageError("FailedPrecondition", `manifest ${digest}: size ${body.length}, expected ${expected.size}`);
  }
  return digest;
}

function unwrap<T>(r: { ok: true; value: T } | { ok: false; error: { code: ImageError["code"]; message: string } }): T {
  if (!r.ok) throw new ImageError(r.error.code, r.error.message);
  return r.value;
}

/** Fetches `ref` (content only; unpacking and naming are the store's). */
export async function fetchImage(ctx: PullContext, ref: ImageReference, opts: FetchOptions): Promise<FetchedImage> {
  const { client, manifest: top } = await resolve(ctx, ref, opts);
  const topDigest = verifyManifest(top.body, { digest: ref.digest, header: top.digestHeader });
  const blobs: string[] = [];
  await storeBuffer(ctx, topDigest, top.body);
  blobs.push(topDigest);
  let doc: ImageManifest | ImageIndex = unwrap(parseManifest(top.body, top.contentType));
  let manifestBytes = top.body.length;
  for (let depth = 0; doc.kind === "index"; depth++) {
    if (depth >= MAX_INDEX_DEPTH) throw new ImageError("InvalidArgument", "image index nested too deeply");
    const entry = selectPlatform(doc, ctx.platform);
    if (!entry) {
      const p = ctx.platform;
      throw new ImageError("NotFound", `no match for platform in manifest: ${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}: not found`);
    }
    const m = await client.getManifest(entry.digest);
    verifyManifest(m.body, { digest: entry.digest, size: entry.size });
    await storeBuffer(ctx, entry.digest, m.body);
    blobs.push(entry.digest);
    doc = unwrap(parseManifest(m.body, entry.mediaType));
    manifestBytes = m.body.length;
  }
  const manifest = doc;
  if (manifest.config.mediaType !== MediaType.OciConfig && manifest.config.mediaType !== MediaType.DockerConfig) {
    throw new ImageError("Unimplemented", `unsupported config media type ${manifest.config.mediaType}: not a container image`);
  }
  for (const l of manifest.layers) unwrap(layerCompression(l.mediaType));

  const total = manifest.config.size + manifest.layers.reduce((s, l) => s + l.size, 0);
  let done = 0;
  const progress = (n: number) => {
    done += n;
    opts.onProgress?.(done, total);
  };
  await fetchBlob(ctx, client, manifest.config, progress, opts.signal);
  const config = unwrap(parseImageConfig(await ctx.content.read(manifest.config.digest, MAX_CONFIG_BYTES)));
  if (config.diffIds.length !== manifest.layers.length) {
    throw new ImageError(
      "InvalidArgument",
      `mismatched image rootfs and manifest layers: ${config.diffIds.length} diff ids, ${manifest.layers.length} layers`,
    );
  }
  // A bounded number of layer downloads at once.
  const queue = [...manifest.layers];
  const workers = Array.from({ length: Math.max(1, Math.min(ctx.maxConcurrentDownloads, queue.length)) }, async () => {
    for (let l = queue.shift(); l; l = queue.shift()) await fetchBlob(ctx, client, l, progress, opts.signal);
  });
  await Promise.all(workers);
  blobs.push(manifest.config.digest, ...manifest.layers.map((l) => l.digest));
  return {
    topDigest,
    configDigest: manifest.config.digest,
    config,
    layers: manifest.layers,
    blobs: [...new Set(blobs)],
    size: manifestBytes + total,
  };
}

async function storeBuffer(ctx: PullContext, digest: string, body: Buffer): Promise<void> {
  if ((await ctx.content.size(digest)) === body.length) return;
  await ctx.content.writeBuffer({ digest, size: body.length }, body);
}

/** Downloads one blob unless present, sharing a download already running for it. */
async function fetchBlob(ctx: PullContext, client: RegistryClient, desc: Descriptor, progress: (n: number) => void, signal: AbortSignal): Promise<void> {
  if ((await ctx.content.size(desc.digest)) === desc.size) {
    progress(desc.size);
    return;
  }
  let mine = false;
  await ctx.downloads.run(
    desc.digest,
    async (sig) => {
      mine = true;
      const res = await client.openBlob(desc.digest);
      const onAbort = () => res.body.destroy();
      sig.addEventListener("abort", onAbort, { once: true });
      try {
        await ctx.content.ingest({ digest: desc.digest, size: desc.size }, res.body as AsyncIterable<Buffer>, progress, sig);
      } catch (err) {
        if (sig.aborted) throw abortError(sig);
        throw err;
      } finally {
        sig.removeEventListener("abort", onAbort);
      }
    },
    signal,
  );
  // Someone else's download: its bytes count for this pull once it is done.
  if (!mine) progress(desc.size);
}
