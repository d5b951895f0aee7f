import assert from "node:assert/strict";
import { createHash, generateKeyPairSync } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { createCertificateAuthority, issueCertificate, type KeyPairPem } from "../pki/certs.js";
import { nodeFromSubject, TokenAuthority } from "./auth.js";
import { fetchToken, startTestRegistryServer, type TestRegistryServer } from "./test-helpers.js";

const sha = (b: Buffer | string) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const bearer = (token: string | undefined) => ({ Authorization: `Bearer ${token ?? ""}` });

/** The `access` claim of a token (the registry's own JWT; read, not verified). */
function accessOf(token: string | undefined): unknown {
  assert.ok(token, "a token");
  const payload = JSON.parse(Buffer.from(token.split(".")[1] as string, "base64url").toString("utf8")) as { access: unknown; sub: unknown };
  return payload.access;
}

describe("nodeFromSubject", () => {
  it("names the node of a kubelet certificate and nothing else", () => {
    assert.equal(nodeFromSubject({ CN: "system:node:n1", O: "system:nodes" }), "n1");
    assert.equal(nodeFromSubject({ CN: "system:node:n1", O: ["other", "system:nodes"] }), "n1");
    assert.equal(nodeFromSubject({ CN: "system:node:n1" }), undefined, "no system:nodes organization");
    assert.equal(nodeFromSubject({ CN: "admin", O: "system:nodes" }), undefined, "not a node name");
    assert.equal(nodeFromSubject({ CN: "system:node:", O: "system:nodes" }), undefined, "empty node name");
    assert.equal(nodeFromSubject({ CN: ["system:node:a", "system:node:b"], O: "system:nodes" }), undefined, "two names");
    assert.equal(nodeFromSubject(undefined), undefined);
  });

  it("grants a node pull and never push or delete, even when asked for everything", () => {
    // Any P-256 key signs; the grant is what is tested.
    const authority = new TokenAuthority(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey, []);
    const granted = authority.grant({ kind: "node", name: "n1" }, [
      { type: "repository", name: "team/app", actions: ["pull", "push"] },
      { type: "repository", name: "team/db", actions: ["*"] },
      { type: "repository", name: "team/web", actions: ["delete"] },
      { type: "registry", name: "catalog", actions: ["*"] },
    ]);
    assert.deepEqual(granted, [
      { type: "repository", name: "team/app", actions: ["pull"] },
      { type: "repository", name: "team/db", actions: ["pull"] },
      { type: "repository", name: "team/web", actions: [] },
      { type: "registry", name: "catalog", actions: [] },
    ]);
  });
});

describe("registry token endpoint with node client certificates", () => {
  let t: TestRegistryServer;
  let node: KeyPairPem;
  let admin: KeyPairPem;
  let foreignNode: KeyPairPem;
  let manifestDigest: string;

  before(async () => {
    const clientCa = await createCertificateAuthority({ commonName: "skiff-test-client-ca" });
    const otherCa = await createCertificateAuthority({ commonName: "someone-else-ca" });
    node = await issueCertificate({ ca: clientCa, commonName: "system:node:n1", organizations: ["system:nodes"], usages: ["client"], validDays: 1 });
    admin = await issueCertificate({ ca: clientCa, commonName: "admin", organizations: ["system:masters"], usages: ["client"], validDays: 1 });
    foreignNode = await issueCertificate({ ca: otherCa, commonName: "system:node:n1", organizations: ["system:nodes"], usages: ["client"], validDays: 1 });
    t = await startTestRegistryServer({}, clientCa.certPem);
    // An image pushed with a login, for the node to pull.
    const login = await fetchToken(t, ["repository:team/app:pull,push"], { username: "skiff", password: await t.password() });
    assert.equal(login.status, 200, login.body.toString());
    const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    const put = await t.call("POST", `/v2/team/app/blobs/uploads/?digest=${sha(config)}`, { headers: bearer(login.token), body: config });
    assert.equal(put.status, 201, put.body.toString());
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha(config), size: config.length },
      layers: [],
    });
    manifestDigest = sha(manifest);
    const m = await t.call("PUT", "/v2/team/app/manifests/1", {
      headers: { ...bearer(login.token), "Content-Type": "application/vnd.oci.image.manifest.v1+json" },
      body: manifest,
    });
    assert.equal(m.status, 201, m.body.toString());
  });
  after(async () => {
    await t?.stop();
  });

  it("gives a node's certificate pull only, and the token pulls but cannot push or delete", async () => {
    const tok = await fetchToken(t, ["repository:team/app:pull,push,delete"], undefined, node);
    assert.equal(tok.status, 200, tok.body.toString());
    assert.deepEqual(accessOf(tok.token), [{ type: "repository", name: "team/app", actions: ["pull"] }]);
    const get = await t.call("GET", "/v2/team/app/manifests/1", { headers: { ...bearer(tok.token), Accept: "application/vnd.oci.image.manifest.v1+json" } });
    assert.equal(get.status, 200, get.body.toString());
    assert.equal(get.headers["docker-content-digest"], manifestDigest);
    const push = await t.call("POST", "/v2/team/app/blobs/uploads/", { headers: bearer(tok.token) });
    assert.equal(push.status, 401, "a node cannot push");
    assert.match(String(push.headers["www-authenticate"]), /error="insufficient_scope"/);
    const del = await t.call("DELETE", `/v2/team/app/manifests/${manifestDigest}`, { headers: bearer(tok.token) });
    assert.equal(del.status, 401, "a node cannot delete");
    const catalog = await fetchToken(t, ["registry:catalog:*"], undefined, node);
    assert.deepEqual(accessOf(catalog.token), [{ type: "registry", name: "catalog", actions: [] }]);
  });

  it("treats other certificates as anonymous: not a node, or a node name from another CA", async () => {
    for (const [what, cert] of [
      ["an admin certificate", admin],
      ["a node certificate from another CA", foreignNode],
    ] as const) {
      const tok = await fetchToken(t, ["repository:team/app:pull"], undefined, cert);
      assert.equal(tok.status, 200, `${what}: ${tok.body.toString()}`);
      assert.deepEqual(accessOf(tok.token), [{ type: "repository", name: "team/app", actions: [] }], what);
    }
  });

  it("lets a login with a client certificate keep its own rights (the password wins)", async () => {
    const tok = await fetchToken(t, ["repository:team/app:pull,push"], { username: "skiff", password: await t.password() }, node);
    assert.deepEqual(accessOf(tok.token), [{ type: "repository", name: "team/app", actions: ["pull", "push"] }]);
    const wrong = await fetchToken(t, ["repository:team/app:pull"], { username: "skiff", password: "nope" }, node);
    assert.equal(wrong.status, 401, "a wrong password is refused even with a node certificate");
  });
});
