/**
 * The ingress controller against a real `skiff server`: backends are
 * node:http servers on 127.0.0.1 made here, behind selector-less Services
 * and hand-made EndpointSlices; requests go to the controller's own
 * loopback listeners.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Agent, createServer, type IncomingHttpHeaders, request, type Server } from "node:http";
import { type AddressInfo, connect as netConnect } from "node:net";
import { after, before, describe, it } from "node:test";
import { type PeerCertificate, connect as tlsConnect } from "node:tls";
import type { Namespace, Secret, Service } from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";
import type { Ingress, IngressClass } from "kubernetes-types/networking/v1.js";
import { WebSocket, WebSocketServer } from "ws";
import { startTestServer, type TestServer } from "../../../test/support/cluster.js";
import { configFromKubeconfig } from "../../client/config.js";
import { ResourceClient } from "../../client/resource-client.js";
import { ENDPOINT_SLICES, EVENTS, INGRESS_CLASSES, INGRESSES, NAMESPACES, SECRETS, SERVICES } from "../../client/resources.js";
import { RestClient } from "../../client/rest-client.js";
import { silentLogger } from "../../machinery/log.js";
import { createCertificateAuthority, issueCertificate } from "../../pki/certs.js";
import { type IngressController, startIngressController } from "./controller.js";
import { startIngressControllerThread } from "./thread.js";
import { DEFAULT_CERT_CN } from "./tls-store.js";

interface Backend {
  readonly name: string;
  readonly server: Server;
  readonly port: number;
  /** TCP connections the backend has accepted. */
  connections: number;
}

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly headers: IncomingHttpHeaders;
  readonly reused: boolean;
}

/** A backend answering JSON {name, url, headers}; POST bodies are echoed back, streamed. */
async function startBackend(name: string): Promise<Backend> {
  const server = createServer((req, res) => {
    if (req.method === "POST") {
      res.writeHead(200, { "Content-Type": "application/octet-stream", "X-Backend": name });
      req.pipe(res);
      return;
    }
    const body = JSON.stringify({ name, url: req.url, headers: req.headers });
    if (req.url?.endsWith("/slow")) {
      // A response in two parts 20 ms apart: requests stay in flight long enough to overlap endpoint changes.
      res.writeHead(200, { "Content-Type": "application/json", "X-Backend": name });
      res.write(body.slice(0, 10));
      setTimeout(() => res.end(body.slice(10)), 20);
      return;
    }
    res.writeHead(200, { "Content-Type": "application/json", "X-Backend": name, Connection: "keep-alive" });
    res.end(body);
  });
  const b: Backend = { name, server, port: 0, connections: 0 };
  server.on("connection", () => b.connections++);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return Object.assign(b, { port: (server.address() as AddressInfo).port });
}

function stopBackend(b: Backend): Promise<void> {
  return new Promise((r) => {
    b.server.close(() => r());
    b.server.closeAllConnections();
  });
}

function get(port: number, host: string, path: string, agent?: Agent, method = "GET", body?: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method, headers: { Host: host }, agent: agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers, reused: req.reusedSocket }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Retries `fn` until it stops throwing (the controller sees API changes shortly after they are made). */
async function eventually<T>(fn: () => Promise<T>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function nameOf(body: string): string {
  return (JSON.parse(body) as { name: string }).name;
}

function peerCert(port: number, servername: string): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: "127.0.0.1", port, servername, rejectUnauthorized: false }, () => {
      const cert = s.getPeerCertificate();
      s.end();
      resolve(cert);
    });
    s.on("error", reject);
  });
}

