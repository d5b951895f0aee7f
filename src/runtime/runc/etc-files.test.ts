import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hostnameProblem, hostNetworkHostsFile, podHostsFile, resolvConf } from "./etc-files.js";

describe("etc files", () => {
  it("writes the kubelet's managed hosts file", () => {
    assert.equal(
      podHostsFile(["10.42.0.7"], "web-0"),
      "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n10.42.0.7\tweb-0\n",
    );
    assert.equal(hostNetworkHostsFile("127.0.0.1 localhost\n"), "# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n");
  });
  it("writes resolv.conf as containerd does", () => {
    assert.equal(
      resolvConf({ servers: ["10.43.0.10", "10.43.0.11"], searches: ["ns.svc.cluster.local", "svc.cluster.local"], options: ["ndots:5"] }),
      "search ns.svc.cluster.local svc.cluster.local\nnameserver 10.43.0.10\nnameserver 10.43.0.11\noptions ndots:5\n",
    );
    assert.equal(resolvConf({ servers: ["1.1.1.1"], searches: [], options: [] }), "nameserver 1.1.1.1\n");
  });
  it("checks hostnames", () => {
    assert.equal(hostnameProblem("web-0"), undefined);
    assert.equal(hostnameProblem("a.b-c"), undefined);
    assert.match(hostnameProblem("-x") ?? "", /alphanumeric/);
    assert.match(hostnameProblem("a".repeat(65)) ?? "", /longer than 64/);
  });
});
