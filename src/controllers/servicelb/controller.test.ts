import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import type { Node, Service } from "kubernetes-types/core/v1.js";
import { FakeListerWatcher, runningInformer } from "../common/testing.js";
import { type ServiceLBApi, ServiceLBController } from "./controller.js";
import { desiredIngress } from "./ingress.js";

const stops: AbortController[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s.abort();
});

function node(name: string, ip: string, o: { ready?: boolean; external?: string; labels?: Record<string, string>; unschedulable?: boolean } = {}): Node {
  return {
    metadata: { name, resourceVersion: "1", ...(o.labels ? { labels: o.labels } : {}) },
    spec: o.unschedulable ? { unschedulable: true } : {},
    status: {
      addresses: [{ type: "InternalIP", address: ip }, ...(o.external ? [{ type: "ExternalIP", address: o.external }] : [])],
      conditions: [{ type: "Ready", status: o.ready === false ? "False" : "True" }],
    },
  };
}

function service(name: string, spec: Service["spec"], status?: Service["status"]): Service {
  return { metadata: { name, namespace: "default", resourceVersion: "1" }, spec, ...(status ? { status } : {}) };
}

describe("ServiceLB ingress addresses", () => {
  it("lists Ready, schedulable nodes' addresses, ExternalIP first, sorted, without loopback or duplicates", () => {
    const got = desiredIngress([
      node("b", "10.0.0.2"),
      node("a", "10.0.0.9", { external: "192.0.2.1" }),
      node("c", "10.0.0.3", { ready: false }),
      node("d", "10.0.0.4", { unschedulable: true }),
      node("sim", "127.1.0.1"),
      node("e", "10.0.0.2"),
    ]);
    assert.deepEqual(got, [
      { ip: "10.0.0.2", ipMode: "VIP" },
      { ip: "192.0.2.1", ipMode: "VIP" },
    ]);
  });
  it("limits to nodes labelled enablelb=true once any node is", () => {
    const got = desiredIngress([node("a", "10.0.0.1", { labels: { "svccontroller.k3s.cattle.io/enablelb": "true" } }), node("b", "10.0.0.2")]);
    assert.deepEqual(got, [{ ip: "10.0.0.1", ipMode: "VIP" }]);
  });
});

describe("ServiceLB controller", () => {
  async function harness(services: Service[], nodes: Node[]) {
    const stop = new AbortController();
    stops.push(stop);
    const svcSource = new FakeListerWatcher<Service>(services);
    const nodeSource = new FakeListerWatcher<Node>(nodes);
    const writes: Service[] = [];
    const api: ServiceLBApi = {
      updateStatus: async (svc) => {
        writes.push(svc);
        return svc;
      },
    };
    const controller = new ServiceLBController({
      services: await runningInformer(svcSource, stop.signal),
      nodes: await runningInformer(nodeSource, stop.signal),
      api,
    });
    return { controller, writes };
  }

  it("sets the node addresses on a LoadBalancer Service", async () => {
    const { controller, writes } = await harness([service("web", { type: "LoadBalancer", ports: [{ port: 80 }] })], [node("n1", "10.0.0.1")]);
    await controller.sync("default/web");
    assert.deepEqual(writes[0]?.status?.loadBalancer, { ingress: [{ ip: "10.0.0.1", ipMode: "VIP" }] });
  });
  it("leaves a Service that already says the right thing, and Services of another loadBalancerClass", async () => {
    const { controller, writes } = await harness(
      [
        service("web", { type: "LoadBalancer" }, { loadBalancer: { ingress: [{ ip: "10.0.0.1", ipMode: "VIP" }] } }),
        service("other", { type: "LoadBalancer", loadBalancerClass: "example.com/lb" }),
      ],
      [node("n1", "10.0.0.1")],
    );
    await controller.sync("default/web");
    await controller.sync("default/other");
    assert.equal(writes.length, 0);
  });
  it("clears the addresses once the Service is no longer a LoadBalancer", async () => {
    const { controller, writes } = await harness([service("web", { type: "ClusterIP" }, { loadBalancer: { ingress: [{ ip: "10.0.0.1" }] } })], [node("n1", "10.0.0.1")]);
    await controller.sync("default/web");
    assert.deepEqual(writes[0]?.status?.loadBalancer, {});
  });
});
