import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { RestClient } from "../../client/rest-client.js";
import { FakeClock } from "../../machinery/clock.js";
import { requestAttributes } from "./auth.js";
import { WebhookAuthorizer, WebhookTokenAuthenticator } from "./webhook.js";

/** A client that answers reviews with `answer` and records what it was sent. */
function fakeClient(answer: (path: string, body: { spec: Record<string, unknown> }) => unknown) {
  const sent: { path: string; body: { spec: Record<string, unknown> } }[] = [];
  const client = {
    async request(_method: string, path: string, opts: { body: { spec: Record<string, unknown> } }) {
      sent.push({ path, body: opts.body });
      const a = answer(path, opts.body);
      if (a instanceof Error) throw a;
      return a;
    },
  } as unknown as RestClient;
  return { client, sent };
}

describe("WebhookTokenAuthenticator", () => {
  test("asks a TokenReview and caches the answer (by hash) for the TTL", async () => {
    const clock = new FakeClock();
    const { client, sent } = fakeClient((_p, b) =>
      b.spec.token === "good" ? { status: { authenticated: true, user: { username: "system:node:n1", uid: "u", groups: ["system:nodes"] } } } : { status: { authenticated: false } },
    );
    const a = new WebhookTokenAuthenticator({ client, clock, cacheTtlMs: 1000 });
    assert.deepEqual(await a.authenticateToken("good"), { ok: true, user: { username: "system:node:n1", uid: "u", groups: ["system:nodes"] } });
    assert.deepEqual(await a.authenticateToken("good"), { ok: true, user: { username: "system:node:n1", uid: "u", groups: ["system:nodes"] } });
    assert.deepEqual(await a.authenticateToken("bad"), { ok: true, user: undefined });
    assert.equal(sent.length, 2);
    assert.equal(sent[0]!.path, "/apis/authentication.k8s.io/v1/tokenreviews");
    assert.deepEqual(sent[0]!.body, { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token: "good" } });
    clock.advance(1001);
    await a.authenticateToken("good");
    assert.equal(sent.length, 3);
  });

  test("a failed call is an error, and not cached", async () => {
    let fail = true;
    const { client, sent } = fakeClient(() => (fail ? new Error("connect ECONNREFUSED") : { status: { authenticated: true, user: { username: "x" } } }));
    const a = new WebhookTokenAuthenticator({ client });
    assert.deepEqual(await a.authenticateToken("t"), { ok: false, error: "connect ECONNREFUSED" });
    fail = false;
    assert.deepEqual(await a.authenticateToken("t"), { ok: true, user: { username: "x", groups: [] } });
    assert.equal(sent.length, 2);
  });
});

describe("WebhookAuthorizer", () => {
  test("asks a SubjectAccessReview for nodes/<sub> and caches allows longer than denials", async () => {
    const clock = new FakeClock();
    const { client, sent } = fakeClient((_p, b) => ({ status: { allowed: b.spec.user === "admin", ...(b.spec.user === "evil" ? { denied: true, reason: "no" } : {}) } }));
    const z = new WebhookAuthorizer({ client, clock, authorizedTtlMs: 5000, unauthorizedTtlMs: 100 });
    const admin = requestAttributes({ username: "admin", groups: ["system:masters"] }, "GET", "/stats/summary", "n1");
    assert.deepEqual(await z.authorize(admin), { decision: "allow" });
    assert.deepEqual(sent[0]!.body, {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SubjectAccessReview",
      spec: { resourceAttributes: { verb: "get", version: "v1", resource: "nodes", subresource: "stats", name: "n1" }, user: "admin", groups: ["system:masters"] },
    });
    const someone = requestAttributes({ username: "someone", groups: [] }, "POST", "/exec/a/b/c", "n1");
    assert.deepEqual(await z.authorize(someone), { decision: "no-opinion" });
    const evil = requestAttributes({ username: "evil", groups: [] }, "GET", "/pods", "n1");
    assert.deepEqual(await z.authorize(evil), { decision: "deny", reason: "no" });
    assert.equal(sent.length, 3);
    clock.advance(200);
    await z.authorize(admin);
    await z.authorize(someone);
    // The allow is still cached; the no-opinion expired.
    assert.equal(sent.length, 4);
  });

  test("a failed call is an error decision", async () => {
    const { client } = fakeClient(() => new Error("timeout"));
    const z = new WebhookAuthorizer({ client });
    assert.deepEqual(await z.authorize(requestAttributes({ username: "a", groups: [] }, "GET", "/pods", "n1")), { decision: "error", error: "timeout" });
  });
});