describe("ingress controller", { timeout: 180_000 }, () => {
  let srv: TestServer;
  let rest: RestClient;
  let ctl: IngressController;
  const ns = `ingress-${randomBytes(3).toString("hex")}`;
  const backends: Record<string, Backend> = {};
  let services: ResourceClient<Service>;
  let slices: ResourceClient<EndpointSlice>;
  let ingresses: ResourceClient<Ingress>;

  const slice = (service: string, portName: string, eps: Backend[], name = `${service}-1`): EndpointSlice => {
    // One port per slice: every endpoint of a hand-made slice must share it, so distinct ports need distinct slices.
    return {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: { name, namespace: ns, labels: { "kubernetes.io/service-name": service } },
      addressType: "IPv4",
      ports: eps.length > 0 ? [{ name: portName, port: eps[0]!.port, protocol: "TCP" }] : [],
      endpoints: eps.map(() => ({ addresses: ["127.0.0.1"], conditions: { ready: true } })),
    };
  };

  before(async () => {
    srv = await startTestServer();
    rest = new RestClient(configFromKubeconfig(srv.kubeconfig));
    for (const n of ["frontend", "api1", "api2", "ws", "default"]) backends[n] = await startBackend(n);
    new WebSocketServer({ server: backends.ws!.server }).on("connection", (sock, req) => {
      sock.on("message", (m) => sock.send(`echo:${m.toString()} xff=${req.headers["x-forwarded-for"]}`));
    });
    await new ResourceClient<Namespace>(rest, NAMESPACES).create({ metadata: { name: ns } });
    services = new ResourceClient<Service>(rest, SERVICES).namespace(ns);
    slices = new ResourceClient<EndpointSlice>(rest, ENDPOINT_SLICES).namespace(ns);
    ingresses = new ResourceClient<Ingress>(rest, INGRESSES).namespace(ns);
    const svc = (name: string, port: number, portName: string): Service => ({
      metadata: { name, namespace: ns },
      spec: { ports: [{ name: portName, port, protocol: "TCP" }] },
    });
    await services.create(svc("frontend", 80, "http"));
    await services.create(svc("api", 8080, "web"));
    await services.create(svc("ws", 80, "http"));
    await services.create(svc("default", 80, "http"));
    await services.create(svc("empty", 80, "http"));
    await slices.create(slice("frontend", "http", [backends.frontend!]));
    // api: two endpoints on two ports → two slices.
    await slices.create(slice("api", "web", [backends.api1!], "api-1"));
    await slices.create(slice("api", "web", [backends.api2!], "api-2"));
    await slices.create(slice("ws", "http", [backends.ws!]));
    await slices.create(slice("default", "http", [backends.default!]));
    await slices.create(slice("empty", "http", []));
    ctl = await startIngressController({
      client: configFromKubeconfig(srv.kubeconfig),
      httpListen: { host: "127.0.0.1", port: 0 },
      httpsListen: { host: "127.0.0.1", port: 0 },
      statusAddresses: ["192.0.2.10"],
      logger: silentLogger,
    });
    const web: Ingress = {
      metadata: { name: "web", namespace: ns },
      spec: {
        // No ingressClassName: skiff's class is the default.
        tls: [
          { hosts: ["a.example"], secretName: "tls-a" },
          { hosts: ["b.example"], secretName: "tls-b" },
        ],
        rules: [
          {
            host: "shop.example",
            http: {
              paths: [
                { path: "/", pathType: "Prefix", backend: { service: { name: "frontend", port: { number: 80 } } } },
                { path: "/api", pathType: "Prefix", backend: { service: { name: "api", port: { name: "web" } } } },
                { path: "/exact", pathType: "Exact", backend: { service: { name: "api", port: { number: 8080 } } } },
                { path: "/empty", pathType: "Prefix", backend: { service: { name: "empty", port: { number: 80 } } } },
                { path: "/ws", pathType: "ImplementationSpecific", backend: { service: { name: "ws", port: { number: 80 } } } },
                { path: "/bucket", pathType: "Prefix", backend: { resource: { apiGroup: "k8s.example.com", kind: "StorageBucket", name: "static" } } },
              ],
            },
          },
          { host: "*.wild.example", http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "frontend", port: { number: 80 } } } }] } },
        ],
      },
    };
    await ingresses.create(web);
    await eventually(async () => assert.equal(nameOf((await get(ctl.httpPort, "shop.example", "/")).body), "frontend"), "the Ingress is served");
  });

  after(async () => {
    await ctl?.stop();
    for (const b of Object.values(backends)) await stopBackend(b);
    await srv?.stop();
  });

  it("creates the default IngressClass skiff", async () => {
    const cls = await new ResourceClient<IngressClass>(rest, INGRESS_CLASSES).get("skiff");
    assert.equal(cls.spec?.controller, "skiff.io/ingress");
    assert.equal(cls.metadata?.annotations?.["ingressclass.kubernetes.io/is-default-class"], "true");
  });

  it("routes by host and path: / to the frontend, /api to the backend, Exact only exactly, wildcards one label deep", async () => {
    const p = ctl.httpPort;
    assert.equal(nameOf((await get(p, "shop.example", "/")).body), "frontend");
    assert.equal(nameOf((await get(p, "shop.example", "/index.html")).body), "frontend");
    assert.match(nameOf((await get(p, "shop.example", "/api/items?x=1")).body), /^api[12]$/);
    assert.equal(nameOf((await get(p, "shop.example", "/apis")).body), "frontend", "Prefix /api is element-wise");
    assert.match(nameOf((await get(p, "shop.example", "/exact")).body), /^api[12]$/);
    assert.equal(nameOf((await get(p, "shop.example", "/exact/more")).body), "frontend");
    assert.equal(nameOf((await get(p, "SHOP.example:80", "/")).body), "frontend");
    assert.equal(nameOf((await get(p, "x.wild.example", "/")).body), "frontend");
    const echoed = JSON.parse((await get(p, "shop.example", "/api/items?x=1")).body) as { url: string };
    assert.equal(echoed.url, "/api/items?x=1");
  });

  it("answers 404 with a clear body when no rule matches, and uses a defaultBackend once one is set", async () => {
    const p = ctl.httpPort;
    const miss = await get(p, "y.x.wild.example", "/");
    assert.equal(miss.status, 404);
    assert.equal(miss.body, 'no Ingress rule matches host "y.x.wild.example" and path "/", and no Ingress sets a defaultBackend\n');
    await ingresses.create({
      metadata: { name: "fallback", namespace: ns },
      spec: { defaultBackend: { service: { name: "default", port: { name: "http" } } } },
    });
    await eventually(async () => assert.equal(nameOf((await get(p, "nowhere.example", "/x")).body), "default"), "the defaultBackend is used");
    assert.equal(nameOf((await get(p, "shop.example", "/api")).body).startsWith("api"), true, "rules still win over the defaultBackend");
    await ingresses.delete("fallback");
    await eventually(async () => assert.equal((await get(p, "nowhere.example", "/x")).status, 404), "the defaultBackend is gone");
  });

  it("answers 503 with the reason when a Service has no ready endpoint or the backend is a resource", async () => {
    const p = ctl.httpPort;
    const empty = await get(p, "shop.example", "/empty");
    assert.equal(empty.status, 503);
    assert.equal(empty.body, `no ready endpoints for service ${ns}/empty:80\n`);
    const bucket = await get(p, "shop.example", "/bucket");
    assert.equal(bucket.status, 503);
    assert.match(bucket.body, /resource backend k8s\.example\.com\/StorageBucket static, which skiff\.io\/ingress does not support/);
    const events = new ResourceClient<{ metadata?: { namespace?: string }; reason?: string; regarding?: { name?: string } }>(rest, EVENTS).namespace(ns);
    await eventually(async () => {
      const list = await events.list();
      assert.ok(list.items.some((e) => e.reason === "UnsupportedBackend" && e.regarding?.name === "web"));
    }, "a Warning Event about the resource backend");
  });

  it("ignores Ingresses of another class", async () => {
    await ingresses.create({
      metadata: { name: "other", namespace: ns, annotations: { "kubernetes.io/ingress.class": "nginx" } },
      spec: { rules: [{ host: "other.example", http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "frontend", port: { number: 80 } } } }] } }] },
    });
    await ingresses.create({
      metadata: { name: "legacy", namespace: ns, annotations: { "kubernetes.io/ingress.class": "skiff" } },
      spec: { rules: [{ host: "legacy.example", http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "frontend", port: { number: 80 } } } }] } }] },
    });
    await eventually(async () => assert.equal((await get(ctl.httpPort, "legacy.example", "/")).status, 200), "the annotated Ingress is served");
    assert.equal((await get(ctl.httpPort, "other.example", "/")).status, 404);
    const other = await ingresses.get("other");
    assert.equal(other.status?.loadBalancer?.ingress, undefined, "another class's Ingress gets no status from skiff");
  });

  it("fills status.loadBalancer.ingress with the node addresses", async () => {
    await eventually(async () => {
      const ing = await ingresses.get("web");
      assert.deepEqual(ing.status?.loadBalancer?.ingress, [{ ip: "192.0.2.10" }]);
    }, "the status is written");
  });

  it("sets X-Forwarded-* and X-Real-IP, replacing what the client sent", async () => {
    const answer = await new Promise<Answer>((resolve, reject) => {
      const req = request(
        { host: "127.0.0.1", port: ctl.httpPort, path: "/api/h", headers: { Host: "shop.example", "X-Forwarded-For": "6.6.6.6", "X-Custom": "kept" }, agent: false },
        (res) => {
          let body = "";
          res.on("data", (c) => (body += c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers, reused: false }));
        },
      );
      req.on("error", reject);
      req.end();
    });
    const h = (JSON.parse(answer.body) as { headers: IncomingHttpHeaders }).headers;
    assert.equal(h["x-forwarded-for"], "127.0.0.1");
    assert.equal(h["x-real-ip"], "127.0.0.1");
    assert.equal(h["x-forwarded-proto"], "http");
    assert.equal(h["x-forwarded-host"], "shop.example");
    assert.equal(h["x-forwarded-port"], String(ctl.httpPort));
    assert.equal(h.host, "shop.example");
    assert.equal(h["x-custom"], "kept");
    assert.match(String(answer.headers["x-backend"]), /^api[12]$/);
  });

  it("answers keep-alive requests (the listeners' fast path) as the others: X-Forwarded-*, 404 and 503 bodies, header bytes", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const p = ctl.httpPort;
      const first = await get(p, "shop.example", "/api/h", agent);
      const h = (JSON.parse(first.body) as { headers: IncomingHttpHeaders }).headers;
      assert.equal(h["x-forwarded-for"], "127.0.0.1");
      assert.equal(h["x-real-ip"], "127.0.0.1");
      assert.equal(h["x-forwarded-proto"], "http");
      assert.equal(h["x-forwarded-host"], "shop.example");
      assert.equal(h["x-forwarded-port"], String(p));
      assert.equal(h.connection, undefined, "the client's Connection header is hop-by-hop: not passed on");
      assert.match(String(first.headers["x-backend"]), /^api[12]$/);
      assert.equal(first.headers.connection, "keep-alive");
      const miss = await get(p, "y.x.wild.example", "/", agent);
      assert.equal(miss.status, 404);
      assert.equal(miss.body, 'no Ingress rule matches host "y.x.wild.example" and path "/", and no Ingress sets a defaultBackend\n');
      assert.equal(miss.headers["content-type"], "text/plain; charset=utf-8");
      assert.equal(miss.reused, true);
      const empty = await get(p, "shop.example", "/empty", agent);
      assert.equal(empty.status, 503);
      assert.equal(empty.body, `no ready endpoints for service ${ns}/empty:80\n`);
      const head = await get(p, "shop.example", "/api/h", agent, "HEAD");
      assert.equal(head.status, 200);
      assert.equal(head.body, "");
      assert.equal((await get(p, "shop.example", "/api/after-head", agent)).status, 200, "the connection is usable after a HEAD");
    } finally {
      agent.destroy();
    }
    const raw = await new Promise<Buffer>((resolve, reject) => {
      const s = netConnect({ host: "127.0.0.1", port: ctl.httpPort }, () => {
        s.write(Buffer.concat([Buffer.from("GET /api/bytes HTTP/1.1\r\nHost: shop.example\r\nX-Latin: caf"), Buffer.from([0xe9]), Buffer.from("\r\n\r\n")]));
      });
      const chunks: Buffer[] = [];
      s.on("data", (c: Buffer) => {
        chunks.push(c);
        if (Buffer.concat(chunks).includes("caf")) s.end();
      });
      s.on("end", () => resolve(Buffer.concat(chunks)));
      s.on("error", reject);
    });
    assert.match(raw.toString("utf8"), /"x-latin":"caf\u00e9"/);
  });

  it("passes header bytes through unchanged", async () => {
    const raw = await new Promise<Buffer>((resolve, reject) => {
      const s = netConnect({ host: "127.0.0.1", port: ctl.httpPort }, () => {
        s.write(Buffer.concat([Buffer.from("GET /api/bytes HTTP/1.1\r\nHost: shop.example\r\nX-Latin: caf"), Buffer.from([0xe9]), Buffer.from("\r\nConnection: close\r\n\r\n")]));
      });
      const chunks: Buffer[] = [];
      s.on("data", (c: Buffer) => chunks.push(c));
      s.on("end", () => resolve(Buffer.concat(chunks)));
      s.on("error", reject);
    });
    // The backend (node:http) reads header bytes as latin1, so 0xe9 is "é" there only if it arrived as 0xe9 (UTF-8 would make it "Ã©").
    assert.match(raw.toString("utf8"), /"x-latin":"caf\u00e9"/);
  });

  it("keeps connections alive to clients and to backends, round robin over the endpoints", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const before = backends.api1!.connections + backends.api2!.connections;
    const seen: string[] = [];
    const answers: Answer[] = [];
    for (let i = 0; i < 20; i++) {
      const a = await get(ctl.httpPort, "shop.example", "/api", agent);
      answers.push(a);
      seen.push(nameOf(a.body));
    }
    agent.destroy();
    assert.ok(answers.slice(1).every((a) => a.reused), "the client's connection is reused");
    assert.deepEqual(new Set(seen), new Set(["api1", "api2"]));
    for (let i = 1; i < seen.length; i++) assert.notEqual(seen[i], seen[i - 1], "round robin alternates");
    const opened = backends.api1!.connections + backends.api2!.connections - before;
    assert.ok(opened <= 2, `the ingress reuses its backend connections (opened ${opened} for 20 requests)`);
  });

  it("streams request and response bodies", async () => {
    const payload = randomBytes(4 * 1024 * 1024);
    const a = await new Promise<Buffer>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: ctl.httpPort, path: "/api/upload", method: "POST", headers: { Host: "shop.example" }, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve(Buffer.concat(chunks)));
      });
      req.on("error", reject);
      // Chunked: written in pieces with no Content-Length.
      for (let off = 0; off < payload.length; off += 256 * 1024) req.write(payload.subarray(off, off + 256 * 1024));
      req.end();
    });
    assert.equal(a.length, payload.length);
    assert.ok(a.equals(payload));
    // The connections that carried it serve the next requests (none left paused in the pool).
    for (let i = 0; i < 4; i++) assert.equal((await get(ctl.httpPort, "shop.example", "/api")).status, 200);
  });

  it("passes WebSocket upgrades through", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${ctl.httpPort}/ws/chat`, { headers: { Host: "shop.example" } });
    const reply = await new Promise<string>((resolve, reject) => {
      ws.on("open", () => ws.send("hello"));
      ws.on("message", (m) => resolve(m.toString()));
      ws.on("error", reject);
    });
    ws.close();
    assert.equal(reply, "echo:hello xff=127.0.0.1");
  });

  it("serves each TLS host its Secret's certificate by SNI, and the default certificate otherwise", async () => {
    const ca = await createCertificateAuthority({ commonName: "test-ca" });
    const secrets = new ResourceClient<Secret>(rest, SECRETS).namespace(ns);
    for (const [name, host] of [
      ["tls-a", "a.example"],
      ["tls-b", "b.example"],
    ] as const) {
      const leaf = await issueCertificate({ ca, commonName: host, dnsNames: [host], usages: ["server"], validDays: 1 });
      await secrets.create({
        metadata: { name, namespace: ns },
        type: "kubernetes.io/tls",
        data: { "tls.crt": Buffer.from(leaf.certPem).toString("base64"), "tls.key": Buffer.from(leaf.keyPem).toString("base64") },
      });
    }
    await eventually(async () => assert.equal((await peerCert(ctl.httpsPort, "a.example")).subject.CN, "a.example"), "a.example's certificate");
    await eventually(async () => assert.equal((await peerCert(ctl.httpsPort, "b.example")).subject.CN, "b.example"), "b.example's certificate");
    assert.equal((await peerCert(ctl.httpsPort, "c.example")).subject.CN, DEFAULT_CERT_CN);
    // A request over TLS, verified against the test CA, carries X-Forwarded-Proto https.
    const body = await new Promise<string>((resolve, reject) => {
      const s = tlsConnect({ host: "127.0.0.1", port: ctl.httpsPort, servername: "a.example", ca: ca.certPem }, () => {
        s.write("GET /api/x HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n");
      });
      let out = "";
      s.on("data", (d) => (out += d));
      s.on("end", () => resolve(out));
      s.on("error", reject);
    });
    assert.match(body, /^HTTP\/1\.1 200 OK/);
    assert.match(body, /"x-forwarded-proto":"https"/);
    // The same as a keep-alive request (the fast path over TLS).
    const kept = await new Promise<string>((resolve, reject) => {
      const s = tlsConnect({ host: "127.0.0.1", port: ctl.httpsPort, servername: "a.example", ca: ca.certPem }, () => {
        s.write("GET /api/y HTTP/1.1\r\nHost: shop.example\r\n\r\n");
      });
      let out = "";
      s.on("data", (d) => {
        out += d;
        if (out.includes('"x-forwarded-proto"')) s.end();
      });
      s.on("end", () => resolve(out));
      s.on("error", reject);
    });
    assert.match(kept, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(kept, /\r\nConnection: keep-alive\r\n/);
    assert.match(kept, /"x-forwarded-proto":"https"/);
  });

  it("tries the next endpoint when one refuses the connection, and answers 502 when none connects", async () => {
    // A port nothing listens on: bound, then closed again.
    const dead = await startBackend("dead");
    await stopBackend(dead);
    await services.create({ metadata: { name: "flaky", namespace: ns }, spec: { ports: [{ name: "http", port: 80, protocol: "TCP" }] } });
    await slices.create(slice("flaky", "http", [dead], "flaky-dead"));
    await slices.create(slice("flaky", "http", [backends.frontend!], "flaky-live"));
    await services.create({ metadata: { name: "gone", namespace: ns }, spec: { ports: [{ name: "http", port: 80, protocol: "TCP" }] } });
    await slices.create(slice("gone", "http", [dead], "gone-dead"));
    await ingresses.create({
      metadata: { name: "flaky", namespace: ns },
      spec: {
        rules: [
          {
            host: "flaky.example",
            http: {
              paths: [
                { path: "/", pathType: "Prefix", backend: { service: { name: "flaky", port: { number: 80 } } } },
                { path: "/gone", pathType: "Prefix", backend: { service: { name: "gone", port: { number: 80 } } } },
              ],
            },
          },
        ],
      },
    });
    await eventually(async () => assert.equal((await get(ctl.httpPort, "flaky.example", "/")).status, 200), "the flaky Ingress is served");
    for (let i = 0; i < 6; i++) {
      const a = await get(ctl.httpPort, "flaky.example", "/", undefined, ...((i % 2 === 0 ? ["GET"] : ["POST", Buffer.from("payload")]) as [string, Buffer?]));
      assert.equal(a.status, 200, a.body);
      assert.equal(a.headers["x-backend"], "frontend");
    }
    const gone = await get(ctl.httpPort, "flaky.example", "/gone");
    assert.equal(gone.status, 502);
    assert.equal(gone.body, `no endpoint could be reached: 127.0.0.1:${dead.port}: ECONNREFUSED\n`);
  });

  it("answers curl with a Host header on the HTTP port", async () => {
    const out = await new Promise<string>((resolve, reject) =>
      execFile("curl", ["-sS", "-H", "Host: shop.example", `http://127.0.0.1:${ctl.httpPort}/api`], (err, stdout) => (err ? reject(err) : resolve(stdout))),
    );
    assert.match(nameOf(out), /^api[12]$/);
  });

  it("runs on a worker thread of its own, as the server runs it", async () => {
    const thread = await startIngressControllerThread({
      client: configFromKubeconfig(srv.kubeconfig),
      httpListen: { host: "127.0.0.1", port: 0 },
      httpsListen: { host: "127.0.0.1", port: 0 },
      statusAddresses: ["192.0.2.10"],
      logger: silentLogger,
      logLevel: "warn",
    });
    try {
      assert.notEqual(thread.httpPort, ctl.httpPort);
      assert.equal(nameOf((await get(thread.httpPort, "shop.example", "/")).body), "frontend");
      assert.equal((await peerCert(thread.httpsPort, "c.example")).subject.CN, DEFAULT_CERT_CN);
    } finally {
      await thread.stop();
    }
    await assert.rejects(get(thread.httpPort, "shop.example", "/"), /ECONNREFUSED/);
  });

  it("picks up a removed endpoint without failing a request", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const failures: string[] = [];
    const counts: Record<string, number> = {};
    let stop = false;
    let sinceRemoval: string[] = [];
    const loop = async () => {
      while (!stop) {
        try {
          const a = await get(ctl.httpPort, "shop.example", "/api/slow", agent);
          if (a.status !== 200) failures.push(`${a.status} ${a.body}`);
          else {
            const n = nameOf(a.body);
            counts[n] = (counts[n] ?? 0) + 1;
            sinceRemoval.push(n);
          }
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    const loops = [loop(), loop(), loop(), loop()];
    await eventually(async () => assert.ok((counts.api1 ?? 0) > 10 && (counts.api2 ?? 0) > 10), "traffic reaches both endpoints");
    // api2 leaves the Service (its slice is emptied), then goes away for good.
    await slices.update({ ...(await slices.get("api-2")), endpoints: [] });
    await eventually(async () => {
      sinceRemoval = [];
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(sinceRemoval.length > 5 && sinceRemoval.every((n) => n === "api1"), "only api1 answers");
    }, "the endpoint is dropped");
    await stopBackend(backends.api2!);
    sinceRemoval = [];
    await eventually(async () => assert.ok(sinceRemoval.length > 50), "more traffic after the backend stopped");
    stop = true;
    await Promise.all(loops);
    agent.destroy();
    assert.deepEqual(failures, []);
    assert.ok(!ctl.upstreams().includes(`127.0.0.1:${backends.api2!.port}`), "the removed endpoint's pool is closed");
  });
});
