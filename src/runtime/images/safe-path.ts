/**
 * Paths inside an unpacked root filesystem, resolved as the container will
 * see them: symlinks are followed as if the root were `/` (an absolute
 * target restarts at the root, `..` stops at it), so no layer entry, link
 * or hardlink target can reach outside the root (what containerd's
 * fs.RootPath and Go's securejoin do).
 */
import { lstat, readlink } from "node:fs/promises";
import { join, posix } from "node:path";
import { ImageError } from "./pull-error.js";

const MAX_SYMLINKS = 255;

/**
 * A layer entry's name, cleaned: no leading `/` or `./`, no `.` parts.
 * Names that climb above the root with `..` are refused (as docker's
 * breakout check does) rather than clamped; "" is the root itself.
 */
export function cleanEntryName(name: string): string {
  if (name.includes("\0")) throw new ImageError("InvalidArgument", `invalid layer: entry name ${JSON.stringify(name)} contains NUL`);
  const n = posix.normalize(`/${name}`);
  // normalize("/..") is "/", so compare lexically on the raw parts.
  let depth = 0;
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      depth--;
      if (depth < 0) throw new ImageError("InvalidArgument", `invalid layer: entry ${JSON.stringify(name)} is outside of the root`);
    } else depth++;
  }
  return n === "/" ? "" : n.slice(1).replace(/\/$/, "");
}

/**
 * The host path of `rel` (a cleaned name) under `root`, every existing
 * symlink along it resolved inside the root. The last component is
 * resolved too unless `followLast` is false (to act on a link itself).
 */
export async function resolveInRoot(root: string, rel: string, followLast = true): Promise<string> {
  let pending = rel.split("/").filter((p) => p !== "" && p !== ".");
  const current: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "..") {
      current.pop();
      continue;
    }
    if (!followLast && pending.length === 0) {
      current.push(part);
      break;
    }
    const candidate = join(root, ...current, part);
    let isLink = false;
    try {
      isLink = (await lstat(candidate)).isSymbolicLink();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" && (err as NodeJS.ErrnoException).code !== "ENOTDIR") throw err;
    }
    if (!isLink) {
      current.push(part);
      continue;
    }
    if (++links > MAX_SYMLINKS) throw new ImageError("InvalidArgument", `invalid layer: too many levels of symbolic links at ${rel}`);
    const target = await readlink(candidate);
    if (target.startsWith("/")) current.length = 0;
    pending = [...target.split("/").filter((p) => p !== "" && p !== "."), ...pending];
  }
  return join(root, ...current);
}
