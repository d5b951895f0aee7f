import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Namespace, Pod } from "kubernetes-types/core/v1.js";
import type { PartialObjectMetadata } from "../../client/metadata-client.js";
import { conflict, methodNotSupported, notFound } from "../../machinery/status-error.js";
import { GroupDiscoveryFailedError } from "./conditions.js";
import type { DiscoveryResult, GroupVersionResource } from "./discovery.js";
import { type ContentApi, type NamespaceApi, NamespacedResourcesDeleter, ResourcesRemainingError } from "./sync.js";

const ALL = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

/** An in-memory cluster: one namespace and objects by resource. */
class FakeCluster {
  ns: Namespace;
  readonly objects = new Map<string, PartialObjectMetadata[]>();
  readonly pods: Pod[] = [];
  readonly calls: string[] = [];
  discovery: DiscoveryResult = {
    lists: [
      { groupVersion: "v1", resources: [{ name: "configmaps", kind: "ConfigMap", verbs: ALL }, { name: "pods", kind: "Pod", verbs: ALL }, { name: "bindings", kind: "Binding", verbs: ["create"] }] },
      { groupVersion: "example.com/v1", resources: [{ name: "widgets", kind: "Widget", verbs: ["delete", "get", "list"] }] },
    ],
  };
  finalizeConflicts = 0;
  rejectDeleteCollection = false;
  now = Date.parse("2024-01-01T00:00:10Z");

  constructor(finalizers: string[] = ["kubernetes"]) {
    this.ns = {
      metadata: { name: "doomed", uid: "ns-uid", resourceVersion: "1", deletionTimestamp: "2024-01-01T00:00:00Z" },
      spec: { finalizers },
      status: { phase: "Active" },
    };
  }

  add(resource: string, name: string, finalizers?: string[]): void {
    const list = this.objects.get(resource) ?? [];
    list.push({ metadata: { name, namespace: "doomed", finalizers } });
    this.objects.set(resource, list);
  }

  /** Deletes like the API server: objects with finalizers are only marked. */
  private remove(resource: string, name?: string): void {
    const list = this.objects.get(resource) ?? [];
    const keep = list.filter((o) => {
      if (name !== undefined && o.metadata?.name !== name) return true;
      if ((o.metadata?.finalizers ?? []).length > 0) {
        o.metadata = { ...o.metadata, deletionTimestamp: "2024-01-01T00:00:01Z" };
        return true;
      }
      return false;
    });
    this.objects.set(resource, keep);
  }

  readonly namespaces: NamespaceApi = {
    get: async () => {
      if (!this.ns) throw notFound({ group: "", resource: "namespaces" }, "doomed");
      return structuredClone(this.ns);
    },
    updateStatus: async (ns) => {
      this.calls.push("updateStatus");
      this.ns = { ...this.ns, status: structuredClone(ns.status) };
      return structuredClone(this.ns);
    },
    finalize: async (ns) => {
      if (this.finalizeConflicts > 0) {
        this.finalizeConflicts--;
        throw conflict({ group: "", resource: "namespaces" }, "doomed", "the object has been modified");
      }
      this.calls.push(`finalize ${JSON.stringify(ns.spec?.finalizers)}`);
      this.ns = { ...this.ns, spec: { finalizers: ns.spec?.finalizers } };
      return structuredClone(this.ns);
    },
  };

  readonly content: ContentApi = {
    discover: async () => this.discovery,
    deleteCollection: async (gvr: GroupVersionResource) => {
      if (this.rejectDeleteCollection) throw methodNotSupported({ group: gvr.group, resource: gvr.resource }, "deletecollection");
      this.calls.push(`deletecollection ${gvr.resource}`);
      this.remove(gvr.resource);
    },
    list: async (gvr: GroupVersionResource) => structuredClone(this.objects.get(gvr.resource) ?? []),
    delete: async (gvr: GroupVersionResource, _ns: string, name: string) => {
      this.calls.push(`delete ${gvr.resource}/${name}`);
      this.remove(gvr.resource, name);
    },
    listPods: async () => this.pods,
  };

  deleter(): NamespacedResourcesDeleter {
    return new NamespacedResourcesDeleter({ namespaces: this.namespaces, content: this.content, now: () => new Date(this.now) });
  }

  condition(type: string): [string, string] | undefined {
    const c = this.ns.status?.conditions?.find((x) => x.type === type);
    return c ? [c.status, c.message ?? ""] : undefined;
  }
}

