/**
 * Reading image archives into the content store: OCI image layouts
 * (`oci-layout`, `index.json`, `blobs/sha256/…`; names from the
 * `io.containerd.image.name` or `org.opencontainers.image.ref.name`
 * annotation) and docker-archives (`docker save`: `manifest.json` with
 * Config, RepoTags, Layers). Either as tar or tar.gz.
 *
 * The archive is first extracted into a private directory with the same
 * hardened extractor as layers (nothing lands outside it; links inside it
 * resolve inside it), then every file is read through paths resolved
 * within that directory, and every blob is checked against its digest.
 */
import { createReadStream } from "node:fs";
import { mkdir, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../../machinery/log.js";
import { type ContentStore, removeStaleTemps, tempName } from "./content-store.js";
import { digestHex, isDigest, sha256Digest } from "./digest.js";
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
import { ImageError } from "./pull-error.js";
import { parseReference, InvalidReferenceError, repository, taggedName } from "./reference.js";
import { cleanEntryName, resolveInRoot } from "./safe-path.js";
import { applyLayer } from "./unpack.js";

/** Annotations naming an image in an OCI layout. */
const ANNOTATION_IMAGE_NAME = "io.containerd.image.name";
const ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name";
const MAX_JSON_BYTES = 32 << 20;

/** One image found in an archive, its content already in the store. */
export interface ArchiveImage {
  readonly configDigest: string;
  readonly config: ParsedImageConfig;
  readonly layers: readonly string[];
  readonly blobs: readonly string[];
  readonly size: number;
  /** Fully qualified `repo:tag`, when the archive names the image. */
  readonly repoTag?: string;
  /** `repo@sha256:<manifest>` when the archive gives both a name and a manifest. */
  readonly repoDigest?: string;
}

export interface ImportContext {
  readonly content: ContentStore;
  /** Where the archive is extracted (on the store's filesystem, so blobs move in by rename). */
  readonly tmpDir: string;
  readonly platform: Platform;
  readonly log: Logger;
}

function unwrap<T>(r: { ok: true; value: T } | { ok: false; error: { code: ImageError["code"]; message: string } }): T {
  if (!r.ok) throw new ImageError(r.error.code, r.error.message);
  return r.value;
}

class Extracted {
  constructor(readonly dir: string) {}

  async path(name: string): Promise<string> {
    return resolveInRoot(this.dir, cleanEntryName(name));
  }

  async exists(name: string): Promise<boolean> {
    return (await stat(await this.path(name)).catch(() => undefined))?.isFile() === true;
  }

  async json(name: string): Promise<unknown> {
    const p = await this.path(name);
    const st = await stat(p).catch(() => undefined);
    if (!st?.isFile()) throw new ImageError("InvalidArgument", `invalid archive: ${name} is missing`);
    if (st.size > MAX_JSON_BYTES) throw new ImageError("InvalidArgument", `invalid archive: ${name} is too large`);
    try {
      return JSON.parse(await readFile(p, "utf8"));
    } catch {
      throw new ImageError("InvalidArgument", `invalid archive: ${name} is not JSON`);
    }
  }

  async buffer(name: string): Promise<Buffer> {
    const p = await this.path(name);
    const st = await stat(p).catch(() => undefined);
    if (!st?.isFile()) throw new ImageError("InvalidArgument", `invalid archive: ${name} is missing`);
    if (st.size > MAX_JSON_BYTES) throw new ImageError("InvalidArgument", `invalid archive: ${name} is too large`);
    return readFile(p);
  }
}

/** Reads every image of the archive `file` into the content store. */
export async function importArchive(ctx: ImportContext, file: string): Promise<ArchiveImage[]> {
  const st = await stat(file).catch(() => undefined);
  if (!st?.isFile()) throw new ImageError("NotFound", `open ${file}: no such file`);
  await mkdir(ctx.tmpDir, { recursive: true });
  await removeStaleTemps(ctx.tmpDir);
  const dir = join(ctx.tmpDir, tempName("import"));
  await mkdir(dir, { mode: 0o700 });
  try {
    const input = createReadStream(file);
    await applyLayer({ root: dir, input, preserveOwner: false }).catch((err: unknown) => {
      input.destroy();
      if (err instanceof ImageError) throw err.wrap(`failed to read archive ${file}`);
      throw err;
    });
    const x = new Extracted(dir);
    if (await x.exists("index.json")) return await importOciLayout(ctx, x);
    if (await x.exists("manifest.json")) return await importDockerArchive(ctx, x);
    throw new ImageError("InvalidArgument", `${file}: not an image archive: neither index.json (OCI layout) nor manifest.json (docker-archive) found`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function adoptBlob(ctx: ImportContext, x: Extracted, digest: string, size?: number): Promise<void> {
  if (!isDigest(digest)) throw new ImageError("InvalidArgument", `invalid archive: unsupported digest ${digest}`);
  const name = `blobs/sha256/${digestHex(digest)}`;
  const p = await x.path(name);
  const st = await stat(p).catch(() => undefined);
  if (!st?.isFile()) {
    if ((await ctx.content.size(digest)) !== undefined) return; // already stored (archives may leave shared layers out)
    throw new ImageError("InvalidArgument", `invalid archive: blob ${digest} is missing`);
  }
  if (size !== undefined && st.size !== size) throw new ImageError("FailedPrecondition", `blob ${digest}: size ${st.size}, expected ${size}`);
  await ctx.content.adoptFile(p, digest);
}

/** Fully qualified `repo:tag` of an annotation value, or undefined when it names no repository. */
function nameFromAnnotations(ann: Readonly<Record<string, string>> | undefined, log: Logger): { tag?: string; repo?: string } {
  const full = ann?.[ANNOTATION_IMAGE_NAME];
  const refName = ann?.[ANNOTATION_REF_NAME];
  const candidate = full ?? (refName && /[/:@]/.test(refName) ? refName : undefined);
  if (!candidate) {
    if (refName) log.warn("image in archive imported without a name: its ref.name is a bare tag", { refName });
    return {};
  }
  try {
    const ref = parseReference(candidate);
    return { tag: taggedName(ref), repo: repository(ref) };
  } catch (err) {
    if (err instanceof InvalidReferenceError) throw new ImageError("InvalidArgument", `invalid archive: image name ${JSON.stringify(candidate)}: ${err.message}`);
    throw err;
  }
}

async function importOciLayout(ctx: ImportContext, x: Extracted): Promise<ArchiveImage[]> {
  if (await x.exists("oci-layout")) {
    const layout = (await x.json("oci-layout")) as { imageLayoutVersion?: unknown };
    if (layout.imageLayoutVersion !== "1.0.0") throw new ImageError("InvalidArgument", `unsupported OCI layout version ${JSON.stringify(layout.imageLayoutVersion)}`);
  }
  const indexBody = await x.buffer("index.json");
  const index = unwrap(parseManifest(indexBody, MediaType.OciIndex));
  if (index.kind !== "index") throw new ImageError("InvalidArgument", "invalid archive: index.json is not an image index");
  const out: ArchiveImage[] = [];
  for (const top of index.manifests) {
    const named = nameFromAnnotations(top.annotations, ctx.log);
    const blobs: string[] = [];
    let desc: Descriptor = top;
    let doc: ImageManifest | ImageIndex | undefined;
    for (let depth = 0; depth < 4; depth++) {
      await adoptBlob(ctx, x, desc.digest, desc.size);
      blobs.push(desc.digest);
      doc = unwrap(parseManifest(await ctx.content.read(desc.digest, MAX_JSON_BYTES), desc.mediaType));
      if (doc.kind === "manifest") break;
      const entry = selectPlatform(doc, ctx.platform);
      if (!entry) throw new ImageError("NotFound", `no match for platform in manifest ${desc.digest}: not found`);
      desc = entry;
    }
    if (doc?.kind !== "manifest") throw new ImageError("InvalidArgument", "invalid archive: image index nested too deeply");
    const image = await importManifest(ctx, x, doc, desc.size);
    out.push({
      ...image,
      blobs: [...new Set([...blobs, ...image.blobs])],
      ...(named.tag ? { repoTag: named.tag } : {}),
      ...(named.repo ? { repoDigest: `${named.repo}@${top.digest}` } : {}),
    });
  }
  return out;
}

async function importManifest(ctx: ImportContext, x: Extracted, m: ImageManifest, manifestSize: number): Promise<Omit<ArchiveImage, "repoTag" | "repoDigest">> {
  if (m.config.mediaType !== MediaType.OciConfig && m.config.mediaType !== MediaType.DockerConfig) {
    throw new ImageError("Unimplemented", `unsupported config media type ${m.config.mediaType}: not a container image`);
  }
  for (const l of m.layers) unwrap(layerCompression(l.mediaType));
  await adoptBlob(ctx, x, m.config.digest, m.config.size);
  const config = unwrap(parseImageConfig(await ctx.content.read(m.config.digest, MAX_JSON_BYTES)));
  if (config.diffIds.length !== m.layers.length) {
    throw new ImageError("InvalidArgument", `mismatched image rootfs and manifest layers: ${config.diffIds.length} diff ids, ${m.layers.length} layers`);
  }
  for (const l of m.layers) await adoptBlob(ctx, x, l.digest, l.size);
  return {
    configDigest: m.config.digest,
    config,
    layers: m.layers.map((l) => l.digest),
    blobs: [m.config.digest, ...m.layers.map((l) => l.digest)],
    size: manifestSize + m.config.size + m.layers.reduce((s, l) => s + l.size, 0),
  };
}

interface DockerManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

async function importDockerArchive(ctx: ImportContext, x: Extracted): Promise<ArchiveImage[]> {
  const doc = await x.json("manifest.json");
  if (!Array.isArray(doc)) throw new ImageError("InvalidArgument", "invalid archive: manifest.json is not a list");
  const out: ArchiveImage[] = [];
  // A layer file may serve several images of the archive; it is moved into the store once.
  const adopted = new Map<string, string>();
  for (const [i, raw] of doc.entries()) {
    const e = raw as Partial<DockerManifestEntry>;
    if (typeof e.Config !== "string" || !Array.isArray(e.Layers) || e.Layers.some((l) => typeof l !== "string")) {
      throw new ImageError("InvalidArgument", `invalid archive: manifest.json[${i}] needs Config and Layers`);
    }
    const configBody = await x.buffer(e.Config);
    const configDigest = sha256Digest(configBody);
    const config = unwrap(parseImageConfig(configBody));
    if (config.diffIds.length !== e.Layers.length) {
      throw new ImageError("InvalidArgument", `mismatched image rootfs and manifest layers: ${config.diffIds.length} diff ids, ${e.Layers.length} layers`);
    }
    if ((await ctx.content.size(configDigest)) === undefined) await ctx.content.writeBuffer({ digest: configDigest, size: configBody.length }, configBody);
    const layers: string[] = [];
    let size = configBody.length;
    for (const l of e.Layers) {
      const p = await x.path(l);
      const st = adopted.has(p) ? { size: (await ctx.content.size(adopted.get(p)!)) ?? 0 } : await stat(p).catch(() => undefined);
      if (!st || ("isFile" in st && !st.isFile())) throw new ImageError("InvalidArgument", `invalid archive: layer ${l} is missing`);
      let digest = adopted.get(p);
      if (digest === undefined) {
        digest = (await ctx.content.adoptFile(p)).digest;
        adopted.set(p, digest);
      }
      layers.push(digest);
      size += st.size;
    }
    const tags: string[] = [];
    for (const t of e.RepoTags ?? []) {
      try {
        const tagged = taggedName(parseReference(t));
        if (tagged) tags.push(tagged);
      } catch (err) {
        if (err instanceof InvalidReferenceError) throw new ImageError("InvalidArgument", `invalid archive: RepoTags ${JSON.stringify(t)}: ${err.message}`);
        throw err;
      }
    }
    const base = { configDigest, config, layers, blobs: [configDigest, ...layers], size };
    if (tags.length === 0) out.push(base);
    for (const t of tags) out.push({ ...base, repoTag: t });
  }
  return out;
}
