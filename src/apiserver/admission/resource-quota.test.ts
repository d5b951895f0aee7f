import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findResource, type ResourceType } from "../../api/resources.js";
import { StatusError } from "../../machinery/status-error.js";
import { openMemoryStore } from "../../storage/backends/memory/memory-store.js";
import { ObjectStore } from "../registry/object-store.js";
import { strategyFor } from "../registry/strategies.js";
import type { KObject } from "../registry/types.js";
import type { AdmissionAttributes, Operation } from "./admission.js";
import { resourceQuota } from "./resource-quota.js";
import { format, qty } from "./resource-quota-quantity.js";
import { podConstraintError, podMatchesScope, quotaMatches, usageOf } from "./resource-quota-usage.js";

const podsRes = findResource("", "v1", "pods")!;
const svcRes = findResource("", "v1", "services")!;
const cmRes = findResource("", "v1", "configmaps")!;
const rqRes = findResource("", "v1", "resourcequotas")!;

function attrs(op: Operation, resource: ResourceType, object: KObject, extra: Partial<AdmissionAttributes> = {}): AdmissionAttributes {
  return { operation: op, resource, subresource: "", namespace: "ns", name: object.metadata?.name ?? "", object, user: { username: "u", groups: [] }, dryRun: false, ...extra };
}

const pod = (name: string, resources?: Record<string, unknown>, spec: Record<string, unknown> = {}): KObject => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace: "ns" },
  spec: { containers: [{ name: "app", image: "busybox", ...(resources ? { resources } : {}) }], ...spec },
});

async function setup(quotas: { name: string; hard: Record<string, string>; used?: Record<string, string>; spec?: Record<string, unknown> }[]) {
  const store = new ObjectStore({ store: openMemoryStore(), resource: rqRes, strategy: strategyFor(rqRes) });
  for (const q of quotas) {
    const created = await store.create("ns", { apiVersion: "v1", kind: "ResourceQuota", metadata: { name: q.name, namespace: "ns" }, spec: { hard: q.hard, ...q.spec } });
    // What the controller writes: status.hard and status.used.
    const used = q.used ?? Object.fromEntries(Object.keys(q.hard).map((k) => [k, "0"]));
    await store.update("ns", q.name, { ...created, status: { hard: q.hard, used } }, { subresource: "status" });
  }
  return { store, plugin: resourceQuota({ quotas: store }) };
}

async function rejection(p: Promise<unknown> | unknown): Promise<StatusError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof StatusError, String(err));
    return err;
  }
  assert.fail("expected a rejection");
}

