import assert from "node:assert/strict";
import { after, test } from "node:test";
import { findResource } from "../../api/resources.js";
import { openMemoryStore } from "../../storage/backends/memory/memory-store.js";
import type { Store } from "../../storage/store.js";
import { ObjectStore } from "../registry/object-store.js";
import { strategyFor } from "../registry/strategies.js";
import { reconcileKubernetesService } from "./kubernetes-service.js";
import { serviceStrategy } from "./service-strategy.js";

const stores: Store[] = [];
after(async () => {
  for (const s of stores) await s.close();
});

function setup() {
  const store = openMemoryStore();
  stores.push(store);
  const r = (group: string, plural: string) => findResource(group, "v1", plural)!;
  const strategy = serviceStrategy(store);
  return {
    strategy,
    services: new ObjectStore({ store, resource: r("", "services"), strategy }),
    endpoints: new ObjectStore({ store, resource: r("", "endpoints"), strategy: strategyFor(r("", "endpoints")) }),
    endpointSlices: new ObjectStore({
      store,
      resource: r("discovery.k8s.io", "endpointslices"),
      strategy: strategyFor(r("discovery.k8s.io", "endpointslices")),
    }),
  };
}

test("creates the kubernetes Service, Endpoints and EndpointSlice, then leaves them alone", async () => {
  const deps = setup();
  const r1 = await reconcileKubernetesService({ ...deps, apiServerIP: "192.168.1.10", port: 6443 });
  assert.deepEqual(r1, { service: "created", endpoints: "created", endpointSlice: "created" });

  const svc = await deps.services.get("default", "kubernetes");
  assert.deepEqual(svc.metadata!.labels, { provider: "kubernetes", component: "apiserver" });
  const spec = svc.spec as Record<string, unknown>;
  assert.equal(spec.clusterIP, "10.43.0.1");
  assert.deepEqual(spec.clusterIPs, ["10.43.0.1"]);
  assert.equal(spec.type, "ClusterIP");
  assert.deepEqual(spec.ports, [{ name: "https", protocol: "TCP", port: 443, targetPort: 6443 }]);
  assert.equal(await deps.strategy.ips.has("10.43.0.1"), true);

  const ep = await deps.endpoints.get("default", "kubernetes");
  assert.deepEqual(ep.metadata!.labels, { "endpointslice.kubernetes.io/skip-mirror": "true" });
  assert.deepEqual(ep.subsets, [{ addresses: [{ ip: "192.168.1.10" }], ports: [{ name: "https", port: 6443, protocol: "TCP" }] }]);

  const slice = await deps.endpointSlices.get("default", "kubernetes");
  assert.equal(slice.apiVersion, "discovery.k8s.io/v1");
  assert.deepEqual(slice.metadata!.labels, { "kubernetes.io/service-name": "kubernetes" });
  assert.equal(slice.addressType, "IPv4");
  assert.deepEqual(slice.endpoints, [{ addresses: ["192.168.1.10"], conditions: { ready: true } }]);
  assert.deepEqual(slice.ports, [{ name: "https", port: 6443, protocol: "TCP" }]);

  const versions = [svc, ep, slice].map((o) => o.metadata!.resourceVersion);
  const r2 = await reconcileKubernetesService({ ...deps, apiServerIP: "192.168.1.10", port: 6443 });
  assert.deepEqual(r2, { service: "unchanged", endpoints: "unchanged", endpointSlice: "unchanged" });
  const again = await Promise.all([
    deps.services.get("default", "kubernetes"),
    deps.endpoints.get("default", "kubernetes"),
    deps.endpointSlices.get("default", "kubernetes"),
  ]);
  assert.deepEqual(
    again.map((o) => o.metadata!.resourceVersion),
    versions,
  );
});

