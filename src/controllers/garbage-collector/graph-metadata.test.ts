import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { graphMetadata } from "./garbage-collector.js";

describe("graphMetadata", () => {
  it("keeps what the graph and the informer read, and drops the rest of a pod's metadata", () => {
    const owner = { apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-1", uid: "u-rs", controller: true, blockOwnerDeletion: true };
    const kept = graphMetadata({
      apiVersion: "meta.k8s.io/v1",
      kind: "PartialObjectMetadata",
      metadata: {
        name: "web-1-abcde",
        generateName: "web-1-",
        namespace: "shop",
        uid: "u-pod",
        resourceVersion: "42",
        creationTimestamp: "2026-01-02T03:04:05Z",
        deletionTimestamp: "2026-01-02T03:05:05Z",
        labels: { app: "web" },
        annotations: { note: "x".repeat(1000) },
        ownerReferences: [owner],
        finalizers: ["foregroundDeletion"],
        managedFields: [{ manager: "kubelet", operation: "Update" }],
      },
    });
    assert.deepEqual(kept, {
      metadata: {
        name: "web-1-abcde",
        namespace: "shop",
        uid: "u-pod",
        resourceVersion: "42",
        deletionTimestamp: "2026-01-02T03:05:05Z",
        ownerReferences: [owner],
        finalizers: ["foregroundDeletion"],
      },
    });
  });

  it("adds no empty fields for a cluster-scoped object without owners", () => {
    assert.deepEqual(graphMetadata({ metadata: { name: "n1", uid: "u-n", resourceVersion: "7", labels: { a: "b" } } }), {
      metadata: { name: "n1", uid: "u-n", resourceVersion: "7" },
    });
  });
});
