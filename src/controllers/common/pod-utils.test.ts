import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { filterActivePods, isPodActive, isPodAvailable, isPodReady, isPodTerminating, podKey } from "./pod-utils.js";
import { rfc3339 } from "./time.js";

const NOW = Date.UTC(2024, 0, 1, 12);

function pod(phase: string, opts: { deleting?: boolean; ready?: string; since?: number } = {}): Pod {
  return {
    metadata: { name: `p-${phase}`, namespace: "ns", ...(opts.deleting ? { deletionTimestamp: rfc3339(NOW) } : {}) },
    status: {
      phase,
      ...(opts.ready ? { conditions: [{ type: "Ready", status: opts.ready, ...(opts.since !== undefined ? { lastTransitionTime: rfc3339(opts.since) } : {}) }] } : {}),
    },
  };
}

describe("pod predicates", () => {
  it("active: neither terminal nor being deleted (upstream TestActivePodFiltering)", () => {
    const pods = [pod("Succeeded"), pod("Failed"), pod(""), pod("Pending"), pod("Running"), pod("Running", { deleting: true })];
    assert.deepEqual(
      filterActivePods(pods).map((p) => p.status?.phase),
      ["", "Pending", "Running"],
    );
    assert.equal(isPodTerminating(pod("Running", { deleting: true })), true);
    assert.equal(isPodTerminating(pod("Failed", { deleting: true })), false);
    assert.equal(isPodActive(pod("Unknown")), true);
  });

  it("ready: the Ready condition is True", () => {
    assert.equal(isPodReady(pod("Running", { ready: "True" })), true);
    assert.equal(isPodReady(pod("Running", { ready: "False" })), false);
    assert.equal(isPodReady(pod("Running")), false);
  });

  it("available: ready for longer than minReadySeconds", () => {
    assert.equal(isPodAvailable(pod("Running", { ready: "True" }), 0, NOW), true, "minReadySeconds 0: ready is enough");
    assert.equal(isPodAvailable(pod("Running", { ready: "True" }), 5, NOW), false, "no transition time: never available");
    assert.equal(isPodAvailable(pod("Running", { ready: "True", since: NOW - 5000 }), 5, NOW), false, "exactly minReadySeconds is not enough");
    assert.equal(isPodAvailable(pod("Running", { ready: "True", since: NOW - 5001 }), 5, NOW), true);
    assert.equal(isPodAvailable(pod("Running", { ready: "False", since: NOW - 60_000 }), 5, NOW), false);
  });

  it("keys pods as ns/name", () => {
    assert.equal(podKey(pod("Running")), "ns/p-Running");
  });
});
