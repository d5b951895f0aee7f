import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { deflateSync, inflateSync } from "node:zlib";
import { SPDY3_DICTIONARY } from "./dictionary.js";
import {
  decodeFrame,
  encodeData,
  encodeGoAway,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeSynReply,
  encodeSynStream,
  encodeWindowUpdate,
  FLAG_FIN,
  SpdyProtocolError,
} from "./frames.js";
import { decodeHeaderBlock, encodeHeaderBlock, HeaderCompressor, HeaderDecompressor, headerValue } from "./header-codec.js";

function adler32(b: Buffer): number {
  let a = 1;
  let s = 0;
  for (const x of b) {
    a = (a + x) % 65521;
    s = (s + a) % 65521;
  }
  return ((s << 16) | a) >>> 0;
}

describe("SPDY/3 dictionary", () => {
  it("is the spec's 1,423 bytes, identified by the adler32 Go's zlib checks", () => {
    assert.equal(SPDY3_DICTIONARY.length, 1423);
    // The DICTID a Go spdy peer writes into its zlib header; kubectl fails
    // with "zlib: invalid dictionary" against any other dictionary.
    assert.equal(adler32(SPDY3_DICTIONARY).toString(16), "e3c6a7c2");
    assert.equal(SPDY3_DICTIONARY.subarray(0, 11).toString("latin1"), "\0\0\0\x07options");
    assert.ok(SPDY3_DICTIONARY.toString("latin1").endsWith(",*,enq=0."));
  });
});

describe("SPDY frames", () => {
  it("round-trips every control frame and data", () => {
    const block = Buffer.from([1, 2, 3]);
    const cases = [
      [encodeSynStream(5, FLAG_FIN, block, 3), { kind: "syn_stream", flags: FLAG_FIN, streamId: 5, associatedStreamId: 0, priority: 3, slot: 0, headerBlock: block }],
      [encodeSynReply(7, 0, block), { kind: "syn_reply", flags: 0, streamId: 7, headerBlock: block }],
      [encodeRstStream(9, 5), { kind: "rst_stream", streamId: 9, status: 5 }],
      [encodeSettings([{ id: 7, value: 65536 }]), { kind: "settings", flags: 0, entries: [{ flags: 0, id: 7, value: 65536 }] }],
      [encodePing(1), { kind: "ping", id: 1 }],
      [encodeGoAway(11, 0), { kind: "goaway", lastGoodStreamId: 11, status: 0 }],
      [encodeWindowUpdate(3, 1000), { kind: "window_update", streamId: 3, delta: 1000 }],
      [encodeData(3, FLAG_FIN, Buffer.from("hi")), { kind: "data", streamId: 3, flags: FLAG_FIN, data: Buffer.from("hi") }],
    ] as const;
    for (const [wire, frame] of cases) {
      const decoded = decodeFrame(wire);
      assert.ok(decoded, frame.kind);
      assert.equal(decoded.size, wire.length);
      assert.deepEqual(decoded.frame, frame);
    }
  });

  it("encodes the SPDY/3 control header: control bit, version 3, type, flags, 24-bit length", () => {
    const ping = encodePing(0x01020304);
    assert.deepEqual([...ping], [0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 1, 2, 3, 4]);
    const data = encodeData(0x7fffffff, FLAG_FIN, Buffer.from([9]));
    assert.deepEqual([...data], [0x7f, 0xff, 0xff, 0xff, 0x01, 0x00, 0x00, 0x01, 9]);
  });

  it("waits for a whole frame", () => {
    const wire = encodeData(1, 0, Buffer.from("hello"));
    for (let n = 0; n < wire.length; n++) assert.equal(decodeFrame(wire.subarray(0, n)), undefined);
    const two = Buffer.concat([wire, encodePing(2)]);
    assert.equal(decodeFrame(two)?.size, wire.length);
  });

  it("rejects other versions and truncated control frames, ignores unknown types", () => {
    const v2 = encodePing(1);
    v2.writeUInt16BE(0x8002, 0);
    assert.throws(() => decodeFrame(v2), SpdyProtocolError);
    const shortRst = Buffer.from([0x80, 0x03, 0x00, 0x03, 0x00, 0x00, 0x00, 0x02, 0, 1]);
    assert.throws(() => decodeFrame(shortRst), SpdyProtocolError);
    const unknown = Buffer.from([0x80, 0x03, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x01, 7]);
    assert.deepEqual(decodeFrame(unknown), { frame: { kind: "unknown", type: 10 }, size: 9 });
  });
});

describe("SPDY header blocks", () => {
  it("encode names lower-cased with NUL-joined values and decode back", () => {
    const raw = encodeHeaderBlock({ StreamType: "error", Port: ["80", "81"] });
    const decoded = decodeHeaderBlock(raw);
    assert.deepEqual([...decoded], [
      ["streamtype", ["error"]],
      ["port", ["80", "81"]],
    ]);
    assert.equal(headerValue(decoded, "streamType"), "error");
    assert.equal(headerValue(decoded, "missing"), "");
  });

  it("rejects a block whose lengths run past its end", () => {
    const raw = encodeHeaderBlock({ a: "b" });
    assert.throws(() => decodeHeaderBlock(raw.subarray(0, raw.length - 1)), SpdyProtocolError);
  });

  it("compress as one continuous zlib stream per direction, primed with the dictionary", async () => {
    const c = new HeaderCompressor();
    const d = new HeaderDecompressor();
    const blocks: Record<string, string>[] = [{ streamtype: "error" }, { streamtype: "stdout" }, {}, { streamtype: "data", port: "8080", requestid: "0" }];
    const wire: Buffer[] = [];
    for (const b of blocks) wire.push(await c.compress(b));
    // Later blocks only decompress as a continuation of the earlier ones.
    for (let i = 0; i < blocks.length; i++) {
      const got = await d.decompress(wire[i]!);
      assert.deepEqual(Object.fromEntries([...got].map(([k, v]) => [k, v.join("\0")])), blocks[i]);
    }
    // A fresh decompressor fails on a block from the middle of the stream.
    const fresh = new HeaderDecompressor();
    await assert.rejects(fresh.decompress(wire[1]!), SpdyProtocolError);
    // The first block carries the dictionary id: inflating without it fails.
    assert.throws(() => inflateSync(wire[0]!));
    c.close();
    d.close();
    fresh.close();
  });

  it("decompresses what another zlib with the dictionary produced", async () => {
    const raw = encodeHeaderBlock({ streamtype: "stdin" });
    const compressed = deflateSync(raw, { dictionary: SPDY3_DICTIONARY });
    const d = new HeaderDecompressor();
    assert.equal(headerValue(await d.decompress(compressed), "streamtype"), "stdin");
    d.close();
  });
});
