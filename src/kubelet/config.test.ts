import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { DEFAULT_KUBELET_CONFIG, kubeletConfigFrom } from "./config.js";

describe("kubelet config", () => {
  it("has upstream's defaults", () => {
    const c = DEFAULT_KUBELET_CONFIG;
    assert.equal(c.nodeStatusUpdateFrequencyMs, 10_000);
    assert.equal(c.nodeStatusReportFrequencyMs, 300_000);
    assert.equal(c.nodeLeaseDurationSeconds, 40);
    assert.equal(c.crashLoopBackOffInitialMs, 10_000);
    assert.equal(c.crashLoopBackOffMaxMs, 300_000);
    assert.equal(c.maxPods, 110);
  });

  it("reads a KubeletConfiguration with shortened timings", () => {
    const c = kubeletConfigFrom(
      parse(`
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
nodeStatusUpdateFrequency: 1s
nodeLeaseDurationSeconds: 8
maxPods: 50
systemReserved: { cpu: 500m }
crashLoopBackOff:
  initialContainerRestartPeriod: 200ms
  maxContainerRestartPeriod: 2s
simulation:
  containerStartDelay: 50ms
  failureRate: 0.1
  capacity: { cpu: "4", memory: 8Gi }
`),
    );
    assert.equal(c.nodeStatusUpdateFrequencyMs, 1_000);
    assert.equal(c.nodeLeaseDurationSeconds, 8);
    assert.equal(c.maxPods, 50);
    assert.deepEqual(c.systemReserved, { cpu: "500m" });
    assert.equal(c.crashLoopBackOffInitialMs, 200);
    assert.equal(c.crashLoopBackOffMaxMs, 2_000);
    assert.equal(c.imagePullBackOffInitialMs, 10_000);
    assert.equal(c.simulation.containerStartDelayMs, 50);
    assert.equal(c.simulation.failureRate, 0.1);
    assert.deepEqual(c.simulation.capacity, { cpu: "4", memory: "8Gi" });
    assert.equal(c.simulation.clusterCidr, "10.42.0.0/16");
  });

  it("refuses what it does not support, by name", () => {
    assert.throws(() => kubeletConfigFrom({ evictionHard: {} }), /skiff does not support "evictionHard"/);
    assert.throws(() => kubeletConfigFrom({ kind: "Pod" }), /kind must be KubeletConfiguration/);
    assert.throws(() => kubeletConfigFrom({ syncFrequency: "soon" }), /syncFrequency: invalid duration/);
    assert.throws(() => kubeletConfigFrom({ crashLoopBackOff: { initialContainerRestartPeriod: "10m" } }), /not above maxContainerRestartPeriod/);
    assert.throws(() => kubeletConfigFrom({ simulation: { failureRate: 2 } }), /simulation.failureRate/);
  });
});