describe("ResourceQuota admission", () => {
  it("charges status.used and refuses with upstream's exceeded message", async () => {
    const { store, plugin } = await setup([{ name: "compute", hard: { "requests.cpu": "1", "limits.cpu": "2", pods: "10" } }]);
    await plugin.validate!(attrs("CREATE", podsRes, pod("a", { requests: { cpu: "600m" }, limits: { cpu: "1" } })));
    const q = await store.get("ns", "compute");
    assert.deepEqual((q.status as { used: unknown }).used, { "limits.cpu": "1", pods: "1", "requests.cpu": "600m" });
    const err = await rejection(plugin.validate!(attrs("CREATE", podsRes, pod("b", { requests: { cpu: "500m" }, limits: { cpu: "1500m" } }))));
    assert.equal(err.code, 403);
    assert.equal(err.reason, "Forbidden");
    assert.equal(
      err.status.message,
      'pods "b" is forbidden: exceeded quota: compute, requested: limits.cpu=1500m,requests.cpu=500m, used: limits.cpu=1,requests.cpu=600m, limited: limits.cpu=2,requests.cpu=1',
    );
    // Refused: nothing charged.
    assert.deepEqual(((await store.get("ns", "compute")).status as { used: unknown }).used, { "limits.cpu": "1", pods: "1", "requests.cpu": "600m" });
    // A dry run checks but does not charge.
    await plugin.validate!(attrs("CREATE", podsRes, pod("c", { requests: { cpu: "100m" }, limits: { cpu: "100m" } }), { dryRun: true }));
    assert.equal(((await store.get("ns", "compute")).status as { used: Record<string, string> }).used.pods, "1");
  });

  it("requires containers to name limited compute, and a confirmed status", async () => {
    const { plugin } = await setup([{ name: "q", hard: { "limits.memory": "1Gi", "requests.cpu": "1" } }]);
    const err = await rejection(plugin.validate!(attrs("CREATE", podsRes, pod("p", { requests: { cpu: "100m" } }))));
    assert.equal(err.status.message, 'pods "p" is forbidden: failed quota: q: must specify limits.memory for: app');
    const both = await rejection(plugin.validate!(attrs("CREATE", podsRes, pod("p"))));
    assert.equal(both.status.message, 'pods "p" is forbidden: failed quota: q: must specify limits.memory for: app; requests.cpu for: app');
    // A limit without a request counts as both, as upstream's defaulting makes it.
    await plugin.validate!(attrs("CREATE", podsRes, pod("p", { limits: { cpu: "100m", memory: "64Mi" } })));

    const fresh = await setup([]);
    const created = await fresh.store.create("ns", { apiVersion: "v1", kind: "ResourceQuota", metadata: { name: "new", namespace: "ns" }, spec: { hard: { pods: "1" } } });
    await fresh.store.update("ns", "new", { ...created, status: { hard: { pods: "1" } } }, { subresource: "status" });
    const unknown = await rejection(fresh.plugin.validate!(attrs("CREATE", podsRes, pod("p"))));
    assert.equal(unknown.status.message, 'pods "p" is forbidden: status unknown for quota: new, resource: pods');
  });

  it("never over-admits concurrent creates", async () => {
    const { store, plugin } = await setup([{ name: "count", hard: { "count/configmaps": "3", configmaps: "3" } }]);
    const cm = (i: number): KObject => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `cm-${i}`, namespace: "ns" } });
    // Another writer (the controller) bumps the quota's resourceVersion meanwhile: charges must CAS and re-check.
    const bump = (async () => {
      for (let i = 0; i < 5; i++) {
        const q = await store.get("ns", "count");
        await store.update("ns", "count", { ...q, metadata: { ...q.metadata, labels: { bump: String(i) } } }).catch(() => {});
      }
    })();
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => plugin.validate!(attrs("CREATE", cmRes, cm(i)))));
    await bump;
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 3);
    for (const r of results) {
      if (r.status === "rejected") assert.match((r.reason as Error).message, /exceeded quota: count, requested: configmaps=1,count\/configmaps=1, used: configmaps=3,count\/configmaps=3, limited: configmaps=3,count\/configmaps=3/);
    }
    assert.deepEqual(((await store.get("ns", "count")).status as { used: unknown }).used, { configmaps: "3", "count/configmaps": "3" });
  });

  it("applies scoped quotas only to the pods their scopes select", async () => {
    const { plugin } = await setup([
      { name: "best-effort", hard: { pods: "0" }, spec: { scopes: ["BestEffort"] } },
      { name: "high", hard: { pods: "0" }, spec: { scopeSelector: { matchExpressions: [{ scopeName: "PriorityClass", operator: "In", values: ["high"] }] } } },
    ]);
    const be = await rejection(plugin.validate!(attrs("CREATE", podsRes, pod("be"))));
    assert.match(be.status.message!, /exceeded quota: best-effort, requested: pods=1, used: pods=0, limited: pods=0/);
    await plugin.validate!(attrs("CREATE", podsRes, pod("burstable", { requests: { cpu: "1" } })));
    const hi = await rejection(plugin.validate!(attrs("CREATE", podsRes, pod("hi", { requests: { cpu: "1" } }, { priorityClassName: "high" }))));
    assert.match(hi.status.message!, /exceeded quota: high/);
    // Scopes select pods only: a ConfigMap is never charged to them.
    await plugin.validate!(attrs("CREATE", cmRes, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x", namespace: "ns" } }));
  });

  it("charges services on type changes by the increase only", async () => {
    const { store, plugin } = await setup([{ name: "svc", hard: { "services.nodeports": "2", "services.loadbalancers": "1" } }]);
    const svc = (type: string, ports: number): KObject => ({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "s", namespace: "ns" },
      spec: { type, ports: Array.from({ length: ports }, (_, i) => ({ port: 80 + i })) },
    });
    await plugin.validate!(attrs("CREATE", svcRes, svc("ClusterIP", 2)));
    await plugin.validate!(attrs("UPDATE", svcRes, svc("NodePort", 2), { oldObject: svc("ClusterIP", 2) }));
    assert.deepEqual(((await store.get("ns", "svc")).status as { used: unknown }).used, { "services.loadbalancers": "0", "services.nodeports": "2" });
    const err = await rejection(plugin.validate!(attrs("UPDATE", svcRes, svc("NodePort", 3), { oldObject: svc("NodePort", 2) })));
    assert.match(err.status.message!, /exceeded quota: svc, requested: services.nodeports=1, used: services.nodeports=2, limited: services.nodeports=2/);
  });
});

