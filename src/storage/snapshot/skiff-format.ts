/**
 * skiff's portable snapshot format, readable into any backend:
 *
 *   "SKIFF-SNAPSHOT 1\n"
 *   header: one JSON line {backend, revision, createdAt}
 *   entries: repeated [0x01][u32 keyLen][key][u32 valueLen][value][u32 leaseTtl]
 *   end:     [0x00][u32 count]
 *   trailer: 32-byte SHA-256 of every byte before it
 *
 * The trailer catches truncation and corruption before anything is restored,
 * as etcd's appended snapshot hash does.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, rename, rm, stat } from "node:fs/promises";
import { SnapshotInvalidError } from "../errors.js";
import type { SnapshotEntry } from "../store.js";

export const SKIFF_MAGIC = "SKIFF-SNAPSHOT 1\n";
const HASH_BYTES = 32;
const FLUSH_BYTES = 1 << 20;

export interface SkiffSnapshotHeader {
  readonly backend: string;
  readonly revision: number;
  /** ISO time the snapshot was taken. */
  readonly createdAt?: string;
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n);
  return b;
}

/**
 * Streams `entries` into `path` (via `path.part`, fsync'd, then renamed, so
 * a crash never leaves a half-written file under the final name).
 */
export async function writeSkiffSnapshot(
  path: string,
  header: SkiffSnapshotHeader,
  entries: Iterable<SnapshotEntry> | AsyncIterable<SnapshotEntry>,
): Promise<{ keys: number; sizeBytes: number }> {
  const part = `${path}.part`;
  const fh = await open(part, "w", 0o600);
  const hash = createHash("sha256");
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let size = 0;
  const add = async (b: Buffer, force = false) => {
    pending.push(b);
    pendingBytes += b.length;
    if (pendingBytes >= FLUSH_BYTES || force) {
      const chunk = Buffer.concat(pending);
      pending = [];
      pendingBytes = 0;
      hash.update(chunk);
      size += chunk.length;
      await fh.write(chunk);
    }
  };
  let keys = 0;
  try {
    const h = { backend: header.backend, revision: header.revision, createdAt: header.createdAt ?? new Date().toISOString() };
    await add(Buffer.from(SKIFF_MAGIC + JSON.stringify(h) + "\n"));
    for await (const e of entries) {
      const key = Buffer.from(e.key);
      const value = Buffer.from(e.value.buffer, e.value.byteOffset, e.value.byteLength);
      await add(Buffer.concat([Buffer.of(1), u32(key.length), key, u32(value.length), value, u32(e.leaseTtl ?? 0)]));
      keys++;
    }
    await add(Buffer.concat([Buffer.of(0), u32(keys)]), true);
    const digest = hash.digest();
    await fh.write(digest);
    size += digest.length;
    await fh.sync();
    await fh.close();
    await rename(part, path);
    return { keys, sizeBytes: size };
  } catch (err) {
    await fh.close().catch(() => {});
    await rm(part, { force: true });
    throw err;
  }
}

/** True when the file starts with the skiff snapshot magic. */
export async function isSkiffSnapshot(path: string): Promise<boolean> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(SKIFF_MAGIC.length);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return bytesRead === buf.length && buf.toString() === SKIFF_MAGIC;
  } finally {
    await fh.close();
  }
}

/** Checks the trailer hash over the whole file; throws SnapshotInvalidError on mismatch. */
async function verifyHash(path: string): Promise<number> {
  const { size } = await stat(path);
  if (size < SKIFF_MAGIC.length + HASH_BYTES) {
    throw new SnapshotInvalidError(`snapshot ${path} is truncated (${size} bytes); nothing was restored`);
  }
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { start: 0, end: size - HASH_BYTES - 1 })) hash.update(chunk as Buffer);
  const fh = await open(path, "r");
  const trailer = Buffer.alloc(HASH_BYTES);
  try {
    await fh.read(trailer, 0, HASH_BYTES, size - HASH_BYTES);
  } finally {
    await fh.close();
  }
  if (!hash.digest().equals(trailer)) {
    throw new SnapshotInvalidError(
      `snapshot ${path} is corrupt or truncated (its SHA-256 checksum does not match); nothing was restored`,
    );
  }
  return size - HASH_BYTES;
}

/** Reads and validates a skiff snapshot: header first, then its entries. */
export async function readSkiffSnapshot(
  path: string,
): Promise<{ header: SkiffSnapshotHeader; entries: AsyncIterable<SnapshotEntry> }> {
  const bodyEnd = await verifyHash(path);
  const fh = await open(path, "r");
  // Sequential reader over the file body, refilling a window as it goes.
  let buf = Buffer.alloc(0);
  let filePos = 0;
  const need = async (n: number) => {
    while (buf.length < n) {
      const want = Math.max(n - buf.length, FLUSH_BYTES);
      const len = Math.min(want, bodyEnd - filePos);
      if (len <= 0) throw new SnapshotInvalidError(`snapshot ${path} ends in the middle of a record`);
      const chunk = Buffer.alloc(len);
      const { bytesRead } = await fh.read(chunk, 0, len, filePos);
      filePos += bytesRead;
      buf = Buffer.concat([buf, chunk.subarray(0, bytesRead)]);
    }
  };
  const take = async (n: number) => {
    await need(n);
    const out = buf.subarray(0, n);
    buf = buf.subarray(n);
    return out;
  };
  let header: SkiffSnapshotHeader;
  try {
    const magic = await take(SKIFF_MAGIC.length);
    if (magic.toString() !== SKIFF_MAGIC) throw new SnapshotInvalidError(`${path} is not a skiff snapshot`);
    let line = "";
    for (;;) {
      const c = await take(1);
      if (c[0] === 0x0a) break;
      line += c.toString("latin1");
      if (line.length > 65536) throw new SnapshotInvalidError(`snapshot ${path} has no valid header`);
    }
    header = JSON.parse(Buffer.from(line, "latin1").toString()) as SkiffSnapshotHeader;
  } catch (err) {
    await fh.close();
    if (err instanceof SnapshotInvalidError) throw err;
    throw new SnapshotInvalidError(`snapshot ${path} has no valid header: ${(err as Error).message}`);
  }
  async function* entries(): AsyncGenerator<SnapshotEntry> {
    try {
      let n = 0;
      for (;;) {
        const type = (await take(1))[0];
        if (type === 0) {
          const count = (await take(4)).readUInt32BE();
          if (count !== n) throw new SnapshotInvalidError(`snapshot ${path} says ${count} keys but holds ${n}`);
          return;
        }
        if (type !== 1) throw new SnapshotInvalidError(`snapshot ${path} has an unknown record type ${type}`);
        const key = (await take((await take(4)).readUInt32BE())).toString();
        const value = Buffer.from(await take((await take(4)).readUInt32BE()));
        const leaseTtl = (await take(4)).readUInt32BE();
        n++;
        yield leaseTtl ? { key, value, leaseTtl } : { key, value };
      }
    } finally {
      await fh.close();
    }
  }
  return { header, entries: entries() };
}
