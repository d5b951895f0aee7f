import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { describe, it } from "node:test";
import { CompactSign } from "jose";
import { FakeClock } from "../../../machinery/clock.js";
import type { KObject } from "../../registry/types.js";
import { boundClaims, legacyClaims, LEGACY_ISSUER, POD_NAME_KEY, POD_UID_KEY, NODE_NAME_KEY, NODE_UID_KEY, CREDENTIAL_ID_KEY } from "./claims.js";
import { loadSigningKey, type SigningKey } from "./keys.js";
import { ServiceAccountTokenAuthenticator, type ServiceAccountTokenGetter } from "./token-authenticator.js";
import { jwtTokenGenerator } from "./token-generator.js";

const ISSUER = "https://kubernetes.default.svc.cluster.local";
const AUDS = [ISSUER];
const rsaPem = () => generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
const KEY: SigningKey = loadSigningKey(rsaPem());
const OTHER: SigningKey = loadSigningKey(rsaPem());

class Objects implements ServiceAccountTokenGetter {
  readonly items = new Map<string, KObject>();
  put(kind: string, ns: string, name: string, uid: string, extra: Partial<KObject> = {}): void {
    this.items.set(`${kind}/${ns}/${name}`, { ...extra, metadata: { name, namespace: ns || undefined, uid, ...(extra.metadata ?? {}) } } as KObject);
  }
  async getServiceAccount(ns: string, name: string) {
    return this.items.get(`sa/${ns}/${name}`);
  }
  async getPod(ns: string, name: string) {
    return this.items.get(`pod/${ns}/${name}`);
  }
  async getSecret(ns: string, name: string) {
    return this.items.get(`secret/${ns}/${name}`);
  }
  async getNode(name: string) {
    return this.items.get(`node//${name}`);
  }
}

function setup() {
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const objects = new Objects();
  objects.put("sa", "ns1", "default", "sa-uid");
  objects.put("pod", "ns1", "p1", "pod-uid");
  objects.put("node", "", "n1", "node-uid");
  const bound = new ServiceAccountTokenAuthenticator({ kind: "bound", issuers: [ISSUER], keys: [KEY], implicitAudiences: AUDS, getter: objects, clock });
  const legacy = new ServiceAccountTokenAuthenticator({ kind: "legacy", keys: [KEY], implicitAudiences: AUDS, getter: objects, clock });
  const gen = jwtTokenGenerator(ISSUER, KEY);
  const mint = (over: Partial<Parameters<typeof boundClaims>[0]> = {}) =>
    gen.generate(
      boundClaims({ serviceAccount: { namespace: "ns1", name: "default", uid: "sa-uid" }, expirationSeconds: 3600, audiences: AUDS, now: clock.now(), ...over }),
    );
  return { clock, objects, bound, legacy, mint };
}

/** Signs an arbitrary payload (for forged and odd tokens). */
async function sign(payload: Record<string, unknown>, key: SigningKey = KEY, header: Record<string, unknown> = {}): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader({ alg: key.alg, kid: key.kid, ...header }).sign(key.privateKey);
}

