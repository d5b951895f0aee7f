import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, createPublicKey, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { after, before, describe, test } from "node:test";
import {
  caHash,
  createCertificateAuthority,
  issueCertificate,
  type KeyPairPem,
  keyMatchesCertificate,
  parseCertificate,
  verifySignedBy,
} from "./certs.js";
import { certificateRawFields } from "./der.js";

const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;

function raw(pem: string) {
  return certificateRawFields(new Uint8Array(new X509Certificate(pem).raw));
}

/** Runs `openssl verify` on `leaf` against `ca`; returns its output (status 0 expected). */
function opensslVerify(dir: string, ca: string, leaf: string, purpose: string): { status: number | null; out: string } {
  const caFile = join(dir, `ca-${Math.random()}.crt`);
  const leafFile = join(dir, `leaf-${Math.random()}.crt`);
  writeFileSync(caFile, ca);
  writeFileSync(leafFile, leaf);
  const r = spawnSync("openssl", ["verify", "-x509_strict", "-purpose", purpose, "-CAfile", caFile, leafFile], { encoding: "utf8" });
  return { status: r.status, out: r.stdout + r.stderr };
}

interface Seen {
  authorized: boolean;
  error?: string;
  cn?: string | string[];
  o?: string | string[];
}

/** An HTTPS server that reports what it thought of the client's certificate. */
async function startServer(serving: KeyPairPem, clientCaPem: string): Promise<{ server: Server; port: number }> {
  const server = createServer({ key: serving.keyPem, cert: serving.certPem, ca: clientCaPem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const sock = req.socket as TLSSocket;
    const peer = sock.getPeerCertificate();
    const seen: Seen = {
      authorized: sock.authorized,
      error: sock.authorizationError ? String(sock.authorizationError) : undefined,
      cn: peer.subject?.CN,
      o: peer.subject?.O,
    };
    res.end(JSON.stringify(seen));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

function get(port: number, host: string, caPem: string, client?: KeyPairPem): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host, port, path: "/", ca: caPem, cert: client?.certPem, key: client?.keyPem, agent: false },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve(JSON.parse(body) as Seen));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("certificate authority", () => {
  test("is a self-signed P-256 CA with the required extensions", async () => {
    const ca = await createCertificateAuthority({ commonName: "skiff-server-ca@1700000000" });
    assert.match(ca.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.match(ca.certPem, /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
    const p = parseCertificate(ca.certPem);
    assert.equal(p.commonName, "skiff-server-ca@1700000000");
    assert.equal(p.isCA, true);
    const years = (p.notAfter.getTime() - Date.now()) / (365 * 24 * 3600 * 1000);
    assert.ok(years > 9.9 && years < 10.1, `valid for ${years} years`);
    const r = raw(ca.certPem);
    assert.deepEqual(Buffer.from(r.issuer), Buffer.from(r.subject), "subject and issuer are byte-identical");
    const node = new X509Certificate(ca.certPem);
    assert.equal(node.ca, true);
    assert.equal(node.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
    assert.ok(node.verify(node.publicKey), "self-signed");
    assert.ok(keyMatchesCertificate(ca.keyPem, ca.certPem));
  });

  test("caHash is sha256 over the DER SubjectPublicKeyInfo", async () => {
    const ca = await createCertificateAuthority({ commonName: "x" });
    const spki = createPublicKey(ca.certPem).export({ type: "spki", format: "der" });
    assert.equal(caHash(ca.certPem), "sha256:" + createHash("sha256").update(spki).digest("hex"));
    assert.match(caHash(ca.certPem), /^sha256:[0-9a-f]{64}$/);
  });
});

describe("leaf certificates", () => {
  let ca: KeyPairPem;
  let otherCa: KeyPairPem;
  let dir: string;
  before(async () => {
    ca = await createCertificateAuthority({ commonName: "skiff-server-ca@1" });
    otherCa = await createCertificateAuthority({ commonName: "skiff-server-ca@1" }); // same name, other key
    dir = mkdtempSync(join(tmpdir(), "skiff-certs-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("carry subject, SANs (IPv4 and IPv6), key ids and a random positive serial", async () => {
    const leaf = await issueCertificate({
      ca,
      commonName: "system:admin",
      organizations: ["system:masters", "team-a"],
      dnsNames: ["localhost", "kubernetes.default.svc"],
      ipAddresses: ["127.0.0.1", "::1", "2001:DB8:0:0:0:0:0:1", "::ffff:10.0.0.7"],
      usages: ["server", "client"],
      validDays: 30,
    });
    assert.match(leaf.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    const p = parseCertificate(leaf.certPem);
    assert.equal(p.commonName, "system:admin");
    assert.deepEqual(p.organizations, ["system:masters", "team-a"]);
    assert.deepEqual(p.dnsNames, ["localhost", "kubernetes.default.svc"]);
    assert.deepEqual(p.ipAddresses, ["127.0.0.1", "::1", "2001:db8::1", "10.0.0.7"]);
    assert.equal(p.isCA, false);
    // At most 16 bytes, so no 0x00 sign byte was needed: the top bit is clear.
    assert.ok(p.serialNumber.length <= 32 && p.serialNumber.length >= 20, p.serialNumber);
    assert.ok(p.serialNumber.length < 32 || Number.parseInt(p.serialNumber[0]!, 16) < 8, p.serialNumber);
    const days = (p.notAfter.getTime() - Date.now()) / (24 * 3600 * 1000);
    assert.ok(days > 29.9 && days <= 30, `valid ${days} days`);
    assert.ok(p.notBefore.getTime() < Date.now(), "backdated for clock skew");

    const node = new X509Certificate(leaf.certPem);
    assert.equal(node.ca, false);
    assert.equal(node.checkHost("kubernetes.default.svc"), "kubernetes.default.svc");
    assert.equal(node.checkIP("::1"), "::1");
    assert.equal(node.checkIP("2001:db8::1"), "2001:db8::1");
    assert.ok(verifySignedBy(leaf.certPem, ca.certPem));
    assert.ok(!verifySignedBy(leaf.certPem, otherCa.certPem), "same name, other key: not its issuer");
    assert.ok(keyMatchesCertificate(leaf.keyPem, leaf.certPem));
    assert.deepEqual(Buffer.from(raw(leaf.certPem).issuer), Buffer.from(raw(ca.certPem).subject), "issuer is the CA subject, byte for byte");
  });

  test("serials differ between certificates", async () => {
    const opts = { ca, commonName: "a", usages: ["client" as const], validDays: 1 };
    const a = parseCertificate((await issueCertificate(opts)).certPem).serialNumber;
    const b = parseCertificate((await issueCertificate(opts)).certPem).serialNumber;
    assert.notEqual(a, b);
  });

  test("notAfter never passes the CA's", async () => {
    const shortCa = await createCertificateAuthority({ commonName: "short", validDays: 10 });
    const leaf = await issueCertificate({ ca: shortCa, commonName: "a", usages: ["client"], validDays: 365 });
    assert.ok(parseCertificate(leaf.certPem).notAfter <= parseCertificate(shortCa.certPem).notAfter);
  });

  test("refuses a non-CA issuer, a foreign key and empty usages", async () => {
    const leaf = await issueCertificate({ ca, commonName: "leaf", usages: ["client"], validDays: 1 });
    await assert.rejects(issueCertificate({ ca: leaf, commonName: "x", usages: ["client"], validDays: 1 }), /not a CA/);
    await assert.rejects(
      issueCertificate({ ca: { certPem: ca.certPem, keyPem: otherCa.keyPem }, commonName: "x", usages: ["client"], validDays: 1 }),
      /does not belong/,
    );
    await assert.rejects(issueCertificate({ ca, commonName: "x", usages: [], validDays: 1 }), /at least one usage/);
    await assert.rejects(issueCertificate({ ca, commonName: "x", usages: ["client"], validDays: 1, ipAddresses: ["nope"] }), /not an IP/);
  });

  test("a real TLS handshake: server verifies the client, client verifies the server", async () => {
    const clientCa = await createCertificateAuthority({ commonName: "skiff-client-ca@1" });
    const serving = await issueCertificate({
      ca,
      commonName: "kube-apiserver",
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1"],
      usages: ["server"],
      validDays: 1,
    });
    const admin = await issueCertificate({
      ca: clientCa,
      commonName: "system:admin",
      organizations: ["system:masters"],
      usages: ["client"],
      validDays: 1,
    });
    const stranger = await issueCertificate({
      ca: otherCa,
      commonName: "system:admin",
      organizations: ["system:masters"],
      usages: ["client"],
      validDays: 1,
    });
    const { server, port } = await startServer(serving, clientCa.certPem);
    try {
      assert.deepEqual(await get(port, "127.0.0.1", ca.certPem, admin), {
        authorized: true,
        cn: "system:admin",
        o: "system:masters",
      });
      assert.equal((await get(port, "localhost", ca.certPem, admin)).authorized, true);
      const bad = await get(port, "127.0.0.1", ca.certPem, stranger);
      assert.equal(bad.authorized, false);
      assert.ok(bad.error, "an authorization error is reported");
      assert.equal((await get(port, "127.0.0.1", ca.certPem)).authorized, false, "no client certificate");
      // The client refuses a server whose CA it does not trust.
      await assert.rejects(get(port, "127.0.0.1", otherCa.certPem, admin), /certificate|signature/i);
    } finally {
      server.close();
    }
  });

  test("a CA made elsewhere (RSA, by openssl) can issue", { skip: !hasOpenssl && "openssl not installed" }, async () => {
    const key = join(dir, "rsa-ca.key");
    const crt = join(dir, "rsa-ca.crt");
    const r = spawnSync(
      "openssl",
      ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt, "-days", "30", "-subj", "/CN=kubernetes",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"],
      { encoding: "utf8" },
    );
    assert.equal(r.status, 0, r.stderr);
    const rsaCa = { certPem: readFileSync(crt, "utf8"), keyPem: readFileSync(key, "utf8") };
    const leaf = await issueCertificate({ ca: rsaCa, commonName: "kube-apiserver", dnsNames: ["localhost"], usages: ["server"], validDays: 1 });
    assert.ok(verifySignedBy(leaf.certPem, rsaCa.certPem));
    const v = opensslVerify(dir, rsaCa.certPem, leaf.certPem, "sslserver");
    assert.equal(v.status, 0, v.out);
  });

  test("openssl verify -x509_strict accepts server and client leaves", { skip: !hasOpenssl && "openssl not installed" }, async () => {
    const serving = await issueCertificate({ ca, commonName: "s", dnsNames: ["localhost"], ipAddresses: ["::1"], usages: ["server"], validDays: 1 });
    const client = await issueCertificate({ ca, commonName: "c", organizations: ["g"], usages: ["client"], validDays: 1 });
    const s = opensslVerify(dir, ca.certPem, serving.certPem, "sslserver");
    assert.equal(s.status, 0, s.out);
    const c = opensslVerify(dir, ca.certPem, client.certPem, "sslclient");
    assert.equal(c.status, 0, c.out);
    // Purposes are enforced: a client-only certificate is no server.
    assert.notEqual(opensslVerify(dir, ca.certPem, client.certPem, "sslserver").status, 0);
    assert.notEqual(opensslVerify(dir, otherCa.certPem, client.certPem, "sslclient").status, 0);
    // The AKI names the CA's SKI.
    const t = spawnSync("openssl", ["x509", "-noout", "-ext", "subjectKeyIdentifier,authorityKeyIdentifier"], {
      input: client.certPem,
      encoding: "utf8",
    }).stdout;
    const caSki = spawnSync("openssl", ["x509", "-noout", "-ext", "subjectKeyIdentifier"], { input: ca.certPem, encoding: "utf8" }).stdout;
    const ski = caSki.split("\n")[1]!.trim();
    assert.ok(t.includes(ski), `leaf AKI names CA SKI ${ski}:\n${t}`);
  });
});
