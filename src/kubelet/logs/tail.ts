/**
 * Where the last `n` lines of a file start, as upstream's
 * tail.FindTailLineStartIndex: read blocks backwards from the end counting
 * "\n" until more than `n` are seen. Lines are the file's raw lines, so a
 * partial (`P`) CRI line counts as one, as upstream counts it.
 */
import type { FileHandle } from "node:fs/promises";

const BLOCK = 64 * 1024;
const NL = 0x0a;

function count(buf: Buffer): number {
  let c = 0;
  for (let i = buf.indexOf(NL); i >= 0; i = buf.indexOf(NL, i + 1)) c++;
  return c;
}

/** Byte offset of the first of the last `n` lines of `fh` (0 when `n` < 0 or the file has fewer). */
export async function findTailLineStartIndex(fh: FileHandle, n: number): Promise<number> {
  if (n < 0) return 0;
  const size = (await fh.stat()).size;
  let left = 0;
  let cnt = 0;
  let buf = Buffer.alloc(0);
  for (let right = size; right > 0 && cnt <= n; right -= BLOCK) {
    left = Math.max(0, right - BLOCK);
    buf = Buffer.alloc(right - left);
    const { bytesRead } = await fh.read(buf, 0, buf.length, left);
    buf = buf.subarray(0, bytesRead);
    cnt += count(buf);
  }
  // Too many newlines in the first block read: skip past the surplus ones.
  for (; cnt > n; cnt--) {
    const idx = buf.indexOf(NL) + 1;
    buf = buf.subarray(idx);
    left += idx;
  }
  return left;
}
