import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Taint, Toleration } from "kubernetes-types/core/v1.js";
import { microTime } from "./node-health.js";
import { addOrUpdateTaint, getMatchingTolerations, getMinTolerationTimeMs, removeTaint, taintSetDiff } from "./taints.js";

const unreachable: Taint = { key: "node.kubernetes.io/unreachable", effect: "NoExecute" };
const notReady: Taint = { key: "node.kubernetes.io/not-ready", effect: "NoExecute" };

describe("taint helpers", () => {
  it("adds, updates and removes taints by key and effect", () => {
    const stamped = { ...unreachable, timeAdded: "2026-01-01T00:00:00Z" };
    assert.deepEqual(addOrUpdateTaint([], stamped), { taints: [stamped], updated: true });
    assert.deepEqual(addOrUpdateTaint([stamped], stamped).updated, false);
    const later = { ...unreachable, timeAdded: "2026-01-01T00:01:00Z" };
    assert.deepEqual(addOrUpdateTaint([notReady, stamped], later), { taints: [notReady, later], updated: true });
    assert.deepEqual(removeTaint([notReady, stamped], unreachable), { taints: [notReady], updated: true });
    assert.equal(removeTaint([notReady], unreachable).updated, false);
    const ns = { key: "node.kubernetes.io/unreachable", effect: "NoSchedule" };
    assert.deepEqual(taintSetDiff([ns], [{ ...notReady, effect: "NoSchedule" }]), { add: [ns], remove: [{ ...notReady, effect: "NoSchedule" }] });
  });

  it("matches tolerations as the core/v1 helper does", () => {
    const exists: Toleration = { operator: "Exists" };
    assert.deepEqual(getMatchingTolerations([unreachable, notReady], [exists]), { allTolerated: true, used: [exists, exists] });
    const one: Toleration = { key: unreachable.key, operator: "Exists", effect: "NoExecute", tolerationSeconds: 2 };
    assert.deepEqual(getMatchingTolerations([unreachable, notReady], [one]), { allTolerated: false, used: [] });
    assert.deepEqual(getMatchingTolerations([], undefined), { allTolerated: true, used: [] });
    assert.deepEqual(getMatchingTolerations([unreachable], undefined), { allTolerated: false, used: [] });
    const wrongValue: Toleration = { key: unreachable.key, operator: "Equal", value: "x", effect: "NoExecute" };
    assert.equal(getMatchingTolerations([unreachable], [wrongValue]).allTolerated, false);
  });

  it("takes the shortest tolerationSeconds; none means forever, <= 0 means now", () => {
    assert.equal(getMinTolerationTimeMs([]), 0);
    assert.equal(getMinTolerationTimeMs([{ operator: "Exists" }]), -1);
    assert.equal(getMinTolerationTimeMs([{ tolerationSeconds: 300 }, { tolerationSeconds: 2 }, { operator: "Exists" }]), 2_000);
    assert.equal(getMinTolerationTimeMs([{ tolerationSeconds: 300 }, { tolerationSeconds: -1 }]), 0);
  });

  it("compares Lease renew times to the microsecond", () => {
    assert.ok(microTime("2026-01-01T00:00:00.000001Z") > microTime("2026-01-01T00:00:00.000000Z"));
    assert.equal(microTime("2026-01-01T00:00:01Z") - microTime("2026-01-01T00:00:00.5Z"), 500_000);
    assert.ok(Number.isNaN(microTime(undefined)));
  });
});
