/**
 * Port-forward over SPDY (a hand-driven client opening stream pairs as
 * client-go does), over WebSocket channels (@kubernetes/client-node), and
 * over kubectl 1.31+'s SPDY-in-WebSocket tunnel.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { type AddressInfo, createServer, type Server } from "node:net";
import { PassThrough, Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { KubeConfig, PortForward } from "@kubernetes/client-node";
import { WebSocket } from "ws";
import { SpdySession } from "./spdy/session.js";
import { type FakeApi, SANDBOX_ID, startFakeApi } from "./testing/fake-api.js";
import { FakeStreamingRuntime } from "./testing/fake-runtime.js";
import { readAll, spdyUpgrade } from "./testing/spdy-client.js";
import { openTunnel } from "./testing/tunnel-client.js";

const PF = "/api/v1/namespaces/default/pods/web/portforward";

class Collector extends Writable {
  text = "";
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

/** Opens one forwarded connection on a client session: error stream first, then data, as client-go. */
async function openPair(session: SpdySession, port: number, requestId?: string) {
  const headers: Record<string, string> = { streamtype: "error", port: String(port) };
  if (requestId !== undefined) headers.requestid = requestId;
  const error = await session.openStream(headers);
  error.end();
  const data = await session.openStream({ ...headers, streamtype: "data" });
  return { error, data };
}