describe("ResourceQuota validation", () => {
  const quota = (spec: Record<string, unknown>, status?: Record<string, unknown>): KObject => ({
    apiVersion: "v1",
    kind: "ResourceQuota",
    metadata: { name: "q", namespace: "ns" },
    spec,
    ...(status ? { status } : {}),
  });

  it("refuses what upstream's validation refuses, with its messages", async () => {
    const { plugin } = await setup([]);
    const check = async (spec: Record<string, unknown>) => (await rejection(plugin.validate!(attrs("CREATE", rqRes, quota(spec))))).status.message;
    assert.equal(await check({ hard: { pods: "1.5" } }), 'ResourceQuota "q" is invalid: spec.hard[pods]: Invalid value: "1.5": must be an integer');
    assert.equal(await check({ hard: { widgets: "1" } }), 'ResourceQuota "q" is invalid: spec.hard[widgets]: Invalid value: "widgets": must be a standard resource for quota');
    assert.equal(
      await check({ hard: { "requests.storage": "1Gi" }, scopes: ["BestEffort"] }),
      'ResourceQuota "q" is invalid: spec.scopes: Invalid value: []core.ResourceQuotaScope{"BestEffort"}: unsupported scope applied to resource',
    );
    assert.equal(
      await check({ hard: { pods: "1" }, scopes: ["Terminating", "NotTerminating"] }),
      'ResourceQuota "q" is invalid: spec.scopes: Invalid value: []core.ResourceQuotaScope{"Terminating", "NotTerminating"}: conflicting scopes',
    );
    assert.equal(
      await check({ hard: { pods: "1" }, scopeSelector: { matchExpressions: [{ scopeName: "PriorityClass", operator: "In" }] } }),
      "ResourceQuota \"q\" is invalid: spec.scopeSelector.matchExpressions.values: Required value: must be at least one value when `operator` is 'In' or 'NotIn' for scope selector",
    );
    assert.match((await check({ hard: { pods: "1" }, scopes: ["Sometimes"] })) ?? "", /spec.scopes: Invalid value: \[\]core.ResourceQuotaScope\{"Sometimes"\}: unsupported scope/);
    await plugin.validate!(attrs("CREATE", rqRes, quota({ hard: { pods: "1", "count/deployments.apps": "2", "requests.nvidia.com/gpu": "1" } })));
  });

  it("drops a status sent with a new quota (only the controller confirms limits)", async () => {
    const { plugin } = await setup([]);
    const q = quota({ hard: { pods: "1" } }, { hard: { pods: "100" }, used: { pods: "0" } });
    plugin.admit!(attrs("CREATE", rqRes, q));
    assert.equal(q.status, undefined);
  });
});

describe("quota usage", () => {
  it("sums pod compute as upstream's PodRequests (init containers, sidecars, overhead)", () => {
    const p = pod("p", { requests: { cpu: "100m", memory: "64Mi" }, limits: { memory: "128Mi", cpu: "1" } }, {
      initContainers: [
        { name: "init", resources: { requests: { cpu: "500m" } } },
        { name: "sidecar", restartPolicy: "Always", resources: { requests: { cpu: "50m" } } },
      ],
      overhead: { cpu: "10m" },
    });
    const u = usageOf("", "pods", p as Record<string, unknown>, Date.now());
    assert.equal(format(u.get("requests.cpu")!), "510m"); // max(100m+50m, 500m) + 10m
    assert.equal(format(u.get("requests.memory")!), "64Mi");
    assert.equal(format(u.get("limits.memory")!), "128Mi");
    // A limit without a request is the request too (upstream's defaulting): the init containers' cpu limits are none.
    assert.equal(format(u.get("limits.cpu")!), "1010m");
    assert.equal(format(u.get("pods")!), "1");
    const done = { ...p, status: { phase: "Succeeded" } } as Record<string, unknown>;
    assert.deepEqual([...usageOf("", "pods", done, Date.now()).keys()], ["count/pods"]);
  });

  it("matches scopes and names resources as upstream", () => {
    const p = pod("p", undefined, { activeDeadlineSeconds: 30 }) as Record<string, unknown>;
    assert.ok(podMatchesScope({ scopeName: "Terminating", operator: "Exists" }, p));
    assert.ok(!podMatchesScope({ scopeName: "NotTerminating", operator: "Exists" }, p));
    assert.ok(podMatchesScope({ scopeName: "BestEffort", operator: "Exists" }, p));
    assert.ok(podMatchesScope({ scopeName: "PriorityClass", operator: "NotIn", values: ["x"] }, p));
    assert.ok(!quotaMatches({ spec: { scopes: ["Terminating"] } }, ["count/secrets"], "", "secrets", {}));
    assert.ok(quotaMatches({}, ["count/deployments.apps"], "apps", "deployments", {}));
    assert.equal(podConstraintError(["pods"], p), undefined);
    assert.equal(format(qty("1.5Gi")!), "1536Mi");
  });
});
