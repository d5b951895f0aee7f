/**
 * Registry storage on disk, content-addressed as distribution's filesystem driver:
 *
 * - `blobs/sha256/<xx>/<hex>`: every blob and manifest, once, named by its digest.
 * - `repositories/<name>/_layers/sha256/<hex>`: link files; a repository serves
 *   only the blobs it links (pushed, mounted, or referenced by its manifests).
 * - `repositories/<name>/_manifests/revisions/sha256/<hex>`: the manifests it holds.
 * - `repositories/<name>/_manifests/tags/<tag>`: the digest the tag points at.
 * - `_uploads/<uuid>/{data,info.json}`: upload sessions, resumable across restarts.
 *
 * Every write is a temp file + fsync + rename, so a crash leaves either the
 * old or the new file. Repository name components never start with `_`
 * (the name grammar forbids it), so `_layers`/`_manifests` cannot collide.
 */
import { createHash, randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, utimes } from "node:fs/promises";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";

/** Repository names, as the distribution spec's grammar. */
export const NAME_RE = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/;
export const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/** Only sha256 digests are stored (what every client pushes). */
export const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;
/** Any digest the spec's grammar allows (checked before saying "unsupported algorithm"). */
export const ANY_DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export function sha256Digest(data: Uint8Array): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

const hexOf = (digest: string) => digest.slice("sha256:".length);

/** State of an upload session. */
export interface UploadInfo {
  readonly uuid: string;
  readonly repo: string;
  readonly startedAt: string;
}

/** Writes `data` to `path` atomically: temp file beside it, fsync, rename. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${randomUUID()}`;
  const fh = await open(tmp, "w", 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function readLink(path: string): Promise<string | undefined> {
  try {
    const s = (await readFile(path, "utf8")).trim();
    return DIGEST_RE.test(s) ? s : undefined;
  } catch {
    return undefined;
  }
}

async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch {
    return [];
  }
}

/** The registry's files under one directory; see the file header for the layout. */
export class RegistryStorage {
  constructor(readonly dir: string) {}

  blobPath(digest: string): string {
    const hex = hexOf(digest);
    return join(this.dir, "blobs", "sha256", hex.slice(0, 2), hex);
  }
  private repoDir(repo: string): string {
    return join(this.dir, "repositories", ...repo.split("/"));
  }
  private layerLink(repo: string, digest: string): string {
    return join(this.repoDir(repo), "_layers", "sha256", hexOf(digest));
  }
  private revisionLink(repo: string, digest: string): string {
    return join(this.repoDir(repo), "_manifests", "revisions", "sha256", hexOf(digest));
  }
  private tagFile(repo: string, tag: string): string {
    return join(this.repoDir(repo), "_manifests", "tags", tag);
  }
  uploadDir(uuid: string): string {
    return join(this.dir, "_uploads", uuid);
  }

  /** Size of the stored blob, or undefined when the store does not have it. */
  async blobSize(digest: string): Promise<number | undefined> {
    try {
      return (await stat(this.blobPath(digest))).size;
    } catch {
      return undefined;
    }
  }

  /** Whether `repo` may serve `digest` (linked there) and the blob is present; its size then. */
  async repoBlobSize(repo: string, digest: string): Promise<number | undefined> {
    if (!(await exists(this.layerLink(repo, digest))) && !(await exists(this.revisionLink(repo, digest)))) return undefined;
    return this.blobSize(digest);
  }

  /**
   * Links a stored blob into `repo` and refreshes its mtime: the garbage
   * collector keeps blobs younger than its grace period, so a blob pushed
   * (or mounted) just before a manifest that references it survives a
   * concurrent collection.
   */
  async linkBlob(repo: string, digest: string): Promise<void> {
    await this.touch(digest);
    await writeFileAtomic(this.layerLink(repo, digest), digest);
  }

  async touch(digest: string): Promise<void> {
    const now = new Date();
    try {
      await utimes(this.blobPath(digest), now, now);
    } catch {
      // absent blobs are reported by the callers that need them
    }
  }

