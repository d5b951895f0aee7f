/**
 * Filesystem figures for FsStats: a whole filesystem by statfs (capacity,
 * available, inodes), and one directory's share of it by walking it as
 * `du -x -s -B1` plus `find -xdev | wc -l` do (upstream's MetricsDu, which
 * measures emptyDir volumes, writable layers and log directories). The walk
 * counts allocated blocks (sparse files count what they occupy), each inode
 * once (hard links), and stays on the directory's filesystem.
 */
import { lstat, opendir, statfs } from "node:fs/promises";
import { join } from "node:path";

/** A whole filesystem. */
export interface FsInfo {
  readonly capacityBytes: number;
  readonly availableBytes: number;
  readonly usedBytes: number;
  readonly inodes: number;
  readonly inodesFree: number;
  readonly inodesUsed: number;
}

/** The filesystem holding `path` (statfs); undefined when `path` is gone. */
export async function fsInfo(path: string): Promise<FsInfo | undefined> {
  try {
    const s = await statfs(path);
    return {
      capacityBytes: s.blocks * s.bsize,
      // What unprivileged writers can still use (bavail), as upstream's Available.
      availableBytes: s.bavail * s.bsize,
      usedBytes: (s.blocks - s.bfree) * s.bsize,
      inodes: s.files,
      inodesFree: s.ffree,
      inodesUsed: Math.max(0, s.files - s.ffree),
    };
  } catch {
    return undefined;
  }
}

/** One directory tree's usage. */
export interface DiskUsage {
  readonly usedBytes: number;
  readonly inodesUsed: number;
}

/**
 * The bytes allocated to `dir` and everything below it on the same
 * filesystem, and the inodes it holds; undefined when `dir` does not exist.
 * Entries vanishing during the walk are skipped.
 */
export async function diskUsage(dir: string): Promise<DiskUsage | undefined> {
  let root: Awaited<ReturnType<typeof lstat>>;
  try {
    root = await lstat(dir);
  } catch {
    return undefined;
  }
  const seen = new Set<number>();
  let bytes = 0;
  let inodes = 0;
  const count = (st: { ino: number; blocks: number }) => {
    if (seen.has(st.ino)) return;
    seen.add(st.ino);
    bytes += st.blocks * 512;
    inodes++;
  };
  count(root);
  if (!root.isDirectory()) return { usedBytes: bytes, inodesUsed: inodes };
  const stack = [dir];
  while (stack.length > 0) {
    const d = stack.pop()!;
    let handle: Awaited<ReturnType<typeof opendir>>;
    try {
      handle = await opendir(d);
    } catch {
      continue;
    }
    for await (const e of handle) {
      const p = join(d, e.name);
      let st: Awaited<ReturnType<typeof lstat>>;
      try {
        st = await lstat(p);
      } catch {
        continue;
      }
      // -x: another filesystem mounted below (a tmpfs emptyDir, a bind mount) is not this tree's.
      if (st.dev !== root.dev) continue;
      count(st);
      if (st.isDirectory()) stack.push(p);
    }
  }
  return { usedBytes: bytes, inodesUsed: inodes };
}
