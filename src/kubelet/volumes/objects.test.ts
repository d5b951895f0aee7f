import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ResourceClient } from "../../client/resource-client.js";
import { FakeClock } from "../../machinery/clock.js";
import { internalError, methodNotSupported, notFound, StatusError } from "../../machinery/status-error.js";
import { ApiPodObjects } from "./objects.js";

/** A ResourceClient stand-in answering from `answer`, counting calls. */
function fakeClient(answer: (call: string, body?: unknown) => unknown) {
  const calls: string[] = [];
  const respond = async (call: string, body?: unknown) => {
    calls.push(call);
    const a = answer(call, body);
    if (a instanceof Error) throw a;
    return a;
  };
  const client = {
    namespace: (ns: string) => ({
      get: (name: string) => respond(`get ${ns}/${name}`),
      listAll: async () => ({ items: (await respond(`list ${ns}`)) as unknown[] }),
      subresource: (name: string, sub: string, body: unknown) => respond(`post ${ns}/${name}/${sub}`, body),
    }),
    get: (name: string) => respond(`get ${name}`),
  };
  return { calls, client: client as unknown as ResourceClient<never> };
}

function objects(answer: (call: string, body?: unknown) => unknown) {
  const f = fakeClient(answer);
  const clock = new FakeClock();
  const o = new ApiPodObjects({
    configMaps: f.client,
    secrets: f.client,
    services: f.client,
    persistentVolumeClaims: f.client,
    persistentVolumes: f.client,
    serviceAccounts: f.client,
    clock,
    ttlMs: 5_000,
  });
  return { o, clock, calls: f.calls };
}

describe("ApiPodObjects (TTL cache over ResourceClients)", () => {
  it("shares reads within the TTL and reads again after it", async () => {
    let n = 0;
    const h = objects(() => ({ metadata: { name: "cfg" }, data: { n: String(++n) } }));
    const [a, b] = await Promise.all([h.o.getConfigMap("ns", "cfg"), h.o.getConfigMap("ns", "cfg")]);
    assert.deepEqual(a, b);
    assert.deepEqual(h.calls, ["get ns/cfg"]);
    h.clock.advance(4_999);
    assert.deepEqual(await h.o.getConfigMap("ns", "cfg"), a);
    h.clock.advance(1);
    const c = await h.o.getConfigMap("ns", "cfg");
    assert.ok(c.ok && c.value.data?.n === "2");
    assert.equal(h.calls.length, 2);
  });

  it("words NotFound as upstream's object managers and caches it; other failures are retried", async () => {
    let fail: Error = notFound({ group: "", resource: "secrets" }, "s");
    const h = objects(() => fail);
    assert.deepEqual(await h.o.getSecret("ns", "s"), { ok: false, notFound: true, message: 'secret "s" not found' });
    await h.o.getSecret("ns", "s");
    assert.equal(h.calls.length, 1);
    fail = internalError("etcd is sad");
    h.clock.advance(5_000);
    assert.deepEqual(await h.o.getSecret("ns", "s"), { ok: false, notFound: false, message: "Internal error occurred: etcd is sad" });
    await h.o.getSecret("ns", "s");
    assert.equal(h.calls.length, 3);
  });

  it("asks the TokenRequest API and tells an unserved route from a missing service account", async () => {
    let answer: unknown = { status: { token: "t" } };
    const bodies: unknown[] = [];
    const h = objects((_call, body) => {
      bodies.push(body);
      return answer;
    });
    const r = await h.o.createToken("ns", "sa", { spec: { audiences: [] } });
    assert.deepEqual(r, { ok: true, value: { status: { token: "t" } } });
    assert.deepEqual(h.calls, ["post ns/sa/token"]);
    assert.deepEqual(bodies[0], { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { audiences: [] } });
    answer = new StatusError({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "the server could not find the requested resource", reason: "NotFound", code: 404 });
    assert.deepEqual(await h.o.createToken("ns", "sa", { spec: { audiences: [] } }), { ok: false, notFound: false, unserved: true, message: "the server could not find the requested resource" });
    answer = methodNotSupported({ group: "", resource: "serviceaccounts/token" }, "create");
    const m = await h.o.createToken("ns", "sa", { spec: { audiences: [] } });
    assert.ok(!m.ok && m.unserved);
    answer = notFound({ group: "", resource: "serviceaccounts" }, "sa");
    assert.deepEqual(await h.o.createToken("ns", "sa", { spec: { audiences: [] } }), { ok: false, notFound: true, message: 'serviceaccounts "sa" not found' });
  });
});
