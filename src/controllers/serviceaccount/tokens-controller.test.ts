import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { afterEach, describe, it } from "node:test";
import type { Secret, ServiceAccount } from "kubernetes-types/core/v1.js";
import { LEGACY_ISSUER } from "../../apiserver/auth/serviceaccount/claims.js";
import { loadSigningKey } from "../../apiserver/auth/serviceaccount/keys.js";
import { ServiceAccountTokenAuthenticator } from "../../apiserver/auth/serviceaccount/token-authenticator.js";
import { jwtTokenGenerator } from "../../apiserver/auth/serviceaccount/token-generator.js";
import type { KObject } from "../../apiserver/registry/types.js";
import { conflict, notFound } from "../../machinery/status-error.js";
import { FakeListerWatcher, runningInformer } from "../common/testing.js";
import { SERVICE_ACCOUNT_NAME_KEY, SERVICE_ACCOUNT_TOKEN_TYPE, SERVICE_ACCOUNT_UID_KEY, TokensController } from "./tokens-controller.js";

const KEY = loadSigningKey(generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }) as string);
const stops: AbortController[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s.abort();
});

const sa = (name: string, uid = `${name}-uid`, secrets?: string[]): ServiceAccount => ({
  metadata: { name, namespace: "ns1", uid },
  ...(secrets ? { secrets: secrets.map((n) => ({ name: n })) } : {}),
});
const tokenSecret = (name: string, saName: string, uid?: string): Secret => ({
  metadata: { name, namespace: "ns1", uid: `${name}-uid`, annotations: { [SERVICE_ACCOUNT_NAME_KEY]: saName, ...(uid ? { [SERVICE_ACCOUNT_UID_KEY]: uid } : {}) } },
  type: SERVICE_ACCOUNT_TOKEN_TYPE,
});

async function harness(sas: ServiceAccount[], secrets: Secret[]) {
  const stop = new AbortController();
  stops.push(stop);
  const saSource = new FakeListerWatcher<ServiceAccount>(sas);
  const secretSource = new FakeListerWatcher<Secret>(secrets);
  const deleted: string[] = [];
  const controller = new TokensController({
    serviceAccounts: await runningInformer(saSource, stop.signal),
    secrets: await runningInformer(secretSource, stop.signal),
    api: {
      getSecret: async (ns, n) => secretSource.get(`${ns}/${n}`),
      // As the API: an update of a deleted Secret is NotFound, one of an old version a Conflict.
      updateSecret: async (s) => {
        const cur = secretSource.get(`${s.metadata?.namespace}/${s.metadata?.name}`);
        if (!cur) throw notFound({ group: "", resource: "secrets" }, s.metadata?.name ?? "");
        if (cur.metadata?.resourceVersion !== s.metadata?.resourceVersion) throw conflict({ group: "", resource: "secrets" }, s.metadata?.name ?? "", "changed");
        secretSource.set(s);
      },
      deleteSecret: async (ns, n, uid) => {
        const cur = secretSource.get(`${ns}/${n}`);
        if (!cur) throw notFound({ group: "", resource: "secrets" }, n);
        assert.equal(cur.metadata?.uid, uid);
        deleted.push(`${ns}/${n}`);
        secretSource.remove(`${ns}/${n}`);
      },
      getServiceAccount: async (ns, n) => saSource.get(`${ns}/${n}`),
      updateServiceAccount: async (s) => {
        saSource.set(s);
      },
    },
    generator: jwtTokenGenerator(LEGACY_ISSUER, KEY),
    rootCA: "CA-PEM",
    workers: 1,
  });
  void controller.run(stop.signal);
  return { saSource, secretSource, deleted };
}

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), "condition not reached");
}

describe("ServiceAccount token controller", () => {
  it("fills a token Secret with a legacy token the authenticator accepts, ca.crt, namespace and the uid annotation", async () => {
    const h = await harness([sa("builder")], [tokenSecret("builder-token", "builder")]);
    await waitFor(() => !!h.secretSource.get("ns1/builder-token")?.data?.token);
    const s = h.secretSource.get("ns1/builder-token")!;
    const data = s.data!;
    assert.equal(Buffer.from(data["ca.crt"]!, "base64").toString(), "CA-PEM");
    assert.equal(Buffer.from(data.namespace!, "base64").toString(), "ns1");
    assert.equal(s.metadata?.annotations?.[SERVICE_ACCOUNT_UID_KEY], "builder-uid");
    const token = Buffer.from(data.token!, "base64").toString();
    const auth = new ServiceAccountTokenAuthenticator({
      kind: "legacy",
      keys: [KEY],
      implicitAudiences: ["https://kubernetes.default.svc.cluster.local"],
      getter: {
        getServiceAccount: async (ns, n) => h.saSource.get(`${ns}/${n}`) as KObject | undefined,
        getSecret: async (ns, n) => h.secretSource.get(`${ns}/${n}`) as KObject | undefined,
        getPod: async () => undefined,
        getNode: async () => undefined,
      },
    });
    assert.equal((await auth.authenticateToken(token))?.username, "system:serviceaccount:ns1:builder");
  });

  it("deletes token Secrets of a missing or re-created ServiceAccount, and those of a deleted one", async () => {
    const h = await harness([sa("a"), sa("b")], [tokenSecret("orphan", "ghost"), tokenSecret("stale", "a", "old-uid"), tokenSecret("b-token", "b", "b-uid")]);
    await waitFor(() => h.deleted.length === 2);
    assert.deepEqual(h.deleted.sort(), ["ns1/orphan", "ns1/stale"]);
    h.saSource.remove("ns1/b");
    await waitFor(() => h.deleted.includes("ns1/b-token"));
    assert.equal(h.deleted.length, 3, h.deleted.join(","));
  });

  it("drops a deleted token Secret from its ServiceAccount's secrets", async () => {
    const h = await harness([sa("c", "c-uid", ["c-token", "other"])], [tokenSecret("c-token", "c", "c-uid")]);
    await waitFor(() => !!h.secretSource.get("ns1/c-token")?.data?.token);
    h.secretSource.remove("ns1/c-token");
    await waitFor(() => (h.saSource.get("ns1/c")?.secrets ?? []).length === 1);
    assert.deepEqual(h.saSource.get("ns1/c")?.secrets, [{ name: "other" }]);
  });
});
