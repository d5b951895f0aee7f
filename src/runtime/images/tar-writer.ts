/**
 * Writes tar archives (ustar, with pax headers for long names) in memory,
 * byte for byte as given: no path cleaning, fixed ownership and times, so
 * image layers built from it are reproducible (the same digest every time)
 * and tests can write exactly the entries a hostile layer would.
 */

/** One archive entry. */
export interface TarEntry {
  readonly path: string;
  readonly type: "file" | "dir" | "symlink" | "hardlink" | "fifo" | "char" | "block";
  /** File contents (files only). */
  readonly body?: Uint8Array | string;
  /** Target of a symlink or hardlink. */
  readonly linkpath?: string;
  /** Permission bits; 0o644 for files, 0o755 for directories by default. */
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  /** Seconds since the epoch; 0 by default. */
  readonly mtime?: number;
  readonly devmajor?: number;
  readonly devminor?: number;
}

const TYPEFLAG: Record<TarEntry["type"], string> = {
  file: "0",
  hardlink: "1",
  symlink: "2",
  char: "3",
  block: "4",
  dir: "5",
  fifo: "6",
};

function octal(buf: Buffer, off: number, len: number, value: number): void {
  const s = value.toString(8).padStart(len - 1, "0");
  if (s.length > len - 1) throw new Error(`tar: value ${value} does not fit in ${len - 1} octal digits`);
  buf.write(s, off, len - 1, "ascii");
  buf[off + len - 1] = 0;
}

function header(name: string, e: Omit<TarEntry, "path">, size: number, typeflag: string, linkname: string, prefix: string): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, "utf8");
  const isDir = e.type === "dir";
  octal(h, 100, 8, (e.mode ?? (isDir ? 0o755 : 0o644)) & 0o7777);
  octal(h, 108, 8, e.uid ?? 0);
  octal(h, 116, 8, e.gid ?? 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, e.mtime ?? 0);
  h.write("        ", 148, 8, "ascii");
  h.write(typeflag, 156, 1, "ascii");
  h.write(linkname, 157, 100, "utf8");
  h.write("ustar\0", 257, 6, "ascii");
  h.write("00", 263, 2, "ascii");
  octal(h, 329, 8, e.devmajor ?? 0);
  octal(h, 337, 8, e.devminor ?? 0);
  h.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "ascii");
  return h;
}

function padded(data: Buffer): Buffer[] {
  const rest = data.length % 512;
  return rest === 0 ? [data] : [data, Buffer.alloc(512 - rest)];
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

/** Splits a long name into ustar's prefix and name fields, when possible. */
function splitUstar(path: string): { name: string; prefix: string } | undefined {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: "" };
  for (let i = path.indexOf("/"); i !== -1; i = path.indexOf("/", i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name !== "") return { name, prefix };
  }
  return undefined;
}

/** The tar archive of `entries`, in order, with the two zero blocks at the end. */
export function buildTar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = e.type === "file" ? Buffer.from(e.body ?? "") : Buffer.alloc(0);
    const linkname = e.linkpath ?? "";
    const split = splitUstar(e.path);
    const pax: string[] = [];
    if (!split) pax.push(paxRecord("path", e.path));
    if (Buffer.byteLength(linkname) > 100) pax.push(paxRecord("linkpath", linkname));
    if (pax.length > 0) {
      const data = Buffer.from(pax.join(""));
      parts.push(header("PaxHeader", { type: "file" }, data.length, "x", "", ""), ...padded(data));
    }
    const { name, prefix } = split ?? { name: e.path.slice(0, 100), prefix: "" };
    parts.push(header(name, e, body.length, TYPEFLAG[e.type], linkname.slice(0, 100), prefix));
    if (body.length > 0) parts.push(...padded(body));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
