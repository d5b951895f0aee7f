import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import { StatusError } from "../../../machinery/status-error.js";
import type { AdmissionAttributes } from "../../admission/admission.js";
import type { KObject } from "../../registry/types.js";
import { parseRequestInfo } from "../../request-info.js";
import { EXPIRATION_EXTENSION_SECONDS } from "./claims.js";
import { loadSigningKey } from "./keys.js";
import type { ServiceAccountTokenGetter } from "./token-authenticator.js";
import { jwtTokenGenerator } from "./token-generator.js";
import { TokenRequestHandler } from "./token-request.js";

const ISSUER = "https://kubernetes.default.svc.cluster.local";
const KEY = loadSigningKey(generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string);
const NOW = Date.UTC(2026, 0, 1);

const objects = new Map<string, KObject>([
  ["sa/ns1/default", { metadata: { name: "default", namespace: "ns1", uid: "sa-uid" } }],
  ["sa/ns1/other", { metadata: { name: "other", namespace: "ns1", uid: "other-uid" } }],
  ["pod/ns1/p1", { metadata: { name: "p1", namespace: "ns1", uid: "pod-uid" }, spec: { serviceAccountName: "default", nodeName: "n1" } }],
  ["node//n1", { metadata: { name: "n1", uid: "node-uid" } }],
  ["secret/ns1/s1", { metadata: { name: "s1", namespace: "ns1", uid: "secret-uid" } }],
]);
const getter: ServiceAccountTokenGetter = {
  getServiceAccount: async (ns, n) => objects.get(`sa/${ns}/${n}`),
  getPod: async (ns, n) => objects.get(`pod/${ns}/${n}`),
  getSecret: async (ns, n) => objects.get(`secret/${ns}/${n}`),
  getNode: async (n) => objects.get(`node//${n}`),
};

interface Answer {
  code: number;
  headers: Record<string, unknown>;
  body: Record<string, unknown>;
  payload: Record<string, unknown>;
}

async function request(body: unknown, opts: { sa?: string; maxExpirationSeconds?: number; admitted?: AdmissionAttributes[] } = {}): Promise<Answer> {
  const handler = new TokenRequestHandler(
    { generator: jwtTokenGenerator(ISSUER, KEY), apiAudiences: [ISSUER], maxExpirationSeconds: opts.maxExpirationSeconds ?? 0, extendExpiration: true, now: () => NOW },
    getter,
    async (a) => {
      opts.admitted?.push(a);
    },
  );
  const req = Readable.from([Buffer.from(JSON.stringify(body))]) as unknown as IncomingMessage;
  req.headers = { "content-type": "application/json" };
  const out: Answer = { code: 0, headers: {}, body: {}, payload: {} };
  const res = {
    headersSent: false,
    setHeader: (k: string, v: unknown) => {
      out.headers[k.toLowerCase()] = v;
    },
    writeHead: (code: number) => {
      out.code = code;
    },
    end: (text: string) => {
      out.body = JSON.parse(text);
    },
  } as unknown as ServerResponse;
  const url = new URL(`https://x/api/v1/namespaces/ns1/serviceaccounts/${opts.sa ?? "default"}/token`);
  const info = parseRequestInfo("POST", url);
  assert.ok(TokenRequestHandler.handles(info));
  await handler.serve({ info, url, req, res, user: { username: "u", groups: [] } });
  const token = (out.body.status as { token: string }).token;
  out.payload = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString());
  return out;
}

async function refused(body: unknown, opts: { sa?: string } = {}): Promise<{ code: number; message: string }> {
  try {
    await request(body, opts);
  } catch (err) {
    assert.ok(err instanceof StatusError, String(err));
    return { code: err.status.code ?? 0, message: err.status.message ?? "" };
  }
  assert.fail("the request was not refused");
}

