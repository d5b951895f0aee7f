import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { HorizontalPodAutoscaler, HorizontalPodAutoscalerBehavior } from "kubernetes-types/autoscaling/v2.js";
import { FakeClock } from "../../machinery/clock.js";
import { defaultHorizontalPodAutoscaler } from "../../api/defaults/horizontal-pod-autoscaler.js";
import { convertDesiredReplicasWithRules, Normalizer } from "./normalize.js";

const S = 1000;

/** `behavior` with upstream's defaults filled in, as the API server stores it. */
function behavior(b: HorizontalPodAutoscalerBehavior): HorizontalPodAutoscalerBehavior {
  const hpa: HorizontalPodAutoscaler = { spec: { maxReplicas: 10, scaleTargetRef: { kind: "Deployment", name: "x" }, behavior: b } };
  return defaultHorizontalPodAutoscaler(hpa).spec!.behavior!;
}

describe("HPA normalization without behavior (upstream's convertDesiredReplicasWithRules)", () => {
  const cases = [
    { name: "within range", current: 3, desired: 5, min: 1, max: 10, want: 5, reason: "DesiredWithinRange" },
    { name: "scale-up limited to double", current: 3, desired: 10, min: 1, max: 20, want: 6, reason: "ScaleUpLimit" },
    { name: "scale-up limited to at least 4", current: 1, desired: 10, min: 1, max: 20, want: 4, reason: "ScaleUpLimit" },
    { name: "above maxReplicas", current: 5, desired: 12, min: 1, max: 8, want: 8, reason: "TooManyReplicas" },
    { name: "below minReplicas", current: 5, desired: 0, min: 2, max: 8, want: 2, reason: "TooFewReplicas" },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = convertDesiredReplicasWithRules(c.current, c.desired, c.min, c.max);
      assert.equal(got.replicas, c.want);
      assert.equal(got.reason, c.reason);
    });
  }

  it("a scale-down waits for the stabilization window, then follows the highest recent recommendation", () => {
    const clock = new FakeClock(0);
    const n = new Normalizer(300 * S, clock);
    n.recordInitialRecommendation(5, "ns/a");
    const arg = { key: "ns/a", minReplicas: 1, maxReplicas: 10, currentReplicas: 5 };
    clock.advance(60 * S);
    let got = n.normalize({ ...arg, desiredReplicas: 2 });
    assert.equal(got.desiredReplicas, 5);
    assert.deepEqual(got.ableToScale.reason, "ScaleDownStabilized");
    assert.equal(got.ableToScale.message, "recent recommendations were higher than current one, applying the highest recent recommendation");
    clock.advance(120 * S);
    got = n.normalize({ ...arg, desiredReplicas: 3 });
    assert.equal(got.desiredReplicas, 5);
    // The initial 5 ages out; the highest left is the 3.
    clock.advance(150 * S);
    got = n.normalize({ ...arg, desiredReplicas: 2 });
    assert.equal(got.desiredReplicas, 3);
    clock.advance(200 * S);
    got = n.normalize({ ...arg, desiredReplicas: 2 });
    assert.equal(got.desiredReplicas, 2);
    assert.equal(got.ableToScale.reason, "ReadyForNewScale");
    assert.deepEqual(got.scalingLimited, { status: "False", reason: "DesiredWithinRange", message: "the desired count is within the acceptable range" });
  });

  it("a scale-up is never delayed", () => {
    const clock = new FakeClock(0);
    const n = new Normalizer(300 * S, clock);
    n.recordInitialRecommendation(2, "ns/a");
    const got = n.normalize({ key: "ns/a", minReplicas: 1, maxReplicas: 10, currentReplicas: 2, desiredReplicas: 4 });
    assert.equal(got.desiredReplicas, 4);
    assert.equal(got.ableToScale.reason, "ReadyForNewScale");
  });
});

