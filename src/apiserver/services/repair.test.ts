import assert from "node:assert/strict";
import { after, test } from "node:test";
import { findResource } from "../../api/resources.js";
import { openMemoryStore } from "../../storage/backends/memory/memory-store.js";
import type { Store } from "../../storage/store.js";
import { ObjectStore } from "../registry/object-store.js";
import { SERVICE_IPS_KEY } from "./ip-allocator.js";
import { SERVICE_NODE_PORTS_KEY } from "./port-allocator.js";
import { ServiceAllocationRepair } from "./repair.js";
import { serviceStrategy } from "./service-strategy.js";

const SERVICES = findResource("", "v1", "services")!;
const stores: Store[] = [];
after(async () => {
  for (const s of stores) await s.close();
});

function setup(cidr?: string) {
  const store = openMemoryStore();
  stores.push(store);
  const strategy = serviceStrategy(store, { serviceCIDR: cidr });
  const services = new ObjectStore({ store, resource: SERVICES, strategy });
  const repair = new ServiceAllocationRepair({ services, ips: strategy.ips, nodePorts: strategy.nodePorts });
  return { store, strategy, services, repair };
}

test("a lost bitmap is rebuilt from the Services", async () => {
  const { store, strategy, services, repair } = setup();
  const a = await services.create("default", { metadata: { name: "a" }, spec: { type: "NodePort", ports: [{ port: 80 }] } });
  const b = await services.create("kube-system", { metadata: { name: "b" }, spec: { clusterIP: "10.43.0.10", ports: [{ port: 53 }] } });
  await store.delete(SERVICE_IPS_KEY);
  await store.delete(SERVICE_NODE_PORTS_KEY);
  const rep = await repair.runOnce();
  const ipA = (a.spec as { clusterIP: string }).clusterIP;
  assert.deepEqual(rep.clusterIPs.repaired.sort(), [`${ipA} default/a`, "10.43.0.10 kube-system/b"].sort());
  assert.deepEqual((await strategy.ips.used()).sort(), [ipA, "10.43.0.10"].sort());
  const np = (a.spec as { ports: { nodePort: number }[] }).ports[0]!.nodePort;
  assert.deepEqual(rep.nodePorts.repaired, [`${np} default/a`]);
  assert.deepEqual(await strategy.nodePorts.used(), [np]);
  assert.ok(b);
  // A second pass finds nothing to do.
  const again = await repair.runOnce();
  assert.deepEqual(again.clusterIPs.repaired, []);
  assert.equal(again.clusterIPs.leaksKept, 0);
});

test("leaked values are freed only after three passes", async () => {
  const { strategy, repair } = setup();
  await strategy.ips.allocate("10.43.7.7"); // allocated, no Service: a crash before the write
  for (let i = 1; i <= 2; i++) {
    const rep = await repair.runOnce();
    assert.equal(rep.clusterIPs.leaksKept, 1, `pass ${i} keeps it`);
    assert.equal(await strategy.ips.has("10.43.7.7"), true);
  }
  const rep = await repair.runOnce();
  assert.deepEqual(rep.clusterIPs.leaksReleased, ["10.43.7.7"]);
  assert.equal(await strategy.ips.has("10.43.7.7"), false);
});

test("a changed service CIDR is adopted; Services outside it are reported", async () => {
  const old = setup("10.96.0.0/12");
  await old.services.create("default", { metadata: { name: "old" }, spec: { ports: [{ port: 80 }] } });
  // Same store, new range.
  const strategy = serviceStrategy(old.store);
  const services = new ObjectStore({ store: old.store, resource: SERVICES, strategy });
  await assert.rejects(services.create("default", { metadata: { name: "new" }, spec: { ports: [{ port: 80 }] } }), /the provided network does not match the current range/);
  const rep = await new ServiceAllocationRepair({ services, ips: strategy.ips, nodePorts: strategy.nodePorts }).runOnce();
  assert.equal(rep.clusterIPs.rangeChanged, true);
  assert.equal(rep.clusterIPs.outOfRange.length, 1);
  assert.match(rep.clusterIPs.outOfRange[0]!, / default\/old$/);
  const created = await services.create("default", { metadata: { name: "new" }, spec: { ports: [{ port: 80 }] } });
  assert.match((created.spec as { clusterIP: string }).clusterIP, /^10\.43\./);
});
