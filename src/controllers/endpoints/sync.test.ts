import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Endpoints, Pod, Service } from "kubernetes-types/core/v1.js";
import { silentLogger } from "../../machinery/log.js";
import { forbidden } from "../../machinery/status-error.js";
import { TriggerTimeTracker } from "../endpointslice/util/trigger-time-tracker.js";
import { CONTROLLER_NAME, type EndpointsSyncDeps, MANAGED_BY_LABEL, syncEndpoints } from "./sync.js";

interface Fake {
  deps: EndpointsSyncDeps;
  calls: string[];
  services: Map<string, Service>;
  endpoints: Map<string, Endpoints>;
  pods: Pod[];
}

function fake(opts: { createError?: Error } = {}): Fake {
  const services = new Map<string, Service>();
  const endpoints = new Map<string, Endpoints>();
  const pods: Pod[] = [];
  const calls: string[] = [];
  let rv = 10;
  const deps: EndpointsSyncDeps = {
    service: (k) => services.get(k),
    podsIn: (ns) => pods.filter((p) => p.metadata?.namespace === ns),
    endpoints: (k) => endpoints.get(k),
    writer: {
      async create(ns, ep) {
        calls.push(`create ${ns}/${ep.metadata?.name}`);
        if (opts.createError) throw opts.createError;
        const stored = { ...structuredClone(ep), metadata: { ...ep.metadata, resourceVersion: String(++rv) } };
        endpoints.set(`${ns}/${ep.metadata?.name}`, stored);
        return stored;
      },
      async update(ns, ep) {
        calls.push(`update ${ns}/${ep.metadata?.name}`);
        const stored = { ...structuredClone(ep), metadata: { ...ep.metadata, resourceVersion: String(++rv) } };
        endpoints.set(`${ns}/${ep.metadata?.name}`, stored);
        return stored;
      },
      async delete(ns, name) {
        calls.push(`delete ${ns}/${name}`);
        endpoints.delete(`${ns}/${name}`);
      },
    },
    triggerTimes: new TriggerTimeTracker(),
    warn: (_r, reason) => calls.push(`event ${reason}`),
    log: silentLogger,
  };
  return { deps, calls, services, endpoints, pods };
}

const web: Service = {
  metadata: { name: "web", namespace: "ns", labels: { tier: "front" }, creationTimestamp: "2024-01-01T00:00:00Z" },
  spec: { selector: { app: "web" }, clusterIP: "10.43.0.9", ipFamilies: ["IPv4"], ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }] },
};

function pod(name: string, ip: string, ready = true): Pod {
  return {
    metadata: { name, namespace: "ns", uid: `uid-${name}`, labels: { app: "web" } },
    spec: { nodeName: "n1", containers: [{ name: "c" }] },
    status: { podIP: ip, podIPs: [{ ip }], conditions: [{ type: "Ready", status: ready ? "True" : "False" }] },
  };
}

describe("syncEndpoints", () => {
  it("creates labelled, annotated Endpoints and then leaves them alone", async () => {
    const f = fake();
    f.services.set("ns/web", web);
    f.pods.push(pod("a", "10.0.0.1"), pod("b", "10.0.0.2", false));
    await syncEndpoints(f.deps, "ns/web");
    assert.deepEqual(f.calls, ["create ns/web"]);
    const ep = f.endpoints.get("ns/web")!;
    assert.deepEqual(ep.metadata?.labels, { tier: "front", [MANAGED_BY_LABEL]: CONTROLLER_NAME });
    assert.equal(ep.metadata?.annotations?.["endpoints.kubernetes.io/last-change-trigger-time"], "2024-01-01T00:00:00Z");
    assert.equal(ep.subsets?.length, 1);
    assert.equal(ep.subsets![0]!.addresses![0]!.ip, "10.0.0.1");
    assert.equal(ep.subsets![0]!.notReadyAddresses![0]!.ip, "10.0.0.2");

    await syncEndpoints(f.deps, "ns/web");
    assert.deepEqual(f.calls, ["create ns/web"], "nothing changed: no write");

    f.pods[1] = pod("b", "10.0.0.2", true);
    await syncEndpoints(f.deps, "ns/web");
    assert.deepEqual(f.calls, ["create ns/web", "update ns/web"]);
    assert.equal(f.endpoints.get("ns/web")!.subsets![0]!.addresses!.length, 2);
  });

  it("labels the Endpoints of a headless Service", async () => {
    const f = fake();
    f.services.set("ns/web", { ...web, spec: { ...web.spec, clusterIP: "None" } });
    await syncEndpoints(f.deps, "ns/web");
    assert.equal(f.endpoints.get("ns/web")!.metadata?.labels?.["service.kubernetes.io/headless"], "");
  });

  it("deletes the Endpoints of a deleted Service", async () => {
    const f = fake();
    f.endpoints.set("ns/gone", { metadata: { name: "gone", namespace: "ns" } });
    await syncEndpoints(f.deps, "ns/gone");
    assert.deepEqual(f.calls, ["delete ns/gone"]);
  });

  it("leaves the Endpoints of a Service without a selector, unless it made them", async () => {
    const f = fake();
    const manual: Service = { metadata: { name: "kubernetes", namespace: "default" }, spec: { ports: [{ port: 443 }] } };
    f.services.set("default/kubernetes", manual);
    f.endpoints.set("default/kubernetes", { metadata: { name: "kubernetes", namespace: "default" }, subsets: [{ addresses: [{ ip: "192.0.2.1" }] }] });
    await syncEndpoints(f.deps, "default/kubernetes");
    assert.deepEqual(f.calls, []);

    f.services.set("ns/old", { metadata: { name: "old", namespace: "ns" }, spec: {} });
    f.endpoints.set("ns/old", { metadata: { name: "old", namespace: "ns", labels: { [MANAGED_BY_LABEL]: CONTROLLER_NAME } } });
    await syncEndpoints(f.deps, "ns/old");
    assert.deepEqual(f.calls, ["delete ns/old"]);
  });

  it("gives ExternalName Services no Endpoints", async () => {
    const f = fake();
    f.services.set("ns/ext", { metadata: { name: "ext", namespace: "ns" }, spec: { type: "ExternalName", externalName: "example.com", selector: { app: "web" } } });
    await syncEndpoints(f.deps, "ns/ext");
    assert.deepEqual(f.calls, []);
  });

  it("drops a create refused in a terminating namespace, reports other failures", async () => {
    const terminating = forbidden('endpoints "web" is forbidden: unable to create new content in namespace ns because it is being terminated');
    const f = fake({ createError: terminating });
    f.services.set("ns/web", web);
    await syncEndpoints(f.deps, "ns/web");
    assert.deepEqual(f.calls, ["create ns/web"]);

    const g = fake({ createError: new Error("boom") });
    g.services.set("ns/web", web);
    await assert.rejects(syncEndpoints(g.deps, "ns/web"), /boom/);
    assert.deepEqual(g.calls, ["create ns/web", "event FailedToCreateEndpoint"]);
  });
});
