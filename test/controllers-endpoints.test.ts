/**
 * The Endpoints and EndpointSlice controllers through a real server and
 * real kubectl. There is no kubelet: the test plays it, binding pods to a
 * Node it created and writing pod IPs and readiness through pods/status.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ok, startTestServer, type TestServer } from "./support/cluster.js";
import { RawClient } from "./support/https-client.js";
import { eventually } from "./support/eventually.js";

const NS = "ep";

let srv: TestServer;
let raw: RawClient;
before(async () => {
  srv = await startTestServer();
  raw = RawClient.fromKubeconfig(srv.kubeconfig, srv.port);
  ok(srv.kubectl(["create", "namespace", NS]), "create namespace");
  create({ apiVersion: "v1", kind: "Node", metadata: { name: "node-a", labels: { "topology.kubernetes.io/zone": "zone-a" } } });
});
after(async () => {
  await srv?.stop();
});

// ---- helpers ----

interface Address {
  ip: string;
  nodeName?: string;
  hostname?: string;
  targetRef?: { kind: string; name: string; namespace: string; uid: string };
}
interface Subset {
  addresses?: Address[];
  notReadyAddresses?: Address[];
  ports?: { name?: string; port: number; protocol: string }[];
}
interface EndpointsDoc {
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
  subsets?: Subset[];
}
interface SliceEndpoint {
  addresses: string[];
  conditions: { ready?: boolean; serving?: boolean; terminating?: boolean };
  targetRef?: { kind: string; name: string; namespace: string; uid: string };
  nodeName?: string;
  zone?: string;
  hostname?: string;
}
interface SliceDoc {
  metadata: {
    name: string;
    generateName?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[];
  };
  addressType: string;
  endpoints?: SliceEndpoint[] | null;
  ports?: { name?: string; port: number; protocol: string }[] | null;
}

function create(obj: unknown): { metadata: { uid: string } } {
  return JSON.parse(ok(srv.kubectl(["create", "-o", "json", "-f", "-"], { input: JSON.stringify(obj) }), "create"));
}

function pod(name: string, labels: Record<string, string>, extra: Record<string, unknown> = {}): unknown {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: NS, labels },
    spec: {
      nodeName: "node-a",
      containers: [{ name: "app", image: "busybox", ports: [{ name: "http", containerPort: 8080 }, { name: "dns", containerPort: 5353, protocol: "UDP" }] }],
      ...extra,
    },
  };
}

/** Plays the kubelet: writes the pod's IP and Ready condition. */
async function setStatus(name: string, ip: string | undefined, ready: boolean): Promise<void> {
  const status: Record<string, unknown> = {
    phase: "Running",
    conditions: [{ type: "Ready", status: ready ? "True" : "False", lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z") }],
  };
  if (ip) Object.assign(status, { podIP: ip, podIPs: [{ ip }] });
  const res = await raw.request({
    method: "PATCH",
    path: `/api/v1/namespaces/${NS}/pods/${name}/status`,
    body: JSON.stringify({ status }),
    contentType: "application/merge-patch+json",
  });
  assert.equal(res.code, 200, res.text);
}

function service(name: string, spec: Record<string, unknown>, labels: Record<string, string> = {}): unknown {
  return { apiVersion: "v1", kind: "Service", metadata: { name, namespace: NS, labels }, spec };
}

// Polling reads go straight to the API (cheaper than a kubectl process each time).
async function getJSON<T>(path: string): Promise<T | undefined> {
  const res = await raw.request({ path });
  if (res.code === 404) return undefined;
  assert.equal(res.code, 200, res.text);
  return JSON.parse(res.text) as T;
}

function getEndpoints(name: string, ns = NS): Promise<EndpointsDoc | undefined> {
  return getJSON<EndpointsDoc>(`/api/v1/namespaces/${ns}/endpoints/${name}`);
}

async function slicesOf(svc: string): Promise<SliceDoc[]> {
  const list = await getJSON<{ items: SliceDoc[] }>(`/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3D${svc}`);
  return list?.items ?? [];
}

async function endpointsOfSlices(svc: string): Promise<SliceEndpoint[]> {
  return (await slicesOf(svc)).flatMap((s) => s.endpoints ?? []);
}

const ips = (addrs: Address[] | undefined) => (addrs ?? []).map((a) => a.ip).sort();

/** Asserts inside a polling check: false (try again) instead of throwing. */
function holds(fn: () => void): boolean {
  try {
    fn();
    return true;
  } catch {
    return false;
  }
}

// ---- tests ----

describe("endpoints and endpoint slices", () => {
  it("list ready and not-ready pods with named and numeric ports resolved", async () => {
    create(pod("web-1", { app: "web" }));
    create(pod("web-2", { app: "web" }));
    create(pod("web-3", { app: "web" })); // never gets an IP: not an endpoint
    create(pod("other", { app: "other" }));
    await setStatus("web-1", "10.42.0.11", true);
    await setStatus("web-2", "10.42.0.12", false);
    await setStatus("other", "10.42.0.13", true);
    create(
      service(
        "web",
        {
          selector: { app: "web" },
          ports: [
            { name: "http", port: 80, targetPort: "http" },
            { name: "metrics", port: 9090, targetPort: 9100 },
            { name: "dns", port: 53, targetPort: "dns", protocol: "UDP" },
            { name: "missing", port: 81, targetPort: "nope" },
          ],
        },
        { tier: "front" },
      ),
    );

    const ep = await eventually("Endpoints web lists both pods", async () => {
      const e = await getEndpoints("web");
      return e?.subsets?.length === 1 && e.subsets[0]!.notReadyAddresses?.length === 1 ? e : undefined;
    });
    const subset = ep.subsets![0]!;
    assert.deepEqual(ips(subset.addresses), ["10.42.0.11"]);
    assert.deepEqual(ips(subset.notReadyAddresses), ["10.42.0.12"]);
    const ports = (subset.ports ?? []).map((p) => `${p.name}:${p.port}/${p.protocol}`).sort();
    assert.deepEqual(ports, ["dns:5353/UDP", "http:8080/TCP", "metrics:9100/TCP"]);
    const a = subset.addresses![0]!;
    assert.equal(a.nodeName, "node-a");
    assert.equal(a.targetRef?.kind, "Pod");
    assert.equal(a.targetRef?.name, "web-1");
    assert.equal(a.targetRef?.namespace, NS);
    assert.ok(a.targetRef?.uid);
    assert.equal(ep.metadata.labels?.tier, "front", "Endpoints carry the Service's labels");
    assert.equal(ep.metadata.labels?.["service.kubernetes.io/headless"], undefined);
    assert.match(ep.metadata.annotations?.["endpoints.kubernetes.io/last-change-trigger-time"] ?? "", /^\d{4}-\d\d-\d\dT/);

    const slices = await eventually("one EndpointSlice lists both pods", async () => {
      const s = await slicesOf("web");
      return s.length === 1 && (s[0]!.endpoints ?? []).length === 2 ? s : undefined;
    });
    const slice = slices[0]!;
    assert.match(slice.metadata.name, /^web-[a-z0-9]{5}$/);
    assert.equal(slice.metadata.labels?.["endpointslice.kubernetes.io/managed-by"], "endpointslice-controller.k8s.io");
    assert.equal(slice.metadata.labels?.tier, "front");
    assert.equal(slice.addressType, "IPv4");
    const owner = slice.metadata.ownerReferences?.[0];
    assert.equal(owner?.kind, "Service");
    assert.equal(owner?.name, "web");
    assert.equal(owner?.controller, true);
    assert.deepEqual((slice.ports ?? []).map((p) => `${p.name}:${p.port}/${p.protocol}`).sort(), ["dns:5353/UDP", "http:8080/TCP", "metrics:9100/TCP"]);
    const byPod = new Map((slice.endpoints ?? []).map((e) => [e.targetRef?.name, e]));
    assert.deepEqual(byPod.get("web-1")?.addresses, ["10.42.0.11"]);
    assert.deepEqual(byPod.get("web-1")?.conditions, { ready: true, serving: true, terminating: false });
    assert.deepEqual(byPod.get("web-2")?.conditions, { ready: false, serving: false, terminating: false });
    assert.equal(byPod.get("web-1")?.nodeName, "node-a");
    assert.equal(byPod.get("web-1")?.zone, "zone-a");
  });

  it("follow a pod turning unready, terminating and going", async () => {
    await setStatus("web-2", "10.42.0.12", true);
    await eventually("both pods ready", async () => {
      const s = (await getEndpoints("web"))?.subsets?.[0];
      return ips(s?.addresses).length === 2 && !s?.notReadyAddresses;
    });
    await setStatus("web-1", "10.42.0.11", false);
    await eventually("web-1 is not ready in Endpoints and its slice", async () => {
      const s = (await getEndpoints("web"))?.subsets?.[0];
      const e = (await endpointsOfSlices("web")).find((x) => x.targetRef?.name === "web-1");
      return ips(s?.notReadyAddresses).join() === "10.42.0.11" && e?.conditions.ready === false && e.conditions.serving === false;
    });

    // A bound pod is deleted gracefully: with no kubelet it stays terminating.
    ok(srv.kubectl(["-n", NS, "delete", "pod", "web-2", "--wait=false"]), "delete web-2");
    await eventually("terminating web-2 leaves Endpoints and is terminating in its slice", async () => {
      const s = (await getEndpoints("web"))?.subsets?.[0];
      const e = (await endpointsOfSlices("web")).find((x) => x.targetRef?.name === "web-2");
      return !ips(s?.addresses).includes("10.42.0.12") && !ips(s?.notReadyAddresses).includes("10.42.0.12") && e && holds(() => assert.deepEqual(e.conditions, { ready: false, serving: true, terminating: true }));
    });

    ok(srv.kubectl(["-n", NS, "delete", "pod", "web-2", "--grace-period=0", "--force"]), "force delete web-2");
    await eventually("web-2 is gone from its slice", async () => {
      const eps = await endpointsOfSlices("web");
      return eps.length === 1 && eps[0]!.targetRef?.name === "web-1";
    });
  });

  it("honour publishNotReadyAddresses", async () => {
    create(pod("pub-1", { app: "pub" }));
    await setStatus("pub-1", "10.42.1.1", false);
    create(service("pub", { selector: { app: "pub" }, publishNotReadyAddresses: true, ports: [{ name: "http", port: 80, targetPort: 8080 }] }));
    await eventually("the unready pod is published as ready", async () => {
      const s = (await getEndpoints("pub"))?.subsets?.[0];
      const e = (await endpointsOfSlices("pub"))[0];
      return ips(s?.addresses).join() === "10.42.1.1" && !s?.notReadyAddresses && e?.conditions.ready === true && e.conditions.serving === false;
    });
  });

  it("label headless services and give subdomain pods their hostname", async () => {
    create(pod("db-0", { app: "db" }, { hostname: "db-0", subdomain: "db" }));
    await setStatus("db-0", "10.42.2.1", true);
    create(service("db", { selector: { app: "db" }, clusterIP: "None" }));
    const ep = await eventually("headless Endpoints", async () => {
      const e = await getEndpoints("db");
      return e?.subsets?.[0]?.addresses?.length === 1 ? e : undefined;
    });
    assert.equal(ep.metadata.labels?.["service.kubernetes.io/headless"], "");
    assert.equal(ep.subsets![0]!.addresses![0]!.hostname, "db-0");
    assert.equal(ep.subsets![0]!.ports, undefined, "a headless Service without ports has port-less addresses");
    const slice = await eventually("headless slice", async () => {
      const s = (await slicesOf("db"))[0];
      return s?.endpoints?.length === 1 ? s : undefined;
    });
    assert.equal(slice.metadata.labels?.["service.kubernetes.io/headless"], "");
    assert.equal(slice.endpoints![0]!.hostname, "db-0");
    assert.deepEqual(slice.ports ?? [], []);
  });

  it("keep an empty placeholder slice for a Service without endpoints", async () => {
    create(service("empty", { selector: { app: "nobody" }, ports: [{ port: 80 }] }));
    const slice = await eventually("a placeholder slice", async () => (await slicesOf("empty"))[0]);
    assert.deepEqual(slice.endpoints ?? [], []);
    const ep = await eventually("empty Endpoints", async () => getEndpoints("empty"));
    assert.deepEqual(ep.subsets ?? [], []);
  });

  it("pack at most 100 endpoints per slice", async () => {
    const items = Array.from({ length: 150 }, (_, i) => pod(`bulk-${i}`, { app: "bulk" }));
    ok(srv.kubectl(["create", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "List", items }) }), "create pods");
    for (let i = 0; i < 150; i += 25) {
      await Promise.all(Array.from({ length: 25 }, (_, j) => setStatus(`bulk-${i + j}`, `10.42.3.${i + j + 1}`, true)));
    }
    create(service("bulk", { selector: { app: "bulk" }, ports: [{ port: 80, targetPort: 8080 }] }));
    const slices = await eventually("150 endpoints in 2 slices", async () => {
      const s = await slicesOf("bulk");
      return s.reduce((n, x) => n + (x.endpoints ?? []).length, 0) === 150 ? s : undefined;
    });
    assert.equal(slices.length, 2);
    assert.ok(slices.every((s) => (s.endpoints ?? []).length <= 100));
    const ep = await eventually("150 addresses in Endpoints", async () => {
      const e = await getEndpoints("bulk");
      return ips(e?.subsets?.[0]?.addresses).length === 150 ? e : undefined;
    });
    assert.equal(ep.metadata.annotations?.["endpoints.kubernetes.io/over-capacity"], undefined);
  });

  it("repair a slice someone else deleted", async () => {
    const before = await eventually("a slice for web", async () => (await slicesOf("web"))[0]);
    ok(srv.kubectl(["-n", NS, "delete", "endpointslice", before.metadata.name]), "delete slice");
    await eventually("a new slice for web", async () => {
      const s = await slicesOf("web");
      return s.length === 1 && s[0]!.metadata.name !== before.metadata.name && (s[0]!.endpoints ?? []).length === 1;
    });
  });

  it("remove Endpoints and slices when the Service is deleted", async () => {
    ok(srv.kubectl(["-n", NS, "delete", "service", "web"]), "delete service");
    await eventually("Endpoints web is gone", async () => (await getEndpoints("web")) === undefined);
    await eventually("the slices of web are gone", async () => (await slicesOf("web")).length === 0);
  });

  it("leave Endpoints of Services without a selector alone, default/kubernetes included", async () => {
    create(service("manual", { ports: [{ port: 80 }] }));
    create({ apiVersion: "v1", kind: "Endpoints", metadata: { name: "manual", namespace: NS }, subsets: [{ addresses: [{ ip: "192.0.2.10" }], ports: [{ port: 80 }] }] });
    const kube = await getEndpoints("kubernetes", "default");
    assert.ok(kube?.subsets?.[0]?.addresses?.length, "the API server keeps default/kubernetes");
    assert.equal(kube.metadata.labels?.["endpoints.kubernetes.io/managed-by"], undefined);
    // Give the controllers a chance to (wrongly) act, then check nothing moved.
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(ips((await getEndpoints("manual"))?.subsets?.[0]?.addresses), ["192.0.2.10"]);
    assert.equal((await slicesOf("manual")).length, 0);
    assert.deepEqual((await getEndpoints("kubernetes", "default"))?.subsets, kube.subsets);
  });

  it("remove its own Endpoints once a Service loses its selector", async () => {
    create(pod("sel-1", { app: "sel" }));
    await setStatus("sel-1", "10.42.4.1", true);
    create(service("sel", { selector: { app: "sel" }, ports: [{ port: 80, targetPort: 8080 }] }));
    await eventually("Endpoints sel", async () => ips((await getEndpoints("sel"))?.subsets?.[0]?.addresses).length === 1);
    ok(srv.kubectl(["-n", NS, "patch", "service", "sel", "--type=json", "-p", '[{"op":"remove","path":"/spec/selector"}]']), "remove selector");
    await eventually("Endpoints sel is gone", async () => (await getEndpoints("sel")) === undefined);
  });
});
