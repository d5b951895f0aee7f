/**
 * upstream's AtomicWriter (pkg/volume/util/atomic_writer.go): writes a
 * set of files into a volume directory so readers always see either the
 * whole old set or the whole new one. Layout inside the target directory:
 *
 *   ..2024_05_01_10_00_00.123456789/   the current files (timestamped dir)
 *   ..data -> ..2024_05_01_10_00_00.123456789
 *   key -> ..data/key                  one user-visible symlink per top-level name
 *
 * An update writes a new timestamped directory, swaps `..data` with a
 * rename (atomic), adds symlinks for new top-level names, removes those of
 * names that went away, then deletes the old directory. Nothing is written
 * when the files are unchanged.
 */
import type { Stats } from "node:fs";
import { lstat, mkdir, readdir, readFile, readlink, rename, rm, symlink, chmod, writeFile, unlink } from "node:fs/promises";
import { dirname, join, posix } from "node:path";

/** One file to project: its bytes and mode (permission bits). */
export interface FileProjection {
  readonly data: Buffer;
  readonly mode: number;
}

/** Relative path → file. */
export type Payload = ReadonlyMap<string, FileProjection>;

/** The outcome of a write: whether anything changed, or upstream's error message. */
export type WriteResult = { readonly ok: true; readonly changed: boolean } | { readonly ok: false; readonly message: string };

const DATA_DIR = "..data";
const DATA_DIR_TMP = "..data_tmp";
const MAX_FILE_NAME_LENGTH = 255;
const MAX_PATH_LENGTH = 4096;

/** upstream validatePath: the message of a bad payload path, or undefined. */
export function validatePath(p: string): string | undefined {
  if (p === "") return `invalid path: must not be empty: ""`;
  if (posix.isAbsolute(p)) return `invalid path: must be relative path: ${p}`;
  if (p.length > MAX_PATH_LENGTH) return `invalid path: must be less than or equal to ${MAX_PATH_LENGTH} characters`;
  const items = p.split("/");
  for (const item of items) {
    if (item === "..") return `invalid path: must not contain '..': ${p}`;
    if (item.length > MAX_FILE_NAME_LENGTH) return `invalid path: filenames must be less than or equal to ${MAX_FILE_NAME_LENGTH} characters`;
  }
  if (items[0]!.startsWith("..") && items[0]!.length > 2) return `invalid path: must not start with '..': ${p}`;
  return undefined;
}

/** upstream validatePayload: paths checked and cleaned. */
function validatePayload(payload: Payload): Map<string, FileProjection> | string {
  const clean = new Map<string, FileProjection>();
  for (const [k, v] of payload) {
    const bad = validatePath(k);
    if (bad) return bad;
    clean.set(posix.normalize(k).replace(/\/+$/, ""), v);
  }
  return clean;
}

/** Go's time.Format("..2006_01_02_15_04_05.") of `now` (UTC). */
function timestampPrefix(now: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `..${now.getUTCFullYear()}_${p(now.getUTCMonth() + 1)}_${p(now.getUTCDate())}_${p(now.getUTCHours())}_${p(now.getUTCMinutes())}_${p(now.getUTCSeconds())}.`;
}

const isErrno = (e: unknown, code: string): boolean => (e as NodeJS.ErrnoException)?.code === code;

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch (e) {
    if (isErrno(e, "ENOENT")) return false;
    throw e;
  }
}

