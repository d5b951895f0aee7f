import assert from "node:assert/strict";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import * as http2 from "node:http2";
import { createServer as createTcpServer } from "node:net";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { Container, HTTPGetAction } from "kubernetes-types/core/v1.js";
import { KUBE_MAJOR, KUBE_MINOR } from "../../apiserver/version.js";
import { createCertificateAuthority } from "../../pki/certs.js";
import { fail, ok, type ExecSyncResult, type RuntimeResult } from "../../runtime/types.js";
import { execProbe } from "./exec-probe.js";
import { expandCommandOnlyStatic } from "./expand.js";
import { decodeHealthCheckResponse, encodeHealthCheckRequest, grpcProbe } from "./grpc-probe.js";
import { canonicalHeaderKey, newRequestForHttpGet } from "./http-get.js";
import { httpProbe } from "./http-probe.js";
import { resolveContainerPort } from "./port.js";
import { tcpProbe } from "./tcp-probe.js";
import type { HandlerOutcome } from "./types.js";

const LOOPBACK = "127.0.0.1";

function listen(server: Server | http2.Http2Server | ReturnType<typeof createTcpServer>): Promise<number> {
  return new Promise((resolve) => server.listen(0, LOOPBACK, () => resolve((server.address() as AddressInfo).port)));
}

function close(server: { close(cb?: (err?: Error) => void): unknown }): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = createTcpServer();
  const port = await listen(s);
  await close(s);
  return port;
}

function routes(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? "/", "http://x");
  switch (url.pathname) {
    case "/ok":
      res.end("fine");
      return;
    case "/fail":
      res.statusCode = 500;
      res.end("secret details");
      return;
    case "/redirect-local":
      res.writeHead(302, { Location: "/ok" }).end();
      return;
    case "/redirect-away":
      // Another host: the prober must not follow it (nothing is sent there).
      res.writeHead(302, { Location: "http://127.0.0.2:1/ok" }).end("moved");
      return;
    case "/loop":
      res.writeHead(302, { Location: "/loop" }).end();
      return;
    case "/no-location":
      res.writeHead(301).end("gone");
      return;
    case "/headers":
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ headers: req.rawHeaders, query: url.search }));
      return;
    case "/big":
      res.end("x".repeat(20_000));
      return;
    case "/hang":
      // Never answers: the probe's timeout ends it.
      return;
    default:
      res.statusCode = 404;
      res.end();
  }
}

const ctr = (ports: Container["ports"] = []): Container => ({ name: "app", image: "img", ports });

