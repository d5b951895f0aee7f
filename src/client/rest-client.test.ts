import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import { after, before, describe, it } from "node:test";
import { createCertificateAuthority, issueCertificate } from "../pki/certs.js";
import { isNotFound, StatusError } from "../machinery/status-error.js";
import { ResourceClient } from "./resource-client.js";
import { RestClient } from "./rest-client.js";
import { FakeTimers } from "./timers.js";
import { isExpired, WatchExpiredError } from "./watch.js";

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

let server: Server;
let caPem: string;
let base: string;
const seen: Seen[] = [];
let handler: (req: IncomingMessage, res: ServerResponse, body: string) => void = (_q, res) => res.end();

before(async () => {
  const ca = await createCertificateAuthority({ commonName: "test-ca" });
  const serving = await issueCertificate({ ca, commonName: "test", ipAddresses: ["127.0.0.1"], usages: ["server"], validDays: 1 });
  caPem = ca.certPem;
  server = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString();
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

function json(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(code, { "Content-Type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

describe("RestClient", () => {
  it("sends JSON with its headers and parses JSON back", async () => {
    handler = (_req, res, body) => json(res, 201, { echoed: JSON.parse(body) });
    const rest = new RestClient({ server: base, caPem, token: "t0k", userAgent: "tester/1" });
    try {
      const out = await rest.request<{ echoed: unknown }>("POST", "/api/v1/x", { body: { a: 1 }, query: { dryRun: "All", skip: undefined } });
      assert.deepEqual(out, { echoed: { a: 1 } });
      const s = seen.at(-1)!;
      assert.equal(s.url, "/api/v1/x?dryRun=All");
      assert.equal(s.headers.authorization, "Bearer t0k");
      assert.equal(s.headers["user-agent"], "tester/1");
      assert.equal(s.headers["content-type"], "application/json");
      assert.equal(s.headers.accept, "application/json");

      const pods = new ResourceClient(rest, { group: "", version: "v1", resource: "pods", namespaced: true }).namespace("ns");
      handler = (_req, res) => json(res, 200, { metadata: { name: "p" } });
      await pods.patch("p", { spec: {} }, { type: "strategic", fieldManager: "me" });
      assert.equal(seen.at(-1)!.headers["content-type"], "application/strategic-merge-patch+json");
      assert.equal(seen.at(-1)!.url, "/api/v1/namespaces/ns/pods/p?fieldManager=me");
      await pods.delete("p", { propagationPolicy: "Foreground" });
      assert.deepEqual(JSON.parse(seen.at(-1)!.body), { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy: "Foreground" });
      const deploys = new ResourceClient(rest, { group: "apps", version: "v1", resource: "deployments", namespaced: true });
      await deploys.list({ labelSelector: "a=b", limit: 5 });
      assert.equal(seen.at(-1)!.url, "/apis/apps/v1/deployments?labelSelector=a%3Db&limit=5");
    } finally {
      rest.close();
    }
  });

  it("maps error answers to StatusError, Status body or not", async () => {
    const rest = new RestClient({ server: base, caPem });
    try {
      handler = (_req, res) =>
        json(res, 404, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", reason: "NotFound", message: 'pods "x" not found', code: 404 });
      await assert.rejects(rest.request("GET", "/api/v1/namespaces/d/pods/x"), (err: unknown) => {
        assert.ok(err instanceof StatusError);
        assert.equal(isNotFound(err), true);
        assert.equal(err.message, 'pods "x" not found');
        return true;
      });
      handler = (_req, res) => {
        res.writeHead(502);
        res.end("bad gateway");
      };
      await assert.rejects(rest.request("GET", "/x"), (err: unknown) => err instanceof StatusError && err.code === 502);
    } finally {
      rest.close();
    }
  });

  it("retries 429 and 5xx answers that carry Retry-After", async () => {
    let calls = 0;
    handler = (_req, res) => {
      calls++;
      if (calls < 3) json(res, 429, { kind: "Status", status: "Failure", reason: "TooManyRequests", code: 429 }, { "Retry-After": "0" });
      else json(res, 200, { ok: true });
    };
    const rest = new RestClient({ server: base, caPem });
    try {
      assert.deepEqual(await rest.request("GET", "/x"), { ok: true });
      assert.equal(calls, 3);
      calls = 0;
      handler = (_req, res) => {
        calls++;
        json(res, 503, { kind: "Status", status: "Failure", reason: "ServiceUnavailable", code: 503 }, { "Retry-After": "0" });
      };
      const limited = new RestClient({ server: base, caPem }, { maxRetries: 2 });
      await assert.rejects(limited.request("GET", "/x"), (err: unknown) => err instanceof StatusError && err.code === 503);
      assert.equal(calls, 3, "one try and two retries");
      limited.close();
    } finally {
      rest.close();
    }
  });

  it("throttles client-side when qps is set", async () => {
    handler = (_req, res) => json(res, 200, {});
    const timers = new FakeTimers();
    const rest = new RestClient({ server: base, caPem, qps: 1, burst: 1 }, { timers });
    try {
      const before = seen.length;
      await rest.request("GET", "/one");
      let second = false;
      const p = rest.request("GET", "/two").then(() => {
        second = true;
      });
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(second, false);
      assert.equal(seen.length, before + 1, "the second request waits for a token");
      timers.advance(1000);
      await p;
      assert.equal(seen.length, before + 2);
    } finally {
      rest.close();
    }
  });

  it("refuses anything but https and rejects an unknown CA", async () => {
    assert.throws(() => new RestClient({ server: "http://127.0.0.1:1" }), /must be https/);
    const rest = new RestClient({ server: base });
    try {
      await assert.rejects(rest.request("GET", "/x"), (err: unknown) => !(err instanceof StatusError));
    } finally {
      rest.close();
    }
  });
});

describe("ResourceClient.watch over HTTP", () => {
  it("decodes a chunked stream and surfaces a 410 answer as WatchExpiredError", async () => {
    const rest = new RestClient({ server: base, caPem });
    const pods = new ResourceClient<{ metadata: { name: string } }>(rest, { group: "", version: "v1", resource: "pods", namespaced: true });
    try {
      handler = (_req, res) => {
        res.writeHead(200, { "Content-Type": "application/json" });
        const text = `${JSON.stringify({ type: "ADDED", object: { metadata: { name: "a" } } })}\n${JSON.stringify({ type: "DELETED", object: { metadata: { name: "a" } } })}\n`;
        res.write(text.slice(0, 17));
        setTimeout(() => {
          res.write(text.slice(17, 60));
          setTimeout(() => res.end(text.slice(60)), 10);
        }, 10);
      };
      const types: string[] = [];
      for await (const ev of pods.watch({ resourceVersion: "5", timeoutSeconds: 30 })) types.push(`${ev.type} ${(ev.object as { metadata: { name: string } }).metadata.name}`);
      assert.deepEqual(types, ["ADDED a", "DELETED a"]);
      assert.equal(seen.at(-1)!.url, "/api/v1/pods?watch=1&allowWatchBookmarks=true&resourceVersion=5&timeoutSeconds=30");

      handler = (_req, res) => json(res, 410, { kind: "Status", apiVersion: "v1", status: "Failure", reason: "Expired", message: "too old", code: 410 });
      await assert.rejects(
        (async () => {
          for await (const _ of pods.watch({ resourceVersion: "1" })) {
            // nothing arrives
          }
        })(),
        (err: unknown) => err instanceof WatchExpiredError && isExpired(err),
      );
    } finally {
      rest.close();
    }
  });
});
