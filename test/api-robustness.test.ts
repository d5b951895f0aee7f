/**
 * The API server under bad and awkward input, over raw HTTPS: every failure
 * is an upstream-shaped Status (kind, code, reason) and never a 500, and the
 * server still answers /readyz after each case. Covers body decoding and
 * limits, media types, optimistic concurrency, validation, selectors,
 * dry-run, paging, compacted watches, exact-version lists, authentication
 * and a flood of concurrent requests.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { startTestServer, type TestServer } from "./support/cluster.js";
import { type RawResponse, RawClient } from "./support/https-client.js";

let srv: TestServer;
let api: RawClient;
/** Everything the server wrote to standard error, to find logged 500s. */
let serverLog = "";
/** How much of serverLog earlier cases already checked. */
let checkedLog = 0;

const NS = "robust";
const CMS = `/api/v1/namespaces/${NS}/configmaps`;

before(async () => {
  // The API alone: the controller manager would add ConfigMaps (kube-root-ca.crt) to the namespaces these tests count.
  srv = await startTestServer(["--disable", "controller-manager"]);
  srv.process.stderr?.on("data", (d: Buffer) => (serverLog += d.toString()));
  api = RawClient.fromKubeconfig(srv.kubeconfig, srv.port);
  const r = await api.post("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
  assert.equal(r.code, 201, r.text);
});
after(async () => {
  await srv?.stop();
});

/** A failed request's body is an upstream Status with this code and reason. */
function assertStatus(r: RawResponse, code: number, reason: string): NonNullable<RawResponse["json"]> {
  assert.equal(r.code, code, `expected HTTP ${code} ${reason}, got ${r.code}: ${r.text}`);
  const s = r.json;
  assert.ok(s, `body is not JSON: ${r.text}`);
  assert.equal(s.kind, "Status", r.text);
  assert.equal(s.apiVersion, "v1", r.text);
  assert.equal(s.status, "Failure", r.text);
  assert.equal(s.code, code, r.text);
  assert.equal(s.reason, reason, r.text);
  assert.equal(typeof s.message, "string", r.text);
  assert.match(r.headers["content-type"] as string, /^application\/json/);
  return s;
}

function configMap(name: string, data: Record<string, string> = {}, labels?: Record<string, string>) {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name, ...(labels ? { labels } : {}) }, data };
}