  async unlinkBlob(repo: string, digest: string): Promise<boolean> {
    try {
      await unlink(this.layerLink(repo, digest));
      return true;
    } catch {
      return false;
    }
  }

  /** Stores `data` as a blob (content-addressed; a no-op besides the mtime when present). */
  async putBlob(data: Uint8Array): Promise<string> {
    const digest = sha256Digest(data);
    if ((await this.blobSize(digest)) === undefined) await writeFileAtomic(this.blobPath(digest), data);
    else await this.touch(digest);
    return digest;
  }

  // ---- manifests and tags

  async putManifest(repo: string, body: Uint8Array, tag?: string): Promise<string> {
    const digest = await this.putBlob(body);
    await writeFileAtomic(this.revisionLink(repo, digest), digest);
    if (tag !== undefined) await writeFileAtomic(this.tagFile(repo, tag), digest);
    return digest;
  }

  async hasManifest(repo: string, digest: string): Promise<boolean> {
    return (await exists(this.revisionLink(repo, digest))) && (await this.blobSize(digest)) !== undefined;
  }

  async getManifest(repo: string, digest: string): Promise<Buffer | undefined> {
    if (!(await exists(this.revisionLink(repo, digest)))) return undefined;
    try {
      return await readFile(this.blobPath(digest));
    } catch {
      return undefined;
    }
  }

  async resolveTag(repo: string, tag: string): Promise<string | undefined> {
    return readLink(this.tagFile(repo, tag));
  }

  /** Removes a manifest revision and every tag that points at it; false when the repository does not hold it. */
  async deleteManifest(repo: string, digest: string): Promise<boolean> {
    try {
      await unlink(this.revisionLink(repo, digest));
    } catch {
      return false;
    }
    for (const tag of await this.tags(repo)) {
      if ((await this.resolveTag(repo, tag)) === digest) await rm(this.tagFile(repo, tag), { force: true });
    }
    return true;
  }

  async deleteTag(repo: string, tag: string): Promise<boolean> {
    if ((await this.resolveTag(repo, tag)) === undefined) return false;
    await rm(this.tagFile(repo, tag), { force: true });
    return true;
  }

  async tags(repo: string): Promise<string[]> {
    return (await listDir(join(this.repoDir(repo), "_manifests", "tags"))).filter((t) => TAG_RE.test(t)).sort();
  }

  async manifestDigests(repo: string): Promise<string[]> {
    return (await listDir(join(this.repoDir(repo), "_manifests", "revisions", "sha256")))
      .filter((h) => /^[a-f0-9]{64}$/.test(h))
      .map((h) => `sha256:${h}`);
  }

  async layerDigests(repo: string): Promise<string[]> {
    return (await listDir(join(this.repoDir(repo), "_layers", "sha256")))
      .filter((h) => /^[a-f0-9]{64}$/.test(h))
      .map((h) => `sha256:${h}`);
  }

  async repositoryExists(repo: string): Promise<boolean> {
    return (await exists(join(this.repoDir(repo), "_manifests"))) || (await exists(join(this.repoDir(repo), "_layers")));
  }

