/**
 * The namespace controller through a real server and real kubectl:
 * `kubectl delete namespace` empties the namespace (every kind, through
 * discovery) and returns once it is gone; an object held by its own
 * finalizer keeps the namespace Terminating, with upstream's conditions,
 * until the finalizer is removed.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ok, startTestServer, type TestServer } from "./support/cluster.js";
import { RawClient } from "./support/https-client.js";

let srv: TestServer;
let raw: RawClient;
before(async () => {
  srv = await startTestServer();
  raw = RawClient.fromKubeconfig(srv.kubeconfig, srv.port);
});
after(async () => {
  await srv?.stop();
});

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

interface NamespaceDoc {
  status?: { phase?: string; conditions?: Condition[] };
  spec?: { finalizers?: string[] };
}

/** The namespace as the API has it now (polled directly: cheaper than a kubectl process). */
async function getNamespace(name: string): Promise<NamespaceDoc | undefined> {
  const res = await raw.request({ path: `/api/v1/namespaces/${name}` });
  if (res.code === 404) return undefined;
  assert.equal(res.code, 200, res.text);
  return JSON.parse(res.text) as NamespaceDoc;
}

/** Polls `check` every 100 ms until it returns a truthy value, for at most `ms`; the failure shows the last state seen. */
async function eventually<T>(what: string, check: () => Promise<T | undefined | false>, show: () => Promise<unknown>, ms = 90_000): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await check();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting until ${what}; last seen: ${JSON.stringify(await show())}`);
}

function condition(ns: NamespaceDoc | undefined, type: string): Condition | undefined {
  return ns?.status?.conditions?.find((c) => c.type === type);
}

describe("namespace controller", () => {
  it("empties a namespace of 200 objects of several kinds and kubectl delete returns once it is gone", async () => {
    const ns = "bulk";
    ok(srv.kubectl(["create", "namespace", ns]), "create namespace");
    const items: unknown[] = [];
    for (let i = 0; i < 100; i++) items.push({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `cm-${i}`, namespace: ns }, data: { i: String(i) } });
    for (let i = 0; i < 50; i++) items.push({ apiVersion: "v1", kind: "Secret", metadata: { name: `secret-${i}`, namespace: ns }, stringData: { i: String(i) } });
    for (let i = 0; i < 30; i++) {
      items.push({ apiVersion: "v1", kind: "Service", metadata: { name: `svc-${i}`, namespace: ns }, spec: { selector: { app: `a${i}` }, ports: [{ port: 80 }] } });
    }
    for (let i = 0; i < 10; i++) {
      items.push({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: `pod-${i}`, namespace: ns, labels: { app: "a0" } },
        spec: { containers: [{ name: "c", image: "busybox" }] },
      });
    }
    for (let i = 0; i < 5; i++) {
      items.push({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: `deploy-${i}`, namespace: ns },
        spec: { replicas: 0, selector: { matchLabels: { app: `d${i}` } }, template: { metadata: { labels: { app: `d${i}` } }, spec: { containers: [{ name: "c", image: "busybox" }] } } },
      });
    }
    for (let i = 0; i < 5; i++) {
      items.push({ apiVersion: "batch/v1", kind: "Job", metadata: { name: `job-${i}`, namespace: ns }, spec: { suspend: true, template: { spec: { restartPolicy: "Never", containers: [{ name: "c", image: "busybox" }] } } } });
    }
    assert.equal(items.length, 200);
    ok(srv.kubectl(["create", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "List", items }) }), "create 200 objects");

    // kubectl waits until the namespace is gone (it would time out if the controller never finalized it).
    assert.match(ok(srv.kubectl(["delete", "namespace", ns, "--timeout=120s"]), "delete namespace"), /deleted/);
    assert.equal(await getNamespace(ns), undefined);
    for (const kind of ["configmaps", "secrets", "services", "pods", "deployments", "jobs", "endpoints", "endpointslices"]) {
      const out = ok(srv.kubectl(["-n", ns, "get", kind, "-o", "name"]), `list ${kind}`);
      assert.equal(out.trim(), "", `no ${kind} left`);
    }
  });

  it("waits for an object's own finalizer, reporting upstream's conditions, then finishes", async () => {
    const ns = "held";
    ok(srv.kubectl(["create", "namespace", ns]), "create namespace");
    ok(srv.kubectl(["-n", ns, "create", "configmap", "free"]), "create free configmap");
    ok(
      srv.kubectl(["create", "-f", "-"], {
        input: JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "held", namespace: ns, finalizers: ["example.com/hold"] } }),
      }),
      "create held configmap",
    );
    ok(srv.kubectl(["delete", "namespace", ns, "--wait=false"]), "delete namespace");

    const stuck = await eventually(
      "the namespace reports what holds it",
      async () => {
        const n = await getNamespace(ns);
        return condition(n, "NamespaceFinalizersRemaining")?.status === "True" ? n : undefined;
      },
      () => getNamespace(ns),
    );
    assert.equal(stuck.status?.phase, "Terminating");
    assert.deepEqual(stuck.spec?.finalizers, ["kubernetes"]);
    const content = condition(stuck, "NamespaceContentRemaining");
    assert.equal(content?.status, "True");
    assert.equal(content?.reason, "SomeResourcesRemain");
    assert.equal(content?.message, "Some resources are remaining: configmaps. has 1 resource instances");
    const finalizers = condition(stuck, "NamespaceFinalizersRemaining");
    assert.equal(finalizers?.reason, "SomeFinalizerRemain");
    assert.equal(finalizers?.message, "Some finalizers are remaining: example.com/hold in 1 resource instances");
    const discovery = condition(stuck, "NamespaceDeletionDiscoveryFailure");
    assert.deepEqual([discovery?.status, discovery?.reason, discovery?.message], ["False", "ResourcesDiscovered", "All resources successfully discovered"]);
    const gv = condition(stuck, "NamespaceDeletionGroupVersionParsingFailure");
    assert.deepEqual([gv?.status, gv?.reason, gv?.message], ["False", "ParsedGroupVersions", "All legacy kube types successfully parsed"]);
    const failure = condition(stuck, "NamespaceDeletionContentFailure");
    assert.deepEqual([failure?.status, failure?.reason, failure?.message], ["False", "ContentDeleted", "All content successfully deleted, may be waiting on finalization"]);

    // Only the held object is left, marked for deletion.
    const left = JSON.parse(ok(srv.kubectl(["-n", ns, "get", "configmaps", "-o", "json"]), "list configmaps")) as { items: { metadata: { name: string; deletionTimestamp?: string } }[] };
    assert.deepEqual(
      left.items.map((i) => i.metadata.name),
      ["held"],
    );
    assert.ok(left.items[0]!.metadata.deletionTimestamp);
    // Nothing new may be created meanwhile.
    assert.notEqual(srv.kubectl(["-n", ns, "create", "configmap", "late"]).status, 0);

    ok(srv.kubectl(["-n", ns, "patch", "configmap", "held", "--type=merge", "-p", '{"metadata":{"finalizers":null}}']), "remove the finalizer");
    await eventually(
      "the namespace is gone",
      async () => (await getNamespace(ns)) === undefined,
      () => getNamespace(ns),
    );
  });
});