describe("probe handlers", () => {
  let server: Server;
  let port = 0;
  let refused = 0;
  before(async () => {
    server = createHttpServer(routes);
    port = await listen(server);
    refused = await closedPort();
  });
  after(async () => {
    server.closeAllConnections();
    await close(server);
  });

  async function probe(action: Partial<HTTPGetAction>, container = ctr(), timeoutMs = 1000): Promise<HandlerOutcome> {
    const r = newRequestForHttpGet({ port, ...action } as HTTPGetAction, container, LOOPBACK, "probe");
    assert.ok(r.ok, r.ok ? "" : r.error);
    return httpProbe(r.request, timeoutMs);
  }

  it("httpGet: status codes, redirects, errors (table)", async () => {
    const cases: { name: string; action: Partial<HTTPGetAction>; want: Partial<HandlerOutcome> }[] = [
      { name: "200", action: { path: "/ok" }, want: { result: "success", output: "fine" } },
      { name: "500 (body never shown)", action: { path: "/fail" }, want: { result: "failure", output: "HTTP probe failed with statuscode: 500" } },
      { name: "404", action: { path: "/nope" }, want: { result: "failure", output: "HTTP probe failed with statuscode: 404" } },
      { name: "redirect on the same host is followed", action: { path: "/redirect-local" }, want: { result: "success", output: "fine" } },
      { name: "redirect elsewhere is a warning", action: { path: "/redirect-away" }, want: { result: "warning", output: "Probe terminated redirects, Response body: moved" } },
      { name: "3xx without Location is a warning", action: { path: "/no-location" }, want: { result: "warning", output: "Probe terminated redirects, Response body: gone" } },
      { name: "redirect loop", action: { path: "/loop" }, want: { result: "failure", output: 'Get "/loop": stopped after 10 redirects' } },
      {
        name: "connection refused",
        action: { port: refused, path: "/ok" },
        want: { result: "failure", output: `Get "http://${LOOPBACK}:${refused}/ok": dial tcp ${LOOPBACK}:${refused}: connect: connection refused` },
      },
    ];
    for (const c of cases) {
      const got = await probe(c.action);
      assert.deepEqual({ result: got.result, output: got.output }, { result: c.want.result, output: c.want.output }, c.name);
      assert.equal(got.error, undefined, c.name);
    }
  });

  it("httpGet: a request that outlives timeoutSeconds fails as Go's client says", async () => {
    const got = await probe({ path: "/hang" }, ctr(), 150);
    assert.equal(got.result, "failure");
    assert.equal(got.output, `Get "http://${LOOPBACK}:${port}/hang": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`);
  });

  it("httpGet: headers, User-Agent, Accept, Host override, query, named port", async () => {
    const got = await probe(
      { port: "web", path: "/headers?a=b", httpHeaders: [{ name: "x-custom-header", value: "1" }, { name: "X-Custom-Header", value: "2" }, { name: "host", value: "example.test" }] },
      ctr([{ name: "web", containerPort: port }]),
    );
    assert.equal(got.result, "success");
    const body = JSON.parse(got.output) as { headers: string[]; query: string };
    const pairs: [string, string][] = [];
    for (let i = 0; i < body.headers.length; i += 2) pairs.push([body.headers[i]!, body.headers[i + 1]!]);
    const all = (k: string) => pairs.filter(([n]) => n.toLowerCase() === k.toLowerCase()).map(([, v]) => v);
    assert.deepEqual(all("User-Agent"), [`kube-probe/${KUBE_MAJOR}.${KUBE_MINOR}`]);
    assert.deepEqual(all("Accept"), ["*/*"]);
    assert.deepEqual(all("X-Custom-Header"), ["1", "2"]);
    assert.ok(pairs.some(([n]) => n === "X-Custom-Header"), "names are canonicalised");
    assert.deepEqual(all("Host"), ["example.test"]);
    assert.deepEqual(all("Connection"), ["close"]);
    assert.deepEqual(all("Accept-Encoding"), []);
    assert.equal(body.query, "?a=b");
  });

  it("httpGet: a custom User-Agent wins and an empty Accept is dropped; Host is host:port without override", async () => {
    const got = await probe({ path: "/headers", httpHeaders: [{ name: "User-Agent", value: "mine" }, { name: "Accept", value: "" }] });
    const raw = (JSON.parse(got.output) as { headers: string[] }).headers;
    const get = (k: string) => raw.filter((_, i) => i % 2 === 1 && raw[i - 1]!.toLowerCase() === k.toLowerCase());
    assert.deepEqual(get("user-agent"), ["mine"]);
    assert.deepEqual(get("accept"), []);
    assert.deepEqual(get("host"), [`${LOOPBACK}:${port}`]);
  });

  it("httpGet: the body is read up to 10 KiB", async () => {
    const got = await probe({ path: "/big" });
    assert.equal(got.result, "success");
    assert.equal(got.output.length, 10 * 1024);
  });

  it("httpGet over HTTPS does not verify the certificate", async () => {
    const ca = await createCertificateAuthority({ commonName: "skiff-probe-test" });
    const tls = createHttpsServer({ cert: ca.certPem, key: ca.keyPem }, routes);
    const tlsPort = await listen(tls as unknown as Server);
    try {
      const r = newRequestForHttpGet({ port: tlsPort, path: "/ok", scheme: "HTTPS" }, ctr(), LOOPBACK, "probe");
      assert.ok(r.ok);
      assert.deepEqual(await httpProbe(r.request, 2000), { result: "success", output: "fine" });
      // HTTPS to a plain-HTTP server: Go's wording.
      const plain = newRequestForHttpGet({ port, path: "/ok", scheme: "HTTPS" }, ctr(), LOOPBACK, "probe");
      assert.ok(plain.ok);
      const got = await httpProbe(plain.request, 2000);
      assert.equal(got.result, "failure");
      assert.equal(got.output, `Get "https://${LOOPBACK}:${port}/ok": http: server gave HTTP response to HTTPS client`);
    } finally {
      tls.closeAllConnections();
      await close(tls);
    }
  });

  it("httpGet: request building errors (unknown named port) and URL forms", () => {
    const bad = newRequestForHttpGet({ port: "metrics" }, ctr(), LOOPBACK, "probe");
    assert.deepEqual(bad, { ok: false, error: 'strconv.Atoi: parsing "metrics": invalid syntax' });
    const empty = newRequestForHttpGet({ port: 8080 }, ctr(), "10.42.0.7", "probe");
    assert.ok(empty.ok);
    assert.equal(empty.request.display, "http://10.42.0.7:8080");
    const sneaky = newRequestForHttpGet({ port: 8080, path: "//elsewhere/x" }, ctr(), "10.42.0.7", "probe");
    assert.ok(sneaky.ok);
    assert.equal(sneaky.request.url.host, "10.42.0.7:8080", "a path never changes the host");
    const v6 = newRequestForHttpGet({ port: 80, path: "healthz" }, ctr(), "fd00::7", "lifecycle");
    assert.ok(v6.ok);
    assert.equal(v6.request.display, "http://[fd00::7]:80/healthz");
    assert.ok(v6.request.headers.some(([k, v]) => k === "User-Agent" && v === `kube-lifecycle/${KUBE_MAJOR}.${KUBE_MINOR}`));
  });

  it("tcpSocket: open and closed ports (table)", async () => {
    const tcp = createTcpServer((s) => s.destroy());
    const open = await listen(tcp);
    try {
      const cases: [number, HandlerOutcome][] = [
        [open, { result: "success", output: "" }],
        [refused, { result: "failure", output: `dial tcp ${LOOPBACK}:${refused}: connect: connection refused` }],
      ];
      for (const [p, want] of cases) assert.deepEqual(await tcpProbe(LOOPBACK, p, 1000), want, String(p));
    } finally {
      await close(tcp);
    }
  });

  it("grpc: SERVING, NOT_SERVING, unknown service, unimplemented, unreachable (table)", async () => {
    const statuses: Record<string, number> = { "": 1, db: 2 };
    const h2 = http2.createServer();
    h2.on("stream", (stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        if (headers[":path"] !== "/grpc.health.v1.Health/Check" || headers["content-type"] !== "application/grpc") {
          stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "12", "grpc-message": "unknown service grpc.health.v1.Health" }, { endStream: true });
          return;
        }
        const body = Buffer.concat(chunks);
        const len = body.readUInt32BE(1);
        const msg = body.subarray(5, 5 + len);
        const service = msg.length > 0 ? msg.subarray(2, 2 + msg[1]!).toString() : "";
        const status = statuses[service];
        if (status === undefined) {
          stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "5", "grpc-message": "unknown%20service" }, { endStream: true });
          return;
        }
        stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
        stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
        const payload = Buffer.from([0x08, status]);
        const frame = Buffer.alloc(5 + payload.length);
        frame.writeUInt32BE(payload.length, 1);
        payload.copy(frame, 5);
        stream.end(frame);
      });
    });
    const gport = await listen(h2);
    // A plain HTTP/2 server that knows nothing of gRPC.
    const other = http2.createServer((_req, res) => {
      res.statusCode = 404;
      res.end();
    });
    const oport = await listen(other);
    try {
      const cases: [string, number, number, HandlerOutcome][] = [
        ["serving", gport, 1000, { result: "success", output: "service healthy" }],
        ["not serving", gport, 1000, { result: "failure", output: 'service unhealthy (responded with "NOT_SERVING")' }],
        ["unknown service", gport, 1000, { result: "failure", output: "error: health rpc probe failed: rpc error: code = NotFound desc = unknown service" }],
        [
          "not gRPC",
          oport,
          1000,
          { result: "failure", output: "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): unexpected HTTP status code received from server: 404 (Not Found)" },
        ],
        ["unreachable", refused, 300, { result: "failure", output: `timeout: failed to connect service "${LOOPBACK}:${refused}" within 300ms: context deadline exceeded` }],
      ];
      const services: Record<string, string> = { serving: "", "not serving": "db", "unknown service": "nope", "not gRPC": "", unreachable: "" };
      for (const [name, p, timeout, want] of cases) assert.deepEqual(await grpcProbe(LOOPBACK, services[name]!, p, timeout), want, name);
    } finally {
      await close(h2);
      await close(other);
    }
  });

  it("grpc: the hand-made protobuf frames", () => {
    assert.deepEqual([...encodeHealthCheckRequest("")], [0, 0, 0, 0, 0]);
    assert.deepEqual([...encodeHealthCheckRequest("db")], [0, 0, 0, 0, 4, 0x0a, 2, 0x64, 0x62]);
    assert.deepEqual(decodeHealthCheckResponse(Buffer.from([0, 0, 0, 0, 2, 0x08, 1])), { ok: true, status: 1 });
    assert.deepEqual(decodeHealthCheckResponse(Buffer.from([0, 0, 0, 0, 0])), { ok: true, status: 0 }, "absent: UNKNOWN");
    // Unknown fields are skipped.
    assert.deepEqual(decodeHealthCheckResponse(Buffer.from([0, 0, 0, 0, 6, 0x12, 2, 0x61, 0x62, 0x08, 2])), { ok: true, status: 2 });
    assert.equal(decodeHealthCheckResponse(Buffer.from([0, 0, 0])).ok, false);
  });

  it("exec: exit codes, output, timeouts and runtime errors through ExecSync (table)", async () => {
    const calls: { id: string; cmd: readonly string[]; timeout: number }[] = [];
    const res = (exitCode: number, stdout: string, stderr = "", timedOut = false): RuntimeResult<ExecSyncResult> =>
      ok({ exitCode, stdout: Buffer.from(stdout), stderr: Buffer.from(stderr), timedOut });
    const runtime = {
      async execSync(id: string, cmd: readonly string[], timeout: number): Promise<RuntimeResult<ExecSyncResult>> {
        calls.push({ id, cmd, timeout });
        switch (cmd[0]) {
          case "ok":
            return res(0, "all good\n");
          case "bad":
            return res(3, "out\n", "err\n");
          case "slow":
            return res(-1, "", "", true);
          case "deadline":
            return fail("DeadlineExceeded", "context deadline exceeded");
          case "big":
            return res(1, "y".repeat(20_000));
          default:
            return fail("NotFound", "container gone");
        }
      },
    };
    const cases: [string[], HandlerOutcome][] = [
      [["ok"], { result: "success", output: "all good\n" }],
      [["bad", "x"], { result: "failure", output: "out\nerr\n" }],
      [["slow", "10"], { result: "failure", output: 'command "slow 10" timed out' }],
      [["deadline"], { result: "failure", output: 'command "deadline" timed out' }],
      [["gone"], { result: "unknown", output: "", error: "rpc error: code = NotFound desc = container gone" }],
    ];
    for (const [cmd, want] of cases) assert.deepEqual(await execProbe(runtime, "c1", cmd, 5), want, cmd.join(" "));
    assert.equal((await execProbe(runtime, "c1", ["big"], 1)).output.length, 10 * 1024);
    assert.deepEqual(calls[0], { id: "c1", cmd: ["ok"], timeout: 5 });
  });

  it("resolves ports and expands $(VAR) as upstream", () => {
    const c = ctr([{ name: "http", containerPort: 8080 }]);
    assert.deepEqual(resolveContainerPort("http", c), { ok: true, port: 8080 });
    assert.deepEqual(resolveContainerPort("9090", c), { ok: true, port: 9090 });
    assert.deepEqual(resolveContainerPort(0, c), { ok: false, error: "invalid port number: 0" });
    assert.deepEqual(resolveContainerPort(70000, c), { ok: false, error: "invalid port number: 70000" });
    const env = [{ name: "DIR", value: "/data" }, { name: "FROM_SECRET", valueFrom: { secretKeyRef: { name: "s", key: "k" } } }];
    assert.deepEqual(expandCommandOnlyStatic(["cat", "$(DIR)/ready", "$(FROM_SECRET)x", "$(UNKNOWN)", "$$(DIR)", "a$", "$(open"], env), [
      "cat",
      "/data/ready",
      "x",
      "$(UNKNOWN)",
      "$(DIR)",
      "a$",
      "$(open",
    ]);
    assert.equal(canonicalHeaderKey("x-fOO-bar"), "X-Foo-Bar");
    assert.equal(canonicalHeaderKey("bad header"), "bad header");
  });
});