describe("ServiceAccount bound tokens", () => {
  it("authenticates a good token as the ServiceAccount, with its groups and the token's id", async () => {
    const { bound, mint } = setup();
    const u = await bound.authenticateToken(await mint());
    assert.deepEqual(u, {
      username: "system:serviceaccount:ns1:default",
      uid: "sa-uid",
      groups: ["system:serviceaccounts", "system:serviceaccounts:ns1"],
      extra: { [CREDENTIAL_ID_KEY]: [u?.extra?.[CREDENTIAL_ID_KEY]?.[0] ?? "missing"] },
    });
    assert.match(u?.extra?.[CREDENTIAL_ID_KEY]?.[0] ?? "", /^JTI=[0-9a-f-]{36}$/);
  });

  it("writes the claims upstream writes, keys sorted, header alg and kid", async () => {
    const { mint } = setup();
    const token = await mint({ pod: { name: "p1", uid: "pod-uid" }, node: { name: "n1", uid: "node-uid" }, warnAfterSeconds: 3607 });
    const [h, p] = token.split(".");
    assert.deepEqual(JSON.parse(Buffer.from(h!, "base64url").toString()), { alg: "RS256", kid: KEY.kid });
    const payload = JSON.parse(Buffer.from(p!, "base64url").toString());
    assert.deepEqual(Object.keys(payload), ["aud", "exp", "iat", "iss", "jti", "kubernetes.io", "nbf", "sub"]);
    assert.equal(payload.iss, ISSUER);
    assert.equal(payload.sub, "system:serviceaccount:ns1:default");
    assert.equal(payload.exp - payload.iat, 3600);
    assert.deepEqual(payload["kubernetes.io"], {
      namespace: "ns1",
      serviceaccount: { name: "default", uid: "sa-uid" },
      pod: { name: "p1", uid: "pod-uid" },
      node: { name: "n1", uid: "node-uid" },
      warnafter: payload.iat + 3607,
    });
  });

  it("gives pod- and node-bound tokens the pod and node extras", async () => {
    const { bound, mint } = setup();
    const u = await bound.authenticateToken(await mint({ pod: { name: "p1", uid: "pod-uid" }, node: { name: "n1", uid: "node-uid" } }));
    assert.deepEqual(u?.extra?.[POD_NAME_KEY], ["p1"]);
    assert.deepEqual(u?.extra?.[POD_UID_KEY], ["pod-uid"]);
    assert.deepEqual(u?.extra?.[NODE_NAME_KEY], ["n1"]);
    assert.deepEqual(u?.extra?.[NODE_UID_KEY], ["node-uid"]);
  });

  it("refuses a token once its pod is deleted, or replaced by one with another uid", async () => {
    const { bound, mint, objects } = setup();
    const token = await mint({ pod: { name: "p1", uid: "pod-uid" } });
    assert.ok(await bound.authenticateToken(token));
    objects.put("pod", "ns1", "p1", "new-uid");
    assert.equal(await bound.authenticateToken(token), undefined);
    objects.items.delete("pod/ns1/p1");
    assert.equal(await bound.authenticateToken(token), undefined);
  });

  it("keeps honouring a token for a minute after its pod's deletion started, then stops", async () => {
    const { bound, mint, objects, clock } = setup();
    const token = await mint({ pod: { name: "p1", uid: "pod-uid" } });
    objects.put("pod", "ns1", "p1", "pod-uid", { metadata: { deletionTimestamp: new Date(clock.now()).toISOString() } });
    assert.ok(await bound.authenticateToken(token));
    clock.advance(61_000);
    assert.equal(await bound.authenticateToken(token), undefined);
  });

  it("refuses a token of a deleted or re-created ServiceAccount", async () => {
    const { bound, mint, objects } = setup();
    const token = await mint();
    objects.put("sa", "ns1", "default", "other-uid");
    assert.equal(await bound.authenticateToken(token), undefined);
    objects.items.delete("sa/ns1/default");
    assert.equal(await bound.authenticateToken(token), undefined);
  });

  it("checks node- and secret-bound tokens against their objects", async () => {
    const { bound, mint, objects } = setup();
    const nodeToken = await mint({ node: { name: "n1", uid: "node-uid" } });
    assert.ok(await bound.authenticateToken(nodeToken));
    objects.items.delete("node//n1");
    assert.equal(await bound.authenticateToken(nodeToken), undefined);
    objects.put("secret", "ns1", "s1", "secret-uid");
    const secretToken = await mint({ secret: { name: "s1", uid: "secret-uid" } });
    assert.ok(await bound.authenticateToken(secretToken));
    objects.put("secret", "ns1", "s1", "other");
    assert.equal(await bound.authenticateToken(secretToken), undefined);
  });

  it("refuses expired tokens (after go-jose's minute of leeway) and tokens not yet valid", async () => {
    const { bound, mint, clock } = setup();
    const token = await mint({ expirationSeconds: 600 });
    clock.advance(600_000 + 59_000);
    assert.ok(await bound.authenticateToken(token), "inside the leeway");
    clock.advance(2_000);
    assert.equal(await bound.authenticateToken(token), undefined);
    const future = await mint({ now: clock.now() + 120_000 });
    assert.equal(await bound.authenticateToken(future), undefined);
  });

  it("refuses tokens signed by another key, forged claims, and alg none/HS256 tricks", async () => {
    const { bound, mint } = setup();
    const good = await mint();
    const [h, p] = good.split(".");
    const forgedPayload = { ...JSON.parse(Buffer.from(p!, "base64url").toString()), sub: "system:serviceaccount:kube-system:default" };
    const spliced = `${h}.${Buffer.from(JSON.stringify(forgedPayload)).toString("base64url")}.${good.split(".")[2]}`;
    assert.equal(await bound.authenticateToken(spliced), undefined);
    const otherKey = await sign(JSON.parse(Buffer.from(p!, "base64url").toString()), OTHER);
    assert.equal(await bound.authenticateToken(otherKey), undefined);
    const none = `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${p}.`;
    assert.equal(await bound.authenticateToken(none), undefined);
    const hsHeader = Buffer.from(JSON.stringify({ alg: "HS256", kid: KEY.kid })).toString("base64url");
    assert.equal(await bound.authenticateToken(`${hsHeader}.${p}.AAAA`), undefined);
    assert.equal(await bound.authenticateToken("not-a-jwt"), undefined);
    assert.equal(await bound.authenticateToken("a.b.c"), undefined);
  });

  it("refuses tokens for other audiences and passes over tokens of other issuers", async () => {
    const { bound, mint } = setup();
    assert.equal(await bound.authenticateToken(await mint({ audiences: ["vault"] })), undefined);
    const { clock } = setup();
    const otherIssuer = await jwtTokenGenerator("https://evil.example", KEY).generate(
      boundClaims({ serviceAccount: { namespace: "ns1", name: "default", uid: "sa-uid" }, expirationSeconds: 3600, audiences: AUDS, now: clock.now() }),
    );
    assert.equal(await bound.authenticateToken(otherIssuer), undefined);
  });
});

