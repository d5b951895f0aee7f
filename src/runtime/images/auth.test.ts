import assert from "node:assert/strict";
import { createServer } from "node:http";
import { describe, it } from "node:test";
import { authorize, parseChallenges, pickCredentials } from "./auth.js";
import { ImageError } from "./pull-error.js";

describe("WWW-Authenticate", () => {
  it("parses Bearer and Basic challenges with quoted and token parameters", () => {
    assert.deepEqual(parseChallenges('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"'), [
      { scheme: "bearer", params: { realm: "https://auth.example/token", service: "registry.example", scope: "repository:a/b:pull,push" } },
    ]);
    assert.deepEqual(parseChallenges('Basic realm="Registry Realm"'), [{ scheme: "basic", params: { realm: "Registry Realm" } }]);
    assert.deepEqual(parseChallenges('Basic realm="a\\"b", Bearer realm=x, error=insufficient_scope'), [
      { scheme: "basic", params: { realm: 'a"b' } },
      { scheme: "bearer", params: { realm: "x", error: "insufficient_scope" } },
    ]);
    assert.deepEqual(parseChallenges(undefined), []);
  });
});

describe("credentials", () => {
  it("prefers the pull's own credentials, then the registry config's", () => {
    assert.deepEqual(pickCredentials({ username: "a", password: "b" }, { username: "c", password: "d" }), { username: "a", password: "b" });
    assert.deepEqual(pickCredentials({}, { username: "c", password: "d" }), { username: "c", password: "d" });
    assert.deepEqual(pickCredentials({ auth: Buffer.from("u:p:x").toString("base64") }, undefined), { username: "u", password: "p:x" });
    assert.deepEqual(pickCredentials({ registryToken: "tok" }, undefined), { registryToken: "tok" });
    assert.deepEqual(pickCredentials({ identityToken: "refresh" }, undefined), { identityToken: "refresh" });
    assert.equal(pickCredentials(undefined, undefined), undefined);
  });

  it("answers Basic only with credentials, Bearer with a registry token as is", async () => {
    const basic = [{ scheme: "basic", params: {} }];
    assert.equal(await authorize(basic, { scope: "s" }), undefined);
    assert.equal(await authorize(basic, { scope: "s", credentials: { username: "u", password: "p" } }), `Basic ${Buffer.from("u:p").toString("base64")}`);
    assert.equal(await authorize([{ scheme: "bearer", params: { realm: "http://127.0.0.1:1/x" } }], { scope: "s", credentials: { registryToken: "T" } }), "Bearer T");
    assert.equal(await authorize([{ scheme: "negotiate", params: {} }], { scope: "s" }), undefined);
  });
});

describe("bearer token service", () => {
  it("asks anonymously, with Basic credentials, or with a refresh token (OAuth2 POST)", async () => {
    const seen: { method: string; url: string; authorization?: string; body: string }[] = [];
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => {
        seen.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization, body });
        if (req.headers.authorization === `Basic ${Buffer.from("bad:creds").toString("base64")}`) return void res.writeHead(401).end();
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify(req.method === "POST" ? { access_token: "from-refresh" } : { token: `t${seen.length}` }));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const realm = `http://127.0.0.1:${(server.address() as { port: number }).port}/token`;
    const challenge = [{ scheme: "bearer", params: { realm, service: "reg" } }];
    try {
      assert.equal(await authorize(challenge, { scope: "repository:a/b:pull" }), "Bearer t1");
      assert.equal(seen[0]!.url, "/token?service=reg&scope=repository%3Aa%2Fb%3Apull");
      assert.equal(seen[0]!.authorization, undefined);
      assert.equal(await authorize(challenge, { scope: "repository:a/b:pull", credentials: { username: "u", password: "p" } }), "Bearer t2");
      assert.equal(seen[1]!.authorization, `Basic ${Buffer.from("u:p").toString("base64")}`);
      assert.equal(await authorize(challenge, { scope: "repository:a/b:pull", credentials: { identityToken: "refresh-me" } }), "Bearer from-refresh");
      assert.equal(seen[2]!.method, "POST");
      const form = new URLSearchParams(seen[2]!.body);
      assert.equal(form.get("grant_type"), "refresh_token");
      assert.equal(form.get("refresh_token"), "refresh-me");
      assert.equal(form.get("service"), "reg");
      assert.equal(form.get("scope"), "repository:a/b:pull");
      await assert.rejects(
        authorize(challenge, { scope: "s", credentials: { username: "bad", password: "creds" } }),
        (e: unknown) =>
          e instanceof ImageError &&
          e.code === "Unauthenticated" &&
          /^failed to authorize: failed to fetch token: unexpected status from GET request to http:\/\/127\.0\.0\.1:\d+\/token\?service=reg&scope=s: 401 Unauthorized$/.test(e.message),
      );
    } finally {
      server.close();
    }
  });
});
