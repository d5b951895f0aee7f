import assert from "node:assert/strict";
import { test } from "node:test";
import { hpaV1ToV2, hpaV2ToV1 } from "./hpa.js";

const v2 = {
  apiVersion: "autoscaling/v2",
  kind: "HorizontalPodAutoscaler",
  metadata: { name: "web", namespace: "default" },
  spec: {
    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
    minReplicas: 2,
    maxReplicas: 10,
    metrics: [
      { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 60 } } },
      { type: "Resource", resource: { name: "memory", target: { type: "AverageValue", averageValue: "500Mi" } } },
    ],
    behavior: { scaleDown: { stabilizationWindowSeconds: 60 } },
  },
  status: {
    currentReplicas: 3,
    desiredReplicas: 4,
    currentMetrics: [{ type: "Resource", resource: { name: "cpu", current: { averageUtilization: 75 } } }],
    conditions: [{ type: "AbleToScale", status: "True" }],
  },
};

test("v2 shows through v1 with the CPU target as a field and the rest in annotations", () => {
  const v1 = hpaV2ToV1(v2) as { spec: Record<string, unknown>; status: Record<string, unknown>; metadata: { annotations: Record<string, string> } };
  assert.equal(v1.spec.targetCPUUtilizationPercentage, 60);
  assert.equal(v1.status.currentCPUUtilizationPercentage, 75);
  assert.equal(v1.status.desiredReplicas, 4);
  assert.deepEqual(JSON.parse(v1.metadata.annotations["autoscaling.alpha.kubernetes.io/metrics"]!), [v2.spec.metrics[1]]);
});

test("a round trip through v1 loses nothing", () => {
  assert.deepEqual(hpaV1ToV2(hpaV2ToV1(v2)), v2);
});