describe("ServiceAccount legacy Secret tokens", () => {
  async function legacySetup() {
    const s = setup();
    const token = await jwtTokenGenerator(LEGACY_ISSUER, KEY).generate(legacyClaims({ namespace: "ns1", name: "default", uid: "sa-uid" }, "tok"));
    s.objects.put("secret", "ns1", "tok", "sec-uid", { data: { token: Buffer.from(token).toString("base64") } } as Partial<KObject>);
    return { ...s, token };
  }

  it("authenticates a token matching the Secret's copy, without expiry", async () => {
    const { legacy, token, clock } = await legacySetup();
    clock.advance(10 * 365 * 24 * 3600 * 1000);
    assert.deepEqual(await legacy.authenticateToken(token), {
      username: "system:serviceaccount:ns1:default",
      uid: "sa-uid",
      groups: ["system:serviceaccounts", "system:serviceaccounts:ns1"],
    });
  });

  it("refuses it once the Secret is deleted or holds another token, or the ServiceAccount changed", async () => {
    const { legacy, token, objects } = await legacySetup();
    objects.put("sa", "ns1", "default", "new-uid");
    assert.equal(await legacy.authenticateToken(token), undefined);
    objects.put("sa", "ns1", "default", "sa-uid");
    objects.put("secret", "ns1", "tok", "sec-uid", { data: { token: Buffer.from("other").toString("base64") } } as Partial<KObject>);
    assert.equal(await legacy.authenticateToken(token), undefined);
    objects.items.delete("secret/ns1/tok");
    assert.equal(await legacy.authenticateToken(token), undefined);
  });

  it("refuses legacy tokens whose subject does not match their claims", async () => {
    const { legacy, objects } = await legacySetup();
    const claims = { ...legacyClaims({ namespace: "ns1", name: "default", uid: "sa-uid" }, "tok"), sub: "system:serviceaccount:kube-system:default" };
    const token = await sign({ ...claims, iss: LEGACY_ISSUER });
    objects.put("secret", "ns1", "tok", "sec-uid", { data: { token: Buffer.from(token).toString("base64") } } as Partial<KObject>);
    assert.equal(await legacy.authenticateToken(token), undefined);
  });

  it("does not take bound tokens, nor does the bound authenticator take legacy ones", async () => {
    const { legacy, bound, token, mint } = await legacySetup();
    assert.equal(await legacy.authenticateToken(await mint()), undefined);
    assert.equal(await bound.authenticateToken(token), undefined);
  });
});