  /** Every repository name, sorted (the catalog). */
  async repositories(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string, prefix: string[]): Promise<void> => {
      const entries = await listDir(dir);
      if (prefix.length > 0 && (entries.includes("_manifests") || entries.includes("_layers"))) out.push(prefix.join("/"));
      for (const e of entries) {
        if (e.startsWith("_")) continue;
        const p = join(dir, e);
        try {
          if ((await stat(p)).isDirectory()) await walk(p, [...prefix, e]);
        } catch {
          // removed meanwhile
        }
      }
    };
    await walk(join(this.dir, "repositories"), []);
    return out.sort();
  }

  // ---- upload sessions

  async createUpload(repo: string): Promise<UploadInfo> {
    const info: UploadInfo = { uuid: randomUUID(), repo, startedAt: new Date().toISOString() };
    const d = this.uploadDir(info.uuid);
    await mkdir(d, { recursive: true });
    await writeFileAtomic(join(d, "data"), "");
    await writeFileAtomic(join(d, "info.json"), JSON.stringify(info));
    return info;
  }

  /** The session, when it exists and belongs to `repo`. */
  async getUpload(repo: string, uuid: string): Promise<(UploadInfo & { size: number }) | undefined> {
    if (!/^[0-9a-f-]{36}$/.test(uuid)) return undefined;
    try {
      const info = JSON.parse(await readFile(join(this.uploadDir(uuid), "info.json"), "utf8")) as UploadInfo;
      if (info.repo !== repo) return undefined;
      const size = (await stat(join(this.uploadDir(uuid), "data"))).size;
      return { ...info, size };
    } catch {
      return undefined;
    }
  }

  /** Appends a request body to the session's data; returns the new size. */
  async appendUpload(uuid: string, body: NodeJS.ReadableStream): Promise<number> {
    const path = join(this.uploadDir(uuid), "data");
    const fh = await open(path, "a");
    try {
      for await (const chunk of body) {
        const b = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
        await fh.write(b);
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    return (await stat(path)).size;
  }

  /** sha256 of the session's data so far. */
  async uploadDigest(uuid: string): Promise<string> {
    const h = createHash("sha256");
    await pipeline(createReadStream(join(this.uploadDir(uuid), "data")), h);
    return `sha256:${h.digest("hex")}`;
  }

  /** Moves the session's data into the blob store (rename: same filesystem) and links it into `repo`. */
  async commitUpload(repo: string, uuid: string, digest: string): Promise<void> {
    const target = this.blobPath(digest);
    if ((await this.blobSize(digest)) === undefined) {
      await mkdir(dirname(target), { recursive: true });
      await rename(join(this.uploadDir(uuid), "data"), target);
    }
    await this.linkBlob(repo, digest);
    await this.cancelUpload(uuid);
  }

  async cancelUpload(uuid: string): Promise<void> {
    await rm(this.uploadDir(uuid), { recursive: true, force: true });
  }

  /** Removes sessions started more than `maxAgeMs` ago; returns how many. */
  async purgeUploads(maxAgeMs: number, now = Date.now()): Promise<number> {
    let n = 0;
    for (const uuid of await listDir(join(this.dir, "_uploads"))) {
      let started: number;
      try {
        const info = JSON.parse(await readFile(join(this.uploadDir(uuid), "info.json"), "utf8")) as UploadInfo;
        started = Date.parse(info.startedAt);
      } catch {
        // a session without its info file: age it by the directory
        started = (await stat(this.uploadDir(uuid)).catch(() => ({ mtimeMs: 0 }))).mtimeMs;
      }
      if (!(now - started < maxAgeMs)) {
        await this.cancelUpload(uuid);
        n++;
      }
    }
    return n;
  }

  /** Every stored blob digest with its mtime. */
  async allBlobs(): Promise<{ digest: string; mtimeMs: number }[]> {
    const out: { digest: string; mtimeMs: number }[] = [];
    const root = join(this.dir, "blobs", "sha256");
    for (const xx of await listDir(root)) {
      for (const hex of await listDir(join(root, xx))) {
        if (!/^[a-f0-9]{64}$/.test(hex)) continue;
        try {
          out.push({ digest: `sha256:${hex}`, mtimeMs: (await stat(join(root, xx, hex))).mtimeMs });
        } catch {
          // removed meanwhile
        }
      }
    }
    return out;
  }

  /** The blob's mtime now, or undefined when it is gone. */
  async blobMtime(digest: string): Promise<number | undefined> {
    try {
      return (await stat(this.blobPath(digest))).mtimeMs;
    } catch {
      return undefined;
    }
  }

  async removeBlob(digest: string): Promise<void> {
    await rm(this.blobPath(digest), { force: true });
  }
}
