import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import { linuxContainerResources, milliCpuToQuota, milliCpuToShares, oomScoreAdjust, podCgroupParent } from "./container-resources.js";

const GiB = 1024 ** 3;

function pod(qosClass: string, priority = 0): Pod {
  return { metadata: { uid: "u1" }, spec: { priority, containers: [] }, status: { qosClass } };
}

describe("container resources", () => {
  it("converts cpu as upstream", () => {
    assert.equal(milliCpuToShares(0), 2);
    assert.equal(milliCpuToShares(1), 2);
    assert.equal(milliCpuToShares(250), 256);
    assert.equal(milliCpuToShares(1000), 1024);
    assert.equal(milliCpuToShares(1_000_000), 262144);
    assert.equal(milliCpuToQuota(0, 100_000), 0);
    assert.equal(milliCpuToQuota(5, 100_000), 1000);
    assert.equal(milliCpuToQuota(500, 100_000), 50_000);
  });

  it("ranks containers for the OOM killer by QoS", () => {
    const c: Container = { name: "c", resources: { requests: { memory: "1Gi" } } };
    assert.equal(oomScoreAdjust(pod("Guaranteed"), c, 4 * GiB), -997);
    assert.equal(oomScoreAdjust(pod("BestEffort"), c, 4 * GiB), 1000);
    assert.equal(oomScoreAdjust(pod("Burstable"), c, 4 * GiB), 750);
    assert.equal(oomScoreAdjust(pod("Burstable"), { name: "c", resources: { requests: { memory: "4Gi" } } }, 4 * GiB), 3);
    assert.equal(oomScoreAdjust(pod("Burstable"), { name: "c" }, 4 * GiB), 999);
    assert.equal(oomScoreAdjust(pod("BestEffort", 2_000_001_000), c, 4 * GiB), -997, "node-critical pods are protected");
  });

  it("sets limits and requests", () => {
    const r = linuxContainerResources(pod("Burstable"), { name: "c", resources: { requests: { cpu: "250m" }, limits: { cpu: "1", memory: "64Mi" } } }, 4 * GiB);
    assert.deepEqual(r, { cpuShares: 256, oomScoreAdj: 999, memoryLimitInBytes: 64 * 1024 * 1024, cpuPeriod: 100_000, cpuQuota: 100_000 });
    const none = linuxContainerResources(pod("BestEffort"), { name: "c" }, 4 * GiB);
    assert.deepEqual(none, { cpuShares: 2, oomScoreAdj: 1000 });
  });

  it("places pods in the QoS tree", () => {
    assert.equal(podCgroupParent(pod("Guaranteed")), "/podu1");
    assert.equal(podCgroupParent(pod("Burstable")), "/burstable/podu1");
    assert.equal(podCgroupParent(pod("BestEffort")), "/besteffort/podu1");
  });
});
