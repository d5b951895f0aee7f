import assert from "node:assert/strict";
import { test } from "node:test";
import { findResource } from "../../api/resources.js";
import type { StatusError } from "../../machinery/status-error.js";
import { openMemoryStore } from "../../storage/backends/memory/memory-store.js";
import { ObjectStore } from "../registry/object-store.js";
import { strategyFor } from "../registry/strategies.js";
import { bindPod, evictPod } from "./pod-subresources.js";

function stores() {
  const backing = openMemoryStore();
  const make = (g: string, v: string, p: string) => {
    const resource = findResource(g, v, p)!;
    return new ObjectStore({ store: backing, resource, strategy: strategyFor(resource) });
  };
  return { pods: make("", "v1", "pods"), pdbs: make("policy", "v1", "poddisruptionbudgets") };
}

const pod = (name: string, labels: Record<string, string> = { app: "web" }) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, labels },
  spec: { containers: [{ name: "c", image: "web:1" }] },
});

test("binding assigns a node once and marks the pod scheduled", async () => {
  const { pods } = stores();
  await pods.create("default", pod("p"));
  const status = await bindPod(pods, "default", "p", { apiVersion: "v1", kind: "Binding", metadata: { name: "p" }, target: { kind: "Node", name: "node-1" } });
  assert.equal(status.code, 201);
  const bound = await pods.get("default", "p");
  assert.equal((bound.spec as { nodeName: string }).nodeName, "node-1");
  const cond = (bound.status as { conditions: { type: string; status: string }[] }).conditions.find((c) => c.type === "PodScheduled");
  assert.equal(cond?.status, "True");
  await assert.rejects(bindPod(pods, "default", "p", { target: { name: "node-2" } }), (err: StatusError) => {
    assert.equal(err.code, 409);
    assert.match(err.message, /pod p is already assigned to node "node-1"/);
    return true;
  });
  await assert.rejects(bindPod(pods, "default", "p", { target: {} }), (err: StatusError) => err.code === 422);
});

test("eviction respects a PodDisruptionBudget and spends its allowance", async () => {
  const { pods, pdbs } = stores();
  for (const n of ["a", "b"]) {
    await pods.create("default", pod(n));
    await bindPod(pods, "default", n, { target: { name: "node-1" } });
    await pods.guaranteedUpdate("default", n, (p) => ({ ...p, status: { ...(p.status as object), phase: "Running" } }), { subresource: "status" });
  }
  await pdbs.create("default", { metadata: { name: "web" }, spec: { minAvailable: 1, selector: { matchLabels: { app: "web" } } } });
  await pdbs.guaranteedUpdate(
    "default",
    "web",
    (p) => ({ ...p, status: { disruptionsAllowed: 1, currentHealthy: 2, desiredHealthy: 1, expectedPods: 2, observedGeneration: 1 } }),
    { subresource: "status" },
  );
  const ok = await evictPod(pods, pdbs, "default", "a", { apiVersion: "policy/v1", kind: "Eviction", metadata: { name: "a" } });
  assert.equal(ok.code, 201);
  assert.ok((await pods.get("default", "a")).metadata?.deletionTimestamp, "the evicted pod is being deleted");
  const budget = (await pdbs.get("default", "web")).status as { disruptionsAllowed: number; disruptedPods: Record<string, string> };
  assert.equal(budget.disruptionsAllowed, 0);
  assert.ok(budget.disruptedPods.a);
  await assert.rejects(evictPod(pods, pdbs, "default", "b", { metadata: { name: "b" } }), (err: StatusError) => {
    assert.equal(err.code, 429);
    assert.equal(err.message, "Cannot evict pod as it would violate the pod's disruption budget.");
    assert.equal(err.status.details?.causes?.[0]?.reason, "DisruptionBudget");
    return true;
  });
  // A pending pod needs no budget.
  await pods.create("default", pod("pending"));
  assert.equal((await evictPod(pods, pdbs, "default", "pending", {})).code, 201);
});
