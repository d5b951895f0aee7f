import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { findResource } from "../../api/resources.js";
import { silentLogger } from "../../machinery/log.js";
import { openMemoryStore } from "../../storage/backends/memory/memory-store.js";
import { sendError } from "../http/respond.js";
import { codecFor } from "../registry/codecs.js";
import { ObjectStore } from "../registry/object-store.js";
import { strategyFor } from "../registry/strategies.js";
import { parseRequestInfo } from "../request-info.js";
import { MetricsApi } from "./metrics-api.js";

const backing = openMemoryStore();
function storeFor(plural: string): ObjectStore {
  const resource = findResource("", "v1", plural)!;
  return new ObjectStore({ store: backing, resource, strategy: strategyFor(resource), codec: codecFor(resource) });
}
const nodes = storeFor("nodes");
const pods = storeFor("pods");

/** The scrape "time" the fake kubelets report, in seconds. */
let now = 100;
const T = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString().replace(".000Z", "Z");
const container = (name: string, cpuPerSecond: number, memory: number) => ({
  name,
  startTime: T(0),
  cpu: { time: T(now), usageCoreNanoSeconds: cpuPerSecond * now },
  memory: { time: T(now), workingSetBytes: memory },
});
const pod = (ns: string, name: string, containers: unknown[]) => ({ podRef: { name, namespace: ns, uid: `${ns}-${name}` }, startTime: T(0), containers });

/** What each node's kubelet reports at `now`; n1 also claims n2's pod p4. */
function summaryOf(node: string): unknown {
  if (node === "n1") {
    return {
      node: { nodeName: "n1", startTime: T(0), cpu: { time: T(now), usageCoreNanoSeconds: 2e9 * now }, memory: { time: T(now), workingSetBytes: 512 * 1024 * 1024 } },
      pods: [pod("default", "p1", [container("app", 5e8, 3 * 1024 * 1024), container("side", 1e6, 4096)]), pod("kube-system", "p3", [container("dns", 1e7, 1000)]), pod("default", "p4", [container("x", 1, 1)])],
    };
  }
  if (node === "n2") {
    return {
      node: { nodeName: "n2", startTime: T(0), cpu: { time: T(now), usageCoreNanoSeconds: 1e8 * now }, memory: { time: T(now), workingSetBytes: 1024 } },
      pods: [pod("default", "p2", [container("web", 2.5e8, 2048)]), pod("default", "p4", [container("x", 1e6, 1e6)])],
    };
  }
  throw new Error(`Get "https://127.1.0.9:10250/stats/summary?only_cpu_and_memory=true": dial tcp 127.1.0.9:10250: connect: connection refused`);
}

const metrics = new MetricsApi({ nodes, pods, fetch: async (name) => summaryOf(name), resolutionMs: 15_000, logger: silentLogger });

