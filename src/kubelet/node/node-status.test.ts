import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildNodeStatus, initialNode, type NodeFacts, nodeStatusChanged } from "./node-status.js";
import { memoryAvailableBytes } from "./host-info.js";
import { allocatableOf, subtractQuantity } from "./quantity.js";

const facts = (over: Partial<NodeFacts> = {}): NodeFacts => ({
  nodeName: "n1",
  nodeIP: "127.1.0.1",
  capacity: { cpu: "8", memory: "32Gi", pods: "110" },
  allocatable: { cpu: "8", memory: "32Gi", pods: "110" },
  kubeletVersion: "v1.30.14+skiff",
  containerRuntimeVersion: "sim://0.1.0",
  runtimeNotReady: "",
  images: [],
  kubeletPort: 10250,
  machineId: "m",
  systemUuid: "s",
  bootId: "b",
  kernelVersion: "k",
  osImage: "o",
  operatingSystem: "linux",
  architecture: "amd64",
  ...over,
});

const T0 = Date.UTC(2026, 0, 1);

describe("node status", () => {
  it("reports pressure with upstream's reasons", () => {
    const s = buildNodeStatus(undefined, facts({ pressure: { memory: true, disk: true, pid: true } }), T0);
    assert.deepEqual(
      s.conditions!.slice(0, 3).map((c) => [c.type, c.status, c.reason, c.message]),
      [
        ["MemoryPressure", "True", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available"],
        ["DiskPressure", "True", "KubeletHasDiskPressure", "kubelet has disk pressure"],
        ["PIDPressure", "True", "KubeletHasInsufficientPID", "kubelet has insufficient PID available"],
      ],
    );
    assert.equal(memoryAvailableBytes("MemTotal: 100 kB\nMemAvailable:    2048 kB\n"), 2048 * 1024);
    assert.equal(memoryAvailableBytes("nothing"), undefined);
  });

  it("has upstream's conditions in upstream's order", () => {
    const s = buildNodeStatus(undefined, facts(), T0);
    assert.deepEqual(
      s.conditions!.map((c) => [c.type, c.status, c.reason, c.message]),
      [
        ["MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"],
        ["DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"],
        ["PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"],
        ["Ready", "True", "KubeletReady", "kubelet is posting ready status"],
      ],
    );
    assert.deepEqual(s.addresses, [
      { type: "InternalIP", address: "127.1.0.1" },
      { type: "Hostname", address: "n1" },
    ]);
    assert.equal(s.nodeInfo!.kubeletVersion, "v1.30.14+skiff");
    assert.equal(s.nodeInfo!.containerRuntimeVersion, "sim://0.1.0");
    assert.deepEqual(s.daemonEndpoints, { kubeletEndpoint: { Port: 10250 } });
  });

  it("is unchanged when only heartbeats move, changed when a condition flips", () => {
    const a = buildNodeStatus(undefined, facts(), T0);
    const b = buildNodeStatus(a, facts(), T0 + 10_000);
    assert.equal(nodeStatusChanged(a, b), false);
    assert.notEqual(a.conditions![0]!.lastHeartbeatTime, b.conditions![0]!.lastHeartbeatTime);
    assert.equal(b.conditions![3]!.lastTransitionTime, a.conditions![3]!.lastTransitionTime);
    const c = buildNodeStatus(b, facts({ runtimeNotReady: "container runtime is down" }), T0 + 20_000);
    assert.equal(nodeStatusChanged(b, c), true);
    assert.deepEqual([c.conditions![3]!.status, c.conditions![3]!.reason], ["False", "KubeletNotReady"]);
  });

  it("labels the node as upstream", () => {
    const n = initialNode(facts(), T0);
    assert.equal(n.metadata!.labels!["kubernetes.io/hostname"], "n1");
    assert.equal(n.metadata!.labels!["kubernetes.io/os"], "linux");
    assert.equal(n.metadata!.labels!["kubernetes.io/arch"], "amd64");
  });

  it("subtracts reservations from capacity", () => {
    assert.equal(subtractQuantity("8", "500m"), "7500m");
    assert.equal(subtractQuantity("32Gi", "1Gi"), "32505856Ki");
    assert.deepEqual(allocatableOf({ cpu: "4", memory: "8Gi", pods: "110" }, { cpu: "1" }, { memory: "512Mi" }), {
      cpu: "3",
      memory: "7864320Ki",
      pods: "110",
    });
  });
});
