/**
 * The client library against a real `skiff server`: CRUD in every patch
 * format, StatusError mapping, subresources, paging and watch.
 */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Binding, ConfigMap, Pod } from "kubernetes-types/core/v1.js";
import type { Deployment } from "kubernetes-types/apps/v1.js";
import type { Scale } from "kubernetes-types/autoscaling/v1.js";
import { isAlreadyExists, isConflict, isNotFound, StatusError } from "../src/machinery/status-error.js";
import { configFromFiles, configFromKubeconfig } from "../src/client/config.js";
import { ResourceClient } from "../src/client/resource-client.js";
import { CONFIGMAPS, DEPLOYMENTS, NODES, PODS } from "../src/client/resources.js";
import { RestClient } from "../src/client/rest-client.js";
import type { WatchEvent } from "../src/client/watch.js";
import { startTestServer, type TestServer } from "./support/cluster.js";

let srv: TestServer;
let rest: RestClient;
let cms: ResourceClient<ConfigMap>;

before(async () => {
  srv = await startTestServer();
  rest = new RestClient(configFromKubeconfig(srv.kubeconfig));
  cms = new ResourceClient<ConfigMap>(rest, CONFIGMAPS).namespace("default");
});
after(async () => {
  rest?.close();
  await srv?.stop();
});

const cm = (name: string, data: Record<string, string> = {}, labels?: Record<string, string>): ConfigMap => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, ...(labels ? { labels } : {}) },
  data,
});

describe("CRUD and errors", () => {
  it("creates, reads, updates and deletes, mapping failures to StatusError", async () => {
    const created = await cms.create(cm("crud", { a: "1" }));
    assert.equal(created.metadata?.namespace, "default");
    assert.ok(created.metadata?.uid);
    const got = await cms.get("crud");
    assert.equal(got.data?.a, "1");

    await assert.rejects(cms.create(cm("crud")), (err: unknown) => {
      assert.ok(err instanceof StatusError);
      assert.equal(err.code, 409);
      assert.equal(isAlreadyExists(err), true);
      return true;
    });

    const updated = await cms.update({ ...got, data: { a: "2" } });
    assert.equal(updated.data?.a, "2");
    assert.notEqual(updated.metadata?.resourceVersion, got.metadata?.resourceVersion);
    await assert.rejects(cms.update({ ...got, data: { a: "stale" } }), (err: unknown) => {
      assert.ok(err instanceof StatusError);
      assert.equal(err.code, 409);
      assert.equal(isConflict(err), true);
      assert.match(err.message, /the object has been modified/);
      return true;
    });

    await cms.delete("crud");
    await assert.rejects(cms.get("crud"), (err: unknown) => {
      assert.ok(err instanceof StatusError);
      assert.equal(err.code, 404);
      assert.equal(isNotFound(err), true);
      assert.equal(err.message, 'configmaps "crud" not found');
      return true;
    });
    await assert.rejects(cms.delete("crud"), isNotFound);
  });

  it("patches with JSON, merge, strategic and apply patches", async () => {
    await cms.create(cm("patchy", { a: "1" }));
    let p = await cms.patch("patchy", [{ op: "add", path: "/data/b", value: "2" }], { type: "json" });
    assert.deepEqual(p.data, { a: "1", b: "2" });
    p = await cms.patch("patchy", { data: { a: null, c: "3" } }, { type: "merge" });
    assert.deepEqual(p.data, { b: "2", c: "3" });
    p = await cms.patch("patchy", { metadata: { labels: { tier: "web" } } }, { type: "strategic" });
    assert.equal(p.metadata?.labels?.tier, "web");
    p = await cms.patch("patchy", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "patchy" }, data: { d: "4" } }, { type: "apply", fieldManager: "tester" });
    assert.equal(p.data?.d, "4");
    assert.ok(p.metadata?.managedFields?.some((f) => f.manager === "tester"));
    // Another manager taking the same field conflicts unless forced.
    await assert.rejects(
      cms.patch("patchy", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "patchy" }, data: { d: "5" } }, { type: "apply", fieldManager: "other" }),
      isConflict,
    );
    p = await cms.patch("patchy", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "patchy" }, data: { d: "5" } }, { type: "apply", fieldManager: "other", force: true });
    assert.equal(p.data?.d, "5");
    assert.throws(() => cms.patch("patchy", {}, { type: "apply" }), /fieldManager/);
  });

  it("deletes with preconditions and lists with selectors and pages", async () => {
    for (let i = 0; i < 5; i++) await cms.create(cm(`page-${i}`, {}, { suite: "paging" }));
    await cms.create(cm("page-other", {}, { suite: "other" }));
    const first = await cms.list({ labelSelector: "suite=paging", limit: 2 });
    assert.equal(first.items.length, 2);
    assert.ok(first.metadata?.continue);
    const second = await cms.list({ labelSelector: "suite=paging", limit: 2, continue: first.metadata!.continue });
    assert.equal(second.items.length, 2);
    const all = await cms.listAll({ labelSelector: "suite=paging", limit: 2 });
    assert.deepEqual(
      all.items.map((c) => c.metadata?.name),
      ["page-0", "page-1", "page-2", "page-3", "page-4"],
    );
    assert.ok(all.metadata?.resourceVersion);
    const byField = await cms.list({ fieldSelector: "metadata.name=page-other" });
    assert.deepEqual(
      byField.items.map((c) => c.metadata?.name),
      ["page-other"],
    );

    await assert.rejects(cms.delete("page-0", { preconditions: { uid: "not-the-uid" } }), isConflict);
    const obj = await cms.get("page-0");
    await cms.delete("page-0", { preconditions: { uid: obj.metadata!.uid! }, propagationPolicy: "Background", gracePeriodSeconds: 0 });
    await cms.deleteCollection({ labelSelector: "suite=paging" });
    assert.equal((await cms.list({ labelSelector: "suite=paging" })).items.length, 0);
  });

  it("refuses to address a namespaced object without a namespace", () => {
    const all = new ResourceClient<ConfigMap>(rest, CONFIGMAPS);
    assert.throws(() => all.get("x"), /namespaced/);
    assert.throws(() => new ResourceClient(rest, NODES, "default"), /cluster-scoped/);
  });

  it("throws network errors as they are", async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const dead = new RestClient({ ...rest.config, server: `https://127.0.0.1:${port}` });
    try {
      await assert.rejects(dead.request("GET", "/version"), (err: unknown) => {
        assert.ok(!(err instanceof StatusError));
        assert.equal((err as NodeJS.ErrnoException).code, "ECONNREFUSED");
        return true;
      });
    } finally {
      dead.close();
    }
  });
});

