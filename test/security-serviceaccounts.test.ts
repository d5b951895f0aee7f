/**
 * ServiceAccounts end to end against a real server with real kubectl (issue
 * 7): the `default` ServiceAccount and `kube-root-ca.crt` in every
 * namespace (and back when deleted), `kubectl create token`, tokens that
 * RBAC then allows or forbids, a pod-bound token dying with its pod, legacy
 * token Secrets, ServiceAccount admission on pods, issuer discovery, and the
 * attack matrix: forged, expired, wrong-audience and wrong-issuer tokens and
 * anonymous requests all get 401.
 */
import assert from "node:assert/strict";
import { createPrivateKey, generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CompactSign } from "jose";
import { kubectlVersions, ok, startTestServer, type TestServer } from "./support/cluster.js";

let srv: TestServer;
let server: string;
let caFile: string;
/** What the server logged since it started listening. */
let logs = "";

before(async () => {
  srv = await startTestServer();
  server = `https://127.0.0.1:${srv.port}`;
  caFile = join(srv.dataDir, "tls", "server-ca.crt");
  srv.process.stderr?.on("data", (d: Buffer) => {
    logs += d.toString();
  });
  srv.process.stdout?.on("data", (d: Buffer) => {
    logs += d.toString();
  });
  ok(srv.kubectl(["create", "namespace", "expense"]), "create namespace");
  await eventually("the default ServiceAccount in expense", () => srv.kubectl(["get", "serviceaccount", "default", "-n", "expense"]).status === 0);
});
after(async () => {
  await srv?.stop();
});

/** kubectl with nothing but a bearer token (no client certificate, which would win). */
function withToken(token: string, args: string[], version?: string) {
  return srv.kubectl(["--kubeconfig=/dev/null", "--server", server, "--certificate-authority", caFile, "--token", token, ...args], { env: { KUBECONFIG: "" }, version });
}

async function eventually(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`timed out waiting for ${what}`);
}

function unauthorized(r: { status: number; stderr: string }): void {
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /error: You must be logged in to the server \(Unauthorized\)/);
}

function createToken(args: string[]): string {
  return ok(srv.kubectl(["create", "token", ...args]), "kubectl create token").trim();
}

/** A token with these claims signed with `pem` (the server's own key unless given). */
async function signed(claims: Record<string, unknown>, pem?: string): Promise<string> {
  const key = createPrivateKey(pem ?? readFileSync(join(srv.dataDir, "tls", "service-account.key"), "utf8"));
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claims))).setProtectedHeader({ alg: "RS256" }).sign(key);
}

function defaultUid(): string {
  return ok(srv.kubectl(["get", "serviceaccount", "default", "-n", "expense", "-o", "jsonpath={.metadata.uid}"]), "sa uid");
}

function claims(over: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    aud: ["https://kubernetes.default.svc.cluster.local"],
    exp: now + 600,
    iat: now,
    nbf: now,
    iss: "https://kubernetes.default.svc.cluster.local",
    sub: "system:serviceaccount:expense:default",
    "kubernetes.io": { namespace: "expense", serviceaccount: { name: "default", uid: defaultUid() } },
    ...over,
  };
}

describe("ServiceAccount and root CA controllers", () => {
  it("give every namespace a default ServiceAccount, made again when deleted", async () => {
    const first = defaultUid();
    ok(srv.kubectl(["delete", "serviceaccount", "default", "-n", "expense"]), "delete default");
    await eventually("default to come back", () => {
      const r = srv.kubectl(["get", "serviceaccount", "default", "-n", "expense", "-o", "jsonpath={.metadata.uid}"]);
      return r.status === 0 && r.stdout !== "" && r.stdout !== first;
    });
  });

  it("publish kube-root-ca.crt with the CA that signed the API server's certificate, restored when changed or deleted", async () => {
    const ca = readFileSync(caFile, "utf8");
    const get = () => srv.kubectl(["get", "configmap", "kube-root-ca.crt", "-n", "expense", "-o", "jsonpath={.data.ca\\.crt}"]);
    await eventually("kube-root-ca.crt", () => get().stdout === ca);
    ok(srv.kubectl(["patch", "configmap", "kube-root-ca.crt", "-n", "expense", "--type=merge", "-p", '{"data":{"ca.crt":"tampered"}}']), "tamper");
    await eventually("the CA to be restored", () => get().stdout === ca);
    ok(srv.kubectl(["delete", "configmap", "kube-root-ca.crt", "-n", "expense"]), "delete");
    await eventually("the ConfigMap to come back", () => get().stdout === ca);
  });
});

