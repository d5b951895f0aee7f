import assert from "node:assert/strict";
import { once } from "node:events";
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { readAll } from "../testing/spdy-client.js";
import { decodeFrame, encodePing, encodeSynStream, type Frame, RstStatus } from "./frames.js";
import { HeaderCompressor } from "./header-codec.js";
import { SpdySession, type SpdySessionOptions } from "./session.js";
import type { SpdyStream } from "./stream.js";

/** A loopback server whose connections each run a server-role session built by `make`. */
async function listen(make: (socket: Socket) => SpdySession): Promise<{ server: Server; port: number; sessions: SpdySession[] }> {
  const sessions: SpdySession[] = [];
  const server = createServer((socket) => sessions.push(make(socket)));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, port: (server.address() as AddressInfo).port, sessions };
}

async function client(port: number, opts: Partial<SpdySessionOptions> = {}): Promise<SpdySession> {
  const socket = connect({ host: "127.0.0.1", port });
  await once(socket, "connect");
  return new SpdySession(socket, { role: "client", ...opts });
}

/** Reads raw frames a server sends to a bare socket. */
function frames(socket: Socket): Frame[] {
  const got: Frame[] = [];
  let buf = Buffer.alloc(0);
  socket.on("data", (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    for (let d = decodeFrame(buf); d; d = decodeFrame(buf)) {
      got.push(d.frame);
      buf = buf.subarray(d.size);
    }
  });
  return got;
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

describe("SpdySession", () => {
  const servers: Server[] = [];
  const accepted: SpdyStream[] = [];
  let echoPort = 0;
  let echo: { sessions: SpdySession[] };

  before(async () => {
    // Echo server: upper-cases each stream's data back, FIN after the client's FIN.
    const s = await listen(
      (socket) =>
        new SpdySession(socket, {
          role: "server",
          onStream: (stream) => {
            if (stream.header("refuse") === "yes") return false;
            accepted.push(stream);
            if (stream.header("mode") === "hold") return true;
            stream.on("data", (c: Buffer) => stream.write(c.toString().toUpperCase()));
            stream.on("end", () => stream.end());
            return true;
          },
        }),
    );
    servers.push(s.server);
    echoPort = s.port;
    echo = s;
  });
  after(() => {
    for (const s of echo.sessions) s.destroy();
    for (const s of servers) s.close();
  });

  it("opens streams, carries data both ways, and half-closes each direction", async () => {
    const c = await client(echoPort);
    const [a, b] = await Promise.all([c.openStream({ streamType: "data", id: "a" }), c.openStream({ streamType: "data", id: "b" })]);
    assert.equal(a.id, 1);
    assert.equal(b.id, 3);
    a.end("hello");
    b.write("wor");
    b.end("ld");
    assert.equal(await readAll(a), "HELLO");
    assert.equal(await readAll(b), "WORLD");
    await until(() => c.openStreams === 0);
    const server = accepted.find((s) => s.header("id") === "a")!;
    assert.equal(server.header("streamtype"), "data");
    c.destroy();
  });

  it("refuses a stream the handler rejects with RST_STREAM", async () => {
    const c = await client(echoPort);
    await assert.rejects(c.openStream({ refuse: "yes" }), new RegExp(`status ${RstStatus.RefusedStream}`));
    const ok = await c.openStream({ streamType: "data" });
    ok.end("still works");
    assert.equal(await readAll(ok), "STILL WORKS");
    c.destroy();
  });

  it("echoes the peer's pings and rejects streams with the server's parity", async () => {
    const socket = connect({ host: "127.0.0.1", port: echoPort });
    await once(socket, "connect");
    const got = frames(socket);
    const hc = new HeaderCompressor();
    socket.write(encodePing(7));
    // Even ids belong to the server: a client may not open stream 2.
    socket.write(encodeSynStream(2, 0, await hc.compress({ streamtype: "data" })));
    await until(() => got.length >= 2);
    assert.deepEqual(got[0], { kind: "ping", id: 7 });
    assert.deepEqual(got[1], { kind: "rst_stream", streamId: 2, status: RstStatus.ProtocolError });
    socket.write(encodeSynStream(1, 0, await hc.compress({ streamtype: "data" })));
    await until(() => got.length >= 3);
    assert.equal(got[2]!.kind, "syn_reply");
    hc.close();
    socket.destroy();
  });

  it("stops reading when a stream's reader falls behind, and loses nothing", async () => {
    const c = await client(echoPort);
    const held = await c.openStream({ mode: "hold", id: "held" });
    const server = accepted.find((s) => s.header("id") === "held")!;
    const payload = Buffer.alloc(3 * 1024 * 1024, 7);
    const wrote = new Promise<void>((resolve) => held.end(payload, resolve));
    // Nobody reads the server side yet; the session pauses instead of buffering without bound.
    await new Promise((r) => setTimeout(r, 50));
    let received = 0;
    server.on("data", (chunk: Buffer) => {
      received += chunk.length;
    });
    await once(server, "end");
    await wrote;
    assert.equal(received, payload.length);
    c.destroy();
  });

  it("a reset ends both sides and tells the other end", async () => {
    const c = await client(echoPort);
    const s = await c.openStream({ mode: "hold", id: "reset-me" });
    const server = accepted.find((x) => x.header("id") === "reset-me")!;
    const sawReset = once(server, "reset");
    s.reset();
    await sawReset;
    assert.equal(server.isReset, true);
    assert.equal(await readAll(server), "");
    c.destroy();
  });

  it("closes an idle connection with GOAWAY", async () => {
    const idle = await listen((socket) => new SpdySession(socket, { role: "server", idleTimeoutMs: 100 }));
    servers.push(idle.server);
    const c = await client(idle.port);
    await c.closed;
    assert.equal(c.receivedGoAway, true);
  });

  it("ends every stream when the transport goes away", async () => {
    const c = await client(echoPort);
    const s = await c.openStream({ mode: "hold", id: "orphan" });
    const server = accepted.find((x) => x.header("id") === "orphan")!;
    c.destroy();
    assert.equal(await readAll(server), "");
    assert.equal(s.isReset, true);
  });
});
