import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { configFromFiles, configFromKubeconfig } from "./config.js";
import { encodeQuery, statusFromResponse } from "./rest-client.js";

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "skiff-client-config-"));
  mkdirSync(join(dir, "certs"));
  writeFileSync(join(dir, "certs", "ca.crt"), "CA PEM");
  writeFileSync(join(dir, "certs", "client.crt"), "CERT PEM");
  writeFileSync(join(dir, "certs", "client.key"), "KEY PEM");
  writeFileSync(join(dir, "token"), "file-token\n");
});
after(() => rmSync(dir, { recursive: true, force: true }));

const b64 = (s: string) => Buffer.from(s).toString("base64");

function kubeconfig(doc: unknown): string {
  const p = join(dir, `kc-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(p, stringify(doc));
  return p;
}

const base = {
  apiVersion: "v1",
  kind: "Config",
  clusters: [
    { name: "files", cluster: { server: "https://127.0.0.1:6443", "certificate-authority": "certs/ca.crt" } },
    { name: "inline", cluster: { server: "https://10.0.0.1:443", "certificate-authority-data": b64("INLINE CA"), "tls-server-name": "kubernetes" } },
    { name: "insecure", cluster: { server: "https://h:1", "insecure-skip-tls-verify": true } },
  ],
  users: [
    { name: "certs", user: { "client-certificate": "certs/client.crt", "client-key": "certs/client.key" } },
    { name: "inline", user: { "client-certificate-data": b64("INLINE CERT"), "client-key-data": b64("INLINE KEY") } },
    { name: "token", user: { token: "abc" } },
    { name: "tokenfile", user: { tokenFile: "token" } },
    { name: "exec", user: { exec: { command: "aws" } } },
  ],
  contexts: [
    { name: "a", context: { cluster: "files", user: "certs", namespace: "shop" } },
    { name: "b", context: { cluster: "inline", user: "inline" } },
    { name: "c", context: { cluster: "insecure", user: "token" } },
    { name: "d", context: { cluster: "insecure", user: "tokenfile" } },
    { name: "e", context: { cluster: "files", user: "exec" } },
  ],
  "current-context": "a",
};

describe("configFromKubeconfig", () => {
  it("reads files relative to the kubeconfig and the current context", () => {
    const c = configFromKubeconfig(kubeconfig(base));
    assert.equal(c.server, "https://127.0.0.1:6443");
    assert.equal(c.caPem, "CA PEM");
    assert.equal(c.certPem, "CERT PEM");
    assert.equal(c.keyPem, "KEY PEM");
    assert.equal(c.namespace, "shop");
    assert.equal(c.insecureSkipTlsVerify, false);
  });

  it("reads inline data, tokens and insecure-skip-tls-verify of a named context", () => {
    const p = kubeconfig(base);
    const b = configFromKubeconfig(p, "b");
    assert.equal(b.caPem, "INLINE CA");
    assert.equal(b.certPem, "INLINE CERT");
    assert.equal(b.keyPem, "INLINE KEY");
    assert.equal(b.tlsServerName, "kubernetes");
    const c = configFromKubeconfig(p, "c");
    assert.equal(c.token, "abc");
    assert.equal(c.insecureSkipTlsVerify, true);
    assert.equal(configFromKubeconfig(p, "d").token, "file-token");
  });

  it("refuses what it does not support and names what is missing", () => {
    const p = kubeconfig(base);
    assert.throws(() => configFromKubeconfig(p, "e"), /uses exec/);
    assert.throws(() => configFromKubeconfig(p, "nope"), /no context named "nope"/);
    assert.throws(() => configFromKubeconfig(kubeconfig({ ...base, "current-context": "" })), /no current-context/);
  });
});

describe("configFromFiles", () => {
  it("reads PEM files", () => {
    const c = configFromFiles({
      server: "https://127.0.0.1:1",
      caFile: join(dir, "certs", "ca.crt"),
      certFile: join(dir, "certs", "client.crt"),
      keyFile: join(dir, "certs", "client.key"),
      userAgent: "kube-scheduler",
    });
    assert.deepEqual([c.caPem, c.certPem, c.keyPem, c.userAgent], ["CA PEM", "CERT PEM", "KEY PEM", "kube-scheduler"]);
  });
});

describe("REST helpers", () => {
  it("encodes queries, skipping unset values", () => {
    assert.equal(encodeQuery({ a: "x y", b: undefined, c: 5, d: true, e: ["1", "2"] }), "?a=x%20y&c=5&d=true&e=1&e=2");
    assert.equal(encodeQuery({}), "");
  });

  it("keeps a Status body and makes one from anything else", () => {
    const s = statusFromResponse(404, JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", message: "m", code: 404 }));
    assert.equal(s.reason, "NotFound");
    assert.equal(s.message, "m");
    const t = statusFromResponse(503, "upstream down");
    assert.equal(t.code, 503);
    assert.equal(t.reason, "ServiceUnavailable");
    assert.match(t.message!, /upstream down/);
  });
});