describe("HPA normalization with behavior (upstream's TestNormalizeDesiredReplicasWithBehavior and TestScalingWithRules)", () => {
  const base = { key: "ns/a", minReplicas: 1, maxReplicas: 100 };
  interface Case {
    readonly name: string;
    readonly behavior: HorizontalPodAutoscalerBehavior;
    readonly current: number;
    readonly desired: number;
    readonly min?: number;
    readonly max?: number;
    readonly want: number;
    readonly reason: string;
  }
  const cases: Case[] = [
    { name: "defaults: +4 pods beats +100 % from 2", behavior: {}, current: 2, desired: 20, want: 6, reason: "ScaleUpLimit" },
    { name: "defaults: +100 % beats +4 pods from 10", behavior: {}, current: 10, desired: 50, want: 20, reason: "ScaleUpLimit" },
    { name: "defaults: maxReplicas below the rate", behavior: {}, current: 10, desired: 50, max: 15, want: 15, reason: "TooManyReplicas" },
    { name: "selectPolicy Min takes the smaller step", behavior: { scaleUp: { selectPolicy: "Min" } }, current: 2, desired: 20, want: 4, reason: "ScaleUpLimit" },
    { name: "scale-up Disabled", behavior: { scaleUp: { selectPolicy: "Disabled" } }, current: 2, desired: 20, want: 2, reason: "ScaleUpLimit" },
    {
      name: "percent scale-up rounds up",
      behavior: { scaleUp: { policies: [{ type: "Percent", value: 10, periodSeconds: 60 }] } },
      current: 3,
      desired: 10,
      want: 4,
      reason: "ScaleUpLimit",
    },
    {
      name: "scale-down by pods",
      behavior: { scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: "Pods", value: 2, periodSeconds: 60 }] } },
      current: 10,
      desired: 1,
      want: 8,
      reason: "ScaleDownLimit",
    },
    {
      name: "scale-down by percent rounds down",
      behavior: { scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: "Percent", value: 25, periodSeconds: 60 }] } },
      current: 10,
      desired: 1,
      want: 7,
      reason: "ScaleDownLimit",
    },
    {
      name: "scale-down Min policy takes the larger count",
      behavior: {
        scaleDown: {
          stabilizationWindowSeconds: 0,
          selectPolicy: "Min",
          policies: [
            { type: "Pods", value: 2, periodSeconds: 60 },
            { type: "Percent", value: 50, periodSeconds: 60 },
          ],
        },
      },
      current: 10,
      desired: 1,
      want: 8,
      reason: "ScaleDownLimit",
    },
    { name: "scale-down to minReplicas", behavior: { scaleDown: { stabilizationWindowSeconds: 0 } }, current: 10, desired: 1, min: 3, want: 3, reason: "TooFewReplicas" },
    { name: "scale-down Disabled", behavior: { scaleDown: { stabilizationWindowSeconds: 0, selectPolicy: "Disabled" } }, current: 10, desired: 1, want: 10, reason: "ScaleDownLimit" },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const n = new Normalizer(300 * S, new FakeClock(0));
      const got = n.normalizeWithBehaviors({
        ...base,
        minReplicas: c.min ?? 1,
        maxReplicas: c.max ?? 100,
        currentReplicas: c.current,
        desiredReplicas: c.desired,
        behavior: behavior(c.behavior),
      });
      assert.equal(got.desiredReplicas, c.want);
      assert.equal(got.scalingLimited.reason, c.reason);
      assert.equal(got.scalingLimited.status, c.want === c.desired ? "False" : "True");
    });
  }

  it("scale events within a policy's period count against it", () => {
    const clock = new FakeClock(0);
    const n = new Normalizer(300 * S, clock);
    const b = behavior({ scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: "Pods", value: 1, periodSeconds: 60 }] } });
    const step = (current: number) => n.normalizeWithBehaviors({ ...base, currentReplicas: current, desiredReplicas: 1, behavior: b }).desiredReplicas;
    assert.equal(step(5), 4);
    n.storeScaleEvent(b, "ns/a", 5, 4);
    clock.advance(30 * S);
    assert.equal(step(4), 4, "one pod already removed in this 60 s period");
    clock.advance(31 * S);
    assert.equal(step(4), 3);
  });

  it("the scale-down window defaults to the controller's setting", () => {
    const clock = new FakeClock(0);
    const n = new Normalizer(120 * S, clock);
    const b = behavior({});
    assert.equal(b.scaleDown?.stabilizationWindowSeconds, undefined);
    n.recordInitialRecommendation(6, "ns/a");
    clock.advance(60 * S);
    let got = n.normalizeWithBehaviors({ ...base, currentReplicas: 6, desiredReplicas: 2, behavior: b });
    assert.equal(got.desiredReplicas, 6);
    assert.equal(got.ableToScale.reason, "ScaleDownStabilized");
    clock.advance(61 * S);
    got = n.normalizeWithBehaviors({ ...base, currentReplicas: 6, desiredReplicas: 2, behavior: b });
    assert.equal(got.desiredReplicas, 2);
  });

  it("a scale-up stabilization window applies the lowest recent recommendation", () => {
    const clock = new FakeClock(0);
    const n = new Normalizer(300 * S, clock);
    const b = behavior({ scaleUp: { stabilizationWindowSeconds: 60 } });
    n.recordInitialRecommendation(2, "ns/a");
    clock.advance(10 * S);
    const got = n.normalizeWithBehaviors({ ...base, currentReplicas: 2, desiredReplicas: 5, behavior: b });
    assert.equal(got.desiredReplicas, 2);
    assert.deepEqual(got.ableToScale, {
      status: "True",
      reason: "ScaleUpStabilized",
      message: "recent recommendations were lower than current one, applying the lowest recent recommendation",
    });
  });
});

describe("HPA defaults (upstream's SetDefaults_HorizontalPodAutoscaler)", () => {
  it("minReplicas 1, cpu 80 %, behavior only when given", () => {
    const hpa = defaultHorizontalPodAutoscaler({ spec: { maxReplicas: 3, scaleTargetRef: { kind: "Deployment", name: "x" } } });
    assert.equal(hpa.spec?.minReplicas, 1);
    assert.deepEqual(hpa.spec?.metrics, [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 80 } } }]);
    assert.equal(hpa.spec?.behavior, undefined);
  });
  it("fills every unset scaling rule", () => {
    const b = behavior({ scaleDown: { selectPolicy: "Min" } });
    assert.deepEqual(b, {
      scaleUp: {
        stabilizationWindowSeconds: 0,
        selectPolicy: "Max",
        policies: [
          { type: "Pods", value: 4, periodSeconds: 15 },
          { type: "Percent", value: 100, periodSeconds: 15 },
        ],
      },
      scaleDown: { selectPolicy: "Min", policies: [{ type: "Percent", value: 100, periodSeconds: 15 }] },
    });
  });
});
