import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { makeNode, makePod } from "../testing/wrappers.js";
import { HostPortInfo } from "./host-ports.js";
import { NodeInfo } from "./node-info.js";

describe("HostPortInfo", () => {
  it("treats 0.0.0.0 (or an empty host IP) as every address", () => {
    const cases: { name: string; used: [string, string, number][]; check: [string, string, number]; conflict: boolean }[] = [
      { name: "same ip, protocol, port", used: [["127.0.0.1", "TCP", 80]], check: ["127.0.0.1", "TCP", 80], conflict: true },
      { name: "different port", used: [["127.0.0.1", "TCP", 80]], check: ["127.0.0.1", "TCP", 81], conflict: false },
      { name: "different protocol", used: [["127.0.0.1", "TCP", 80]], check: ["127.0.0.1", "UDP", 80], conflict: false },
      { name: "different ip", used: [["127.0.0.1", "TCP", 80]], check: ["127.0.0.2", "TCP", 80], conflict: false },
      { name: "wanted 0.0.0.0 conflicts with any ip", used: [["127.0.0.1", "TCP", 80]], check: ["0.0.0.0", "TCP", 80], conflict: true },
      { name: "used 0.0.0.0 conflicts with a specific ip", used: [["0.0.0.0", "TCP", 80]], check: ["10.0.0.1", "TCP", 80], conflict: true },
      { name: "empty ip and protocol mean 0.0.0.0 and TCP", used: [["", "", 80]], check: ["10.0.0.1", "TCP", 80], conflict: true },
      { name: "port 0 never conflicts", used: [["", "", 0]], check: ["", "", 0], conflict: false },
    ];
    for (const c of cases) {
      const h = new HostPortInfo();
      for (const [ip, proto, port] of c.used) h.add(ip, proto, port);
      assert.equal(h.checkConflict(...c.check), c.conflict, c.name);
    }
  });
});

describe("NodeInfo", () => {
  it("adds and removes pods with their requests, ports, PVCs and affinity lists", () => {
    const ni = new NodeInfo();
    ni.setNode(makeNode("n1").capacity({ cpu: "4", memory: "8Gi" }).obj());
    assert.equal(ni.allocatable.milliCPU, 4000);
    assert.equal(ni.allocatable.allowedPodNumber, 110);
    const g0 = ni.generation;
    const p1 = makePod("p1").req({ cpu: "1", memory: "1Gi" }).hostPort(8080).pvc("data").obj();
    const p2 = makePod("p2").req({}).obj();
    p2.spec!.affinity = { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: "kubernetes.io/hostname", labelSelector: {} }] } };
    ni.addPod(p1);
    ni.addPod(p2);
    assert.ok(ni.generation > g0);
    assert.equal(ni.pods.length, 2);
    assert.equal(ni.requested.milliCPU, 1000);
    // The host-port container and p2's container request nothing: 100m / 200Mi each when counted non-zero.
    assert.equal(ni.nonZeroRequested.milliCPU, 1200);
    assert.equal(ni.nonZeroRequested.memory, 1073741824 + 2 * 209715200);
    assert.deepEqual(ni.usedPorts.entries(), ["0.0.0.0 TCP/8080"]);
    assert.deepEqual([...ni.pvcRefCounts], [["default/data", 1]]);
    assert.equal(ni.podsWithAffinity.length, 1);
    assert.equal(ni.podsWithRequiredAntiAffinity.length, 1);

    const clone = ni.snapshot();
    assert.equal(ni.removePod(p1), undefined);
    assert.equal(ni.requested.milliCPU, 0);
    assert.deepEqual(ni.usedPorts.entries(), []);
    assert.equal(ni.pvcRefCounts.size, 0);
    // The clone is independent.
    assert.equal(clone.pods.length, 2);
    assert.equal(clone.requested.milliCPU, 1000);
    assert.deepEqual(clone.usedPorts.entries(), ["0.0.0.0 TCP/8080"]);

    assert.equal(ni.removePod(p2), undefined);
    assert.equal(ni.podsWithAffinity.length, 0);
    assert.match(ni.removePod(p2) ?? "", /no corresponding pod p2 in pods of node n1/);
  });
});
