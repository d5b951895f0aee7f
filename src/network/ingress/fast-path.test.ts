import assert from "node:assert/strict";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { connect, createServer, type Server, Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { FastFront, parseFastRequest } from "./fast-path.js";

const sock = new Socket();
const parse = (head: string) => parseFastRequest(Buffer.from(head, "latin1"), sock);

describe("ingress fast path: request heads", () => {
  it("parses a bodyless HTTP/1.1 request: method, target, Host, headers as sent (values trimmed)", () => {
    const r = parse("GET /a/b?x=1 HTTP/1.1\r\nHost: app.example:8080\r\nX-Thing:  v 1 \t\r\nConnection: keep-alive\r\naccept: */*\r\n\r\n");
    assert.ok(r);
    assert.equal(r.method, "GET");
    assert.equal(r.url, "/a/b?x=1");
    assert.equal(r.headers.host, "app.example:8080");
    assert.deepEqual(r.rawHeaders, ["Host", "app.example:8080", "X-Thing", "v 1", "Connection", "keep-alive", "accept", "*/*"]);
  });

  it("leaves to node:http what it does not fully understand (bodies, upgrades, other versions, bad syntax)", () => {
    const declined: Record<string, string> = {
      "content-length": "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
      "transfer-encoding": "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
      upgrade: "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
      expect: "GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
      "connection close": "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
      "HTTP/1.0": "GET / HTTP/1.0\r\nHost: a\r\n\r\n",
      "absolute-form": "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
      "no Host": "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n",
      "two Hosts": "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
      "folded line": "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n 2\r\n\r\n",
      "space before colon": "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
      "control character": "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\x002\r\n\r\n",
      "line without colon": "GET / HTTP/1.1\r\nHost: a\r\nbogus\r\n\r\n",
      "bad method": "G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
      "space in target": "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n",
      "bare LF": "GET / HTTP/1.1\nHost: a\n\n",
      "partial head": "GET / HTTP/1.1\r\nHost: a\r\n",
      "pipelined bytes": "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
      oversized: `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${"x".repeat(9000)}\r\n\r\n`,
    };
    for (const [what, head] of Object.entries(declined)) assert.equal(parse(head), undefined, what);
  });
});

/** Reads from a raw client socket until `done(text)` holds. */
function readUntil(s: Socket, done: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    const onData = (d: Buffer) => {
      text += d.toString("latin1");
      if (done(text)) {
        s.off("data", onData);
        resolve(text);
      }
    };
    s.on("data", onData);
    s.once("error", reject);
    s.once("close", () => resolve(text));
  });
}

describe("ingress fast path: connections", () => {
  let listener: Server;
  let port: number;
  const fallback = createHttpServer({ keepAlive: true });
  const seen: string[] = [];
  let release: (() => void) | undefined;
  /** Waits for the handler to hold a /hold request; returns what answers it. */
  const held = async (): Promise<() => void> => {
    for (;;) {
      const r = release as (() => void) | undefined;
      if (r !== undefined) return r;
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  let closedMidRequest = 0;

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    seen.push(`fast ${req.method} ${req.url} ${req.headers.host}`);
    res.once("close", () => {
      if (!res.writableFinished) closedMidRequest++;
    });
    const answer = () => {
      if (req.url === "/chunked") {
        res.writeHead(200, "OK", ["Content-Type", "text/plain"]);
        res.write(Buffer.from("one,"));
        res.write(Buffer.from("two"));
        res.end();
        return;
      }
      const body = `fast ${req.url}`;
      res.writeHead(200, "OK", ["Content-Type", "text/plain", "Content-Length", String(body.length)]);
      res.write(Buffer.from(body));
      res.end();
    };
    if (req.url === "/hold") release = answer;
    else answer();
  };

  before(async () => {
    fallback.on("request", (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        seen.push(`fallback ${req.method} ${req.url}`);
        const body = `fallback ${req.url} ${Buffer.concat(chunks).toString()}`;
        res.writeHead(200, { "Content-Length": body.length });
        res.end(body);
      });
    });
    const front = new FastFront(fallback, handle);
    listener = createServer((s) => front.accept(s));
    await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
    port = (listener.address() as { port: number }).port;
  });
  after(async () => {
    fallback.closeAllConnections();
    await new Promise<void>((r) => listener.close(() => r()));
  });

  async function client(): Promise<Socket> {
    const s = connect(port, "127.0.0.1");
    await new Promise<void>((r) => s.once("connect", r));
    return s;
  }

  it("answers keep-alive requests on one connection, chunking a response without a length", async () => {
    const s = await client();
    s.write("GET /one HTTP/1.1\r\nHost: a.example\r\n\r\n");
    const first = await readUntil(s, (t) => t.endsWith("fast /one"));
    assert.match(first, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(first, /\r\nContent-Length: 9\r\n/);
    assert.match(first, /\r\nConnection: keep-alive\r\nKeep-Alive: timeout=75\r\n/);
    assert.match(first, /\r\nDate: [A-Z][a-z]{2}, /);
    s.write("GET /chunked HTTP/1.1\r\nHost: a.example\r\n\r\n");
    const second = await readUntil(s, (t) => t.endsWith("0\r\n\r\n"));
    assert.match(second, /\r\nTransfer-Encoding: chunked\r\n/);
    assert.ok(second.endsWith("\r\n\r\n4\r\none,\r\n3\r\ntwo\r\n0\r\n\r\n"), second);
    s.destroy();
  });

  it("holds a request sent before the previous response ended, and answers both in order", async () => {
    const s = await client();
    release = undefined;
    s.write("GET /hold HTTP/1.1\r\nHost: a.example\r\n\r\n");
    const answer = await held();
    s.write("GET /next HTTP/1.1\r\nHost: a.example\r\n\r\n");
    // The second request is not seen before the first is answered.
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(seen.at(-1), "fast GET /hold a.example");
    answer();
    const text = await readUntil(s, (t) => t.endsWith("fast /next"));
    assert.ok(text.indexOf("fast /hold") < text.indexOf("fast /next"), text);
    assert.equal(seen.at(-1), "fast GET /next a.example");
    s.destroy();
  });

  it("hands a connection with a request body to node:http, bytes intact, for the rest of its life", async () => {
    const s = await client();
    s.write("POST /upload HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\n\r\nhello");
    await readUntil(s, (t) => t.endsWith("fallback /upload hello"));
    s.write("GET /after HTTP/1.1\r\nHost: a.example\r\n\r\n");
    await readUntil(s, (t) => t.endsWith("fallback /after "));
    assert.deepEqual(seen.slice(-2), ["fallback POST /upload", "fallback GET /after"]);
    s.destroy();
  });

  it("lets node:http reject malformed requests with 400", async () => {
    const s = await client();
    s.write("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n");
    const text = await readUntil(s, (t) => t.includes("\r\n\r\n"));
    assert.match(text, /^HTTP\/1\.1 400 Bad Request\r\n/);
    s.destroy();
  });

  it("tells the proxy when the client goes away mid-request", async () => {
    const s = await client();
    release = undefined;
    const before = closedMidRequest;
    s.write("GET /hold HTTP/1.1\r\nHost: a.example\r\n\r\n");
    await held();
    s.destroy();
    while (closedMidRequest === before) await new Promise((r) => setTimeout(r, 5));
    assert.equal(closedMidRequest, before + 1);
  });
});
