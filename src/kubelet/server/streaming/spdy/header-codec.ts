/**
 * SPDY/3 header blocks: the name/value block format and its compression.
 *
 * Each direction of a session is ONE zlib stream primed with the SPDY/3
 * dictionary: every header block is compressed as the continuation of the
 * previous one and ends at a sync flush (what Go's spdy Framer does with
 * `zlib.Writer.Flush`). So a session owns one compressor for what it sends
 * and one decompressor for what it receives, and feeds them every header
 * block in frame order — including blocks of frames it then ignores, or the
 * next block would not decompress.
 */
import { constants, createDeflate, createInflate, type Deflate, type Inflate } from "node:zlib";
import { SPDY3_DICTIONARY } from "./dictionary.js";
import { SpdyProtocolError } from "./frames.js";

/** Decoded headers: lower-cased names, each with its values in order. */
export type SpdyHeaders = ReadonlyMap<string, readonly string[]>;

/** Header values to send; names are lower-cased on the wire as SPDY/3 requires. */
export type OutgoingHeaders = Readonly<Record<string, string | readonly string[]>>;

/** The first value of `name` (case-insensitive), as Go's `http.Header.Get`. */
export function headerValue(headers: SpdyHeaders, name: string): string {
  return headers.get(name.toLowerCase())?.[0] ?? "";
}

/** Serialises a header block (uncompressed): count, then length-prefixed names and NUL-joined values. */
export function encodeHeaderBlock(headers: OutgoingHeaders): Buffer {
  const parts: Buffer[] = [];
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n, 0);
    return b;
  };
  const entries = Object.entries(headers);
  parts.push(u32(entries.length));
  for (const [name, value] of entries) {
    const n = Buffer.from(name.toLowerCase(), "utf8");
    const v = Buffer.from(typeof value === "string" ? value : value.join("\0"), "utf8");
    parts.push(u32(n.length), n, u32(v.length), v);
  }
  return Buffer.concat(parts);
}

/**
 * Parses an uncompressed header block.
 * @throws SpdyProtocolError when lengths run past the block.
 */
export function decodeHeaderBlock(block: Buffer): Map<string, string[]> {
  const headers = new Map<string, string[]>();
  if (block.length === 0) return headers;
  let off = 0;
  const u32 = (what: string) => {
    if (off + 4 > block.length) throw new SpdyProtocolError(`header block truncated reading ${what}`);
    const n = block.readUInt32BE(off);
    off += 4;
    return n;
  };
  const bytes = (n: number, what: string) => {
    if (off + n > block.length) throw new SpdyProtocolError(`header block truncated reading ${what}`);
    const s = block.toString("utf8", off, off + n);
    off += n;
    return s;
  };
  const count = u32("pair count");
  for (let i = 0; i < count; i++) {
    const name = bytes(u32("name length"), "name").toLowerCase();
    if (name.length === 0) throw new SpdyProtocolError("empty header name");
    const values = bytes(u32("value length"), "value").split("\0");
    const prior = headers.get(name);
    if (prior) prior.push(...values);
    else headers.set(name, values);
  }
  return headers;
}

/**
 * One direction's zlib stream. Operations run strictly in call order; each
 * resolves with exactly the output its input produced up to a sync flush.
 */
class ZlibChannel {
  private chain: Promise<unknown> = Promise.resolve();
  private collected: Buffer[] = [];
  private failed: Error | undefined;
  private abortCurrent: ((err: Error) => void) | undefined;

  constructor(private readonly z: Deflate | Inflate) {
    // One permanent listener keeps the stream flowing, so output is
    // delivered before the flush callback of the write that produced it.
    z.on("data", (chunk: Buffer) => this.collected.push(chunk));
    z.on("error", (err: Error) => {
      this.failed = err;
    });
  }

  process(input: Buffer): Promise<Buffer> {
    const run = () =>
      new Promise<Buffer>((resolve, reject) => {
        if (this.failed) return reject(this.failed);
        this.collected = [];
        const onError = (err: Error) => reject(err);
        this.abortCurrent = onError;
        this.z.once("error", onError);
        this.z.write(input);
        this.z.flush(constants.Z_SYNC_FLUSH, () => {
          this.z.off("error", onError);
          this.abortCurrent = undefined;
          if (this.failed) return reject(this.failed);
          const out = Buffer.concat(this.collected);
          this.collected = [];
          resolve(out);
        });
      });
    const result = this.chain.then(run, run);
    this.chain = result.catch(() => undefined);
    return result;
  }

  /** Destroys the zlib stream; an operation in flight rejects instead of hanging. */
  close(): void {
    this.failed ??= new Error("header codec closed");
    this.abortCurrent?.(this.failed);
    this.abortCurrent = undefined;
    this.z.destroy();
  }
}

/** Compresses outgoing header blocks (one per session). */
export class HeaderCompressor {
  private readonly channel = new ZlibChannel(createDeflate({ level: constants.Z_BEST_COMPRESSION, dictionary: SPDY3_DICTIONARY }));

  compress(headers: OutgoingHeaders): Promise<Buffer> {
    return this.channel.process(encodeHeaderBlock(headers));
  }

  close(): void {
    this.channel.close();
  }
}

/** Decompresses incoming header blocks (one per session). */
export class HeaderDecompressor {
  private readonly channel = new ZlibChannel(createInflate({ dictionary: SPDY3_DICTIONARY }));

  /** @throws SpdyProtocolError (rejects) when the block does not decompress or parse. */
  async decompress(block: Buffer): Promise<Map<string, string[]>> {
    let raw: Buffer;
    try {
      raw = await this.channel.process(block);
    } catch (err) {
      throw new SpdyProtocolError(`header block does not decompress: ${(err as Error).message}`);
    }
    return decodeHeaderBlock(raw);
  }

  close(): void {
    this.channel.close();
  }
}
