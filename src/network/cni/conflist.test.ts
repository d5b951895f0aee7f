import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cniPortMappings, invalidPortMapping, loopbackConfList, podCniArgs, podConfList, pluginConfig } from "./conflist.js";
import { resultIps } from "./result.js";

const list = podConfList({
  networkName: "skiff0",
  bridgeName: "skiff0",
  podCidr: "10.42.3.0/24",
  ipamDataDir: "/var/lib/skiff/agent/cni/ipam",
  hairpin: true,
  ipMasq: true,
  mtu: 1400,
});

describe("conflist", () => {
  it("chains bridge (host-local on the podCIDR) and portmap under CNI 1.0.0", () => {
    assert.equal(list.cniVersion, "1.0.0");
    assert.deepEqual(
      list.plugins.map((p) => p.type),
      ["bridge", "portmap"],
    );
    const bridge = list.plugins[0]!;
    assert.equal(bridge.bridge, "skiff0");
    assert.equal(bridge.isGateway, true);
    assert.equal(bridge.ipMasq, true);
    assert.equal(bridge.hairpinMode, true);
    assert.equal(bridge.mtu, 1400);
    assert.deepEqual(bridge.ipam, {
      type: "host-local",
      ranges: [[{ subnet: "10.42.3.0/24" }]],
      routes: [{ dst: "0.0.0.0/0" }],
      dataDir: "/var/lib/skiff/agent/cni/ipam",
    });
    assert.deepEqual(list.plugins[1]!.capabilities, { portMappings: true });
    assert.equal(loopbackConfList().plugins[0]!.type, "loopback");
  });

  it("builds each plugin's config as libcni does: name, version, prevResult, declared capabilities only", () => {
    const pms = [{ hostPort: 8080, containerPort: 80, protocol: "tcp" as const }];
    const first = pluginConfig(list, list.plugins[0]!, undefined, { portMappings: pms });
    assert.equal(first.name, "skiff0");
    assert.equal(first.cniVersion, "1.0.0");
    assert.equal("prevResult" in first, false);
    assert.equal("runtimeConfig" in first, false, "bridge declares no capability");
    const prev = { cniVersion: "1.0.0", ips: [{ address: "10.42.3.2/24" }] };
    const second = pluginConfig(list, list.plugins[1]!, prev, { portMappings: pms, bandwidth: { x: 1 } });
    assert.deepEqual(second.prevResult, prev);
    assert.deepEqual(second.runtimeConfig, { portMappings: pms });
  });

  it("converts CRI port mappings, skipping those without a host port", () => {
    assert.deepEqual(
      cniPortMappings([
        { protocol: "TCP", containerPort: 80, hostPort: 8080 },
        { protocol: "UDP", containerPort: 53, hostPort: 5353, hostIp: "127.0.0.1" },
        { protocol: "TCP", containerPort: 9000, hostPort: 0 },
      ]),
      [
        { hostPort: 8080, containerPort: 80, protocol: "tcp" },
        { hostPort: 5353, containerPort: 53, protocol: "udp", hostIP: "127.0.0.1" },
      ],
    );
  });

  it("rejects port mappings the plugins cannot publish", () => {
    assert.equal(invalidPortMapping({ protocol: "TCP", containerPort: 80, hostPort: 8080 }), undefined);
    assert.match(invalidPortMapping({ protocol: "TCP", containerPort: 80, hostPort: 70000 })!, /invalid hostPort 70000/);
    assert.match(invalidPortMapping({ protocol: "TCP", containerPort: 0, hostPort: 80 })!, /invalid containerPort 0/);
    assert.match(invalidPortMapping({ protocol: "ICMP" as "TCP", containerPort: 1, hostPort: 80 })!, /unsupported protocol "ICMP"/);
    assert.match(invalidPortMapping({ protocol: "TCP", containerPort: 80, hostPort: 80, hostIp: "::1" })!, /IPv6/);
  });

  it("passes the pod identity in CNI_ARGS, tolerated by strict plugins", () => {
    assert.equal(
      podCniArgs({ podNamespace: "default", podName: "web-0", podUid: "u-1", sandboxId: "abc" }),
      "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u-1",
    );
  });
});

describe("result", () => {
  it("reads pod IPs, IPv4 first", () => {
    assert.deepEqual(resultIps({ cniVersion: "1.0.0", ips: [{ address: "fd00::5/64" }, { address: "10.42.3.5/24", gateway: "10.42.3.1" }] }), {
      ips: ["10.42.3.5", "fd00::5"],
    });
  });

  it("reports what is not a result", () => {
    assert.equal(resultIps(null), "CNI result is not an object");
    assert.equal(resultIps({}), "CNI result has no ips");
    assert.equal(resultIps({ ips: [] }), "CNI result has no IP addresses");
    assert.match(String(resultIps({ ips: [{ address: "10.0.0.1" }] })), /malformed ips entry/);
  });
});
