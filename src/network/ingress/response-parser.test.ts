import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type ResponseHead, ResponseParser } from "./response-parser.js";

interface Parsed {
  head?: ResponseHead;
  body: string;
  ended: boolean;
  keepAlive: boolean;
}

/** Feeds `wire` in pieces of `step` bytes (every split point gets exercised across steps). */
function parse(wire: string, step: number, headRequest = false, eof = false): Parsed {
  const out: Parsed = { body: "", ended: false, keepAlive: false };
  const p = new ResponseParser(
    {
      head: (h) => {
        out.head = h;
      },
      body: (c) => {
        out.body += c.toString("latin1");
      },
      end: () => {
        out.ended = true;
      },
    },
    headRequest,
  );
  const bytes = Buffer.from(wire, "latin1");
  for (let i = 0; i < bytes.length; i += step) p.push(bytes.subarray(i, i + step));
  if (eof) p.eof();
  out.keepAlive = p.keepAlive;
  return out;
}

describe("ingress response parser", () => {
  it("parses Content-Length and chunked bodies split anywhere", () => {
    const cl = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-A: 1\r\n\r\nhello world";
    const chunked = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
    for (let step = 1; step <= 70; step++) {
      const a = parse(cl, step);
      assert.equal(a.body, "hello world");
      assert.ok(a.ended && a.keepAlive);
      assert.deepEqual(a.head?.rawHeaders, ["Content-Length", "11", "X-A", "1"]);
      const b = parse(chunked, step);
      assert.equal(b.head?.status, 201);
      assert.equal(b.head?.statusText, "Created");
      assert.equal(b.body, "hello world", `step ${step}`);
      assert.ok(b.ended && b.keepAlive);
    }
  });

  it("knows bodiless responses, close-delimited bodies and connection reuse", () => {
    const head = parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 7, true);
    assert.ok(head.ended && head.keepAlive && head.body === "");
    assert.ok(parse("HTTP/1.1 204 No Content\r\n\r\n", 3).ended);
    assert.ok(parse("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", 3).ended);
    const close = parse("HTTP/1.1 200 OK\r\n\r\nuntil the end", 4, false, true);
    assert.equal(close.body, "until the end");
    assert.ok(close.ended);
    assert.equal(close.keepAlive, false);
    assert.equal(parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 5).keepAlive, false);
    assert.equal(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 5).keepAlive, false);
    assert.equal(parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", 5).keepAlive, true);
    // Bytes after the response: the connection is not reused.
    assert.equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", 100).keepAlive, false);
  });

  it("skips interim responses", () => {
    const r = parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 6);
    assert.equal(r.head?.status, 200);
    assert.equal(r.body, "ok");
  });

  it("rejects what could desynchronize the connection", () => {
    const bad = [
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX",
      "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
      "HTTP/2 200\r\n\r\n",
      `HTTP/1.1 200 OK\r\nX: ${"a".repeat(17_000)}\r\n\r\n`,
    ];
    for (const wire of bad) assert.throws(() => parse(wire, 1000), Error, JSON.stringify(wire.slice(0, 60)));
  });
});
