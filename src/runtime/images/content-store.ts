/**
 * Content-addressed blobs under `<root>/blobs/sha256/<hex>`. A blob appears
 * there only whole and verified: it is written to `<root>/ingest/` first,
 * hashed on the way, checked against the expected digest and size, then
 * renamed into place. Temporary names carry the writer's pid, so leftovers
 * of a crashed process can be told from another process's work in progress.
 */
import { createReadStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat, utimes } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import { DigestCounter, digestHex } from "./digest.js";
import { abortError, ImageError } from "./pull-error.js";
import { processExists } from "../../machinery/process-exists.js";

/** What a blob download is checked against. */
export interface ExpectedBlob {
  readonly digest: string;
  /** Exact size when known (from a descriptor). */
  readonly size?: number;
}


/** A name for temporary files and directories: `<prefix>-<pid>-<random>`. */
export function tempName(prefix: string): string {
  return `${prefix}-${process.pid}-${randomBytes(6).toString("hex")}`;
}

/** Removes `<prefix>-<pid>-…` entries of `dir` whose process is gone. */
export async function removeStaleTemps(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /-(\d+)-[0-9a-f]{12}$/.exec(name);
    if (m && !processExists(Number(m[1]))) await rm(join(dir, name), { recursive: true, force: true });
  }
}

export class ContentStore {
  readonly blobDir: string;
  readonly ingestDir: string;

  constructor(readonly root: string) {
    this.blobDir = join(root, "blobs", "sha256");
    this.ingestDir = join(root, "ingest");
  }

  async init(): Promise<void> {
    await mkdir(this.blobDir, { recursive: true });
    await mkdir(this.ingestDir, { recursive: true });
    await removeStaleTemps(this.ingestDir);
  }

  path(digest: string): string {
    return join(this.blobDir, digestHex(digest));
  }

  /** The blob's size when it is present. */
  async size(digest: string): Promise<number | undefined> {
    try {
      return (await stat(this.path(digest))).size;
    } catch {
      return undefined;
    }
  }

  /** When the blob was stored (ms), when present. */
  async mtime(digest: string): Promise<number | undefined> {
    return (await stat(this.path(digest)).catch(() => undefined))?.mtimeMs;
  }

  async read(digest: string, limit: number): Promise<Buffer> {
    const p = this.path(digest);
    const st = await stat(p).catch(() => undefined);
    if (!st) throw new ImageError("NotFound", `content ${digest}: not found`);
    if (st.size > limit) throw new ImageError("ResourceExhausted", `content ${digest} is larger than ${limit} bytes`);
    return readFile(p);
  }

  open(digest: string): Readable {
    return createReadStream(this.path(digest));
  }

  /** Stores `data` (already in memory) after checking its digest. */
  async writeBuffer(expected: ExpectedBlob, data: Buffer): Promise<void> {
    const tmp = join(this.ingestDir, tempName(digestHex(expected.digest).slice(0, 12)));
    const counter = new DigestCounter();
    counter.update(data);
    check(expected, counter);
    const fh = await open(tmp, "wx", 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.path(expected.digest));
  }

  /**
   * Streams `input` into the store, verifying size and digest; `onBytes`
   * is told about every chunk. Nothing is stored when verification fails.
   */
  async ingest(expected: ExpectedBlob, input: AsyncIterable<Buffer>, onBytes?: (n: number) => void, signal?: AbortSignal): Promise<void> {
    const tmp = join(this.ingestDir, tempName(digestHex(expected.digest).slice(0, 12)));
    const counter = new DigestCounter();
    const fh = await open(tmp, "wx", 0o644);
    let ok = false;
    try {
      try {
        for await (const chunk of input) {
          if (signal?.aborted) throw abortError(signal);
          counter.update(chunk);
          if (expected.size !== undefined && counter.bytes > expected.size) {
            throw new ImageError("FailedPrecondition", `failed to copy ${expected.digest}: more than the expected ${expected.size} bytes: failed precondition`);
          }
          for (let off = 0; off < chunk.length; ) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
          onBytes?.(chunk.length);
        }
      } catch (err) {
        if (err instanceof ImageError) throw err;
        if (signal?.aborted) throw abortError(signal);
        const code = (err as NodeJS.ErrnoException).code === "ENOSPC" ? "ResourceExhausted" : "Unavailable";
        throw new ImageError(code, `failed to copy ${expected.digest}: ${(err as Error).message}`);
      }
      await fh.sync();
      check(expected, counter);
      ok = true;
    } finally {
      await fh.close();
      if (!ok) await rm(tmp, { force: true });
    }
    await rename(tmp, this.path(expected.digest));
  }

  /**
   * Moves a file of the store's filesystem into the store (imports): its
   * digest is computed; a given `expected` digest must match.
   */
  async adoptFile(file: string, expected?: string): Promise<{ digest: string; size: number }> {
    const counter = new DigestCounter();
    for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) counter.update(chunk);
    const digest = counter.digest();
    if (expected !== undefined && digest !== expected) {
      throw new ImageError("FailedPrecondition", `unexpected digest ${digest} of ${expected}: content does not match its name`);
    }
    await rename(file, this.path(digest));
    // An extracted file keeps the archive's mtime; the store's age of a blob is when it was stored.
    const now = new Date();
    await utimes(this.path(digest), now, now);
    return { digest, size: counter.bytes };
  }

  async remove(digest: string): Promise<void> {
    await rm(this.path(digest), { force: true });
  }

  /** Every stored digest. */
  async list(): Promise<string[]> {
    const names = await readdir(this.blobDir).catch(() => [] as string[]);
    return names.filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }
}

function check(expected: ExpectedBlob, counter: DigestCounter): void {
  if (expected.size !== undefined && counter.bytes !== expected.size) {
    throw new ImageError("FailedPrecondition", `failed to copy ${expected.digest}: unexpected size ${counter.bytes}, expected ${expected.size}: failed precondition`);
  }
  const got = counter.digest();
  if (got !== expected.digest) {
    throw new ImageError("FailedPrecondition", `failed to copy ${expected.digest}: unexpected commit digest ${got}, expected ${expected.digest}: failed precondition`);
  }
}
