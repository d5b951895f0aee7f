import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, utimesSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { mintLoginPassword } from "./auth.js";
import { DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST } from "./manifests.js";
import { RegistryStorage } from "./storage.js";
import { fetchToken, startTestRegistryServer, type TestRegistryServer } from "./test-helpers.js";

const sha = (b: Buffer | string) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const bearer = (token: string | undefined) => ({ Authorization: `Bearer ${token ?? ""}` });

describe("registry API (by hand)", () => {
  let t: TestRegistryServer;
  let admin: Record<string, string>;

  before(async () => {
    t = await startTestRegistryServer({ anonymousPull: ["public/*"] });
    const password = await t.password();
    const tok = await fetchToken(t, ["repository:app/web:pull,push,delete", "repository:app/api:pull,push,delete", "repository:public/base:pull,push", "registry:catalog:*"], { username: "skiff", password });
    assert.equal(tok.status, 200, tok.body.toString());
    admin = bearer(tok.token);
    for (let i = 0; i < 3; i++) {
      const r = await fetchToken(t, [`repository:cat/r${i}:pull,push`], { username: "skiff", password });
      await pushBlob(bearer(r.token), `cat/r${i}`, Buffer.from(`catalog ${i}`));
    }
  });
  after(async () => {
    await t?.stop();
  });

  async function pushBlob(auth: Record<string, string>, repo: string, data: Buffer): Promise<string> {
    const digest = sha(data);
    const r = await t.call("POST", `/v2/${repo}/blobs/uploads/?digest=${digest}`, { headers: { ...auth, "Content-Type": "application/octet-stream" }, body: data });
    assert.equal(r.status, 201, r.body.toString());
    return digest;
  }

  function imageManifest(mediaType: string, config: { digest: string; size: number }, layers: { digest: string; size: number }[], extra: object = {}) {
    const docker = mediaType === DOCKER_MANIFEST;
    return JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: docker ? "application/vnd.docker.container.image.v1+json" : "application/vnd.oci.image.config.v1+json", ...config },
      layers: layers.map((l) => ({ mediaType: docker ? "application/vnd.docker.image.rootfs.diff.tar.gzip" : "application/vnd.oci.image.layer.v1.tar+gzip", ...l })),
      ...extra,
    });
  }

  it("answers GET /v2/ with 401 and the token challenge, then 200 with a token", async () => {
    const r = await t.call("GET", "/v2/");
    assert.equal(r.status, 401);
    assert.equal(r.headers["docker-distribution-api-version"], "registry/2.0");
    assert.equal(r.headers["www-authenticate"], `Bearer realm="https://${t.addr}/v2/token",service="skiff-registry"`);
    assert.equal((r.json() as { errors: { code: string }[] }).errors[0]?.code, "UNAUTHORIZED");
    const ok = await t.call("GET", "/v2/", { headers: admin });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json(), {});
  });

  it("challenges a request without a token with the repository scope", async () => {
    const r = await t.call("POST", "/v2/app/web/blobs/uploads/");
    assert.equal(r.status, 401);
    assert.equal(r.headers["www-authenticate"], `Bearer realm="https://${t.addr}/v2/token",service="skiff-registry",scope="repository:app/web:pull,push"`);
  });

  it("refuses wrong passwords, other usernames and expired passwords at the token endpoint", async () => {
    const scope = ["repository:app/web:pull"];
    const wrong = await fetchToken(t, scope, { username: "skiff", password: "not-a-password" });
    assert.equal(wrong.status, 401);
    assert.equal((wrong.json() as { errors: { code: string; message: string }[] }).errors[0]?.message, "incorrect username or password");
    const aws = await fetchToken(t, scope, { username: "AWS", password: await t.password() });
    assert.equal(aws.status, 401);
    assert.match((aws.json() as { errors: { message: string }[] }).errors[0]?.message ?? "", /the username is always "skiff"/);
    const old = await mintLoginPassword({ key: t.signingKey, ttl: 60, now: new Date(Date.now() - 3600_000) });
    const expired = await fetchToken(t, scope, { username: "skiff", password: old });
    assert.equal(expired.status, 401);
    assert.match((expired.json() as { errors: { message: string }[] }).errors[0]?.message ?? "", /expired/);
    const otherKey = await startTestRegistryServer();
    try {
      const foreign = await fetchToken(t, scope, { username: "skiff", password: await otherKey.password() });
      assert.equal(foreign.status, 401);
    } finally {
      await otherKey.stop();
    }
  });

  it("returns the token response shape and limits the token to the granted scopes", async () => {
    const r = await fetchToken(t, ["repository:app/web:pull"], { username: "skiff", password: await t.password() });
    const body = r.json() as Record<string, unknown>;
    assert.equal(typeof body.token, "string");
    assert.equal(body.access_token, body.token);
    assert.equal(body.expires_in, 300);
    assert.match(String(body.issued_at), /^\d{4}-\d\d-\d\dT/);
    // A pull token used to push: 401 with error="insufficient_scope", as distribution answers.
    const push = await t.call("POST", "/v2/app/web/blobs/uploads/", { headers: bearer(r.token) });
    assert.equal(push.status, 401);
    assert.match(String(push.headers["www-authenticate"]), /error="insufficient_scope"/);
    assert.match(String(push.headers["www-authenticate"]), /scope="repository:app\/web:pull,push"/);
    // The token does not reach another repository.
    const other = await t.call("GET", "/v2/app/api/tags/list", { headers: bearer(r.token) });
    assert.equal(other.status, 401);
    // A login password is not an access token.
    const pw = await t.call("GET", "/v2/app/web/tags/list", { headers: bearer(await t.password()) });
    assert.equal(pw.status, 401);
    assert.match(String(pw.headers["www-authenticate"]), /error="invalid_token"/);
  });

  it("answers OAuth2's password grant (POST /v2/token), as containerd asks first", async () => {
    const form = new URLSearchParams({ grant_type: "password", username: "skiff", password: await t.password(), service: "skiff-registry", scope: "repository:app/web:pull registry:catalog:*", client_id: "test" });
    const r = await t.call("POST", "/v2/token", { headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: form.toString() });
    assert.equal(r.status, 200, r.body.toString());
    const body = r.json() as { access_token: string; scope: string; expires_in: number };
    assert.equal(body.scope, "repository:app/web:pull registry:catalog:*");
    assert.equal((await t.call("GET", "/v2/_catalog", { headers: bearer(body.access_token) })).status, 200);
    form.set("password", "wrong");
    const bad = await t.call("POST", "/v2/token", { headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: form.toString() });
    assert.equal(bad.status, 401);
  });

  it("lets anonymous clients pull only repositories matched by anonymousPull", async () => {
    const layer = await pushBlob(admin, "public/base", Buffer.from("public layer"));
    const anonTok = await fetchToken(t, ["repository:public/base:pull,push", "repository:app/web:pull"]);
    assert.equal(anonTok.status, 200);
    const r = await t.call("GET", `/v2/public/base/blobs/${layer}`);
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), "public layer");
    const withTok = await t.call("GET", `/v2/public/base/blobs/${layer}`, { headers: bearer(anonTok.token) });
    assert.equal(withTok.status, 200);
    const push = await t.call("POST", "/v2/public/base/blobs/uploads/", { headers: bearer(anonTok.token) });
    assert.equal(push.status, 401, "anonymous tokens never push");
    const priv = await t.call("GET", "/v2/app/web/tags/list", { headers: bearer(anonTok.token) });
    assert.equal(priv.status, 401);
  });

  it("takes a chunked upload (PATCH with Content-Range, final PUT) and serves Range requests", async () => {
    const data = Buffer.from("0123456789abcdefghij");
    const start = await t.call("POST", "/v2/app/web/blobs/uploads/", { headers: admin });
    assert.equal(start.status, 202);
    assert.equal(start.headers.range, "0-0");
    const uuid = String(start.headers["docker-upload-uuid"]);
    const loc = new URL(String(start.headers.location));
    assert.equal(loc.pathname, `/v2/app/web/blobs/uploads/${uuid}`);
    const p1 = await t.call("PATCH", loc.pathname, { headers: { ...admin, "Content-Range": "0-9", "Content-Type": "application/octet-stream" }, body: data.subarray(0, 10) });
    assert.equal(p1.status, 202, p1.body.toString());
    assert.equal(p1.headers.range, "0-9");
    // A chunk that does not start where the upload ends: 416 RANGE_INVALID.
    const bad = await t.call("PATCH", loc.pathname, { headers: { ...admin, "Content-Range": "5-14" }, body: data.subarray(5, 15) });
    assert.equal(bad.status, 416);
    assert.equal((bad.json() as { errors: { code: string }[] }).errors[0]?.code, "RANGE_INVALID");
    const status = await t.call("GET", loc.pathname, { headers: admin });
    assert.equal(status.status, 204);
    assert.equal(status.headers.range, "0-9");
    // The session survives a restart (resumable).
    await t.restart();
    const p2 = await t.call("PATCH", loc.pathname, { headers: { ...admin, "Content-Range": "10-14" }, body: data.subarray(10, 15) });
    assert.equal(p2.status, 202);
    assert.equal(p2.headers.range, "0-14");
    const wrongDigest = sha("something else");
    const digest = sha(data);
    const fin = await t.call("PUT", `${loc.pathname}?digest=${digest}`, { headers: admin, body: data.subarray(15) });
    assert.equal(fin.status, 201, fin.body.toString());
    assert.equal(fin.headers["docker-content-digest"], digest);
    assert.equal(new URL(String(fin.headers.location)).pathname, `/v2/app/web/blobs/${digest}`);
    assert.equal((await t.call("GET", loc.pathname, { headers: admin })).status, 404, "the session is gone once committed");
    const head = await t.call("HEAD", `/v2/app/web/blobs/${digest}`, { headers: admin });
    assert.equal(head.status, 200);
    assert.equal(head.headers["content-length"], "20");
    assert.equal(head.headers["docker-content-digest"], digest);
    const part = await t.call("GET", `/v2/app/web/blobs/${digest}`, { headers: { ...admin, Range: "bytes=5-9" } });
    assert.equal(part.status, 206);
    assert.equal(part.body.toString(), "56789");
    assert.equal(part.headers["content-range"], "bytes 5-9/20");
    const tail = await t.call("GET", `/v2/app/web/blobs/${digest}`, { headers: { ...admin, Range: "bytes=-3" } });
    assert.equal(tail.body.toString(), "hij");
    const beyond = await t.call("GET", `/v2/app/web/blobs/${digest}`, { headers: { ...admin, Range: "bytes=30-" } });
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers["content-range"], "bytes */20");
    // A final PUT whose digest does not match: DIGEST_INVALID and the session is dropped.
    const s2 = await t.call("POST", "/v2/app/web/blobs/uploads/", { headers: admin });
    const p = new URL(String(s2.headers.location)).pathname;
    const mismatch = await t.call("PUT", `${p}?digest=${wrongDigest}`, { headers: admin, body: "abc" });
    assert.equal(mismatch.status, 400);
    assert.equal((mismatch.json() as { errors: { code: string }[] }).errors[0]?.code, "DIGEST_INVALID");
    assert.equal((await t.call("GET", p, { headers: admin })).status, 404);
    // An unknown session.
    const unknown = await t.call("PATCH", "/v2/app/web/blobs/uploads/00000000-0000-0000-0000-000000000000", { headers: admin, body: "x" });
    assert.equal(unknown.status, 404);
    assert.equal((unknown.json() as { errors: { code: string }[] }).errors[0]?.code, "BLOB_UPLOAD_UNKNOWN");
  });

  it("serves a blob only from repositories that reference it, and mounts across repositories", async () => {
    const digest = await pushBlob(admin, "app/web", Buffer.from("shared layer"));
    const miss = await t.call("GET", `/v2/app/api/blobs/${digest}`, { headers: admin });
    assert.equal(miss.status, 404);
    assert.equal((miss.json() as { errors: { code: string }[] }).errors[0]?.code, "BLOB_UNKNOWN");
    // Mounting needs pull on the source repository too.
    const narrow = await fetchToken(t, ["repository:app/api:pull,push"], { username: "skiff", password: await t.password() });
    const denied = await t.call("POST", `/v2/app/api/blobs/uploads/?mount=${digest}&from=app/web`, { headers: bearer(narrow.token) });
    assert.equal(denied.status, 401);
    assert.match(String(denied.headers["www-authenticate"]), /scope="repository:app\/api:pull,push repository:app\/web:pull"/);
    const m = await t.call("POST", `/v2/app/api/blobs/uploads/?mount=${digest}&from=app/web`, { headers: admin });
    assert.equal(m.status, 201);
    assert.equal(m.headers["docker-content-digest"], digest);
    assert.equal((await t.call("GET", `/v2/app/api/blobs/${digest}`, { headers: admin })).body.toString(), "shared layer");
    // A mount of a blob the source does not have starts an ordinary upload.
    const fallback = await t.call("POST", `/v2/app/api/blobs/uploads/?mount=${sha("nope")}&from=app/web`, { headers: admin });
    assert.equal(fallback.status, 202);
    await t.call("DELETE", new URL(String(fallback.headers.location)).pathname, { headers: admin });
    // DELETE blob unlinks it from one repository only.
    assert.equal((await t.call("DELETE", `/v2/app/api/blobs/${digest}`, { headers: admin })).status, 202);
    assert.equal((await t.call("HEAD", `/v2/app/api/blobs/${digest}`, { headers: admin })).status, 404);
    assert.equal((await t.call("HEAD", `/v2/app/web/blobs/${digest}`, { headers: admin })).status, 200);
  });

  it("stores OCI and Docker manifests and indexes, checks references, negotiates by Accept, deletes", async () => {
    const cfg = Buffer.from('{"architecture":"amd64","os":"linux"}');
    const layer = Buffer.from("layer bytes");
    const c = await pushBlob(admin, "app/web", cfg);
    const l = await pushBlob(admin, "app/web", layer);
    const oci = imageManifest(OCI_MANIFEST, { digest: c, size: cfg.length }, [{ digest: l, size: layer.length }]);
    const put = await t.call("PUT", "/v2/app/web/manifests/v1", { headers: { ...admin, "Content-Type": OCI_MANIFEST }, body: oci });
    assert.equal(put.status, 201, put.body.toString());
    assert.equal(put.headers["docker-content-digest"], sha(oci));
    assert.equal(new URL(String(put.headers.location)).pathname, `/v2/app/web/manifests/${sha(oci)}`);
    // References to blobs this repository does not hold: MANIFEST_BLOB_UNKNOWN.
    const missing = imageManifest(OCI_MANIFEST, { digest: c, size: cfg.length }, [{ digest: sha("absent"), size: 6 }]);
    const r = await t.call("PUT", "/v2/app/web/manifests/v2", { headers: { ...admin, "Content-Type": OCI_MANIFEST }, body: missing });
    assert.equal(r.status, 400);
    assert.deepEqual((r.json() as { errors: unknown[] }).errors[0], { code: "MANIFEST_BLOB_UNKNOWN", message: "blob unknown to registry", detail: { digest: sha("absent") } });
    const invalid = await t.call("PUT", "/v2/app/web/manifests/v2", { headers: { ...admin, "Content-Type": OCI_MANIFEST }, body: "{nope" });
    assert.equal((invalid.json() as { errors: { code: string }[] }).errors[0]?.code, "MANIFEST_INVALID");
    const byWrongDigest = await t.call("PUT", `/v2/app/web/manifests/${sha("x")}`, { headers: { ...admin, "Content-Type": OCI_MANIFEST }, body: oci });
    assert.equal((byWrongDigest.json() as { errors: { code: string }[] }).errors[0]?.code, "DIGEST_INVALID");
    // Docker schema2 and a manifest list over it.
    const docker = imageManifest(DOCKER_MANIFEST, { digest: c, size: cfg.length }, [{ digest: l, size: layer.length }]);
    assert.equal((await t.call("PUT", "/v2/app/web/manifests/docker", { headers: { ...admin, "Content-Type": DOCKER_MANIFEST }, body: docker })).status, 201);
    const list = JSON.stringify({ schemaVersion: 2, mediaType: DOCKER_LIST, manifests: [{ mediaType: DOCKER_MANIFEST, digest: sha(docker), size: docker.length, platform: { architecture: "amd64", os: "linux" } }] });
    assert.equal((await t.call("PUT", "/v2/app/web/manifests/list", { headers: { ...admin, "Content-Type": DOCKER_LIST }, body: list })).status, 201);
    const index = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: sha(oci), size: oci.length, platform: { architecture: "amd64", os: "linux" } }] });
    assert.equal((await t.call("PUT", "/v2/app/web/manifests/index", { headers: { ...admin, "Content-Type": OCI_INDEX }, body: index })).status, 201);
    const badIndex = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: sha("none"), size: 4 }] });
    const bi = await t.call("PUT", "/v2/app/web/manifests/bad", { headers: { ...admin, "Content-Type": OCI_INDEX }, body: badIndex });
    assert.equal((bi.json() as { errors: { code: string }[] }).errors[0]?.code, "MANIFEST_BLOB_UNKNOWN");
    // Content negotiation.
    const g = await t.call("GET", "/v2/app/web/manifests/v1", { headers: { ...admin, Accept: `${DOCKER_MANIFEST}, ${OCI_MANIFEST}` } });
    assert.equal(g.status, 200);
    assert.equal(g.headers["content-type"], OCI_MANIFEST);
    assert.equal(g.body.toString(), oci);
    const noOci = await t.call("GET", "/v2/app/web/manifests/v1", { headers: { ...admin, Accept: DOCKER_MANIFEST } });
    assert.equal(noOci.status, 404);
    assert.equal((noOci.json() as { errors: { message: string }[] }).errors[0]?.message, "OCI manifest found, but accept header does not support OCI manifests");
    const lst = await t.call("GET", "/v2/app/web/manifests/list", { headers: { ...admin, Accept: DOCKER_MANIFEST } });
    assert.equal(lst.headers["content-type"], DOCKER_MANIFEST, "a client without manifest-list support gets linux/amd64");
    assert.equal(lst.headers["docker-content-digest"], sha(docker));
    const lst2 = await t.call("HEAD", "/v2/app/web/manifests/list", { headers: { ...admin, Accept: DOCKER_LIST } });
    assert.equal(lst2.headers["docker-content-digest"], sha(list));
    assert.equal(lst2.headers["content-length"], String(list.length));
    const idx = await t.call("GET", `/v2/app/web/manifests/${sha(index)}`, { headers: { ...admin, Accept: OCI_INDEX } });
    assert.equal(idx.headers["content-type"], OCI_INDEX);
    // Referrers (subject) with the OCI-Subject header.
    const sig = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: "application/vnd.example.sig", config: { mediaType: "application/vnd.oci.empty.v1+json", digest: c, size: cfg.length }, layers: [], subject: { mediaType: OCI_MANIFEST, digest: sha(oci), size: oci.length } });
    const sp = await t.call("PUT", `/v2/app/web/manifests/${sha(sig)}`, { headers: { ...admin, "Content-Type": OCI_MANIFEST }, body: sig });
    assert.equal(sp.status, 201, sp.body.toString());
    assert.equal(sp.headers["oci-subject"], sha(oci));
    const refs = await t.call("GET", `/v2/app/web/referrers/${sha(oci)}?artifactType=application/vnd.example.sig`, { headers: admin });
    assert.equal(refs.headers["oci-filters-applied"], "artifactType");
    assert.deepEqual((refs.json() as { manifests: { digest: string }[] }).manifests.map((m) => m.digest), [sha(sig)]);
    // Delete by tag, then by digest (which drops every tag pointing at it).
    assert.equal((await t.call("DELETE", "/v2/app/web/manifests/index", { headers: admin })).status, 202);
    assert.equal((await t.call("GET", "/v2/app/web/manifests/index", { headers: { ...admin, Accept: OCI_INDEX } })).status, 404);
    assert.equal((await t.call("DELETE", `/v2/app/web/manifests/${sha(docker)}`, { headers: admin })).status, 202);
    const gone = await t.call("GET", "/v2/app/web/manifests/docker", { headers: { ...admin, Accept: DOCKER_MANIFEST } });
    assert.equal(gone.status, 404);
    assert.equal((gone.json() as { errors: { code: string }[] }).errors[0]?.code, "MANIFEST_UNKNOWN");
    assert.equal((await t.call("DELETE", `/v2/app/web/manifests/${sha(docker)}`, { headers: admin })).status, 404);
  });

  it("paginates tags and the catalog with n/last and a Link header", async () => {
    const cfg = await pushBlob(admin, "app/api", Buffer.from("{}"));
    const body = imageManifest(OCI_MANIFEST, { digest: cfg, size: 2 }, []);
    for (const tag of ["c", "a", "e", "b", "d"]) {
      assert.equal((await t.call("PUT", `/v2/app/api/manifests/${tag}`, { headers: { ...admin, "Content-Type": OCI_MANIFEST }, body })).status, 201);
    }
    const p1 = await t.call("GET", "/v2/app/api/tags/list?n=2", { headers: admin });
    assert.deepEqual(p1.json(), { name: "app/api", tags: ["a", "b"] });
    assert.equal(p1.headers.link, '</v2/app/api/tags/list?last=b&n=2>; rel="next"');
    const p3 = await t.call("GET", "/v2/app/api/tags/list?n=2&last=d", { headers: admin });
    assert.deepEqual(p3.json(), { name: "app/api", tags: ["e"] });
    assert.equal(p3.headers.link, undefined);
    const all = await t.call("GET", "/v2/app/api/tags/list", { headers: admin });
    assert.deepEqual((all.json() as { tags: string[] }).tags, ["a", "b", "c", "d", "e"]);
    const badN = await t.call("GET", "/v2/app/api/tags/list?n=-1", { headers: admin });
    assert.equal((badN.json() as { errors: { code: string }[] }).errors[0]?.code, "PAGINATION_NUMBER_INVALID");
    const nothing = await fetchToken(t, ["repository:app/nothing:pull"], { username: "skiff", password: await t.password() });
    const unknown = await t.call("GET", "/v2/app/nothing/tags/list", { headers: bearer(nothing.token) });
    assert.equal(unknown.status, 404);
    assert.equal((unknown.json() as { errors: { code: string }[] }).errors[0]?.code, "NAME_UNKNOWN");
    const c1 = await t.call("GET", "/v2/_catalog?n=2", { headers: admin });
    const page1 = (c1.json() as { repositories: string[] }).repositories;
    assert.deepEqual(page1, ["app/api", "app/web"]);
    assert.equal(c1.headers.link, '</v2/_catalog?last=app%2Fweb&n=2>; rel="next"');
    const c2 = await t.call("GET", "/v2/_catalog?n=10&last=app/web", { headers: admin });
    assert.deepEqual((c2.json() as { repositories: string[] }).repositories, ["cat/r0", "cat/r1", "cat/r2", "public/base"]);
    // The catalog needs registry:catalog:*.
    const noCat = await fetchToken(t, ["repository:app/api:pull"], { username: "skiff", password: await t.password() });
    const denied = await t.call("GET", "/v2/_catalog", { headers: bearer(noCat.token) });
    assert.equal(denied.status, 401);
    assert.match(String(denied.headers["www-authenticate"]), /scope="registry:catalog:\*"/);
  });

  it("rejects invalid names", async () => {
    const r = await t.call("GET", "/v2/App/Web/tags/list", { headers: admin });
    assert.equal(r.status, 400);
    assert.equal((r.json() as { errors: { code: string }[] }).errors[0]?.code, "NAME_INVALID");
  });
});

