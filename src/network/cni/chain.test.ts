import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { addNetworkList, checkNetworkList, delNetworkList } from "./chain.js";
import type { CniConfList } from "./conflist.js";
import type { CniRuntimeArgs } from "./plugin-exec.js";
import { findPlugin, pluginNotFoundMessage } from "./plugin-exec.js";

// Fake plugins (shell scripts) that log what they were called with and answer like real ones.
let dir: string;
let rt: CniRuntimeArgs;

function fakePlugin(name: string, body: string): void {
  const p = join(dir, "bin", name);
  writeFileSync(
    p,
    `#!/bin/sh
conf=$(cat)
printf '{"plugin":"${name}","cmd":"%s","id":"%s","netns":"%s","ifname":"%s","args":"%s","path":"%s","conf":%s}\\n' \\
  "$CNI_COMMAND" "$CNI_CONTAINERID" "$CNI_NETNS" "$CNI_IFNAME" "$CNI_ARGS" "$CNI_PATH" "$conf" >> ${join(dir, "calls.log")}
${body}
`,
  );
  chmodSync(p, 0o755);
}

interface Call {
  plugin: string;
  cmd: string;
  id: string;
  netns: string;
  ifname: string;
  args: string;
  path: string;
  conf: Record<string, unknown>;
}

function calls(): Call[] {
  let text = "";
  try {
    text = readFileSync(join(dir, "calls.log"), "utf8");
  } catch {
    return [];
  }
  rmSync(join(dir, "calls.log"));
  return text
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Call);
}

const list: CniConfList = {
  cniVersion: "1.0.0",
  name: "testnet",
  plugins: [{ type: "fake-ipam-bridge", x: 1 }, { type: "fake-portmap", capabilities: { portMappings: true } }],
};
const caps = { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }] };

describe("CNI chain execution", () => {
  before(() => {
    dir = mkdtempSync("/tmp/skiff-cni-chain-");
    mkdirSync(join(dir, "bin"));
    fakePlugin(
      "fake-ipam-bridge",
      `[ "$CNI_COMMAND" = ADD ] && echo '{"cniVersion":"1.0.0","interfaces":[{"name":"eth0"}],"ips":[{"address":"10.9.0.5/24","gateway":"10.9.0.1"}]}'
exit 0`,
    );
    fakePlugin(
      "fake-portmap",
      `[ "$CNI_COMMAND" = ADD ] && echo '{"cniVersion":"1.0.0","ips":[{"address":"10.9.0.5/24"}],"dns":{}}'
exit 0`,
    );
    fakePlugin("fake-broken", `echo '{"cniVersion":"1.0.0","code":999,"msg":"it broke","details":"on purpose"}'; exit 1`);
    fakePlugin("fake-silent-fail", "echo oops >&2; exit 1");
    rt = { containerId: "c0ffee", netns: "/run/netns/x", ifName: "eth0", args: "IgnoreUnknown=1;K8S_POD_NAME=p", binDirs: [join(dir, "nowhere"), join(dir, "bin")], timeoutMs: 10_000 };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("finds plugins in the first directory that has them", () => {
    assert.equal(findPlugin("fake-portmap", rt.binDirs), join(dir, "bin", "fake-portmap"));
    assert.equal(findPlugin("nope", rt.binDirs), undefined);
    assert.equal(findPlugin("../bin/fake-portmap", rt.binDirs), undefined);
    assert.equal(pluginNotFoundMessage("bridge", ["/a", "/b"]), 'failed to find plugin "bridge" in path [/a /b]');
  });

  it("ADD threads prevResult and passes the CNI environment and declared capabilities", async () => {
    const res = await addNetworkList(list, rt, caps);
    assert.ok(res.ok, JSON.stringify(res));
    assert.deepEqual((res.result as { ips: unknown }).ips, [{ address: "10.9.0.5/24" }]);
    const [first, second] = calls();
    assert.equal(first!.plugin, "fake-ipam-bridge");
    assert.equal(first!.cmd, "ADD");
    assert.equal(first!.id, "c0ffee");
    assert.equal(first!.netns, "/run/netns/x");
    assert.equal(first!.ifname, "eth0");
    assert.equal(first!.args, "IgnoreUnknown=1;K8S_POD_NAME=p");
    assert.equal(first!.path, rt.binDirs.join(":"));
    assert.equal(first!.conf.name, "testnet");
    assert.equal(first!.conf.cniVersion, "1.0.0");
    assert.equal(first!.conf.x, 1);
    assert.equal(first!.conf.prevResult, undefined);
    assert.equal(first!.conf.runtimeConfig, undefined);
    assert.equal(second!.plugin, "fake-portmap");
    assert.deepEqual((second!.conf.prevResult as { ips: unknown }).ips, [{ address: "10.9.0.5/24", gateway: "10.9.0.1" }]);
    assert.deepEqual(second!.conf.runtimeConfig, caps);
  });

  it("DEL runs every plugin in reverse with the cached result; CHECK runs in order", async () => {
    const cached = { cniVersion: "1.0.0", ips: [{ address: "10.9.0.5/24" }] };
    assert.ok((await delNetworkList(list, rt, caps, cached)).ok);
    const del = calls();
    assert.deepEqual(
      del.map((c) => `${c.cmd} ${c.plugin}`),
      ["DEL fake-portmap", "DEL fake-ipam-bridge"],
    );
    assert.ok(del.every((c) => JSON.stringify(c.conf.prevResult) === JSON.stringify(cached)));
    assert.ok((await checkNetworkList(list, rt, caps, cached)).ok);
    assert.deepEqual(
      calls().map((c) => `${c.cmd} ${c.plugin}`),
      ["CHECK fake-ipam-bridge", "CHECK fake-portmap"],
    );
  });

  it("reports a plugin's CNI error as libcni does, with the partial result for undoing", async () => {
    const broken: CniConfList = { ...list, plugins: [list.plugins[0]!, { type: "fake-broken" }] };
    const res = await addNetworkList(broken, rt, caps);
    assert.ok(!res.ok);
    assert.equal(res.message, 'plugin type="fake-broken" name="testnet" failed (add): it broke; on purpose');
    assert.deepEqual((res.partialResult as { ips: unknown }).ips, [{ address: "10.9.0.5/24", gateway: "10.9.0.1" }]);
    calls();
  });

  it("DEL still runs the remaining plugins when one fails, and reports the first failure", async () => {
    const broken: CniConfList = { ...list, plugins: [list.plugins[0]!, { type: "fake-silent-fail" }] };
    const res = await delNetworkList(broken, rt, caps, undefined);
    assert.ok(!res.ok);
    assert.equal(res.message, 'plugin type="fake-silent-fail" name="testnet" failed (delete): netplugin failed: "oops"');
    assert.deepEqual(
      calls().map((c) => `${c.cmd} ${c.plugin}`),
      ["DEL fake-silent-fail", "DEL fake-ipam-bridge"],
    );
  });

  it("a missing plugin fails with libcni's message", async () => {
    const res = await addNetworkList({ ...list, plugins: [{ type: "nope" }] }, rt, caps);
    assert.ok(!res.ok);
    assert.equal(res.message, `plugin type="nope" name="testnet" failed (add): failed to find plugin "nope" in path [${rt.binDirs.join(" ")}]`);
  });
});