describe("kubectl create token and RBAC", () => {
  it("mints a token kubectl authenticates with, that RBAC forbids until a RoleBinding allows, at once", () => {
    const token = createToken(["default", "-n", "expense", "--duration=10m"]);
    const payload = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString());
    assert.equal(payload.exp - payload.iat, 600);
    assert.match(ok(withToken(token, ["auth", "whoami"]), "whoami"), /system:serviceaccount:expense:default[\s\S]*system:serviceaccounts:expense/);
    const denied = withToken(token, ["get", "pods", "-n", "expense"]);
    assert.notEqual(denied.status, 0);
    assert.match(denied.stderr, /pods is forbidden: User "system:serviceaccount:expense:default" cannot list resource "pods" in API group "" in the namespace "expense"/);
    ok(srv.kubectl(["create", "rolebinding", "sa-view", "-n", "expense", "--clusterrole=view", "--serviceaccount=expense:default"]), "rolebinding");
    assert.match(ok(withToken(token, ["get", "pods", "-n", "expense"]), "allowed get pods").concat(withToken(token, ["get", "pods", "-n", "expense"]).stderr), /No resources found/);
    // Still no Secrets elsewhere.
    const other = withToken(token, ["get", "secrets", "-n", "kube-system"]);
    assert.match(other.stderr, /secrets is forbidden: User "system:serviceaccount:expense:default" cannot list resource "secrets" in API group "" in the namespace "kube-system"/);
    assert.match(
      ok(srv.kubectl(["auth", "can-i", "--list", "-n", "expense", "--as=system:serviceaccount:expense:default"]), "can-i --list"),
      /pods\s+\[\]\s+\[\]\s+\[get list watch\]/,
    );
  });

  it("works with every kubectl from 1.27 on, and refuses too short a duration with upstream's message", () => {
    for (const v of kubectlVersions()) {
      const r = srv.kubectl(["create", "token", "default", "-n", "expense", "--duration=20m"], { version: v });
      assert.equal(r.status, 0, `kubectl ${v}: ${r.stderr}`);
      assert.equal(r.stdout.trim().split(".").length, 3, `kubectl ${v}`);
    }
    const short = srv.kubectl(["create", "token", "default", "-n", "expense", "--duration=1m"]);
    assert.match(short.stderr, /spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes/);
    assert.match(srv.kubectl(["create", "token", "nobody", "-n", "expense"]).stderr, /serviceaccounts "nobody" not found/);
  });

  it("lets ServiceAccounts read issuer discovery and refuses anonymous requests", async () => {
    const token = createToken(["default", "-n", "expense"]);
    const conf = JSON.parse(ok(withToken(token, ["get", "--raw", "/.well-known/openid-configuration"]), "discovery"));
    assert.equal(conf.issuer, "https://kubernetes.default.svc.cluster.local");
    assert.match(conf.jwks_uri, /^https:\/\/127\.0\.0\.1:\d+\/openid\/v1\/jwks$/);
    const jwks = JSON.parse(ok(withToken(token, ["get", "--raw", "/openid/v1/jwks"]), "jwks"));
    assert.equal(jwks.keys[0].alg, "RS256");
    const anon = await rawGet("/openid/v1/jwks");
    assert.equal(anon.code, 401);
    assert.equal(JSON.parse(anon.body).message, "Unauthorized");
  });
});

