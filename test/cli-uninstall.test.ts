/**
 * `skiff uninstall` against a real one-node server: it refuses while the
 * server runs and without --force on a non-terminal, then (server stopped,
 * its pod's container still running, as containers outlive their agent)
 * removes the container, the pod network, the proxy's and the policy
 * enforcer's tables, the cgroups, the mounts and the data dir.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { policyTableName } from "../src/network/policy/nft-script.js";
import { proxyTableName } from "../src/network/proxy/names.js";
import { BUSYBOX_IMAGE, type NodeServer, nodeContainers, nodeLeftovers, startNodeServer } from "./support/node-cluster.js";
import { skiff, stopProcess } from "./support/skiff.js";

const isRoot = process.getuid?.() === 0;

function nftTableExists(family: string, name: string): boolean {
  return spawnSync("nft", ["list", "table", family, name], { encoding: "utf8" }).status === 0;
}

describe("skiff uninstall", { skip: !isRoot && "needs root (a real node)" }, () => {
  let s: NodeServer;
  let stopped = false;
  before(async () => {
    s = await startNodeServer();
  });
  after(async () => {
    // On success the data dir is gone with everything else; only a failed run leaves something to stop.
    if (!stopped || existsSync(s.dataDir)) await s.stop();
  });

  it("refuses while the server runs, then removes everything the node made", async () => {
    const pod = s.kubectl(["run", "sleeper", `--image=${BUSYBOX_IMAGE}`, "--image-pull-policy=Never", "--restart=Never", "--command", "--", "sleep", "3600"]);
    assert.equal(pod.status, 0, pod.stderr);
    await s.eventually("the pod to run", () => (s.kubectl(["get", "pod", "sleeper", "-o", "jsonpath={.status.phase}"]).stdout === "Running" ? true : undefined));
    assert.ok(nftTableExists("ip", proxyTableName(s.bridge)), "the service proxy's table is there while the node runs");

    const whileRunning = skiff(["uninstall", "--data-dir", s.dataDir, "--force"]);
    assert.equal(whileRunning.status, 1);
    assert.match(whileRunning.stderr, new RegExp(`skiff server \\(pid ${s.process.pid}\\) is still running on .*; stop it first`));
    assert.ok(existsSync(s.dataDir), "nothing removed while the server runs");

    await stopProcess(s.process);
    stopped = true;
    assert.ok(nodeContainers(s.dataDir).length > 0, "the pod's containers outlive the server");

    const unconfirmed = skiff(["uninstall", "--data-dir", s.dataDir]);
    assert.equal(unconfirmed.status, 1);
    assert.match(unconfirmed.stderr, /re-run with --force/);
    assert.ok(existsSync(s.dataDir), "nothing removed without confirmation");

    const r = skiff(["uninstall", "--data-dir", s.dataDir, "--force"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`removed the node's containers, network, rules, cgroups and mounts \\(bridge ${s.bridge}\\)`));
    assert.match(r.stdout, new RegExp(`removed ${s.dataDir}`));
    assert.ok(!existsSync(s.dataDir), "the data dir is gone");
    assert.deepEqual(nodeLeftovers(s), [], "no netns, bridge, cgroup or mount is left");
    assert.ok(!nftTableExists("ip", proxyTableName(s.bridge)), "the proxy's table is gone");
    assert.ok(!nftTableExists("inet", policyTableName(s.bridge)), "the policy table is gone");

    const again = skiff(["uninstall", "--data-dir", s.dataDir, "--force"]);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /nothing to uninstall/);
  });
});
