/**
 * Applies image layers (tar, gzip-compressed or not) onto one directory,
 * bottom layer first, giving the image's flattened root filesystem.
 *
 * Why flattened rather than one directory per layer stacked as overlayfs
 * lowerdirs: overlay whiteouts are character devices 0/0 and opaque
 * directories carry the `trusted.overlay.opaque` xattr; Node can make
 * neither (no mknod, no setxattr) and `setfattr` is not a given on nodes.
 * Applying whiteouts while unpacking needs neither, costs one copy per
 * distinct layer stack (keyed by chain id, so images that share all their
 * layers share the root), and the container's overlay mount gets a single
 * read-only lowerdir.
 *
 * OCI whiteouts: `.wh.NAME` deletes NAME from the layers below;
 * `.wh..wh..opq` empties its directory of everything the layers below put
 * there. Ownership (as root), modes (setuid included), mtimes, symlinks and
 * hardlinks are kept; FIFOs are made with mknod(1); device nodes are skipped
 * (a container gets its devices from the runtime). Entry names that climb
 * out of the root are refused; symlinks on the way are resolved inside the
 * root, so nothing is ever written outside it. Extended attributes
 * (pax `SCHILY.xattr.*`) are not applied: the tar parser drops them and
 * Node cannot set them, so file capabilities in an image are lost.
 */
import { execFile } from "node:child_process";
import { once } from "node:events";
import { constants } from "node:fs";
import { chmod, chown, lchown, link, lstat, lutimes, mkdir, open, readdir, rm, symlink, utimes } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { promisify } from "node:util";
import { createGunzip } from "node:zlib";
import type { ReadEntry } from "tar";
import type { Logger } from "../../machinery/log.js";
import { DigestCounter } from "./digest.js";
import { abortError, ImageError } from "./pull-error.js";
import { cleanEntryName, resolveInRoot } from "./safe-path.js";

const execFileP = promisify(execFile);

const WHITEOUT_PREFIX = ".wh.";
const WHITEOUT_META_PREFIX = ".wh..wh.";
const WHITEOUT_OPAQUE = ".wh..wh..opq";

/** What applying one layer did. */
export interface AppliedLayer {
  /** sha256 of the uncompressed tar (the layer's diff id). */
  readonly diffId: string;
  /** Uncompressed size. */
  readonly size: number;
}

export interface ApplyLayerOptions {
  /** The root filesystem directory, created by the caller. */
  readonly root: string;
  /** The layer blob as stored (compression is detected from its first bytes). */
  readonly input: Readable;
  /** Keep uid/gid from the layer (only possible as root; defaults to whether we are root). */
  readonly preserveOwner?: boolean;
  readonly log?: Logger;
  readonly signal?: AbortSignal;
}

/** Per-layer bookkeeping. */
interface LayerState {
  readonly root: string;
  readonly preserveOwner: boolean;
  /** Host paths this layer created or replaced: an opaque whiteout keeps them. */
  readonly written: Set<string>;
  /** Directory mtimes, applied once the layer's entries are all in (adding children moves them). */
  readonly dirTimes: Map<string, Date>;
  skippedDevices: number;
  skippedOther: number;
  /** Settles when the layer has failed: pending reads give up. */
  readonly stopped: Promise<void>;
}