describe("registry garbage collection and upload expiry", () => {
  it("removes only unreferenced blobs older than the grace period, and expired upload sessions", async () => {
    const t = await startTestRegistryServer({ uploadExpiryMs: 60_000 });
    try {
      const tok = await fetchToken(t, ["repository:gc/a:pull,push,delete", "repository:gc/b:pull,push"], { username: "skiff", password: await t.password() });
      const auth = bearer(tok.token);
      const push = async (repo: string, data: string) => {
        const d = sha(data);
        assert.equal((await t.call("POST", `/v2/${repo}/blobs/uploads/?digest=${d}`, { headers: auth, body: data })).status, 201);
        return d;
      };
      const cfg = await push("gc/a", "{}");
      const kept = await push("gc/a", "kept layer");
      const dropped = await push("gc/a", "layer of a deleted manifest");
      const orphan = await push("gc/b", "pushed, never referenced");
      const young = await push("gc/b", "uploaded just now");
      const m1 = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: cfg, size: 2 }, layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: kept, size: 10 }] });
      const m2 = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: cfg, size: 2 }, layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: dropped, size: 27 }] });
      for (const [tag, m] of [["v1", m1], ["v2", m2]] as const) {
        assert.equal((await t.call("PUT", `/v2/gc/a/manifests/${tag}`, { headers: { ...auth, "Content-Type": OCI_MANIFEST }, body: m })).status, 201);
      }
      assert.equal((await t.call("DELETE", `/v2/gc/a/manifests/${sha(m2)}`, { headers: auth })).status, 202);
      // Age everything but `young` past the grace period.
      const storage = new RegistryStorage(t.dataDir);
      const old = new Date(Date.now() - 2 * 3600_000);
      for (const d of [cfg, kept, dropped, orphan, sha(m1), sha(m2)]) utimesSync(storage.blobPath(d), old, old);
      // A stale upload session (older than the expiry) and a fresh one.
      const stale = await t.call("POST", "/v2/gc/b/blobs/uploads/", { headers: auth });
      const fresh = await t.call("POST", "/v2/gc/b/blobs/uploads/", { headers: auth });
      const staleInfo = `${storage.uploadDir(String(stale.headers["docker-upload-uuid"]))}/info.json`;
      const { writeFileSync, readFileSync } = await import("node:fs");
      const info = JSON.parse(readFileSync(staleInfo, "utf8")) as { startedAt: string };
      writeFileSync(staleInfo, JSON.stringify({ ...info, startedAt: new Date(Date.now() - 120_000).toISOString() }));

      const res = await t.registry.garbageCollect({ gracePeriodMs: 3600_000 });
      assert.deepEqual([...res.removed].sort(), [dropped, orphan, sha(m2)].sort());
      assert.equal(res.keptYoung, 1);
      for (const d of [cfg, kept, sha(m1), young]) assert.ok(existsSync(storage.blobPath(d)), `${d} kept`);
      for (const d of [dropped, orphan, sha(m2)]) assert.ok(!existsSync(storage.blobPath(d)), `${d} removed`);
      // The image still pulls whole; the swept blob is no longer served anywhere.
      assert.equal((await t.call("GET", "/v2/gc/a/manifests/v1", { headers: { ...auth, Accept: OCI_MANIFEST } })).status, 200);
      assert.equal((await t.call("GET", `/v2/gc/a/blobs/${kept}`, { headers: auth })).status, 200);
      assert.equal((await t.call("HEAD", `/v2/gc/b/blobs/${orphan}`, { headers: auth })).status, 404);
      assert.deepEqual(await storage.layerDigests("gc/b"), [young]);

      // Upload expiry runs at start: restart and the stale session is gone, the fresh one stays.
      await t.restart();
      assert.equal((await t.call("GET", new URL(String(stale.headers.location)).pathname, { headers: auth })).status, 404);
      assert.equal((await t.call("GET", new URL(String(fresh.headers.location)).pathname, { headers: auth })).status, 204);
    } finally {
      await t.stop();
    }
  });
});