let server: Server;
let base = "";
before(async () => {
  for (const [name, role] of [
    ["n1", "a"],
    ["n2", "b"],
    ["n3-no-kubelet", "b"],
  ]) {
    await nodes.create(undefined, { apiVersion: "v1", kind: "Node", metadata: { name: name!, labels: { role: role! } } });
  }
  const mkPod = (ns: string, name: string, nodeName: string | undefined, labels: Record<string, string> = {}) =>
    pods.create(ns, { apiVersion: "v1", kind: "Pod", metadata: { name, namespace: ns, labels }, spec: { ...(nodeName ? { nodeName } : {}), containers: [{ name: "c", image: "busybox" }] } });
  await mkPod("default", "p1", "n1", { app: "x" });
  await mkPod("default", "p2", "n2", { app: "y" });
  await mkPod("kube-system", "p3", "n1");
  await mkPod("default", "p4", "n2");
  await mkPod("default", "pending", undefined);
  server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const info = parseRequestInfo(req.method ?? "GET", url);
    if (!metrics.handles(info)) {
      res.writeHead(418).end();
      return;
    }
    metrics.serve({ info, url, req, res }).catch((err) => sendError(res, err));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/apis/metrics.k8s.io/v1beta1`;
});
after(async () => {
  await metrics.stop();
  await new Promise<void>((r) => server.close(() => r()));
});

async function get(path: string, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`, init);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const names = (body: Record<string, unknown>) => (body.items as { metadata: { name: string; namespace?: string } }[]).map((i) => (i.metadata.namespace ? `${i.metadata.namespace}/${i.metadata.name}` : i.metadata.name));

describe("before two scrapes", () => {
  test("lists are empty and objects are 404 as metrics-server words it", async () => {
    const list = await get("/nodes");
    assert.equal(list.status, 200);
    assert.deepEqual(list.body, { kind: "NodeMetricsList", apiVersion: "metrics.k8s.io/v1beta1", metadata: {}, items: [] });
    const one = await get("/nodes/n1");
    assert.equal(one.status, 404);
    assert.equal(one.body.message, 'nodemetrics.metrics.k8s.io "n1" not found');
    assert.deepEqual(one.body.details, { name: "n1", group: "metrics.k8s.io", kind: "nodemetrics" });
    const p = await get("/namespaces/default/pods/p1");
    assert.equal(p.body.message, 'podmetrics.metrics.k8s.io "default/p1" not found');
  });

  test("objects that do not exist are the core 404", async () => {
    assert.equal((await get("/nodes/nope")).body.message, 'nodes "nope" not found');
    assert.equal((await get("/namespaces/default/pods/nope")).body.message, 'pods "nope" not found');
  });
});

describe("after two scrapes", () => {
  before(async () => {
    now = 100;
    await metrics.scrape();
    now = 115;
    await metrics.scrape();
  });

  test("NodeMetrics: rate over the window, working set, the node's labels", async () => {
    const { status, body } = await get("/nodes/n1");
    assert.equal(status, 200);
    const meta = body.metadata as { creationTimestamp: string };
    assert.match(meta.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.deepEqual(body, {
      kind: "NodeMetrics",
      apiVersion: "metrics.k8s.io/v1beta1",
      metadata: { name: "n1", creationTimestamp: meta.creationTimestamp, labels: { role: "a" } },
      timestamp: T(115),
      window: "15s",
      usage: { cpu: "2", memory: "512Mi" },
    });
  });

  test("node lists: sorted, label and field selectors, nodes without a kubelet left out", async () => {
    assert.deepEqual(names((await get("/nodes")).body), ["n1", "n2"]);
    assert.deepEqual(names((await get("/nodes?labelSelector=role%3Db")).body), ["n2"]);
    assert.deepEqual(names((await get("/nodes?fieldSelector=metadata.name%3Dn1")).body), ["n1"]);
    const bad = await get("/nodes?fieldSelector=spec.unschedulable%3Dtrue");
    assert.equal(bad.status, 400);
    assert.equal(bad.body.message, "field label not supported: spec.unschedulable");
    assert.equal((await get("/nodes?labelSelector=a%3D%3D%3Db")).status, 400);
  });

  test("PodMetrics: per container, with the pod's labels", async () => {
    const { body } = await get("/namespaces/default/pods/p1");
    assert.deepEqual(
      { ...body, metadata: { ...(body.metadata as object), creationTimestamp: "-" } },
      {
        kind: "PodMetrics",
        apiVersion: "metrics.k8s.io/v1beta1",
        metadata: { name: "p1", namespace: "default", creationTimestamp: "-", labels: { app: "x" } },
        timestamp: T(115),
        window: "15s",
        containers: [
          { name: "app", usage: { cpu: "500m", memory: "3Mi" } },
          { name: "side", usage: { cpu: "1m", memory: "4Ki" } },
        ],
      },
    );
  });

  test("pod lists: one namespace or all, selectors, and pods a node reports for another node dropped", async () => {
    assert.deepEqual(names((await get("/pods")).body), ["default/p1", "default/p2", "default/p4", "kube-system/p3"]);
    assert.deepEqual(names((await get("/namespaces/default/pods")).body), ["default/p1", "default/p2", "default/p4"]);
    assert.deepEqual(names((await get("/namespaces/default/pods?labelSelector=app%20in%20(y)")).body), ["default/p2"]);
    assert.deepEqual(names((await get("/pods?fieldSelector=metadata.namespace%3Dkube-system")).body), ["kube-system/p3"]);
    // p4 runs on n2, but n1 claims it too: n1's claim is dropped, n2's figures are the ones served.
    const p4 = (await get("/namespaces/default/pods/p4")).body as { containers: { usage: { cpu: string } }[] };
    assert.deepEqual(p4.containers[0]!.usage, { cpu: "1m", memory: "1000000" });
    assert.equal((await get("/namespaces/default/pods/pending")).body.message, 'podmetrics.metrics.k8s.io "default/pending" not found');
  });

  test("server-side Table printing as metrics-server's: Name, cpu, memory, Window; a pod sums its containers", async () => {
    const res = await fetch(`${base}/namespaces/default/pods`, { headers: { Accept: "application/json;as=Table;v=v1;g=meta.k8s.io,application/json" } });
    const table = (await res.json()) as { kind: string; columnDefinitions: { name: string; format: string }[]; rows: { cells: unknown[]; object: { kind: string } }[] };
    assert.equal(table.kind, "Table");
    assert.deepEqual(
      table.columnDefinitions.map((c) => [c.name, c.format]),
      [
        ["Name", "name"],
        ["cpu", "quantity"],
        ["memory", "quantity"],
        ["Window", "duration"],
      ],
    );
    assert.deepEqual(table.rows[0]!.cells, ["p1", "501m", "3076Ki", "15s"]);
    assert.equal(table.rows[0]!.object.kind, "PartialObjectMetadata");
  });

  test("only get and list: watch and writes are 405; other versions and subresources 404", async () => {
    const watch = await get("/nodes?watch=true");
    assert.equal(watch.status, 405);
    assert.equal(watch.body.message, 'watch is not supported on resources of kind "nodes.metrics.k8s.io"');
    assert.equal((await get("/namespaces/default/pods/p1", { method: "DELETE" })).status, 405);
    assert.equal((await fetch(`${base.replace("v1beta1", "v1")}/nodes`)).status, 404);
    assert.equal((await get("/nodes/n1/status")).status, 404);
    assert.equal((await get("/namespaces/default/nodes")).status, 404);
  });

  test("a node that stops answering loses its metrics at the next scrape", async () => {
    const gone = new MetricsApi({ nodes, pods, fetch: async () => Promise.reject(new Error("connection refused")), logger: silentLogger });
    await gone.scrape();
    await gone.scrape();
    await gone.stop();
    now = 130;
    await metrics.scrape();
    assert.deepEqual(names((await get("/nodes")).body), ["n1", "n2"]);
  });
});