async function lstatOrUndefined(p: string) {
  try {
    return await lstat(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw err;
  }
}

/** Creates the missing directories of `dir` (already resolved inside the root), recording them as written. */
async function ensureDir(st: LayerState, dir: string): Promise<void> {
  const missing: string[] = [];
  let d = dir;
  while (d.length > st.root.length) {
    const s = await lstatOrUndefined(d);
    if (s?.isDirectory()) break;
    if (s) throw new ImageError("InvalidArgument", `invalid layer: ${d.slice(st.root.length)} is not a directory`);
    missing.unshift(d);
    d = dirname(d);
  }
  for (const m of missing) {
    await mkdir(m, { mode: 0o755 });
    st.written.add(m);
  }
}

/** Removes whatever is at `p` (a file, link or whole tree) without following links. */
async function removePath(p: string): Promise<void> {
  await rm(p, { recursive: true, force: true });
}

/** Empties `dir` of everything this layer did not write (the opaque whiteout). */
async function makeOpaque(st: LayerState, dir: string): Promise<void> {
  const s = await lstatOrUndefined(dir);
  if (!s?.isDirectory()) return;
  for (const name of await readdir(dir)) {
    const p = join(dir, name);
    if (!st.written.has(p)) {
      await removePath(p);
      continue;
    }
    if ((await lstat(p)).isDirectory()) await makeOpaque(st, p);
  }
}

async function setOwnerModeTime(st: LayerState, p: string, e: ReadEntry, kind: "file" | "dir"): Promise<void> {
  if (st.preserveOwner) await chown(p, e.uid ?? 0, e.gid ?? 0);
  // After chown, which clears setuid/setgid bits.
  await chmod(p, (e.mode ?? (kind === "dir" ? 0o755 : 0o644)) & 0o7777);
  if (kind === "dir") {
    if (e.mtime) st.dirTimes.set(p, e.mtime);
  } else if (e.mtime) {
    await utimes(p, e.mtime, e.mtime);
  }
}

/**
 * Consumes an entry's body we do not keep. Even an empty entry must be
 * read: it ends (and the parser moves on) only once something consumes it.
 */
async function drain(st: LayerState, e: ReadEntry): Promise<void> {
  if (e.emittedEnd) return;
  const ended = once(e, "end");
  e.resume();
  await Promise.race([ended, st.stopped]);
}

async function writeFile(st: LayerState, p: string, e: ReadEntry): Promise<void> {
  const fh = await open(p, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  const it = (e as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  // When the layer fails (truncated input), the body never completes: stop waiting for it.
  const stopped = st.stopped.then(() => ({ done: true as const, value: undefined }));
  try {
    for (;;) {
      const r = await Promise.race([it.next(), stopped]);
      if (r.done) break;
      const chunk = r.value;
      for (let off = 0; off < chunk.length; ) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
    }
  } finally {
    await fh.close();
  }
}

async function applyEntry(st: LayerState, e: ReadEntry): Promise<void> {
  const rel = cleanEntryName(e.path);
  if (rel === "") return drain(st, e); // the root itself: its attributes belong to the runtime
  const name = basename(rel);
  const parent = await resolveInRoot(st.root, dirname(rel) === "." ? "" : dirname(rel));

  if (name === WHITEOUT_OPAQUE) {
    await makeOpaque(st, parent);
    return drain(st, e);
  }
  if (name.startsWith(WHITEOUT_META_PREFIX)) return drain(st, e); // aufs bookkeeping (.wh..wh.plnk, …)
  if (name.startsWith(WHITEOUT_PREFIX)) {
    const target = name.slice(WHITEOUT_PREFIX.length);
    // `.wh..` would delete the directory itself, `.wh...` its parent (perhaps the root's).
    if (target === "" || target === "." || target === "..") throw new ImageError("InvalidArgument", `invalid layer: invalid whiteout ${JSON.stringify(rel)}`);
    const victim = join(parent, target);
    if (!st.written.has(victim)) await removePath(victim);
    return drain(st, e);
  }

  await ensureDir(st, parent);
  const p = join(parent, name);
  const existing = await lstatOrUndefined(p);
  switch (e.type) {
    case "Directory": {
      if (existing && !existing.isDirectory()) await removePath(p);
      if (!existing?.isDirectory()) await mkdir(p, { mode: 0o700 });
      st.written.add(p);
      await setOwnerModeTime(st, p, e, "dir");
      return drain(st, e);
    }
    case "File":
    case "OldFile":
    case "ContiguousFile": {
      if (existing) await removePath(p);
      st.written.add(p);
      await writeFile(st, p, e);
      await setOwnerModeTime(st, p, e, "file");
      return;
    }
    case "SymbolicLink": {
      if (existing) await removePath(p);
      await symlink(e.linkpath ?? "", p);
      st.written.add(p);
      if (st.preserveOwner) await lchown(p, e.uid ?? 0, e.gid ?? 0);
      if (e.mtime) await lutimes(p, e.mtime, e.mtime);
      return drain(st, e);
    }
    case "Link": {
      const targetRel = cleanEntryName(e.linkpath ?? "");
      const target = await resolveInRoot(st.root, targetRel, false);
      const ts = await lstatOrUndefined(target);
      if (!ts) throw new ImageError("InvalidArgument", `invalid layer: hardlink ${rel} to missing ${targetRel}`);
      if (ts.isDirectory()) throw new ImageError("InvalidArgument", `invalid layer: hardlink ${rel} to directory ${targetRel}`);
      if (target === p) return drain(st, e);
      if (existing) await removePath(p);
      await link(target, p);
      st.written.add(p);
      return drain(st, e);
    }
    case "FIFO": {
      if (existing) await removePath(p);
      await execFileP("mknod", ["-m", ((e.mode ?? 0o644) & 0o777).toString(8), p, "p"]);
      st.written.add(p);
      await setOwnerModeTime(st, p, e, "file");
      return drain(st, e);
    }
    case "CharacterDevice":
    case "BlockDevice":
      st.skippedDevices++;
      return drain(st, e);
    default:
      st.skippedOther++;
      return drain(st, e);
  }
}

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

function startsWith(buf: Buffer, magic: readonly number[]): boolean {
  return buf.length >= magic.length && magic.every((b, i) => buf[i] === b);
}

/** The uncompressed tar stream of a layer blob, compression sniffed from its first bytes. */
async function* uncompressed(input: Readable): AsyncGenerator<Buffer> {
  const it = (input as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  while (head.length < 4) {
    const r = await it.next();
    if (r.done) break;
    head = Buffer.concat([head, r.value]);
  }
  if (startsWith(head, ZSTD_MAGIC)) {
    input.destroy();
    throw new ImageError("Unimplemented", "unsupported layer compression: zstd-compressed layers are not supported");
  }
  async function* raw(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  if (!startsWith(head, GZIP_MAGIC)) {
    yield* raw();
    return;
  }
  const gunzip = createGunzip();
  const feed = (async () => {
    try {
      for await (const chunk of raw()) if (!gunzip.write(chunk)) await once(gunzip, "drain");
      gunzip.end();
    } catch (err) {
      gunzip.destroy(err as Error);
    }
  })();
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) yield chunk;
  } catch (err) {
    if (err instanceof ImageError) throw err;
    throw new ImageError("InvalidArgument", `invalid layer: gzip: ${(err as Error).message}`);
  } finally {
    await feed;
  }
}

/**
 * Applies one layer onto `opts.root`. Resolves with the layer's diff id
 * (the caller checks it against the image config); rejects with an
 * {@link ImageError} for a corrupt or hostile layer.
 */
export async function applyLayer(opts: ApplyLayerOptions): Promise<AppliedLayer> {
  let failure: unknown;
  let failed!: () => void;
  const failedP = new Promise<void>((r) => (failed = r));
  const st: LayerState = {
    stopped: failedP,
    root: opts.root,
    preserveOwner: opts.preserveOwner ?? process.getuid?.() === 0,
    written: new Set(),
    dirTimes: new Map(),
    skippedDevices: 0,
    skippedOther: 0,
  };
  const counter = new DigestCounter();
  // strict: a truncated or corrupt tar is an error, not a warning.
  // The tar parser is loaded with the first layer: an idle node never needs it in memory.
  const { Parser } = await import("tar");
  const parser = new Parser({ strict: true });
  const setFailure = (err: unknown) => {
    if (failure === undefined) failure = err;
    failed();
  };
  // Entries are applied strictly in archive order; the parser waits on a
  // file entry until its body is consumed, and we wait on the parser's drain.
  let tail: Promise<void> = Promise.resolve();
  parser.on("entry", (e: ReadEntry) => {
    tail = tail.then(async () => {
      if (failure !== undefined) {
        e.resume();
        return;
      }
      try {
        await applyEntry(st, e);
      } catch (err) {
        e.resume();
        setFailure(err);
      }
    });
  });
  parser.on("error", (err: Error) => setFailure(new ImageError("InvalidArgument", `invalid layer: tar: ${err.message}`)));
  const ended = once(parser, "end");
  ended.catch(() => {});
  const onAbort = () => setFailure(abortError(opts.signal));
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    try {
      for await (const chunk of uncompressed(opts.input)) {
        if (failure !== undefined) break;
        counter.update(chunk);
        if (!parser.write(chunk)) await Promise.race([once(parser, "drain"), failedP]);
      }
    } catch (err) {
      setFailure(err);
    }
    if (failure === undefined) {
      parser.end();
      await Promise.race([ended, failedP]);
    }
    await tail;
    if (failure !== undefined) {
      opts.input.destroy();
      if (failure instanceof ImageError) throw failure;
      const code = (failure as NodeJS.ErrnoException).code;
      throw new ImageError(code === "ENOSPC" ? "ResourceExhausted" : "Unknown", `failed to apply layer: ${(failure as Error).message}`);
    }
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
  }
  // Deepest first, so setting a parent's time is not undone by a child's.
  for (const [dir, t] of [...st.dirTimes].sort((a, b) => b[0].length - a[0].length)) await utimes(dir, t, t);
  if (st.skippedDevices + st.skippedOther > 0) {
    opts.log?.info("layer entries not applied", {
      devices: st.skippedDevices,
      other: st.skippedOther,
      reason: "device nodes come from the runtime",
    });
  }
  return { diffId: counter.digest(), size: counter.bytes };
}
