import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { amountToFree, planImageRemoval, shortfallMessage, usagePercent, validateThresholds } from "./gc.js";

describe("image GC policy", () => {
  it("computes usage and the amount to free as the kubelet does", () => {
    const fs = { capacityBytes: 1000, availableBytes: 100 };
    assert.equal(usagePercent(fs), 90);
    assert.equal(amountToFree(fs, 80), 100);
    assert.equal(usagePercent({ capacityBytes: 1000, availableBytes: 151 }), 85);
    assert.equal(usagePercent({ capacityBytes: 1000, availableBytes: 2000 }), 0, "available is clamped to capacity");
  });

  it("removes unused images, least recently used first, never-used oldest first, respecting min age", () => {
    const images = [
      { id: "used-recently", size: 10, firstDetected: 0, lastUsed: 500 },
      { id: "never-used-old", size: 10, firstDetected: 10, lastUsed: 0 },
      { id: "never-used-older", size: 10, firstDetected: 5, lastUsed: 0 },
      { id: "in-use", size: 100, firstDetected: 0, lastUsed: 0 },
      { id: "too-young", size: 100, firstDetected: 990, lastUsed: 0 },
      { id: "used-long-ago", size: 10, firstDetected: 0, lastUsed: 100 },
    ];
    const plan = planImageRemoval(images, 25, new Set(["in-use"]), 1000, 50);
    assert.deepEqual(plan.remove.map((i) => i.id), ["never-used-older", "never-used-old", "used-long-ago"]);
    assert.equal(plan.freed, 30);
    const all = planImageRemoval(images, 1_000, new Set(["in-use"]), 1000, 50);
    assert.deepEqual(all.remove.map((i) => i.id), ["never-used-older", "never-used-old", "used-long-ago", "used-recently"]);
  });

  it("validates thresholds and words the shortfall as the kubelet", () => {
    assert.equal(validateThresholds(85, 80), undefined);
    assert.match(validateThresholds(101, 80)!, /HighThresholdPercent 101/);
    assert.match(validateThresholds(70, 80)!, /can not be higher/);
    assert.equal(
      shortfallMessage(100, 30),
      "Failed to garbage collect required amount of images. Attempted to free 100 bytes, but only found 30 bytes eligible to free.",
    );
  });
});