describe("NamespacedResourcesDeleter", () => {
  it("does nothing for a namespace that is not being deleted", async () => {
    const c = new FakeCluster();
    c.ns.metadata = { ...c.ns.metadata, deletionTimestamp: undefined };
    c.add("configmaps", "a");
    await c.deleter().delete("doomed");
    assert.deepEqual(c.calls, []);
  });

  it("empties the namespace (deletecollection, else item by item) and finalizes it", async () => {
    const c = new FakeCluster(["kubernetes", "z.example/other", "a.example/other"]);
    for (let i = 0; i < 3; i++) c.add("configmaps", `cm-${i}`);
    c.add("widgets", "w1");
    c.add("widgets", "w2");
    await c.deleter().delete("doomed");
    assert.equal(c.ns.status?.phase, "Terminating");
    assert.ok(c.calls.includes("deletecollection configmaps"));
    assert.ok(c.calls.includes("delete widgets/w1") && c.calls.includes("delete widgets/w2"), "widgets have no deletecollection");
    assert.ok(!c.calls.some((x) => x.includes("bindings")), "resources without delete are skipped");
    assert.equal(c.calls.at(-1), 'finalize ["a.example/other","z.example/other"]');
    assert.deepEqual(c.condition("NamespaceContentRemaining"), ["False", "All content successfully removed"]);
  });

  it("falls back to item deletes when deletecollection is refused", async () => {
    const c = new FakeCluster();
    c.rejectDeleteCollection = true;
    c.add("configmaps", "a");
    await c.deleter().delete("doomed");
    assert.ok(c.calls.includes("delete configmaps/a"));
    assert.ok(c.calls.at(-1)?.startsWith("finalize"));
  });

  it("waits for objects' own finalizers, saying so in conditions", async () => {
    const c = new FakeCluster();
    c.add("configmaps", "held", ["example.com/hold"]);
    c.add("configmaps", "free");
    const d = c.deleter();
    await assert.rejects(d.delete("doomed"), (err: unknown) => err instanceof ResourcesRemainingError && err.estimate === 15);
    assert.deepEqual(c.condition("NamespaceContentRemaining"), ["True", "Some resources are remaining: configmaps. has 1 resource instances"]);
    assert.deepEqual(c.condition("NamespaceFinalizersRemaining"), ["True", "Some finalizers are remaining: example.com/hold in 1 resource instances"]);
    assert.ok(!c.calls.some((x) => x.startsWith("finalize")));

    c.objects.set("configmaps", []);
    await d.delete("doomed");
    assert.ok(c.calls.at(-1)?.startsWith("finalize"));
    assert.deepEqual(c.condition("NamespaceFinalizersRemaining"), ["False", "All content successfully removed"]);
  });

  it("gives pods their grace period, then calls leftovers an error", async () => {
    const c = new FakeCluster();
    c.pods.push({ metadata: { name: "p" }, spec: { terminationGracePeriodSeconds: 30, containers: [] }, status: { phase: "Running" } });
    c.add("pods", "p");
    // A bound pod stays (terminating) until its kubelet stops it.
    c.content.deleteCollection = async () => {};
    await assert.rejects(c.deleter().delete("doomed"), (err: unknown) => err instanceof ResourcesRemainingError && err.estimate === 30);
    c.now = Date.parse("2024-01-01T00:00:31Z");
    await assert.rejects(c.deleter().delete("doomed"), /unexpected items still remain in namespace: doomed for gvr: \/v1, Resource=pods/);
    assert.deepEqual(c.condition("NamespaceDeletionContentFailure"), [
      "True",
      "Failed to delete all resource types, 1 remaining: unexpected items still remain in namespace: doomed for gvr: /v1, Resource=pods",
    ]);
  });

  it("deletes what it can discover when some groups fail, and reports the failure", async () => {
    const c = new FakeCluster();
    c.discovery = { lists: c.discovery.lists.slice(0, 1), error: new GroupDiscoveryFailedError(new Map([["example.com/v1", new Error("boom")]])) };
    c.add("configmaps", "a");
    await assert.rejects(c.deleter().delete("doomed"), /unable to retrieve the complete list of server APIs: example.com\/v1: boom/);
    assert.ok(c.calls.includes("deletecollection configmaps"));
    assert.deepEqual(c.condition("NamespaceDeletionDiscoveryFailure")?.[0], "True");
    assert.ok(!c.calls.some((x) => x.startsWith("finalize")), "not finalized while discovery is incomplete");
  });

  it("retries the finalize on conflicts", async () => {
    const c = new FakeCluster();
    c.finalizeConflicts = 2;
    await c.deleter().delete("doomed");
    assert.equal(c.calls.at(-1), "finalize []");
  });
});