async function create(name: string, data: Record<string, string> = {}, labels?: Record<string, string>, ns = NS) {
  const r = await api.post(`/api/v1/namespaces/${ns}/configmaps`, configMap(name, data, labels));
  assert.equal(r.code, 201, r.text);
  return r.json!;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

afterEach(async () => {
  // The server survived the case and logged no unexpected (500) failure.
  const r = await api.get("/readyz");
  assert.equal(r.code, 200, `readyz after the case: ${r.code} ${r.text}`);
  assert.equal(r.text, "ok");
  assert.equal(srv.process.exitCode, null);
  const fresh = serverLog.slice(checkedLog);
  checkedLog = serverLog.length;
  assert.doesNotMatch(fresh, /msg="request failed"/, "the server logged an unexpected error");
});

describe("request bodies", () => {
  it("rejects malformed JSON with 400 BadRequest", async () => {
    assertStatus(await api.post(CMS, '{"apiVersion":"v1","kind":"ConfigMap","metadata":{'), 400, "BadRequest");
    assertStatus(await api.post(CMS, "not json at all"), 400, "BadRequest");
  });

  it("rejects a body that is not an object with 400", async () => {
    assertStatus(await api.post(CMS, "[1,2,3]"), 400, "BadRequest");
    assertStatus(await api.post(CMS, '"a string"'), 400, "BadRequest");
    assertStatus(await api.post(CMS, "null"), 400, "BadRequest");
  });

  it("accepts a YAML body sent as application/yaml", async () => {
    const yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\n  labels:\n    format: yaml\ndata:\n  port: '8080'\n  host: db\n";
    const r = await api.post(CMS, yaml, { contentType: "application/yaml" });
    assert.equal(r.code, 201, r.text);
    assert.deepEqual(r.json?.data, { port: "8080", host: "db" });
    const got = await api.get(`${CMS}/from-yaml`);
    assert.equal(got.code, 200);
    assert.equal(got.json?.data?.port, "8080");
    // Malformed YAML is a 400 too.
    assertStatus(await api.post(CMS, "metadata: [unclosed\n  name: x", { contentType: "application/yaml" }), 400, "BadRequest");
  });

  it("refuses a YAML alias bomb instead of expanding it", async () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    const names = "abcdefghi";
    for (let i = 1; i < names.length; i++) {
      const prev = names[i - 1];
      lines.push(`${names[i]}: &${names[i]} [*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev}]`);
    }
    const yaml = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\n${lines.join("\n")}\n`;
    const r = await api.post(CMS, yaml, { contentType: "application/yaml" });
    assert.ok(r.code >= 400 && r.code < 500, `expected a 4xx, got ${r.code}: ${r.text.slice(0, 500)}`);
    assert.equal(r.json?.kind, "Status");
  });

  it("refuses deeply nested JSON with a 4xx, not a 500", async () => {
    const depth = 100_000;
    const body = `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep"},"deep":${"[".repeat(depth)}${"]".repeat(depth)}}`;
    const r = await api.post(CMS, body);
    assert.ok(r.code >= 400 && r.code < 500, `expected a 4xx, got ${r.code}: ${r.text.slice(0, 500)}`);
    assert.equal(r.json?.kind, "Status");
  });

  it("rejects a body whose kind or apiVersion does not match the resource with 400", async () => {
    const wrongKind = assertStatus(await api.post(CMS, { ...configMap("wrong-kind"), kind: "Secret" }), 400, "BadRequest");
    assert.match(wrongKind.message!, /does not match the expected/);
    assert.match(wrongKind.message!, /the kind in the data \(Secret\) does not match the expected kind \(ConfigMap\)/);
    const wrongVersion = assertStatus(await api.post(CMS, { ...configMap("wrong-version"), apiVersion: "apps/v1" }), 400, "BadRequest");
    assert.match(wrongVersion.message!, /does not match the expected/);
    for (const name of ["wrong-kind", "wrong-version"]) assert.equal((await api.get(`${CMS}/${name}`)).code, 404);
  });

  it("rejects a body over 3 MiB with 413 RequestEntityTooLarge (Content-Length declared)", async () => {
    const big = JSON.stringify(configMap("too-big", { blob: "x".repeat(3 * 1024 * 1024) }));
    assertStatus(await api.post(CMS, big), 413, "RequestEntityTooLarge");
    assert.equal((await api.get(`${CMS}/too-big`)).code, 404);
  });

  it("rejects a chunked body over 3 MiB with 413 RequestEntityTooLarge", async () => {
    const big = JSON.stringify(configMap("too-big-chunked", { blob: "x".repeat(3 * 1024 * 1024 + 1024) }));
    assertStatus(await api.post(CMS, big, { chunked: true }), 413, "RequestEntityTooLarge");
    assert.equal((await api.get(`${CMS}/too-big-chunked`)).code, 404);
  });

  it("accepts a body just under the limit", async () => {
    // ConfigMaps are capped at 1 MiB of data, so the rest of the body is whitespace.
    const obj = JSON.stringify(configMap("near-limit", { blob: "y".repeat(512 * 1024) }));
    const body = obj + " ".repeat(3 * 1024 * 1024 - obj.length - 16);
    const r = await api.post(CMS, body);
    assert.equal(r.code, 201, r.text.slice(0, 500));
  });

  it("rejects an unsupported Content-Type with 415", async () => {
    assertStatus(await api.post(CMS, JSON.stringify(configMap("plain")), { contentType: "text/plain" }), 415, "UnsupportedMediaType");
    assertStatus(await api.post(CMS, JSON.stringify(configMap("xml")), { contentType: "application/xml" }), 415, "UnsupportedMediaType");
    assert.equal((await api.get(`${CMS}/plain`)).code, 404);
  });

  it("rejects an unsupported patch type with 415", async () => {
    await create("patch-me", { a: "1" });
    for (const ct of ["application/json", "text/plain", "application/yaml"]) {
      const r = await api.request({ method: "PATCH", path: `${CMS}/patch-me`, body: '{"data":{"a":"2"}}', contentType: ct });
      assertStatus(r, 415, "UnsupportedMediaType");
    }
    assert.equal((await api.get(`${CMS}/patch-me`)).json?.data?.a, "1");
    // A malformed patch of a supported type is a 400, not a 500.
    const bad = await api.request({ method: "PATCH", path: `${CMS}/patch-me`, body: "{nope", contentType: "application/merge-patch+json" });
    assertStatus(bad, 400, "BadRequest");
  });
});

