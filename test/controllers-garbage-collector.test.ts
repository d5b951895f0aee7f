/**
 * The garbage collector through a real server and real kubectl: delete
 * with Orphan, Background and Foreground propagation, dependents whose
 * owner never existed, and the metadata-only reads it is built on.
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
  ok(srv.kubectl(["create", "namespace", "gc"]), "create namespace");
});
after(async () => {
  await srv?.stop();
});

interface Meta {
  uid: string;
  ownerReferences?: { uid: string; name: string }[];
  finalizers?: string[];
}

function configMap(name: string, owner?: { name: string; uid: string; kind?: string; apiVersion?: string }, block = false): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name,
      namespace: "gc",
      ...(owner
        ? { ownerReferences: [{ apiVersion: owner.apiVersion ?? "v1", kind: owner.kind ?? "ConfigMap", name: owner.name, uid: owner.uid, ...(block ? { blockOwnerDeletion: true } : {}) }] }
        : {}),
    },
    data: { k: "v" },
  });
}

function create(body: string): Meta {
  return JSON.parse(ok(srv.kubectl(["create", "-o", "json", "-f", "-"], { input: body }), "create")).metadata as Meta;
}

function get(name: string): Meta | undefined {
  const r = srv.kubectl(["-n", "gc", "get", "configmap", name, "-o", "json", "--ignore-not-found"]);
  return r.stdout.trim() ? (JSON.parse(r.stdout).metadata as Meta) : undefined;
}

async function eventually(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting until ${what}`);
}

describe("garbage collector", () => {
  it("orphans dependents: kubectl delete --cascade=orphan returns and the dependent loses its ownerReference", () => {
    const owner = create(configMap("orphan-owner"));
    create(configMap("orphan-dep", { name: "orphan-owner", uid: owner.uid }));
    // kubectl waits for the owner to be gone, which needs the collector to remove the orphan finalizer.
    assert.match(ok(srv.kubectl(["-n", "gc", "delete", "configmap", "orphan-owner", "--cascade=orphan", "--timeout=60s"]), "delete orphan"), /deleted/);
    assert.equal(get("orphan-owner"), undefined);
    const dep = get("orphan-dep");
    assert.ok(dep, "the dependent survives");
    assert.equal(dep.ownerReferences, undefined);
  });

  it("deletes dependents in the background once the owner is gone", async () => {
    const owner = create(configMap("bg-owner"));
    create(configMap("bg-dep", { name: "bg-owner", uid: owner.uid }));
    ok(srv.kubectl(["-n", "gc", "delete", "configmap", "bg-owner", "--cascade=background"]), "delete background");
    await eventually("the dependent is collected", () => get("bg-dep") === undefined);
  });

  it("deletes blocking dependents first in the foreground, then the owner", () => {
    const owner = create(configMap("fg-owner"));
    create(configMap("fg-dep", { name: "fg-owner", uid: owner.uid }, true));
    ok(srv.kubectl(["-n", "gc", "delete", "configmap", "fg-owner", "--cascade=foreground", "--timeout=60s"]), "delete foreground");
    assert.equal(get("fg-owner"), undefined);
    assert.equal(get("fg-dep"), undefined);
  });

  it("collects an object whose owner never existed, and keeps one with a live owner", async () => {
    const owner = create(configMap("live-owner"));
    create(configMap("kept", { name: "live-owner", uid: owner.uid }));
    create(configMap("stray", { name: "nobody", uid: "00000000-0000-0000-0000-000000000001" }));
    await eventually("the stray dependent is collected", () => get("stray") === undefined);
    assert.ok(get("kept"), "a dependent of a live owner stays");
  });

  it("removes only the dangling reference of an object with another live owner", async () => {
    const a = create(configMap("two-a"));
    const b = create(configMap("two-b"));
    const body = JSON.parse(configMap("two-dep", { name: "two-a", uid: a.uid }));
    body.metadata.ownerReferences.push({ apiVersion: "v1", kind: "ConfigMap", name: "two-b", uid: b.uid });
    create(JSON.stringify(body));
    ok(srv.kubectl(["-n", "gc", "delete", "configmap", "two-a"]), "delete one owner");
    await eventually("the reference to the deleted owner is removed", () => (get("two-dep")?.ownerReferences ?? []).length === 1);
    assert.equal(get("two-dep")?.ownerReferences?.[0]?.name, "two-b");
  });
});

describe("metadata-only reads", () => {
  it("answers as=PartialObjectMetadataList and as=PartialObjectMetadata", async () => {
    const list = await raw.request({ path: "/api/v1/namespaces/gc/configmaps", headers: { Accept: "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1" } });
    assert.equal(list.code, 200);
    assert.equal(list.json?.kind, "PartialObjectMetadataList");
    assert.equal(list.json?.apiVersion, "meta.k8s.io/v1");
    const item = list.json?.items?.[0] as Record<string, unknown> | undefined;
    assert.equal(item?.kind, "PartialObjectMetadata");
    assert.equal(item?.data, undefined, "no data, only metadata");
    const one = await raw.request({ path: "/api/v1/namespaces/default/services/kubernetes", headers: { Accept: "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1" } });
    assert.equal(one.json?.kind, "PartialObjectMetadata");
    assert.equal(one.json?.metadata?.name, "kubernetes");
    assert.equal((one.json as Record<string, unknown>).spec, undefined);
  });
});
