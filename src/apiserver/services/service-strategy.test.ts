import assert from "node:assert/strict";
import { after, test } from "node:test";
import { findResource } from "../../api/resources.js";
import { StatusError } from "../../machinery/status-error.js";
import { openMemoryStore } from "../../storage/backends/memory/memory-store.js";
import { RevisionMismatchError } from "../../storage/errors.js";
import type { Store } from "../../storage/store.js";
import { ObjectStore } from "../registry/object-store.js";
import type { KObject } from "../registry/types.js";
import { serviceStrategy } from "./service-strategy.js";

const SERVICES = findResource("", "v1", "services")!;
const stores: Store[] = [];
after(async () => {
  for (const s of stores) await s.close();
});

function setup(opts: Parameters<typeof serviceStrategy>[1] = {}) {
  const store = openMemoryStore();
  stores.push(store);
  const strategy = serviceStrategy(store, opts);
  const services = new ObjectStore({ store, resource: SERVICES, strategy });
  return { store, strategy, services };
}

type Spec = Record<string, unknown>;
const svc = (name: string, spec: Spec): KObject => ({ metadata: { name }, spec: { ports: [{ port: 80 }], ...spec } });
const spec = (o: KObject) => o.spec as Spec & { clusterIP?: string; clusterIPs?: string[]; ports: Array<Record<string, unknown>> };

/** Asserts a 422 whose message is exactly `message`. */
async function rejects422(p: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof StatusError, String(e));
    assert.equal(e.code, 422);
    assert.equal(e.status.message, message);
    return true;
  });
}

test("a ClusterIP Service gets an address from the range, upstream-shaped", async () => {
  const { services, strategy } = setup();
  const o = await services.create("default", svc("web", { selector: { app: "web" } }));
  const s = spec(o);
  assert.match(s.clusterIP!, /^10\.43\.\d+\.\d+$/);
  assert.ok(strategy.ips.contains(s.clusterIP!));
  assert.ok(strategy.ips.offsetOf(s.clusterIP!)! >= strategy.ips.staticBand, "dynamic IPs come from the upper band");
  assert.deepEqual(s.clusterIPs, [s.clusterIP]);
  assert.deepEqual(s.ipFamilies, ["IPv4"]);
  assert.equal(s.ipFamilyPolicy, "SingleStack");
  assert.equal(s.type, "ClusterIP");
  assert.equal(s.internalTrafficPolicy, "Cluster");
  assert.deepEqual(s.ports, [{ port: 80, protocol: "TCP", targetPort: 80 }]);
  assert.deepEqual(o.status, { loadBalancer: {} });
  assert.equal(await strategy.ips.has(s.clusterIP!), true);
  // Stored as returned.
  assert.deepEqual((await services.get("default", "web")).spec, o.spec);
});

test("a requested ClusterIP is honoured; taken or out of range is a 422 with upstream's message", async () => {
  const { services } = setup();
  const a = await services.create("default", svc("a", { clusterIP: "10.43.0.5" }));
  assert.equal(spec(a).clusterIP, "10.43.0.5");
  assert.deepEqual(spec(a).clusterIPs, ["10.43.0.5"]);
  await rejects422(
    services.create("default", svc("b", { clusterIP: "10.43.0.5" })),
    'Service "b" is invalid: spec.clusterIPs: Invalid value: []string{"10.43.0.5"}: failed to allocate IP 10.43.0.5: provided IP is already allocated',
  );
  await rejects422(
    services.create("default", svc("c", { clusterIP: "10.44.0.5" })),
    'Service "c" is invalid: spec.clusterIPs: Invalid value: []string{"10.44.0.5"}: failed to allocate IP 10.44.0.5: the provided IP (10.44.0.5) is not in the valid range. The range of valid IPs is 10.43.0.0/16',
  );
  await rejects422(
    services.create("default", svc("d", { clusterIP: "not-an-ip" })),
    'Service "d" is invalid: spec.clusterIPs[0]: Invalid value: "not-an-ip": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
  );
  await rejects422(
    services.create("default", svc("e", { clusterIP: "fd00::10" })),
    'Service "e" is invalid: spec.clusterIPs[0]: Invalid value: []string{"fd00::10"}: IPv6 is not configured on this cluster',
  );
  await rejects422(
    services.create("default", svc("f", { ipFamilyPolicy: "RequireDualStack" })),
    'Service "f" is invalid: spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services',
  );
});

test("deleting a Service releases its IP for reuse", async () => {
  const { services, strategy } = setup();
  await services.create("default", svc("a", { clusterIP: "10.43.0.5" }));
  await services.delete("default", "a");
  assert.equal(await strategy.ips.has("10.43.0.5"), false);
  const again = await services.create("default", svc("b", { clusterIP: "10.43.0.5" }));
  assert.equal(spec(again).clusterIP, "10.43.0.5");
});