describe("port-forward", () => {
  let runtime: FakeStreamingRuntime;
  let api: FakeApi;
  let shortApi: FakeApi;
  let echo: Server;

  before(async () => {
    // The "pod's" server: answers each chunk with echo:<chunk>, ends when the client does.
    echo = createServer((s) => {
      s.on("data", (d) => s.write(`echo:${d}`));
      s.on("end", () => s.end());
      s.on("error", () => undefined);
    });
    echo.listen(0, "127.0.0.1");
    await once(echo, "listening");
    runtime = new FakeStreamingRuntime();
    runtime.portMap.set(80, (echo.address() as AddressInfo).port);
    api = await startFakeApi(runtime);
    shortApi = await startFakeApi(runtime, { streamCreationTimeoutMs: 200 });
  });
  after(async () => {
    runtime.cleanup();
    await api.close();
    await shortApi.close();
    echo.close();
  });

  it("SPDY: concurrent connections, each a stream pair, on one session", async () => {
    const res = await spdyUpgrade(api.url, { url: PF, protocols: ["portforward.k8s.io"] });
    assert.equal(res.status, 101);
    assert.deepEqual(res.headers.get("x-stream-protocol-version"), ["portforward.k8s.io"]);
    const session = res.session!;
    const [a, b] = await Promise.all([openPair(session, 80, "0"), openPair(session, 80, "1")]);
    a.data.write("one");
    b.data.write("two");
    let aOut = "";
    let bOut = "";
    a.data.on("data", (c: Buffer) => {
      aOut += c;
    });
    b.data.on("data", (c: Buffer) => {
      bOut += c;
    });
    await until(() => aOut === "echo:one" && bOut === "echo:two");
    // The client's FIN reaches the pod, whose close ends the data stream, then the error stream.
    a.data.end();
    b.data.end();
    assert.deepEqual(await Promise.all([readAll(a.error), readAll(b.error)]), ["", ""]);
    await until(() => a.data.readableEnded && b.data.readableEnded);
    session.destroy();
  });

  it("SPDY: a failed connection is reported on its error stream, the session lives on", async () => {
    const res = await spdyUpgrade(api.url, { url: PF, protocols: ["portforward.k8s.io"] });
    const session = res.session!;
    const bad = await openPair(session, 81, "0");
    assert.equal(
      await readAll(bad.error),
      `error forwarding port 81 to pod ${SANDBOX_ID}, uid : failed to connect to localhost:81 inside namespace "${SANDBOX_ID}": dial tcp 127.0.0.1:81: connect: connection refused`,
    );
    assert.equal(await readAll(bad.data), "");
    const good = await openPair(session, 80, "1");
    good.data.end("still");
    assert.equal(await readAll(good.data), "echo:still");
    session.destroy();
  });

  it("SPDY: pairs streams of clients that send no requestID by stream id", async () => {
    const res = await spdyUpgrade(api.url, { url: PF, protocols: ["portforward.k8s.io"] });
    const pair = await openPair(res.session!, 80);
    pair.data.end("legacy");
    assert.equal(await readAll(pair.data), "echo:legacy");
    res.session!.destroy();
  });

  it("SPDY: refuses streams without a valid port or type, and times out half pairs", async () => {
    const res = await spdyUpgrade(shortApi.url, { url: PF, protocols: ["portforward.k8s.io"] });
    const session = res.session!;
    await assert.rejects(session.openStream({ streamtype: "data", port: "0", requestid: "0" }), /status 3/);
    await assert.rejects(session.openStream({ streamtype: "data", port: "http", requestid: "0" }), /status 3/);
    await assert.rejects(session.openStream({ streamtype: "stdout", port: "80", requestid: "0" }), /status 3/);
    const lonely = await session.openStream({ streamtype: "error", port: "80", requestid: "7" });
    lonely.end();
    assert.equal(await readAll(lonely), `(conn=${SANDBOX_ID}, request=7) timed out waiting for streams`);
    session.destroy();
  });

  it("SPDY: answers 403 to a client without portforward.k8s.io", async () => {
    const res = await spdyUpgrade(api.url, { url: PF, protocols: ["v4.channel.k8s.io"] });
    assert.equal(res.status, 403);
    assert.deepEqual(res.headers.get("x-accepted-stream-protocol-versions"), ["portforward.k8s.io"]);
  });

  it("WebSocket channels: two client-node forwards at once", async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "c", server: api.url, skipTLSVerify: true }],
      users: [{ name: "u" }],
      contexts: [{ name: "x", cluster: "c", user: "u" }],
      currentContext: "x",
    });
    const forwards = ["first", "second"].map(async (word) => {
      const input = new PassThrough();
      const output = new Collector();
      const errors = new Collector();
      const ws = (await new PortForward(kc).portForward("default", "web", [80], output, errors, input)) as WebSocket;
      assert.equal(ws.protocol, "v4.channel.k8s.io");
      input.write(word);
      await until(() => output.text === `echo:${word}`);
      input.end();
      if (ws.readyState !== WebSocket.CLOSED) await once(ws, "close");
      return { out: output.text, err: errors.text };
    });
    assert.deepEqual(await Promise.all(forwards), [
      { out: "echo:first", err: "" },
      { out: "echo:second", err: "" },
    ]);
    // client-node asks for `ports`; the API server hands the kubelet `port`.
    assert.ok(api.upgrades.some((u) => u.sub === "portforward" && u.kubeletUrl.endsWith("?port=80")));
  });

  it("WebSocket channels: port bytes first, errors on the error channel", async () => {
    const ws = new WebSocket(`${api.url.replace("http", "ws")}${PF}?ports=81`, ["v4.channel.k8s.io"]);
    const messages: Buffer[] = [];
    ws.on("message", (d: Buffer) => messages.push(d));
    await once(ws, "close");
    assert.deepEqual([...messages[0]!], [0, 81, 0]);
    assert.deepEqual([...messages[1]!], [1, 81, 0]);
    const errorText = messages
      .slice(2)
      .filter((m) => m[0] === 1)
      .map((m) => m.subarray(1).toString())
      .join("");
    assert.match(errorText, /^error forwarding port 81 to pod 5a4db0c5, uid : failed to connect/);
  });

  it("WebSocket channels: 400 without ports", async () => {
    const ws = new WebSocket(`${api.url.replace("http", "ws")}${PF}`, ["v4.channel.k8s.io"]);
    ws.on("error", () => undefined);
    const [, res] = await once(ws, "unexpected-response");
    assert.equal(res.statusCode, 400);
    ws.terminate();
  });

  it("SPDY tunnelled in WebSocket (SPDY/3.1+portforward.k8s.io), no ports in the query", async () => {
    const tunnel = await openTunnel(`${api.url}${PF}`, "SPDY/3.1+portforward.k8s.io");
    assert.equal(tunnel.protocol, "SPDY/3.1+portforward.k8s.io");
    const session = new SpdySession(tunnel.stream, { role: "client" });
    const [a, b] = await Promise.all([openPair(session, 80, "0"), openPair(session, 80, "1")]);
    a.data.end("tunnel-a");
    b.data.end("tunnel-b");
    assert.deepEqual(await Promise.all([readAll(a.data), readAll(b.data)]), ["echo:tunnel-a", "echo:tunnel-b"]);
    session.destroy();
  });
});