describe("lookups", () => {
  it("answers a GET of a missing object with 404 NotFound and details", async () => {
    const s = assertStatus(await api.get(`${CMS}/does-not-exist`), 404, "NotFound");
    assert.equal(s.message, 'configmaps "does-not-exist" not found');
    assert.deepEqual(s.details, { name: "does-not-exist", group: "", kind: "configmaps" });
    const dep = assertStatus(await api.get(`/apis/apps/v1/namespaces/${NS}/deployments/nope`), 404, "NotFound");
    assert.equal(dep.message, 'deployments.apps "nope" not found');
    assert.deepEqual(dep.details, { name: "nope", group: "apps", kind: "deployments" });
  });

  it("answers an unknown resource path with 404", async () => {
    for (const path of [
      `/api/v1/namespaces/${NS}/widgets`,
      `/api/v1/namespaces/${NS}/widgets/one`,
      "/apis/nope.example.com/v1/things",
      "/apis/apps/v9/deployments",
      "/no/such/path",
    ]) {
      const r = await api.get(path);
      assert.equal(r.code, 404, `${path}: ${r.code} ${r.text}`);
      if (r.json) assert.equal(r.json.kind, "Status", `${path}: ${r.text}`);
    }
  });
});

describe("writes", () => {
  it("refuses a PUT with a stale resourceVersion with 409 Conflict", async () => {
    const created = await create("occ", { v: "1" });
    const stale = created.metadata!.resourceVersion!;
    const first = await api.put(`${CMS}/occ`, { ...configMap("occ", { v: "2" }), metadata: { name: "occ", resourceVersion: stale } });
    assert.equal(first.code, 200, first.text);
    assert.notEqual(first.json?.metadata?.resourceVersion, stale);
    const second = await api.put(`${CMS}/occ`, { ...configMap("occ", { v: "3" }), metadata: { name: "occ", resourceVersion: stale } });
    const s = assertStatus(second, 409, "Conflict");
    assert.equal(
      s.message,
      'Operation cannot be fulfilled on configmaps "occ": the object has been modified; please apply your changes to the latest version and try again',
    );
    assert.equal((await api.get(`${CMS}/occ`)).json?.data?.v, "2");
  });

  it("refuses to create an existing name with 409 AlreadyExists", async () => {
    await create("twice");
    const s = assertStatus(await api.post(CMS, configMap("twice")), 409, "AlreadyExists");
    assert.equal(s.message, 'configmaps "twice" already exists');
    assert.equal(s.details?.name, "twice");
  });

  it("refuses an invalid name with 422 Invalid naming metadata.name", async () => {
    const s = assertStatus(await api.post(CMS, configMap("Bad_Name!")), 422, "Invalid");
    assert.equal(s.details?.causes?.[0]?.field, "metadata.name");
    assert.match(s.message!, /^ConfigMap "Bad_Name!" is invalid: metadata\.name: Invalid value: "Bad_Name!"/);
    const missing = assertStatus(await api.post(CMS, { apiVersion: "v1", kind: "ConfigMap", metadata: {} }), 422, "Invalid");
    assert.equal(missing.details?.causes?.[0]?.field, "metadata.name");
  });

  it("refuses a PUT whose body names another object with 400", async () => {
    await create("put-name");
    assertStatus(await api.put(`${CMS}/put-name`, configMap("other-name")), 400, "BadRequest");
  });

  it("creates nothing with dryRun=All and refuses dryRun=Bogus with 400", async () => {
    const r = await api.post(`${CMS}?dryRun=All`, configMap("dry", { a: "1" }));
    assert.equal(r.code, 201, r.text);
    assert.equal(r.json?.metadata?.name, "dry");
    assert.equal(r.json?.data?.a, "1");
    assertStatus(await api.get(`${CMS}/dry`), 404, "NotFound");
    const list = await api.get(`${CMS}?fieldSelector=metadata.name%3Ddry`);
    assert.equal(list.json?.items?.length, 0);
    assertStatus(await api.post(`${CMS}?dryRun=Bogus`, configMap("dry-bogus")), 400, "BadRequest");
    assertStatus(await api.get(`${CMS}/dry-bogus`), 404, "NotFound");
  });
});

