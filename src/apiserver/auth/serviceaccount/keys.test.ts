import assert from "node:assert/strict";
import { createHash, createPublicKey, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ensureServiceAccountKey, loadSigningKey, serviceAccountKeyPath } from "./keys.js";
import { discoverableIssuer, jwks, openIdConfiguration } from "./oidc-discovery.js";
import { serviceAccountConfigFromFlags } from "./service-account-tokens.js";

const dir = mkdtempSync(join(tmpdir(), "skiff-sa-keys-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("ServiceAccount signing key", () => {
  it("is made once (RSA 2048, mode 0600) and read back the same, with upstream's key id", () => {
    const file = serviceAccountKeyPath(join(dir, "tls"));
    const a = ensureServiceAccountKey(file);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.match(readFileSync(file, "utf8"), /^-----BEGIN RSA PRIVATE KEY-----/);
    const b = ensureServiceAccountKey(file);
    assert.equal(a.alg, "RS256");
    assert.equal(a.kid, b.kid);
    const der = createPublicKey(readFileSync(file, "utf8")).export({ type: "spki", format: "der" });
    assert.equal(a.kid, createHash("sha256").update(der).digest("base64url"));
  });

  it("takes an ECDSA P-256 key as ES256 and refuses other keys", () => {
    const ec = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    assert.equal(loadSigningKey(ec).alg, "ES256");
    const p384 = generateKeyPairSync("ec", { namedCurve: "secp384r1" }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    assert.throws(() => loadSigningKey(p384, "k"), /k: unsupported key type ec \(secp384r1\)/);
    const small = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    assert.throws(() => loadSigningKey(small, "k"), /at least 2048 bits/);
    const bad = join(dir, "bad.key");
    writeFileSync(bad, "junk");
    assert.throws(() => ensureServiceAccountKey(bad), /not a PEM private key/);
  });
});

describe("issuer discovery documents", () => {
  it("have upstream's fields", async () => {
    const key = ensureServiceAccountKey(serviceAccountKeyPath(join(dir, "tls")));
    assert.deepEqual(openIdConfiguration("https://kubernetes.default.svc.cluster.local", "https://10.0.0.1:6443/openid/v1/jwks", [key]), {
      issuer: "https://kubernetes.default.svc.cluster.local",
      jwks_uri: "https://10.0.0.1:6443/openid/v1/jwks",
      response_types_supported: ["id_token"],
      subject_types_supported: ["public"],
      id_token_signing_alg_values_supported: ["RS256"],
    });
    const set = await jwks([key]);
    assert.deepEqual(Object.keys(set.keys[0]!), ["use", "kty", "kid", "alg", "n", "e"]);
    assert.equal(set.keys[0]!.kid, key.kid);
    assert.equal(set.keys[0]!.e, "AQAB");
    assert.equal(discoverableIssuer("https://kubernetes.default.svc.cluster.local"), true);
    assert.equal(discoverableIssuer("kubernetes/serviceaccount"), false);
    assert.equal(discoverableIssuer("http://insecure"), false);
  });
});

describe("kube-apiserver ServiceAccount flags", () => {
  it("default as upstream: the in-cluster issuer, audiences from the issuers, extension on", () => {
    assert.deepEqual(serviceAccountConfigFromFlags({}), {
      issuers: ["https://kubernetes.default.svc.cluster.local"],
      apiAudiences: ["https://kubernetes.default.svc.cluster.local"],
      maxExpirationSeconds: 0,
      extendExpiration: true,
      jwksUri: undefined,
    });
    const c = serviceAccountConfigFromFlags({ serviceAccountIssuer: ["https://a", "https://b"], apiAudiences: "x,y", serviceAccountMaxTokenExpiration: "48h" });
    assert.deepEqual([c.issuers, c.apiAudiences, c.maxExpirationSeconds], [["https://a", "https://b"], ["x", "y"], 172800]);
  });

  it("refuse bad values with upstream's messages", () => {
    assert.throws(() => serviceAccountConfigFromFlags({ serviceAccountMaxTokenExpiration: "10m" }), /must be between 1 hour and 2\^32 seconds/);
    assert.throws(() => serviceAccountConfigFromFlags({ serviceAccountIssuer: ["https://a", "https://a"] }), /duplicate/);
    assert.throws(() => serviceAccountConfigFromFlags({ serviceAccountIssuer: ["ht tp://a:b"] }), /contained a ':' but was not a valid URL/);
    assert.throws(() => serviceAccountConfigFromFlags({ serviceAccountJwksUri: "http://x/jwks" }), /requires https/);
  });
});