describe("TokenRequest", () => {
  it("defaults audiences and expiration, and answers 201 with the request and its status", async () => {
    const admitted: AdmissionAttributes[] = [];
    const a = await request({ apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: {} }, { admitted });
    assert.equal(a.code, 201);
    assert.deepEqual(a.body.spec, { audiences: [ISSUER], expirationSeconds: 3600, boundObjectRef: null });
    assert.deepEqual(a.body.metadata, { name: "default", namespace: "ns1", creationTimestamp: "2026-01-01T00:00:00Z" });
    assert.equal((a.body.status as { expirationTimestamp: string }).expirationTimestamp, "2026-01-01T01:00:00Z");
    assert.equal(a.payload.exp, NOW / 1000 + 3600);
    assert.deepEqual(a.payload.aud, [ISSUER]);
    assert.equal(a.payload.sub, "system:serviceaccount:ns1:default");
    assert.equal(admitted.length, 1);
    assert.equal(admitted[0]!.subresource, "token");
    assert.equal(admitted[0]!.resource.plural, "serviceaccounts");
  });

  it("binds to a pod (with its node) and extends the admission plugin's 3607 s to a year, warning after 3607 s", async () => {
    const a = await request({ spec: { expirationSeconds: 3607, boundObjectRef: { apiVersion: "v1", kind: "Pod", name: "p1", uid: "pod-uid" } } });
    assert.equal(a.payload.exp, NOW / 1000 + EXPIRATION_EXTENSION_SECONDS);
    const k = a.payload["kubernetes.io"] as Record<string, unknown>;
    assert.equal(k.warnafter, NOW / 1000 + 3607);
    assert.deepEqual(k.pod, { name: "p1", uid: "pod-uid" });
    assert.deepEqual(k.node, { name: "n1", uid: "node-uid" });
    // The status tells the kubelet the requested lifetime, so it refreshes in time.
    assert.equal((a.body.status as { expirationTimestamp: string }).expirationTimestamp, "2026-01-01T01:00:07Z");
  });

  it("binds to a Secret or a Node", async () => {
    const s = await request({ spec: { boundObjectRef: { kind: "Secret", apiVersion: "v1", name: "s1" } } });
    assert.deepEqual((s.payload["kubernetes.io"] as Record<string, unknown>).secret, { name: "s1", uid: "secret-uid" });
    const n = await request({ spec: { boundObjectRef: { kind: "Node", apiVersion: "v1", name: "n1", uid: "node-uid" } } });
    assert.deepEqual((n.payload["kubernetes.io"] as Record<string, unknown>).node, { name: "n1", uid: "node-uid" });
  });

  it("shortens a lifetime beyond --service-account-max-token-expiration, with a warning", async () => {
    const a = await request({ spec: { expirationSeconds: 100_000 } }, { maxExpirationSeconds: 7200 });
    assert.equal(a.payload.exp, NOW / 1000 + 7200);
    assert.equal(a.headers.warning, '299 - "requested expiration of 100000 seconds shortened to 7200 seconds"');
  });

  it("refuses what upstream refuses, with upstream's messages", async () => {
    assert.deepEqual(await refused({ spec: { expirationSeconds: 60 } }), {
      code: 422,
      message: 'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes',
    });
    assert.deepEqual(await refused({ spec: { expirationSeconds: 2 ** 33 } }), {
      code: 422,
      message: `TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: ${2 ** 33}: may not specify a duration larger than 2^32 seconds`,
    });
    assert.deepEqual(await refused({ spec: {} }, { sa: "missing" }), { code: 404, message: 'serviceaccounts "missing" not found' });
    assert.deepEqual(await refused({ spec: { boundObjectRef: { kind: "Pod", apiVersion: "v1", name: "gone" } } }), { code: 404, message: 'pods "gone" not found' });
    assert.deepEqual(await refused({ spec: { boundObjectRef: { kind: "Pod", apiVersion: "v1", name: "p1", uid: "old" } } }), {
      code: 409,
      message:
        'Operation cannot be fulfilled on Pod "p1": the UID in the bound object reference (old) does not match the UID in record. The object might have been deleted and then recreated',
    });
    assert.deepEqual(await refused({ spec: { boundObjectRef: { kind: "Pod", apiVersion: "v1", name: "p1" } } }, { sa: "other" }), {
      code: 400,
      message: 'cannot bind token for serviceaccount "other" to pod running with different serviceaccount name.',
    });
    assert.deepEqual(await refused({ spec: { boundObjectRef: { kind: "Deployment", apiVersion: "apps/v1", name: "d" } } }), {
      code: 400,
      message: 'cannot bind token for serviceaccount "default" to object of type apps/v1, Kind=Deployment',
    });
    assert.deepEqual(await refused({ metadata: { name: "x" }, spec: {} }), {
      code: 422,
      message: 'TokenRequest.authentication.k8s.io "default" is invalid: metadata.name: Invalid value: "x": must match the service account name if specified',
    });
    assert.equal((await refused({ apiVersion: "v1", kind: "TokenRequest" })).code, 400);
  });
});