describe("lists", () => {
  it("refuses a bad label selector with 400", async () => {
    for (const sel of ["a in (b", "!", "a=b=c", "-bad-key-=x", "a,,b", `x=${"v".repeat(70)}`]) {
      const r = await api.get(`${CMS}?labelSelector=${encodeURIComponent(sel)}`);
      const s = assertStatus(r, 400, "BadRequest");
      assert.doesNotMatch(s.message!, /unable to parse requirement: unable to parse requirement/, `doubled prefix for ${JSON.stringify(sel)}`);
    }
    // An empty value is valid upstream ("a==" selects a="").
    assert.equal((await api.get(`${CMS}?labelSelector=${encodeURIComponent("a==")}`)).code, 200);
  });

  it("refuses an unsupported field selector with 400 'field label not supported'", async () => {
    const s = assertStatus(await api.get(`${CMS}?fieldSelector=${encodeURIComponent("data.a=1")}`), 400, "BadRequest");
    assert.match(s.message!, /field label not supported/);
    // A supported field works.
    await create("by-field");
    const ok = await api.get(`${CMS}?fieldSelector=${encodeURIComponent("metadata.name=by-field")}`);
    assert.equal(ok.code, 200);
    assert.deepEqual(
      ok.json?.items?.map((i) => i.metadata?.name),
      ["by-field"],
    );
  });

  it("pages 25 objects with limit 10: every object exactly once, remainingItemCount, one snapshot", async () => {
    const ns = "paging";
    assert.equal((await api.post("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } })).code, 201);
    const want = Array.from({ length: 25 }, (_, i) => `cm-${String(i).padStart(2, "0")}`);
    for (const name of want) await create(name, { i: name }, undefined, ns);
    const seen: string[] = [];
    const remaining: (number | undefined)[] = [];
    const versions = new Set<string>();
    let token: string | undefined;
    let pages = 0;
    do {
      const r = await api.get(`/api/v1/namespaces/${ns}/configmaps?limit=10${token ? `&continue=${encodeURIComponent(token)}` : ""}`);
      assert.equal(r.code, 200, r.text);
      pages++;
      for (const item of r.json!.items!) seen.push(item.metadata!.name!);
      remaining.push(r.json!.metadata!.remainingItemCount);
      versions.add(r.json!.metadata!.resourceVersion!);
      token = r.json!.metadata!.continue || undefined;
      // A write between pages does not show up in the snapshot being paged.
      if (pages === 1) await create("cm-late", {}, undefined, ns);
    } while (token && pages < 10);
    assert.equal(pages, 3);
    assert.deepEqual([...seen].sort(), want);
    assert.equal(new Set(seen).size, seen.length, "an object appeared twice");
    assert.deepEqual(remaining, [15, 5, undefined]);
    assert.equal(versions.size, 1, `pages came from different snapshots: ${[...versions]}`);
  });

  it("refuses an invalid continue token with 400", async () => {
    for (const token of ["garbage", "%%%", Buffer.from('{"v":"meta.k8s.io/v1","rv":"x","start":"a"}').toString("base64url"), Buffer.from('{"v":"meta.k8s.io/v1","rv":1,"start":"../../secrets/"}').toString("base64url")]) {
      const r = await api.get(`${CMS}?limit=5&continue=${encodeURIComponent(token)}`);
      assertStatus(r, 400, "BadRequest");
    }
  });

  it("serves an old, not yet compacted resourceVersion with resourceVersionMatch=Exact", async () => {
    const created = await create("exact", { v: "old" });
    const oldRv = created.metadata!.resourceVersion!;
    const upd = await api.request({ method: "PATCH", path: `${CMS}/exact`, body: '{"data":{"v":"new"}}', contentType: "application/merge-patch+json" });
    assert.equal(upd.code, 200, upd.text);
    const sel = `fieldSelector=${encodeURIComponent("metadata.name=exact")}`;
    const old = await api.get(`${CMS}?${sel}&resourceVersion=${oldRv}&resourceVersionMatch=Exact`);
    assert.equal(old.code, 200, old.text);
    assert.equal(old.json?.metadata?.resourceVersion, oldRv);
    assert.deepEqual(
      old.json?.items?.map((i) => i.data?.v),
      ["old"],
    );
    const now = await api.get(`${CMS}?${sel}`);
    assert.deepEqual(
      now.json?.items?.map((i) => i.data?.v),
      ["new"],
    );
    // Exact needs a version; a bogus match value is a 400.
    assertStatus(await api.get(`${CMS}?resourceVersionMatch=Exact`), 400, "BadRequest");
    assertStatus(await api.get(`${CMS}?resourceVersion=${oldRv}&resourceVersionMatch=Sometime`), 400, "BadRequest");
  });
});

describe("watch from a compacted resourceVersion", () => {
  let compacting: TestServer | undefined;
  after(async () => {
    await compacting?.stop();
  });

  it("answers HTTP 200 and then one ERROR event with a 410 Expired Status", async () => {
    compacting = await startTestServer(["--compaction-interval", "1s", "--disable", "controller-manager"]);
    const c = RawClient.fromKubeconfig(compacting.kubeconfig, compacting.port);
    const path = "/api/v1/namespaces/default/configmaps";
    const created = await c.post(path, configMap("compacted", { n: "0" }));
    assert.equal(created.code, 201, created.text);
    const oldRv = created.json!.metadata!.resourceVersion!;
    const rvs: string[] = [];
    for (let n = 1; n <= 3; n++) {
      const r = await c.request({ method: "PATCH", path: `${path}/compacted`, body: JSON.stringify({ data: { n: String(n) } }), contentType: "application/merge-patch+json" });
      assert.equal(r.code, 200, r.text);
      rvs.push(r.json!.metadata!.resourceVersion!);
    }
    // Wait (bounded) until the compactor has passed the first update, so a
    // watch starting right after the create is certainly compacted.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = await c.get(`${path}?resourceVersion=${rvs[0]}&resourceVersionMatch=Exact`);
      if (r.code === 410) {
        assertStatus(r, 410, "Expired");
        break;
      }
      assert.equal(r.code, 200, r.text);
      assert.ok(Date.now() < deadline, "the compactor never compacted past the first update");
      await sleep(250);
    }
    const w = await c.watch(`${path}?watch=true&resourceVersion=${oldRv}`, 1);
    assert.equal(w.code, 200);
    assert.equal(w.events.length, 1, JSON.stringify(w.events));
    const ev = w.events[0]!;
    assert.equal(ev.type, "ERROR", JSON.stringify(ev));
    assert.equal(ev.object.kind, "Status");
    assert.equal(ev.object.apiVersion, "v1");
    assert.equal(ev.object.status, "Failure");
    assert.equal(ev.object.code, 410);
    assert.equal(ev.object.reason, "Expired");
    assert.match(ev.object.message!, /too old resource version/);
    // A watch from the current version still works on the same server.
    const list = await c.get(path);
    const current = list.json!.metadata!.resourceVersion!;
    const live = c.watch(`${path}?watch=true&resourceVersion=${current}`, 1);
    await sleep(100);
    const added = await c.post(path, configMap("after-compaction"));
    assert.equal(added.code, 201, added.text);
    const got = await live;
    assert.equal(got.events[0]?.type, "ADDED");
    assert.equal(got.events[0]?.object.metadata?.name, "after-compaction");
    assert.equal((await c.get("/readyz")).code, 200);
  });
});

describe("authentication", () => {
  it("answers requests without a client certificate with 401, except health and version", async () => {
    for (const path of ["/api", "/apis", "/api/v1", "/api/v1/namespaces", `${CMS}/x`, "/apis/apps/v1/deployments", "/openapi/v2", "/metrics", "/"]) {
      const r = await api.get(path, { anonymous: true });
      assertStatus(r, 401, "Unauthorized");
    }
    const post = await api.post(CMS, configMap("anon"), { anonymous: true });
    assertStatus(post, 401, "Unauthorized");
    assert.equal((await api.get(`${CMS}/anon`)).code, 404);
    for (const path of ["/healthz", "/livez", "/readyz", "/version", "/readyz/ping", "/livez?verbose"]) {
      const r = await api.get(path, { anonymous: true });
      assert.equal(r.code, 200, `${path}: ${r.code} ${r.text}`);
    }
    const v = await api.get("/version", { anonymous: true });
    assert.match(v.json ? String((v.json as { gitVersion?: string }).gitVersion) : "", /^v1\.\d+\.\d+/);
  });
});

describe("a flood of concurrent requests", () => {
  it("stays up through 1,000 concurrent requests; any 429 is a TooManyRequests Status with Retry-After", async (t) => {
    for (let i = 0; i < 20; i++) await create(`flood-${i}`, { i: String(i) });
    const requests: Promise<RawResponse>[] = [];
    for (let i = 0; i < 1000; i++) {
      if (i % 5 === 4) requests.push(api.post(CMS, configMap(`flood-new-${i}`)));
      else if (i % 2 === 0) requests.push(api.get(`${CMS}?limit=50`));
      else requests.push(api.get(`${CMS}/flood-${i % 20}`));
    }
    const results = await Promise.allSettled(requests);
    const codes = new Map<number | string, number>();
    for (const res of results) {
      assert.equal(res.status, "fulfilled", res.status === "rejected" ? String(res.reason) : "");
      const r = (res as PromiseFulfilledResult<RawResponse>).value;
      codes.set(r.code, (codes.get(r.code) ?? 0) + 1);
      if (r.code === 429) {
        const s = assertStatus(r, 429, "TooManyRequests");
        assert.match(String(r.headers["retry-after"] ?? ""), /^\d+$/, "429 without Retry-After");
        assert.equal(typeof s.details?.retryAfterSeconds, "number");
      } else {
        assert.ok([200, 201].includes(r.code), `unexpected ${r.code}: ${r.text.slice(0, 300)}`);
      }
    }
    t.diagnostic(`flood status codes: ${JSON.stringify(Object.fromEntries(codes))}`);
    const ready = await api.get("/readyz");
    assert.equal(ready.code, 200);
    // Every acknowledged create is stored.
    const created = results
      .map((res) => (res as PromiseFulfilledResult<RawResponse>).value)
      .filter((r) => r.code === 201)
      .map((r) => r.json!.metadata!.name!);
    const list = await api.get(CMS);
    const stored = new Set(list.json!.items!.map((i) => i.metadata!.name!));
    for (const name of created) assert.ok(stored.has(name), `acknowledged ${name} is missing`);
  });
});
