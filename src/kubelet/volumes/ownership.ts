/**
 * fsGroup ownership of a volume (upstream pkg/volume/volume_linux.go
 * SetVolumeOwnership): every file and directory gets the group, group
 * read (and write unless the volume is read-only) permission, directories
 * the set-gid bit so new files inherit the group. With
 * `fsGroupChangePolicy: OnRootMismatch` the walk is skipped when the root
 * already looks right.
 */
import type { Stats } from "node:fs";
import { chmod, lchown, lstat, readdir, stat } from "node:fs/promises";
import { join } from "node:path";

const RW_MASK = 0o660;
const RO_MASK = 0o440;
const EXEC_MASK = 0o110;
const SETGID = 0o2000;

/** upstream requiresPermissionChange (for OnRootMismatch). */
async function requiresPermissionChange(root: string, fsGroup: number, readOnly: boolean): Promise<boolean> {
  let st: Stats;
  try {
    st = await stat(root);
  } catch {
    return true;
  }
  if (st.gid !== fsGroup) return true;
  if (!st.isDirectory()) return true;
  const want = (readOnly ? RO_MASK : RW_MASK) | EXEC_MASK;
  return (st.mode & want) !== want || (st.mode & SETGID) === 0;
}

async function changeFilePermission(path: string, fsGroup: number, readOnly: boolean): Promise<void> {
  const st = await lstat(path);
  await lchown(path, -1, fsGroup);
  // Symlinks keep their (meaningless) permissions.
  if (st.isSymbolicLink()) return;
  let mask = readOnly ? RO_MASK : RW_MASK;
  if (st.isDirectory()) mask |= SETGID | EXEC_MASK;
  await chmod(path, (st.mode & 0o7777) | mask);
}

async function walkDeep(path: string, fn: (p: string) => Promise<void>): Promise<void> {
  const st = await lstat(path);
  if (st.isDirectory()) for (const name of await readdir(path)) await walkDeep(join(path, name), fn);
  await fn(path);
}

/**
 * Applies `fsGroup` to everything under `dir` (nothing when `fsGroup` is
 * undefined). Throws on filesystem errors; callers turn them into mount
 * failures.
 */
export async function setVolumeOwnership(dir: string, fsGroup: number | undefined, readOnly: boolean, changePolicy?: string): Promise<void> {
  if (fsGroup === undefined) return;
  if (changePolicy === "OnRootMismatch" && !(await requiresPermissionChange(dir, fsGroup, readOnly))) return;
  await walkDeep(dir, (p) => changeFilePermission(p, fsGroup, readOnly));
}
