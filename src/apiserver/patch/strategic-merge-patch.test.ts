import assert from "node:assert/strict";
import { test } from "node:test";
import definitions from "../../api/openapi/definitions.generated.json" with { type: "json" };
import { applyStrategicMergePatch, type Definitions } from "./strategic-merge-patch.js";

const defs = definitions as unknown as Definitions;
const DEPLOY = "io.k8s.api.apps.v1.Deployment";

function deployment() {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "backend", finalizers: ["a", "b"], labels: { app: "backend", tier: "api" } },
    spec: {
      replicas: 2,
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } },
      template: {
        spec: {
          containers: [
            {
              name: "backend",
              image: "backend:1",
              env: [
                { name: "DB_HOST", value: "mysql" },
                { name: "X", value: "1" },
              ],
              ports: [{ containerPort: 8080 }, { containerPort: 9090 }],
            },
            { name: "sidecar", image: "sidecar:1" },
          ],
        },
      },
    },
  };
}

test("merges lists by their merge key and replaces atomic values", () => {
  const out = applyStrategicMergePatch(
    deployment(),
    { spec: { template: { spec: { containers: [{ name: "backend", image: "backend:2", env: [{ name: "Y", value: "2" }] }] } } } },
    DEPLOY,
    defs,
  ) as ReturnType<typeof deployment>;
  const [backend, sidecar] = out.spec.template.spec.containers;
  assert.equal(backend!.image, "backend:2");
  assert.deepEqual(backend!.env!.map((e) => e.name), ["DB_HOST", "X", "Y"]);
  assert.equal(sidecar!.image, "sidecar:1", "untouched element kept");
});

test("deletes list elements, map keys and primitive list values by directive", () => {
  const out = applyStrategicMergePatch(
    deployment(),
    {
      metadata: { labels: { tier: null }, "$deleteFromPrimitiveList/finalizers": ["a"] },
      spec: {
        template: {
          spec: {
            containers: [{ name: "backend", env: [{ name: "X", $patch: "delete" }], ports: [{ containerPort: 9090, $patch: "delete" }] }, { name: "sidecar", $patch: "delete" }],
          },
        },
      },
    },
    DEPLOY,
    defs,
  ) as ReturnType<typeof deployment>;
  assert.deepEqual(out.metadata.labels, { app: "backend" });
  assert.deepEqual(out.metadata.finalizers, ["b"]);
  assert.equal(out.spec.template.spec.containers.length, 1);
  assert.deepEqual(out.spec.template.spec.containers[0]!.env!.map((e) => e.name), ["DB_HOST"]);
  assert.deepEqual(out.spec.template.spec.containers[0]!.ports, [{ containerPort: 8080 }]);
});

test("honours $retainKeys, $setElementOrder and $patch: replace", () => {
  const out = applyStrategicMergePatch(
    deployment(),
    {
      spec: {
        strategy: { $retainKeys: ["type"], type: "Recreate", rollingUpdate: null },
        template: {
          spec: {
            "$setElementOrder/containers": [{ name: "sidecar" }, { name: "backend" }],
            containers: [{ name: "backend", "$setElementOrder/env": [{ name: "X" }, { name: "DB_HOST" }], env: [{ name: "X", value: "9" }] }],
          },
        },
      },
    },
    DEPLOY,
    defs,
  ) as ReturnType<typeof deployment>;
  assert.deepEqual(out.spec.strategy, { type: "Recreate" });
  assert.deepEqual(out.spec.template.spec.containers.map((c) => c.name), ["sidecar", "backend"]);
  assert.deepEqual(out.spec.template.spec.containers[1]!.env, [
    { name: "X", value: "9" },
    { name: "DB_HOST", value: "mysql" },
  ]);
  const replaced = applyStrategicMergePatch(deployment(), { metadata: { labels: { $patch: "replace", only: "this" } } }, DEPLOY, defs) as ReturnType<typeof deployment>;
  assert.deepEqual(replaced.metadata.labels, { only: "this" });
});

test("merges primitive lists with merge strategy as a union", () => {
  const out = applyStrategicMergePatch(deployment(), { metadata: { finalizers: ["b", "c"] } }, DEPLOY, defs) as ReturnType<typeof deployment>;
  assert.deepEqual(out.metadata.finalizers, ["a", "b", "c"]);
});
