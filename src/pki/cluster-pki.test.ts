import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, request } from "node:https";
import type { AddressInfo } from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { after, describe, test } from "node:test";
import { FakeClock } from "../machinery/clock.js";
import type { LogFields, Logger } from "../machinery/log.js";
import { createCertificateAuthority, issueCertificate, type KeyPairPem, parseCertificate, verifySignedBy } from "./certs.js";
import {
  type ClusterPki,
  caHash,
  defaultHostAddresses,
  type EnsureClusterPkiOptions,
  ensureClusterPki,
  issueKubeletServingCert,
  issueNodeClientCert,
} from "./cluster-pki.js";

const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "skiff-pki-"));
  dirs.push(d);
  return d;
}

/** A logger that keeps `msg file` lines, to see what was created or renewed. */
function recorder(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const make = (base: LogFields): Logger => ({
    debug() {},
    info: (msg, f) => void lines.push(`${msg} ${String({ ...base, ...f }.file ?? "")}`),
    warn: (msg, f) => void lines.push(`WARN ${msg} ${String({ ...base, ...f }.file ?? "")}`),
    error: (msg) => void lines.push(`ERROR ${msg}`),
    with: (f) => make({ ...base, ...f }),
  });
  return Object.assign(make({}), { lines });
}

const HOST = ["192.0.2.10", "2001:db8::10"];

function opts(tlsDir: string, extra: Partial<EnsureClusterPkiOptions> = {}): EnsureClusterPkiOptions {
  return { tlsDir, hostAddresses: HOST, logger: recorder(), ...extra };
}

function serial(pem: string): string {
  return parseCertificate(pem).serialNumber;
}

interface Seen {
  authorized: boolean;
  cn?: string | string[];
  o?: string | string[];
}

/** Serves with the PKI's serving cert, trusting the client CA, and reports what it saw of the client. */
async function withApiServer<T>(pki: ClusterPki, fn: (port: number) => Promise<T>): Promise<T> {
  const server = createServer(
    { key: pki.serving.keyPem, cert: pki.serving.certPem, ca: pki.clientCa.certPem, requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      const sock = req.socket as TLSSocket;
      const peer = sock.getPeerCertificate();
      res.end(JSON.stringify({ authorized: sock.authorized, cn: peer.subject?.CN, o: peer.subject?.O }));
    },
  );
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    return await fn((server.address() as AddressInfo).port);
  } finally {
    server.close();
  }
}