test("headless and ExternalName Services get no IP", async () => {
  const { services, strategy } = setup();
  const free = await strategy.ips.free();
  const h = await services.create("default", svc("h", { clusterIP: "None", selector: { app: "h" } }));
  assert.equal(spec(h).clusterIP, "None");
  assert.deepEqual(spec(h).clusterIPs, ["None"]);
  assert.deepEqual(spec(h).ipFamilies, ["IPv4"]);
  assert.equal(spec(h).ipFamilyPolicy, "SingleStack");
  // Headless without a selector defaults to RequireDualStack, as upstream.
  const hs = await services.create("default", { metadata: { name: "hs" }, spec: { clusterIP: "None" } });
  assert.equal(spec(hs).ipFamilyPolicy, "RequireDualStack");
  assert.deepEqual(spec(hs).ipFamilies, ["IPv4", "IPv6"]);
  const x = await services.create("default", { metadata: { name: "x" }, spec: { type: "ExternalName", externalName: "example.com" } });
  assert.equal(spec(x).clusterIP, undefined);
  assert.equal(spec(x).clusterIPs, undefined);
  assert.equal(spec(x).ipFamilies, undefined);
  assert.equal(await strategy.ips.free(), free);
  await rejects422(
    services.create("default", { metadata: { name: "y" }, spec: { type: "ExternalName" } }),
    'Service "y" is invalid: spec.externalName: Required value',
  );
  await services.delete("default", "h");
  await services.delete("default", "x");
  assert.equal(await strategy.ips.free(), free);
});

test("NodePort Services get node ports in range; requested ones are honoured or refused", async () => {
  const { services, strategy } = setup();
  const n = await services.create("default", svc("n", { type: "NodePort", ports: [{ name: "http", port: 80 }, { name: "https", port: 443 }] }));
  const [p0, p1] = spec(n).ports.map((p) => p.nodePort as number);
  for (const p of [p0!, p1!]) {
    assert.ok(p >= 30086 && p <= 32767, `dynamic node port ${p} above the static band`);
    assert.equal(await strategy.nodePorts.has(p), true);
  }
  assert.notEqual(p0, p1);
  assert.equal(spec(n).externalTrafficPolicy, "Cluster");
  const m = await services.create("default", svc("m", { type: "NodePort", ports: [{ port: 80, nodePort: 30080 }] }));
  assert.equal(spec(m).ports[0]!.nodePort, 30080);
  await rejects422(
    services.create("default", svc("o", { type: "NodePort", ports: [{ port: 80, nodePort: 30080 }] })),
    'Service "o" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated',
  );
  await rejects422(
    services.create("default", svc("q", { type: "NodePort", ports: [{ port: 80, nodePort: 8080 }] })),
    'Service "q" is invalid: spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767',
  );
  // The failed creates gave back the ClusterIPs they took.
  assert.equal((await strategy.ips.used()).length, 2);
  // TCP and UDP on one port share a node port on create.
  const d = await services.create(
    "default",
    svc("dns", {
      type: "NodePort",
      ports: [
        { name: "dns", port: 53, protocol: "UDP" },
        { name: "dns-tcp", port: 53, protocol: "TCP" },
      ],
    }),
  );
  assert.equal(spec(d).ports[0]!.nodePort, spec(d).ports[1]!.nodePort);
  await services.delete("default", "n");
  assert.equal(await strategy.nodePorts.has(p0!), false);
  assert.equal(await strategy.nodePorts.has(p1!), false);
});

test("LoadBalancer: node ports unless allocateLoadBalancerNodePorts=false; Local gets a healthCheckNodePort", async () => {
  const { services, strategy } = setup();
  const lb = await services.create("default", svc("lb", { type: "LoadBalancer" }));
  assert.equal(spec(lb).allocateLoadBalancerNodePorts, true);
  assert.ok(typeof spec(lb).ports[0]!.nodePort === "number");
  const nolb = await services.create("default", svc("nolb", { type: "LoadBalancer", allocateLoadBalancerNodePorts: false }));
  assert.equal(spec(nolb).ports[0]!.nodePort, undefined);
  const local = await services.create("default", svc("local", { type: "LoadBalancer", externalTrafficPolicy: "Local" }));
  const hc = spec(local).healthCheckNodePort as number;
  assert.ok(hc >= 30000 && hc <= 32767);
  assert.equal(await strategy.nodePorts.has(hc), true);
  await services.delete("default", "local");
  assert.equal(await strategy.nodePorts.has(hc), false);
});

