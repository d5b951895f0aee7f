import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ResourceQuota } from "kubernetes-types/core/v1.js";
import type { SharedInformer } from "../../client/informer.js";
import type { KubeObject } from "../../client/resource-client.js";
import type { RestClient } from "../../client/rest-client.js";
import { conflict } from "../../machinery/status-error.js";
import { ResourceQuotaController } from "./controller.js";

/** Just what the controller reads of an informer. */
function fakeInformer<T extends KubeObject>(objs: T[]): SharedInformer<T> & { objs: T[] } {
  const key = (o: T) => `${o.metadata?.namespace}/${o.metadata?.name}`;
  return {
    objs,
    addEventHandler() {},
    get: (k: string) => objs.find((o) => key(o) === k),
    byNamespace: (ns: string) => objs.filter((o) => o.metadata?.namespace === ns),
    list: () => objs,
    waitForSync: async () => true,
  } as unknown as SharedInformer<T> & { objs: T[] };
}

function fakeRest(handle: (method: string, path: string, body: unknown) => unknown): RestClient & { calls: { method: string; path: string; body: unknown }[] } {
  const calls: { method: string; path: string; body: unknown }[] = [];
  return {
    calls,
    async request(method: string, path: string, opts: { body?: unknown } = {}) {
      calls.push({ method, path, body: opts.body });
      return handle(method, path, opts.body);
    },
  } as unknown as RestClient & { calls: { method: string; path: string; body: unknown }[] };
}

const pod = (name: string, cpu: string, extra: Record<string, unknown> = {}): KubeObject =>
  ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "ns" },
    spec: { containers: [{ name: "c", resources: { requests: { cpu }, limits: { cpu } } }], ...extra },
  }) as KubeObject;

function controller(quotas: ResourceQuota[], pods: KubeObject[], rest: RestClient) {
  const informers = new Map<string, SharedInformer<KubeObject>>([["/pods", fakeInformer(pods)]]);
  return new ResourceQuotaController({ rest, quotas: fakeInformer(quotas), informers });
}

describe("resource-quota controller", () => {
  it("writes status.hard from spec and status.used from the pods that match the scopes", async () => {
    const q: ResourceQuota = {
      apiVersion: "v1",
      kind: "ResourceQuota",
      metadata: { name: "q", namespace: "ns", resourceVersion: "7" },
      spec: { hard: { pods: "5", "requests.cpu": "4", "count/deployments.apps": "3" }, scopes: ["NotTerminating"] },
    };
    const rest = fakeRest((method) => {
      if (method === "GET") return { apiVersion: "apps/v1", kind: "DeploymentList", metadata: {}, items: [{ metadata: { name: "d", namespace: "ns" } }] };
      return {};
    });
    const pods = [
      pod("a", "500m"),
      pod("b", "250m"),
      pod("finished", "1", {}),
      pod("job", "1", { activeDeadlineSeconds: 60 }),
    ];
    (pods[2] as { status?: unknown }).status = { phase: "Succeeded" };
    await controller([q], pods, rest).sync("ns/q");
    const put = rest.calls.find((c) => c.method === "PUT");
    assert.ok(put, JSON.stringify(rest.calls));
    assert.equal(put.path, "/api/v1/namespaces/ns/resourcequotas/q/status");
    const status = (put.body as ResourceQuota).status;
    // Scoped: deployments are not pods, so they count 0; the terminating pod is out of scope; the finished one uses nothing.
    assert.deepEqual(status, { hard: { "count/deployments.apps": "3", pods: "5", "requests.cpu": "4" }, used: { "count/deployments.apps": "0", pods: "2", "requests.cpu": "750m" } });
    assert.equal((put.body as ResourceQuota).metadata?.resourceVersion, "7");
  });

  it("lists kinds without an informer through the API, writes nothing when nothing changed, and retries a conflict", async () => {
    const q: ResourceQuota = {
      apiVersion: "v1",
      kind: "ResourceQuota",
      metadata: { name: "q", namespace: "ns", resourceVersion: "3" },
      spec: { hard: { "count/deployments.apps": "3" } },
      status: { hard: { "count/deployments.apps": "3" }, used: { "count/deployments.apps": "1" } },
    };
    const list = { apiVersion: "apps/v1", kind: "DeploymentList", metadata: {}, items: [{ metadata: { name: "d", namespace: "ns" } }] };
    const quiet = fakeRest(() => list);
    await controller([q], [], quiet).sync("ns/q");
    assert.deepEqual(
      quiet.calls.map((c) => `${c.method} ${c.path}`),
      ["GET /apis/apps/v1/namespaces/ns/deployments"],
    );
    const busy = fakeRest((method) => {
      if (method === "PUT") throw conflict({ group: "", resource: "resourcequotas" }, "q", "the object has been modified");
      return { ...list, items: [...list.items, { metadata: { name: "e", namespace: "ns" } }] };
    });
    await assert.rejects(controller([q], [], busy).sync("ns/q"), /changed while syncing/);
  });
});
