/**
 * Streaming etcd's own snapshot (its whole database, through the maintenance
 * API) into a file, checked against the sha256 etcd appends.
 */
import { createHash } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import type { ISnapshotResponse } from "etcd3";
import { StorageError } from "../../errors.js";
import type { EtcdConnection } from "./etcd-connection.js";

async function fsyncDir(dir: string): Promise<void> {
  const d = await open(dir, "r");
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/**
 * Writes etcd's snapshot to `path + ".part"`, checks its sha256 trailer,
 * fsyncs and renames it into place; resolves with its size in bytes. On any
 * failure the partial file is removed and nothing is left at `path`.
 */
export async function writeEtcdSnapshot(conn: EtcdConnection, path: string): Promise<number> {
  const part = `${path}.part`;
  const fh = await open(part, "w", 0o600);
  let ok = false;
  try {
    const stream = await conn.call("saveSnapshot", () => conn.client.maintenance.snapshot());
    const hash = createHash("sha256");
    let tail = Buffer.alloc(0);
    let size = 0;
    try {
      // gRPC's stream is a Node Readable: iterating it applies backpressure,
      // so a slow disk does not buffer the whole database in memory.
      for await (const res of stream as unknown as AsyncIterable<ISnapshotResponse>) {
        const blob = res.blob;
        size += blob.length;
        // Hash everything but the last 32 bytes seen so far: etcd ends the
        // stream with the sha256 of all bytes before it.
        const all = tail.length > 0 ? Buffer.concat([tail, blob]) : blob;
        const cut = Math.max(0, all.length - 32);
        hash.update(all.subarray(0, cut));
        tail = Buffer.from(all.subarray(cut));
        await fh.write(blob);
      }
    } catch (err) {
      throw await conn.translate(err, "saveSnapshot", {});
    }
    if (tail.length !== 32 || !hash.digest().equals(tail)) {
      throw new StorageError(`etcd snapshot from ${conn.endpoints} failed its sha256 check (${size} bytes received)`);
    }
    await fh.sync();
    await fh.close();
    await rename(part, path);
    await fsyncDir(dirname(path));
    ok = true;
    return size;
  } finally {
    if (!ok) {
      await fh.close().catch(() => {});
      await rm(part, { force: true });
    }
  }
}
