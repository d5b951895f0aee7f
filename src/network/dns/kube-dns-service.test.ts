import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KObject } from "../../apiserver/registry/types.js";
import { alreadyExists, notFound } from "../../machinery/status-error.js";
import { type ObjectAccess, reconcileKubeDnsService } from "./kube-dns-service.js";

/** An in-memory object store with the calls the reconcile makes, counting writes. */
function memory(kind: string): ObjectAccess & { objects: Map<string, KObject>; writes: number } {
  const objects = new Map<string, KObject>();
  const key = (ns: string | undefined, name: string) => `${ns}/${name}`;
  const store = {
    objects,
    writes: 0,
    async get(ns: string | undefined, name: string) {
      const o = objects.get(key(ns, name));
      if (!o) throw notFound({ group: "", resource: kind }, name);
      return structuredClone(o);
    },
    async create(ns: string | undefined, body: KObject) {
      const name = body.metadata?.name ?? "";
      if (objects.has(key(ns, name))) throw alreadyExists({ group: "", resource: kind }, name);
      store.writes++;
      objects.set(key(ns, name), structuredClone(body));
      return body;
    },
    async update(ns: string | undefined, name: string, body: KObject) {
      store.writes++;
      objects.set(key(ns, name), structuredClone(body));
      return body;
    },
    async delete(ns: string | undefined, name: string) {
      store.writes++;
      objects.delete(key(ns, name));
      return {};
    },
  };
  return store;
}

function deps(port = 10053) {
  return { services: memory("services"), endpoints: memory("endpoints"), endpointSlices: memory("endpointslices"), dnsIP: "192.168.5.4", dnsPort: port, nodeName: "node-a" };
}

describe("kube-dns Service reconcile", () => {
  it("creates the Service, Endpoints and EndpointSlice once", async () => {
    const d = deps();
    assert.deepEqual(await reconcileKubeDnsService(d), { service: "created", endpoints: "created", endpointSlice: "created" });
    const svc = d.services.objects.get("kube-system/kube-dns")!;
    assert.deepEqual((svc.spec as { clusterIP: string }).clusterIP, "10.43.0.10");
    assert.equal(svc.metadata?.labels?.["k8s-app"], "kube-dns");
    const slice = d.endpointSlices.objects.get("kube-system/kube-dns")!;
    assert.deepEqual(slice.endpoints, [{ addresses: ["192.168.5.4"], conditions: { ready: true, serving: true, terminating: false }, nodeName: "node-a" }]);
    assert.deepEqual(slice.ports, [
      { name: "dns", protocol: "UDP", port: 10053 },
      { name: "dns-tcp", protocol: "TCP", port: 10053 },
    ]);
    const writes = d.services.writes + d.endpoints.writes + d.endpointSlices.writes;
    assert.deepEqual(await reconcileKubeDnsService(d), { service: "unchanged", endpoints: "unchanged", endpointSlice: "unchanged" });
    assert.equal(d.services.writes + d.endpoints.writes + d.endpointSlices.writes, writes);
  });

  it("follows the DNS server to a new port and address family", async () => {
    const d = deps();
    await reconcileKubeDnsService(d);
    const moved = { ...d, dnsPort: 20053, dnsIP: "fd00::4" };
    assert.deepEqual(await reconcileKubeDnsService(moved), { service: "updated", endpoints: "updated", endpointSlice: "updated" });
    const slice = d.endpointSlices.objects.get("kube-system/kube-dns")!;
    assert.equal(slice.addressType, "IPv6");
    assert.deepEqual((slice.endpoints as { addresses: string[] }[])[0]!.addresses, ["fd00::4"]);
  });

  it("takes back a selector and ports changed by hand, keeping other labels", async () => {
    const d = deps();
    await reconcileKubeDnsService(d);
    const svc = d.services.objects.get("kube-system/kube-dns")!;
    (svc.spec as Record<string, unknown>).selector = { app: "coredns" };
    (svc.spec as Record<string, unknown>).ports = [];
    svc.metadata!.labels = { team: "net" };
    assert.equal((await reconcileKubeDnsService(d)).service, "updated");
    const now = d.services.objects.get("kube-system/kube-dns")!;
    assert.equal((now.spec as Record<string, unknown>).selector, undefined);
    assert.equal((now.spec as { ports: unknown[] }).ports.length, 3);
    assert.equal(now.metadata?.labels?.team, "net");
  });

  it("leaves a kube-dns Service with another ClusterIP alone and reports it", async () => {
    const d = deps();
    d.services.objects.set("kube-system/kube-dns", { metadata: { name: "kube-dns", namespace: "kube-system" }, spec: { clusterIP: "10.43.0.99", ports: [] } });
    const r = await reconcileKubeDnsService(d);
    assert.equal(r.service, "failed");
    assert.equal((d.services.objects.get("kube-system/kube-dns")!.spec as { clusterIP: string }).clusterIP, "10.43.0.99");
    // The endpoints still point at the server (a Service fixed by hand then works at once).
    assert.equal(r.endpointSlice, "created");
  });
});