test("fixes a wrong port and follows the API server to a new address and port", async () => {
  const deps = setup();
  await reconcileKubernetesService({ ...deps, apiServerIP: "192.168.1.10", port: 6443 });

  // Someone edits the Service.
  const svc = await deps.services.get("default", "kubernetes");
  (svc.spec as Record<string, unknown>).ports = [{ name: "https", protocol: "TCP", port: 8443, targetPort: 6443 }];
  await deps.services.update("default", "kubernetes", svc);
  const r1 = await reconcileKubernetesService({ ...deps, apiServerIP: "192.168.1.10", port: 6443 });
  assert.deepEqual(r1, { service: "updated", endpoints: "unchanged", endpointSlice: "unchanged" });
  assert.deepEqual((await deps.services.get("default", "kubernetes")).spec, {
    ...(svc.spec as object),
    ports: [{ name: "https", protocol: "TCP", port: 443, targetPort: 6443 }],
  });

  // The API server restarts elsewhere.
  const r2 = await reconcileKubernetesService({ ...deps, apiServerIP: "192.168.1.20", port: 7443 });
  assert.deepEqual(r2, { service: "updated", endpoints: "updated", endpointSlice: "updated" });
  assert.deepEqual((await deps.services.get("default", "kubernetes")).spec, {
    ...(svc.spec as object),
    ports: [{ name: "https", protocol: "TCP", port: 443, targetPort: 7443 }],
  });
  const ep = await deps.endpoints.get("default", "kubernetes");
  assert.deepEqual(ep.subsets, [{ addresses: [{ ip: "192.168.1.20" }], ports: [{ name: "https", port: 7443, protocol: "TCP" }] }]);
  const slice = await deps.endpointSlices.get("default", "kubernetes");
  assert.deepEqual(slice.endpoints, [{ addresses: ["192.168.1.20"], conditions: { ready: true } }]);
  assert.deepEqual(slice.ports, [{ name: "https", port: 7443, protocol: "TCP" }]);
  assert.equal(((await deps.services.get("default", "kubernetes")).spec as Record<string, unknown>).clusterIP, "10.43.0.1");

  // A type change is reset too, and the node port it got is given back.
  const np = await deps.services.get("default", "kubernetes");
  (np.spec as Record<string, unknown>).type = "NodePort";
  const { object: asNodePort } = await deps.services.update("default", "kubernetes", np);
  const nodePort = ((asNodePort.spec as Record<string, unknown>).ports as Array<{ nodePort: number }>)[0]!.nodePort;
  assert.equal(await deps.strategy.nodePorts.has(nodePort), true);
  const r3 = await reconcileKubernetesService({ ...deps, apiServerIP: "192.168.1.20", port: 7443 });
  assert.equal(r3.service, "updated");
  const fixed = (await deps.services.get("default", "kubernetes")).spec as Record<string, unknown>;
  assert.equal(fixed.type, "ClusterIP");
  assert.deepEqual(fixed.ports, [{ name: "https", protocol: "TCP", port: 443, targetPort: 7443 }]);
  assert.equal(await deps.strategy.nodePorts.has(nodePort), false);
});

test("restores the skip-mirror label and replaces stray endpoints", async () => {
  const deps = setup();
  await deps.endpoints.create("default", {
    metadata: { name: "kubernetes", labels: { extra: "x" } },
    subsets: [{ addresses: [{ ip: "10.0.0.1" }, { ip: "10.0.0.2" }], ports: [{ name: "https", port: 1, protocol: "TCP" }] }],
  });
  const r = await reconcileKubernetesService({ ...deps, apiServerIP: "192.168.1.10", port: 6443 });
  assert.equal(r.endpoints, "updated");
  const ep = await deps.endpoints.get("default", "kubernetes");
  assert.deepEqual(ep.metadata!.labels, { extra: "x", "endpointslice.kubernetes.io/skip-mirror": "true" });
  assert.deepEqual(ep.subsets, [{ addresses: [{ ip: "192.168.1.10" }], ports: [{ name: "https", port: 6443, protocol: "TCP" }] }]);
});

test("an unusable API server address is reported, not published", async () => {
  const deps = setup();
  const r = await reconcileKubernetesService({ ...deps, apiServerIP: "0.0.0.0", port: 6443 });
  assert.deepEqual(r, { service: "created", endpoints: "failed", endpointSlice: "failed" });
  await assert.rejects(deps.endpoints.get("default", "kubernetes"), /not found/);
});