/** Every file and directory under `dir`, relative to it (upstream walks the old data dir this way). */
async function walk(dir: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for (const ent of await readdir(join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${ent.name}` : ent.name;
    out.push(r);
    if (ent.isDirectory()) out.push(...(await walk(dir, r)));
  }
  return out;
}

/** Options of {@link atomicWrite}. */
export interface AtomicWriteOptions {
  /** Names the timestamped directory (now unless given). */
  readonly now?: Date;
  /** Runs on the new timestamped directory before it becomes visible (ownership, as upstream's setPerms). */
  readonly setPerms?: (tsDir: string) => Promise<void>;
}

/**
 * Writes `payload` into `targetDir` (which must exist) atomically, as
 * upstream's AtomicWriter.Write. Filesystem failures come back as values
 * with Node's message; a failure leaves the previous files visible.
 */
export async function atomicWrite(targetDir: string, payload: Payload, opts: AtomicWriteOptions = {}): Promise<WriteResult> {
  const clean = validatePayload(payload);
  if (typeof clean === "string") return { ok: false, message: clean };
  try {
    // (1) The current timestamped directory, if any.
    let oldTsDir = "";
    try {
      oldTsDir = await readlink(join(targetDir, DATA_DIR));
    } catch (e) {
      if (!isErrno(e, "ENOENT")) throw e;
    }
    const oldTsPath = oldTsDir ? join(targetDir, oldTsDir) : "";

    // (2) What goes away, and whether anything changed at all.
    const toRemove = oldTsPath ? await pathsToRemove(clean, oldTsPath) : new Set<string>();
    const write = !oldTsPath || (await shouldWritePayload(clean, oldTsPath));
    if (!write && toRemove.size === 0) {
      // Symlinks of an interrupted earlier write may still be missing.
      await createUserVisibleFiles(targetDir, clean);
      return { ok: true, changed: false };
    }

    // (3) A new timestamped directory with every file.
    const tsDir = await newTimestampDir(targetDir, opts.now ?? new Date());
    const tsName = tsDir.slice(targetDir.length + 1);
    try {
      await writePayloadToDir(clean, tsDir);
      await opts.setPerms?.(tsDir);
      // (4) Swap ..data atomically: a temporary symlink renamed over it.
      const tmp = join(targetDir, DATA_DIR_TMP);
      await rm(tmp, { force: true });
      await symlink(tsName, tmp);
      await rename(tmp, join(targetDir, DATA_DIR));
    } catch (e) {
      await rm(tsDir, { recursive: true, force: true });
      throw e;
    }
    // (5) User-visible symlinks for new names, and away with those of removed ones.
    await createUserVisibleFiles(targetDir, clean);
    await removeUserVisiblePaths(targetDir, toRemove);
    // (6) The old files.
    if (oldTsPath) await rm(oldTsPath, { recursive: true, force: true });
    return { ok: true, changed: true };
  } catch (e) {
    return { ok: false, message: (e as Error).message };
  }
}

async function pathsToRemove(payload: ReadonlyMap<string, FileProjection>, oldTsPath: string): Promise<Set<string>> {
  let paths: string[];
  try {
    paths = await walk(oldTsPath);
  } catch (e) {
    if (isErrno(e, "ENOENT")) return new Set();
    throw e;
  }
  const keep = new Set<string>();
  for (const file of payload.keys()) {
    // Every parent of a new file stays too, so non-empty directories are never removed.
    for (let p = file; p !== "" && p !== "."; p = posix.dirname(p)) keep.add(p);
  }
  return new Set(paths.filter((p) => !keep.has(p)));
}

async function shouldWritePayload(payload: ReadonlyMap<string, FileProjection>, oldTsPath: string): Promise<boolean> {
  for (const [p, f] of payload) {
    const file = join(oldTsPath, p);
    let st: Stats;
    try {
      st = await lstat(file);
    } catch (e) {
      if (isErrno(e, "ENOENT")) return true;
      throw e;
    }
    if (!st.isFile()) return true;
    // upstream compares content only; a changed mode is written too, so defaultMode updates show.
    if ((st.mode & 0o7777) !== (f.mode & 0o7777)) return true;
    if (!(await readFile(file)).equals(f.data)) return true;
  }
  return false;
}

async function newTimestampDir(targetDir: string, now: Date): Promise<string> {
  const prefix = timestampPrefix(now);
  for (;;) {
    // As Go's os.MkdirTemp: the pattern plus a random decimal number.
    const dir = join(targetDir, prefix + String(Math.floor(Math.random() * 2 ** 32)));
    try {
      await mkdir(dir, { mode: 0o700 });
    } catch (e) {
      if (isErrno(e, "EEXIST")) continue;
      throw e;
    }
    // 0755 so group and other can walk the tree whatever the umask.
    await chmod(dir, 0o755);
    return dir;
  }
}

async function writePayloadToDir(payload: ReadonlyMap<string, FileProjection>, dir: string): Promise<void> {
  for (const [p, f] of payload) {
    const file = join(dir, p);
    await mkdir(dirname(file), { recursive: true, mode: 0o755 });
    await writeFile(file, f.data, { mode: f.mode & 0o7777 });
    // The umask narrowed the mode writeFile created the file with.
    await chmod(file, f.mode & 0o7777);
  }
}

async function createUserVisibleFiles(targetDir: string, payload: ReadonlyMap<string, FileProjection>): Promise<void> {
  for (const p of payload.keys()) {
    const top = p.split("/")[0]!;
    const visible = join(targetDir, top);
    if (await exists(visible)) continue;
    await symlink(join(DATA_DIR, top), visible);
  }
}

async function removeUserVisiblePaths(targetDir: string, paths: ReadonlySet<string>): Promise<void> {
  for (const p of paths) {
    // Only top-level names have symlinks in the volume root.
    if (p.includes("/")) continue;
    try {
      await unlink(join(targetDir, p));
    } catch (e) {
      if (!isErrno(e, "ENOENT")) throw e;
    }
  }
}