test("type changes: ClusterIP→NodePort allocates, back releases; →ExternalName releases the IP", async () => {
  const { services, strategy } = setup();
  const c = await services.create("default", svc("c", {}));
  const ip = spec(c).clusterIP!;
  // A client flips the type on what it read.
  const toNodePort = structuredClone(c);
  spec(toNodePort).type = "NodePort";
  const { object: np } = await services.update("default", "c", toNodePort);
  const port = spec(np).ports[0]!.nodePort as number;
  assert.ok(port >= 30000 && port <= 32767);
  assert.equal(await strategy.nodePorts.has(port), true);
  assert.equal(spec(np).clusterIP, ip);
  assert.equal(spec(np).externalTrafficPolicy, "Cluster");

  const back = structuredClone(np);
  spec(back).type = "ClusterIP";
  const { object: cip } = await services.update("default", "c", back);
  assert.equal(spec(cip).ports[0]!.nodePort, undefined, "unchanged node ports are dropped");
  assert.equal(spec(cip).externalTrafficPolicy, undefined);
  assert.equal(await strategy.nodePorts.has(port), false);
  assert.equal(spec(cip).clusterIP, ip);

  const toExt = structuredClone(cip);
  spec(toExt).type = "ExternalName";
  spec(toExt).externalName = "example.com";
  const { object: ext } = await services.update("default", "c", toExt);
  assert.equal(spec(ext).clusterIP, undefined);
  assert.equal(spec(ext).clusterIPs, undefined);
  assert.equal(spec(ext).ipFamilies, undefined);
  assert.equal(await strategy.ips.has(ip), false);

  const fromExt = structuredClone(ext);
  spec(fromExt).type = "ClusterIP";
  delete spec(fromExt).externalName;
  const { object: again } = await services.update("default", "c", fromExt);
  assert.ok(strategy.ips.contains(spec(again).clusterIP!));
  assert.equal(await strategy.ips.has(spec(again).clusterIP!), true);
});

test("clusterIP is immutable; re-applying the original manifest keeps allocated values", async () => {
  const { services } = setup();
  const manifest = svc("web", { type: "NodePort", ports: [{ name: "http", port: 80 }] });
  const created = await services.create("default", manifest);
  // Re-PUT of the manifest that has neither clusterIP nor nodePort: a no-op.
  const { object: same } = await services.update("default", "web", structuredClone(manifest));
  assert.equal(same.metadata!.resourceVersion, created.metadata!.resourceVersion);
  assert.equal(spec(same).clusterIP, spec(created).clusterIP);
  assert.equal(spec(same).ports[0]!.nodePort, spec(created).ports[0]!.nodePort);

  const changed = structuredClone(created);
  spec(changed).clusterIP = "10.43.0.99";
  await rejects422(
    services.update("default", "web", changed),
    'Service "web" is invalid: spec.clusterIPs[0]: Invalid value: []string{"10.43.0.99"}: may not change once set',
  );
});

test("dry runs allocate nothing but still report conflicts", async () => {
  const { services, strategy } = setup();
  await services.create("default", svc("taken", { clusterIP: "10.43.0.5", type: "NodePort", ports: [{ port: 80, nodePort: 30080 }] }));
  const freeIPs = await strategy.ips.free();
  const freePorts = await strategy.nodePorts.free();

  const dry = await services.create("default", svc("dry", { type: "NodePort" }), { dryRun: true });
  assert.equal(spec(dry).clusterIP, "10.43.0.0", "upstream's dry-run placeholder");
  assert.equal(spec(dry).ports[0]!.nodePort, 32769, "upstream's dry-run placeholder");
  await rejects422(
    services.create("default", svc("dry2", { clusterIP: "10.43.0.5" }), { dryRun: true }),
    'Service "dry2" is invalid: spec.clusterIPs: Invalid value: []string{"10.43.0.5"}: failed to allocate IP 10.43.0.5: provided IP is already allocated',
  );
  await rejects422(
    services.create("default", svc("dry3", { type: "NodePort", ports: [{ port: 80, nodePort: 30080 }] }), { dryRun: true }),
    'Service "dry3" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated',
  );
  await assert.rejects(services.get("default", "dry"), /not found/);

  const c = await services.create("default", svc("c", {}));
  const afterCreate = await strategy.ips.free();
  const toNodePort = structuredClone(c);
  spec(toNodePort).type = "NodePort";
  const { object: dryUpdate } = await services.update("default", "c", toNodePort, { dryRun: true });
  assert.equal(typeof spec(dryUpdate).ports[0]!.nodePort, "number");
  assert.equal(await strategy.nodePorts.free(), freePorts);
  assert.equal(spec(await services.get("default", "c")).type, "ClusterIP");

  await services.delete("default", "c", { dryRun: true });
  assert.equal(await strategy.ips.free(), afterCreate);
  assert.equal(afterCreate, freeIPs - 1);
});