describe("subresources", () => {
  it("binds a pod, updates its status, and scales a deployment", async () => {
    const pods = new ResourceClient<Pod>(rest, PODS).namespace("default");
    await pods.create({ apiVersion: "v1", kind: "Pod", metadata: { name: "bindme" }, spec: { containers: [{ name: "c", image: "busybox" }] } });
    const binding: Binding = { apiVersion: "v1", kind: "Binding", metadata: { name: "bindme" }, target: { apiVersion: "v1", kind: "Node", name: "node-1" } };
    await pods.subresource("bindme", "binding", binding);
    const bound = await pods.get("bindme");
    assert.equal(bound.spec?.nodeName, "node-1");
    await assert.rejects(pods.subresource("bindme", "binding", { ...binding, target: { kind: "Node", name: "node-2" } }), isConflict);

    const withStatus = await pods.updateStatus({ ...bound, status: { phase: "Running", podIP: "10.42.0.5" } });
    assert.equal(withStatus.status?.phase, "Running");
    const patched = await pods.patch("bindme", { status: { message: "hi" } }, { type: "merge", subresource: "status" });
    assert.equal(patched.status?.message, "hi");

    const deploys = new ResourceClient<Deployment>(rest, DEPLOYMENTS).namespace("default");
    await deploys.create({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web" },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "web" } },
        template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "c", image: "busybox" }] } },
      },
    });
    const scale = await deploys.getSubresource<Scale>("web", "scale");
    assert.equal(scale.spec?.replicas, 1);
    // No resourceVersion: an unconditional scale, as `kubectl scale` sends; the deployment controller
    // writes the Deployment's status meanwhile, and a conditional PUT would rightly get 409.
    const { resourceVersion: _rv, ...meta } = scale.metadata ?? {};
    await deploys.subresource<Scale>("web", "scale", { ...scale, metadata: meta, spec: { replicas: 3 } }, { method: "PUT" });
    assert.equal((await deploys.get("web")).spec?.replicas, 3);
  });
});

describe("watch", () => {
  it("streams ADDED, MODIFIED and DELETED from a resourceVersion, and stops on abort", async () => {
    const start = await cms.list({ labelSelector: "suite=watch" });
    const ac = new AbortController();
    const events: WatchEvent<ConfigMap>[] = [];
    const reading = (async () => {
      for await (const ev of cms.watch({ resourceVersion: start.metadata!.resourceVersion, labelSelector: "suite=watch" }, ac.signal)) {
        events.push(ev);
        if (ev.type === "DELETED") ac.abort();
      }
    })();
    const created = await cms.create(cm("watched", { v: "1" }, { suite: "watch" }));
    await cms.update({ ...created, data: { v: "2" } });
    await cms.create(cm("unwatched", {}, { suite: "other" }));
    await cms.delete("watched");
    await reading;
    assert.deepEqual(
      events.map((e) => [e.type, (e.object as ConfigMap).metadata?.name]),
      [
        ["ADDED", "watched"],
        ["MODIFIED", "watched"],
        ["DELETED", "watched"],
      ],
    );
    assert.equal((events[1]!.object as ConfigMap).data?.v, "2");
  });

  it("ends quietly when aborted before any event", async () => {
    const ac = new AbortController();
    const it = cms.watch({ resourceVersion: "" }, ac.signal);
    setTimeout(() => ac.abort(), 50);
    let n = 0;
    for await (const _ of it) n++;
    assert.ok(n >= 0);
  });
});

describe("in-process component credentials", () => {
  it("connects with the scheduler's certificate files", async () => {
    const tls = join(srv.dataDir, "tls");
    const sched = new RestClient(
      configFromFiles({
        server: `https://127.0.0.1:${srv.port}`,
        caFile: join(tls, "server-ca.crt"),
        certFile: join(tls, "client-kube-scheduler.crt"),
        keyFile: join(tls, "client-kube-scheduler.key"),
        userAgent: "kube-scheduler/skiff",
      }),
    );
    try {
      const list = await new ResourceClient<Pod>(sched, PODS).list({ limit: 1 });
      assert.equal(list.kind, "PodList");
    } finally {
      sched.close();
    }
  });

  it("carries many concurrent requests over the pooled connections", async () => {
    const names = Array.from({ length: 300 }, (_, i) => `burst-${i}`);
    await Promise.all(names.map((n) => cms.create(cm(n, {}, { suite: "burst" }))));
    const all = await cms.listAll({ labelSelector: "suite=burst" });
    assert.equal(all.items.length, 300);
    await cms.deleteCollection({ labelSelector: "suite=burst" });
  });
});
