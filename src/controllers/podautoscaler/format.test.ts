import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { scaleSelectorString } from "../../apiserver/handlers/resource.js";
import { parseLabelSelector } from "../../machinery/labels.js";
import { parseHpaFlags } from "./flags.js";
import { goLabelSelector, milliQuantity } from "./format.js";

describe("HPA value formatting", () => {
  it("milli quantities in Go's canonical DecimalSI form", () => {
    const cases: [number, string][] = [
      [0, "0"],
      [250, "250m"],
      [1000, "1"],
      [1500, "1500m"],
      [104857600000, "104857600"],
      [2_000_000, "2k"],
      [12_345, "12345m"],
    ];
    for (const [milli, want] of cases) assert.equal(milliQuantity(milli), want, String(milli));
  });

  it("a label selector as Go's %+v prints it", () => {
    assert.equal(goLabelSelector(undefined), "nil");
    assert.equal(
      goLabelSelector({ matchLabels: { queue: "worker_tasks", a: "b" }, matchExpressions: [{ key: "tier", operator: "In", values: ["x", "y"] }] }),
      "&LabelSelector{MatchLabels:map[string]string{a: b,queue: worker_tasks,},MatchExpressions:[]LabelSelectorRequirement{LabelSelectorRequirement{Key:tier,Operator:In,Values:[x y],},},}",
    );
  });
});

describe("the Scale's status.selector the HPA parses", () => {
  it("matchLabels and matchExpressions, sorted by key, as LabelSelectorAsSelector(...).String()", () => {
    const text = scaleSelectorString({
      matchLabels: { tier: "web", app: "shop" },
      matchExpressions: [
        { key: "env", operator: "In", values: ["prod", "canary"] },
        { key: "legacy", operator: "DoesNotExist" },
        { key: "zone", operator: "Exists" },
        { key: "track", operator: "NotIn", values: ["b"] },
      ],
    });
    assert.equal(text, "app=shop,env in (canary,prod),!legacy,tier=web,track notin (b),zone");
    const sel = parseLabelSelector(text);
    assert.equal(sel.matches({ app: "shop", env: "prod", tier: "web", zone: "a" }), true);
    assert.equal(sel.matches({ app: "shop", env: "prod", tier: "web", zone: "a", legacy: "1" }), false);
  });
  it("none is empty", () => {
    assert.equal(scaleSelectorString(undefined), "");
  });
});

describe("HPA flags", () => {
  it("parses upstream's defaults", () => {
    assert.deepEqual(
      parseHpaFlags({
        horizontalPodAutoscalerSyncPeriod: "15s",
        horizontalPodAutoscalerDownscaleStabilization: "5m",
        horizontalPodAutoscalerTolerance: "0.1",
        horizontalPodAutoscalerCpuInitializationPeriod: "5m",
        horizontalPodAutoscalerInitialReadinessDelay: "30s",
      }),
      {
        horizontalPodAutoscalerSyncPeriodMs: 15_000,
        horizontalPodAutoscalerDownscaleStabilizationMs: 300_000,
        horizontalPodAutoscalerTolerance: 0.1,
        horizontalPodAutoscalerCpuInitializationPeriodMs: 300_000,
        horizontalPodAutoscalerInitialReadinessDelayMs: 30_000,
      },
    );
  });
  it("rejects bad values naming the flag", () => {
    assert.throws(() => parseHpaFlags({ horizontalPodAutoscalerSyncPeriod: "0s" }), /--horizontal-pod-autoscaler-sync-period must be greater than 0/);
    assert.throws(() => parseHpaFlags({ horizontalPodAutoscalerTolerance: "-1" }), /--horizontal-pod-autoscaler-tolerance must be a non-negative number/);
    assert.throws(() => parseHpaFlags({ horizontalPodAutoscalerDownscaleStabilization: "soon" }), /--horizontal-pod-autoscaler-downscale-stabilization: invalid duration/);
  });
});
