/**
 * The official JavaScript client against skiff: typed calls, list, watch,
 * its informer, and a watch resumed from a compacted version getting 410 so
 * the client relists.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as k8s from "@kubernetes/client-node";
import { startTestServer, type TestServer } from "./support/cluster.js";

let srv: TestServer;
let kc: k8s.KubeConfig;
let core: k8s.CoreV1Api;

before(async () => {
  // A short compaction window so "older than the window" happens within the test.
  srv = await startTestServer(["--compaction-interval", "1s"]);
  kc = new k8s.KubeConfig();
  kc.loadFromFile(srv.kubeconfig);
  core = kc.makeApiClient(k8s.CoreV1Api);
});
after(async () => {
  await srv?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => T | undefined, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe("@kubernetes/client-node against skiff", () => {
  it("creates and lists through the typed API", async () => {
    await core.createNamespace({ body: { metadata: { name: "app" } } });
    await core.createNamespacedConfigMap({ namespace: "app", body: { metadata: { name: "one", labels: { k: "v" } }, data: { a: "1" } } });
    const list = await core.listNamespacedConfigMap({ namespace: "app", labelSelector: "k=v" });
    assert.deepEqual(
      list.items.map((c) => c.metadata?.name),
      ["one"],
    );
    assert.match(list.metadata?.resourceVersion ?? "", /^\d+$/);
    await assert.rejects(core.readNamespacedConfigMap({ name: "missing", namespace: "app" }), (err: { code?: number }) => err.code === 404);
  });

  it("watches ADDED, MODIFIED and DELETED", async () => {
    const events: string[] = [];
    const watch = new k8s.Watch(kc);
    const rv = (await core.listNamespacedConfigMap({ namespace: "app" })).metadata!.resourceVersion!;
    const ctl = await watch.watch(
      "/api/v1/namespaces/app/configmaps",
      { resourceVersion: rv },
      // The root CA publisher may add its ConfigMap to the new namespace meanwhile.
      (type, obj: k8s.V1ConfigMap) => obj.metadata?.name !== "kube-root-ca.crt" && events.push(`${type} ${obj.metadata?.name}`),
      () => {},
    );
    await core.createNamespacedConfigMap({ namespace: "app", body: { metadata: { name: "two" } } });
    await core.patchNamespacedConfigMap({ name: "two", namespace: "app", body: { data: { b: "2" } } }, k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch));
    await core.deleteNamespacedConfigMap({ name: "two", namespace: "app" });
    await until("three events", () => events.length >= 3 || undefined);
    ctl.abort();
    assert.deepEqual(events, ["ADDED two", "MODIFIED two", "DELETED two"]);
  });

  it("keeps an informer's cache in step", async () => {
    const informer = k8s.makeInformer(kc, "/api/v1/namespaces/app/configmaps", () => core.listNamespacedConfigMap({ namespace: "app" }));
    const added: string[] = [];
    informer.on("add", (o: k8s.V1ConfigMap) => added.push(o.metadata!.name!));
    await informer.start();
    try {
      await until("initial list", () => informer.list("app").some((c) => c.metadata?.name === "one") || undefined);
      await core.createNamespacedConfigMap({ namespace: "app", body: { metadata: { name: "three" } } });
      await until("informer add", () => added.includes("three") || undefined);
      assert.ok(informer.get("three", "app"));
    } finally {
      await informer.stop();
    }
  });

  it("answers a watch from a compacted version with 410 Expired", async () => {
    const old = (await core.listNamespacedConfigMap({ namespace: "app" })).metadata!.resourceVersion!;
    for (let i = 0; i < 5; i++) await core.createNamespacedConfigMap({ namespace: "app", body: { metadata: { name: `c${i}` } } });
    // The compactor samples every second and keeps one second of history.
    await sleep(3500);
    await core.createNamespacedConfigMap({ namespace: "app", body: { metadata: { name: "later" } } });
    let error: { code?: number; reason?: string } | undefined;
    let doneErr: unknown;
    const watch = new k8s.Watch(kc);
    const ctl = await watch.watch(
      "/api/v1/namespaces/app/configmaps",
      { resourceVersion: old },
      (type, obj: { code?: number; reason?: string }) => {
        if (type === "ERROR") error = obj;
      },
      (err) => {
        doneErr = err ?? "done";
      },
    );
    await until("the ERROR event", () => (error || doneErr ? true : undefined));
    ctl.abort();
    assert.equal(error?.code, 410);
    assert.equal(error?.reason, "Expired");
    // The client's answer to 410: list again, which works and is current.
    const relist = await core.listNamespacedConfigMap({ namespace: "app" });
    assert.ok(relist.items.some((c) => c.metadata?.name === "later"));
    assert.ok(Number(relist.metadata!.resourceVersion) > Number(old));
  });
});