function get(port: number, caPem: string, client: KeyPairPem): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/", ca: caPem, cert: client.certPem, key: client.keyPem, agent: false }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve(JSON.parse(body) as Seen));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("ensureClusterPki", () => {
  test("first start lays out CAs, serving and client certificates with safe modes", async () => {
    const dir = join(tempDir(), "tls");
    const log = recorder();
    const pki = await ensureClusterPki(opts(dir, { logger: log, clock: new FakeClock(Date.now()) }));
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    for (const base of [
      "server-ca",
      "client-ca",
      "serving-kube-apiserver",
      "client-admin",
      "client-kube-scheduler",
      "client-kube-controller-manager",
      "client-kube-proxy",
      "client-skiff-controller",
      "client-kube-apiserver",
    ]) {
      assert.ok(existsSync(join(dir, `${base}.crt`)), `${base}.crt`);
      assert.equal(statSync(join(dir, `${base}.key`)).mode & 0o777, 0o600, `${base}.key mode`);
      assert.match(readFileSync(join(dir, `${base}.key`), "utf8"), /^-----BEGIN PRIVATE KEY-----/);
    }
    assert.equal(log.lines.filter((l) => l.startsWith("created certificate authority")).length, 2);
    assert.equal(log.lines.filter((l) => l.startsWith("created certificate /")).length, 7);

    assert.match(parseCertificate(pki.serverCa.certPem).commonName, /^skiff-server-ca@\d{10}$/);
    assert.match(parseCertificate(pki.clientCa.certPem).commonName, /^skiff-client-ca@\d{10}$/);
    assert.notEqual(caHash(pki.serverCa.certPem), caHash(pki.clientCa.certPem), "two separate CAs");

    const serving = parseCertificate(pki.serving.certPem);
    for (const d of ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"]) {
      assert.ok(serving.dnsNames.includes(d), d);
    }
    for (const ip of ["127.0.0.1", "::1", "10.43.0.1", ...HOST]) assert.ok(serving.ipAddresses.includes(ip), ip);
    assert.ok(verifySignedBy(pki.serving.certPem, pki.serverCa.certPem));

    const expect: Record<string, [string, string[]]> = {
      admin: ["system:admin", ["system:masters"]],
      kubeScheduler: ["system:kube-scheduler", []],
      kubeControllerManager: ["system:kube-controller-manager", []],
      kubeProxy: ["system:kube-proxy", []],
      skiffController: ["system:skiff-controller", []],
    };
    for (const [key, [cn, orgs]] of Object.entries(expect)) {
      const c = pki.clients[key as keyof typeof pki.clients];
      const p = parseCertificate(c.certPem);
      assert.equal(p.commonName, cn);
      assert.deepEqual(p.organizations, orgs);
      assert.ok(verifySignedBy(c.certPem, pki.clientCa.certPem), `${key} signed by the client CA`);
      assert.ok(!verifySignedBy(c.certPem, pki.serverCa.certPem), `${key} not signed by the server CA`);
    }
  });

  test("the API server verifies the admin client over real TLS; a foreign client is not authorized", async () => {
    const pki = await ensureClusterPki(opts(tempDir()));
    const foreignCa = await createCertificateAuthority({ commonName: "skiff-client-ca@1" });
    const foreign = await issueCertificate({
      ca: foreignCa,
      commonName: "system:admin",
      organizations: ["system:masters"],
      usages: ["client"],
      validDays: 1,
    });
    await withApiServer(pki, async (port) => {
      assert.deepEqual(await get(port, pki.serverCa.certPem, pki.clients.admin), {
        authorized: true,
        cn: "system:admin",
        o: "system:masters",
      });
      assert.equal((await get(port, pki.serverCa.certPem, pki.clients.kubeProxy)).cn, "system:kube-proxy");
      assert.equal((await get(port, pki.serverCa.certPem, foreign)).authorized, false);
      const node = await issueNodeClientCert(pki, "worker-1");
      assert.deepEqual(await get(port, pki.serverCa.certPem, node), { authorized: true, cn: "system:node:worker-1", o: "system:nodes" });
      // The client CA is not a server CA: a client trusting only it refuses the server.
      await assert.rejects(get(port, pki.clientCa.certPem, pki.clients.admin));
    });
  });

  test("a restart reuses every file; an added SAN re-issues only the serving certificate", async () => {
    const dir = tempDir();
    const first = await ensureClusterPki(opts(dir));
    const log = recorder();
    const again = await ensureClusterPki(opts(dir, { logger: log }));
    assert.deepEqual(log.lines, [], "nothing created or renewed");
    assert.equal(again.serverCa.certPem, first.serverCa.certPem);
    assert.equal(serial(again.serving.certPem), serial(first.serving.certPem));
    assert.equal(serial(again.clients.admin.certPem), serial(first.clients.admin.certPem));

    const log2 = recorder();
    const widened = await ensureClusterPki(
      opts(dir, { logger: log2, extraSans: { dns: ["api.example.test", "198.51.100.7"], ips: ["fd00::99"] } }),
    );
    assert.notEqual(serial(widened.serving.certPem), serial(first.serving.certPem));
    assert.deepEqual(log2.lines, [`renewed certificate ${join(dir, "serving-kube-apiserver.crt")}`]);
    const p = parseCertificate(widened.serving.certPem);
    assert.ok(p.dnsNames.includes("api.example.test"));
    assert.ok(p.ipAddresses.includes("198.51.100.7"), "an IP given as a DNS SAN counts as an IP");
    assert.ok(p.ipAddresses.includes("fd00::99"));
    assert.ok(!p.dnsNames.includes("198.51.100.7"));
    assert.ok(verifySignedBy(widened.serving.certPem, first.serverCa.certPem), "same CA");
    assert.equal(serial(widened.clients.admin.certPem), serial(first.clients.admin.certPem));

    // Once present, the same SANs (in any spelling) are satisfied.
    const log3 = recorder();
    await ensureClusterPki(opts(dir, { logger: log3, extraSans: { dns: ["API.example.test"], ips: ["fd00:0::99"] } }));
    assert.deepEqual(log3.lines, []);
  });

  test("leaves within 90 days of expiry are renewed from the same CA", async () => {
    const dir = tempDir();
    const clock = new FakeClock(Date.now());
    const first = await ensureClusterPki(opts(dir, { clock }));
    clock.advance(280 * 24 * 3600 * 1000);
    const log = recorder();
    const later = await ensureClusterPki(opts(dir, { clock, logger: log }));
    assert.equal(log.lines.filter((l) => l.startsWith("renewed certificate")).length, 7);
    assert.equal(later.serverCa.certPem, first.serverCa.certPem);
    assert.notEqual(serial(later.serving.certPem), serial(first.serving.certPem));
    assert.ok(parseCertificate(later.serving.certPem).notAfter.getTime() > clock.now() + 300 * 24 * 3600 * 1000);
  });

  test("damaged leaves are re-issued; a CA without its key is an error, never replaced", async () => {
    const dir = tempDir();
    const first = await ensureClusterPki(opts(dir));
    writeFileSync(join(dir, "client-admin.key"), first.clients.kubeProxy.keyPem); // wrong key
    rmSync(join(dir, "client-kube-proxy.crt"));
    const log = recorder();
    const fixed = await ensureClusterPki(opts(dir, { logger: log }));
    assert.deepEqual(log.lines.sort(), [
      `created certificate ${join(dir, "client-kube-proxy.crt")}`,
      `renewed certificate ${join(dir, "client-admin.crt")}`,
    ]);
    assert.equal(fixed.serverCa.certPem, first.serverCa.certPem);

    const caKey = readFileSync(join(dir, "client-ca.key"), "utf8");
    rmSync(join(dir, "client-ca.key"));
    await assert.rejects(ensureClusterPki(opts(dir)), /client-ca\.crt exists but its key/);
    writeFileSync(join(dir, "client-ca.key"), first.serverCa.keyPem);
    await assert.rejects(ensureClusterPki(opts(dir)), /not the key of CA certificate/);
    writeFileSync(join(dir, "client-ca.key"), caKey);
    await ensureClusterPki(opts(dir));
  });

  test("a CA replaced by hand makes every leaf it signed re-issue", async () => {
    const dir = tempDir();
    await ensureClusterPki(opts(dir));
    rmSync(join(dir, "server-ca.crt"));
    rmSync(join(dir, "server-ca.key"));
    const log = recorder();
    const pki = await ensureClusterPki(opts(dir, { logger: log }));
    assert.ok(log.lines.includes(`created certificate authority ${join(dir, "server-ca.crt")}`));
    assert.ok(log.lines.includes(`renewed certificate ${join(dir, "serving-kube-apiserver.crt")}`));
    assert.ok(verifySignedBy(pki.serving.certPem, pki.serverCa.certPem));
    assert.equal(log.lines.length, 2, log.lines.join("\n"));
  });

  test("node certificates", async () => {
    const pki = await ensureClusterPki(opts(tempDir()));
    const client = parseCertificate((await issueNodeClientCert(pki, "node-a")).certPem);
    assert.equal(client.commonName, "system:node:node-a");
    assert.deepEqual(client.organizations, ["system:nodes"]);
    const servingPair = await issueKubeletServingCert(pki, "node-a", ["192.0.2.50", "node-a.lan", "fd00::50"]);
    const serving = parseCertificate(servingPair.certPem);
    assert.equal(serving.commonName, "system:node:node-a");
    assert.deepEqual(serving.dnsNames, ["node-a", "localhost", "node-a.lan"]);
    assert.deepEqual(serving.ipAddresses, ["127.0.0.1", "::1", "192.0.2.50", "fd00::50"]);
    assert.ok(verifySignedBy(servingPair.certPem, pki.serverCa.certPem));
    await assert.rejects(issueNodeClientCert(pki, "Bad_Name"), /invalid node name/);
  });

  test("defaultHostAddresses lists the loopbacks and every non-internal interface address", () => {
    const a = defaultHostAddresses();
    assert.ok(a.includes("127.0.0.1") && a.includes("::1"));
    for (const addrs of Object.values(networkInterfaces())) {
      for (const n of addrs ?? []) if (!n.internal) assert.ok(a.includes(n.address), n.address);
    }
  });

  test("openssl verify accepts the serving and client certificates", { skip: !hasOpenssl && "openssl not installed" }, async () => {
    const dir = tempDir();
    const pki = await ensureClusterPki(opts(dir));
    const v = (ca: string, leaf: string, purpose: string) =>
      spawnSync("openssl", ["verify", "-x509_strict", "-purpose", purpose, "-CAfile", join(dir, ca), join(dir, leaf)], { encoding: "utf8" });
    const s = v("server-ca.crt", "serving-kube-apiserver.crt", "sslserver");
    assert.equal(s.status, 0, s.stdout + s.stderr);
    for (const c of ["client-admin", "client-kube-scheduler", "client-kube-controller-manager", "client-kube-proxy", "client-skiff-controller"]) {
      const r = v("client-ca.crt", `${c}.crt`, "sslclient");
      assert.equal(r.status, 0, r.stdout + r.stderr);
    }
    assert.notEqual(v("server-ca.crt", "client-admin.crt", "sslclient").status, 0, "client certs come from the client CA only");
    assert.ok(pki.serving.certFile.endsWith("serving-kube-apiserver.crt"));
  });
});
