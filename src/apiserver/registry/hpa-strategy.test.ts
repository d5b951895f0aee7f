import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { horizontalPodAutoscalerStrategy, validateHorizontalPodAutoscaler } from "./hpa-strategy.js";
import type { KObject } from "./types.js";

const hpa = (spec: Record<string, unknown>): KObject => ({ apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", metadata: { name: "h", namespace: "default" }, spec });
const details = (o: KObject) => validateHorizontalPodAutoscaler(o).map((e) => `${e.field}: ${e.detail}`);

describe("HorizontalPodAutoscaler strategy", () => {
  it("defaults minReplicas and the 80 % cpu target, as upstream's v2 defaults", () => {
    const o = hpa({ scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" }, maxReplicas: 3 });
    horizontalPodAutoscalerStrategy.defaults!(o);
    assert.equal((o.spec as { minReplicas: number }).minReplicas, 1);
    assert.deepEqual((o.spec as { metrics: unknown }).metrics, [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 80 } } }]);
    assert.deepEqual(details(o), []);
  });

  it("rejects bad replica bounds and a missing scale target with upstream's messages", () => {
    assert.deepEqual(details(hpa({ minReplicas: 5, maxReplicas: 2, scaleTargetRef: { kind: "Deployment", name: "" } })), [
      "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`",
      "spec.scaleTargetRef.name: Required value",
    ]);
    assert.deepEqual(details(hpa({ minReplicas: 0, maxReplicas: 0, scaleTargetRef: { kind: "a/b", name: "x" } })), [
      "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
      "spec.maxReplicas: Invalid value: 0: must be greater than 0",
      "spec.scaleTargetRef.kind: Invalid value: \"a/b\": may not contain '/'",
    ]);
  });

  it("checks each metric's source and target, and the behavior's policies", () => {
    const errs = details(
      hpa({
        maxReplicas: 2,
        scaleTargetRef: { kind: "Deployment", name: "web" },
        metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization" } } }, { type: "Bogus" }],
        behavior: { scaleUp: { stabilizationWindowSeconds: 4000, policies: [{ type: "Pods", value: 0, periodSeconds: 15 }] } },
      }),
    );
    assert.deepEqual(errs, [
      "spec.metrics[0].resource.target.averageUtilization: Required value: must set either a target raw value or a target utilization",
      'spec.metrics[1].type: Unsupported value: "Bogus": supported values: "Object", "Pods", "Resource", "External", "ContainerResource"',
      "spec.behavior.scaleUp.stabilizationWindowSeconds: Invalid value: 4000: must be less than or equal to 3600",
      "spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero",
    ]);
  });
});