describe("bound tokens, pods and admission", () => {
  it("gives pods the default ServiceAccount and the kube-api-access projected volume", () => {
    ok(srv.kubectl(["run", "mounted", "-n", "expense", "--image=busybox", "--", "sleep", "3600"]), "run");
    const spec = JSON.parse(ok(srv.kubectl(["get", "pod", "mounted", "-n", "expense", "-o", "jsonpath={.spec}"]), "spec"));
    assert.equal(spec.serviceAccountName, "default");
    const vol = spec.volumes.find((v: { name: string }) => v.name.startsWith("kube-api-access-"));
    assert.deepEqual(vol.projected.sources[0], { serviceAccountToken: { expirationSeconds: 3607, path: "token" } });
    assert.deepEqual(spec.containers[0].volumeMounts, [{ mountPath: "/var/run/secrets/kubernetes.io/serviceaccount", name: vol.name, readOnly: true }]);
    const missing = srv.kubectl(["run", "ghost", "-n", "expense", "--image=busybox", "--overrides", '{"spec":{"serviceAccountName":"ghost"}}']);
    assert.match(missing.stderr, /pods "ghost" is forbidden: error looking up service account expense\/ghost: serviceaccount "ghost" not found/);
  });

  it("accepts a pod-bound token until its pod is deleted, then answers 401", () => {
    ok(srv.kubectl(["run", "bound", "-n", "expense", "--image=busybox", "--", "sleep", "3600"]), "run");
    const uid = ok(srv.kubectl(["get", "pod", "bound", "-n", "expense", "-o", "jsonpath={.metadata.uid}"]), "pod uid");
    const body = JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { boundObjectRef: { apiVersion: "v1", kind: "Pod", name: "bound", uid } } });
    const out = JSON.parse(ok(srv.kubectl(["create", "--raw", "/api/v1/namespaces/expense/serviceaccounts/default/token", "-f", "-"], { input: body }), "TokenRequest"));
    const token = out.status.token as string;
    assert.match(ok(withToken(token, ["auth", "whoami"]), "whoami"), /authentication.kubernetes.io\/pod-name\s+\[bound\]/);
    ok(srv.kubectl(["delete", "pod", "bound", "-n", "expense", "--grace-period=0", "--force"]), "delete pod");
    unauthorized(withToken(token, ["auth", "whoami"]));
    // kubectl create token --bound-object-kind Pod asks the same, and a wrong uid is a conflict.
    const conflict = srv.kubectl(["create", "token", "default", "-n", "expense", "--bound-object-kind=Pod", "--bound-object-name=mounted", "--bound-object-uid=nope"]);
    assert.match(conflict.stderr, /the UID in the bound object reference \(nope\) does not match the UID in record/);
  });

  it("fills a legacy token Secret whose token authenticates until the Secret goes", async () => {
    const secret = {
      apiVersion: "v1",
      kind: "Secret",
      type: "kubernetes.io/service-account-token",
      metadata: { name: "legacy-token", namespace: "expense", annotations: { "kubernetes.io/service-account.name": "default" } },
    };
    ok(srv.kubectl(["apply", "-f", "-"], { input: JSON.stringify(secret) }), "create token secret");
    let token = "";
    await eventually("the token controller to fill the Secret", () => {
      const r = srv.kubectl(["get", "secret", "legacy-token", "-n", "expense", "-o", "jsonpath={.data.token}"]);
      token = Buffer.from(r.stdout, "base64").toString();
      return token !== "";
    });
    const ca = ok(srv.kubectl(["get", "secret", "legacy-token", "-n", "expense", "-o", "jsonpath={.data.ca\\.crt}"]), "ca.crt");
    assert.equal(Buffer.from(ca, "base64").toString(), readFileSync(caFile, "utf8"));
    assert.match(ok(withToken(token, ["auth", "whoami"]), "legacy whoami"), /system:serviceaccount:expense:default/);
    ok(srv.kubectl(["delete", "secret", "legacy-token", "-n", "expense"]), "delete secret");
    unauthorized(withToken(token, ["auth", "whoami"]));
  });
});

describe("attacks on ServiceAccount tokens (401 each)", () => {
  it("refuses forged, expired, wrong-audience and wrong-issuer tokens, and garbage", async () => {
    // Control: the same claims signed with the server's key are accepted.
    assert.match(ok(withToken(await signed(claims()), ["auth", "whoami"]), "control"), /system:serviceaccount:expense:default/);
    const otherKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    const now = Math.floor(Date.now() / 1000);
    const attacks: Record<string, string> = {
      forged: await signed(claims(), otherKey),
      expired: await signed(claims({ iat: now - 7200, nbf: now - 7200, exp: now - 3600 })),
      "wrong audience": await signed(claims({ aud: ["https://vault.example"] })),
      "wrong issuer": await signed(claims({ iss: "https://evil.example" })),
      "other namespace claimed": await signed(claims({ sub: "system:serviceaccount:kube-system:default", "kubernetes.io": { namespace: "kube-system", serviceaccount: { name: "default", uid: defaultUid() } } })),
      garbage: "not.a.token",
    };
    for (const [what, token] of Object.entries(attacks)) {
      const r = withToken(token, ["get", "pods", "-n", "expense"]);
      assert.notEqual(r.status, 0, what);
      assert.match(r.stderr, /You must be logged in to the server \(Unauthorized\)/, what);
    }
    // The server says why, and never logs a token.
    await eventually("the server to log why the expired token failed", () => /msg="Unable to authenticate the request".*err="service account token has expired"/.test(logs));
    await eventually("the server to log why the wrong-audience token failed", () => /msg="Unable to authenticate the request".*err="token audiences/.test(logs));
    for (const [what, token] of Object.entries(attacks)) {
      if (token.length > 20) assert.ok(!logs.includes(token.split(".")[2]!), `${what}: the token's signature is in the logs`);
    }
  });
});

/** A request with no credentials at all. */
function rawGet(path: string): Promise<{ code: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${server}${path}`, { ca: readFileSync(caFile) }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ code: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}
