/**
 * Whole-file replacement that a crash or a concurrent reader never sees
 * half done: write a temporary file beside the target, fsync it, rename it
 * over the target, fsync the directory. Keys and kubeconfigs go through it.
 */
import { randomBytes } from "node:crypto";
import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/** Options for {@link writeFileAtomic}. */
export interface WriteFileAtomicOptions {
  /** Permission bits of the new file (the temporary file is created with them, so it is never wider). */
  readonly mode: number;
}

/** Replaces `path` with `data` atomically; the file has exactly `opts.mode`. */
export function writeFileAtomic(path: string, data: string | Uint8Array, opts: WriteFileAtomicOptions): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  // "wx": never follow or reuse something already at the temporary name.
  const fd = openSync(tmp, "wx", opts.mode);
  try {
    // open()'s mode passes through the umask; the caller asked for exact bits.
    fchmodSync(fd, opts.mode);
    const buf = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  // The rename is durable only once the directory entry is on disk.
  try {
    const dfd = openSync(dir, "r");
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // Some filesystems refuse fsync on directories; the data itself is already synced.
  }
}