test("a create that fails after allocating gives everything back", async () => {
  const { services, strategy } = setup();
  await services.create("default", svc("dup", { type: "NodePort" }));
  const ips = await strategy.ips.free();
  const ports = await strategy.nodePorts.free();
  await assert.rejects(services.create("default", svc("dup", { type: "NodePort" })), /already exists/);
  assert.equal(await strategy.ips.free(), ips);
  assert.equal(await strategy.nodePorts.free(), ports);
});

test("200 concurrent creates on two API servers sharing a store: no duplicate IPs or node ports", async () => {
  const store = openMemoryStore();
  stores.push(store);
  const a = new ObjectStore({ store, resource: SERVICES, strategy: serviceStrategy(store) });
  const b = new ObjectStore({ store, resource: SERVICES, strategy: serviceStrategy(store) });
  const created = await Promise.all(
    Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).create("default", svc(`s${i}`, { type: i % 4 < 2 ? "NodePort" : "ClusterIP" }))),
  );
  const ips = created.map((o) => spec(o).clusterIP!);
  assert.equal(new Set(ips).size, 200);
  const ports = created.flatMap((o) => spec(o).ports.map((p) => p.nodePort)).filter((p) => p !== undefined);
  assert.equal(ports.length, 100);
  assert.equal(new Set(ports).size, 100);
  const strategy = serviceStrategy(store);
  assert.deepEqual((await strategy.ips.used()).sort(), [...ips].sort());
  assert.equal((await strategy.nodePorts.used()).length, 100);
  await Promise.all(created.map((o, i) => (i % 2 ? b : a).delete("default", o.metadata!.name!)));
  assert.equal((await strategy.ips.used()).length, 0);
  assert.equal((await strategy.nodePorts.used()).length, 0);
});

test("a custom service CIDR and node port range are honoured", async () => {
  const { services } = setup({ serviceCIDR: "10.96.0.0/12", nodePortRange: [31000, 31099] });
  const o = await services.create("default", svc("a", { type: "NodePort" }));
  assert.match(spec(o).clusterIP!, /^10\.(9[6-9]|10[0-9]|11[01])\./);
  const p = spec(o).ports[0]!.nodePort as number;
  assert.ok(p >= 31000 && p <= 31099);
  await rejects422(
    services.create("default", svc("b", { clusterIP: "10.43.0.1" })),
    'Service "b" is invalid: spec.clusterIPs: Invalid value: []string{"10.43.0.1"}: failed to allocate IP 10.43.0.1: the provided IP (10.43.0.1) is not in the valid range. The range of valid IPs is 10.96.0.0/12',
  );
});

test("an update whose write fails takes back what it allocated and what it released", async () => {
  const store = openMemoryStore();
  stores.push(store);
  let failNext = false;
  // A store whose next Service write loses a compare-and-swap race.
  const flaky = new Proxy(store, {
    get(target, prop) {
      if (prop === "update") {
        return async (key: string, value: Uint8Array, rev: number) => {
          if (failNext && key.startsWith("/registry/services/specs/")) {
            failNext = false;
            const { kv } = await target.get(key);
            throw new RevisionMismatchError(key, rev, kv!);
          }
          return target.update(key, value, rev);
        };
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  const strategy = serviceStrategy(store);
  const services = new ObjectStore({ store: flaky, resource: SERVICES, strategy });
  const created = await services.create("default", svc("s", { type: "NodePort", ports: [{ name: "a", port: 80, nodePort: 30080 }] }));
  const next = structuredClone(created);
  // Swap the node port: 30081 gets allocated, 30080 released.
  spec(next).ports = [{ name: "a", port: 80, nodePort: 30081 }];
  failNext = true;
  await assert.rejects(services.update("default", "s", next), (e: unknown) => e instanceof StatusError && e.code === 409);
  assert.equal(await strategy.nodePorts.has(30080), true, "the released port is held again");
  assert.equal(await strategy.nodePorts.has(30081), false, "the new port is given back");
  const { object } = await services.update("default", "s", next);
  assert.equal(spec(object).ports[0]!.nodePort, 30081);
  assert.equal(await strategy.nodePorts.has(30080), false);
  assert.equal(await strategy.nodePorts.has(30081), true);
});

test("PUT may create a Service, as upstream", async () => {
  const { services, strategy } = setup();
  const { object, created } = await services.update("default", "put", svc("put", {}));
  assert.equal(created, true);
  assert.equal(await strategy.ips.has(spec(object).clusterIP!), true);
});
