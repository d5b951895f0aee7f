/**
 * `skiff server --scheduler-config`: a KubeSchedulerConfiguration with two
 * profiles; pods choose one by schedulerName, pods naming no profile are left
 * alone, the scheduler holds its Lease, and a bad file stops the server with
 * a message naming it.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ok, startTestServer, type TestServer } from "./support/cluster.js";
import { TEST_SERVER_FLAGS } from "./support/skiff.js";

const dir = mkdtempSync(join(tmpdir(), "skiff-schedcfg-"));
let srv: TestServer;

const config = `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: default-scheduler
- schedulerName: pack-tight
  plugins:
    score:
      disabled:
      - name: NodeResourcesBalancedAllocation
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
        resources:
        - name: cpu
          weight: 1
`;

before(async () => {
  const file = join(dir, "scheduler.yaml");
  writeFileSync(file, config);
  srv = await startTestServer(["--scheduler-config", file, "--disable", "controller-manager"]);
  for (const [name, cpu] of [["roomy", "16"], ["busy", "16"]] as const) {
    const node = { apiVersion: "v1", kind: "Node", metadata: { name, labels: { "kubernetes.io/hostname": name } }, status: { capacity: { cpu, memory: "32Gi", pods: "110" }, allocatable: { cpu, memory: "32Gi", pods: "110" } } };
    ok(srv.kubectl(["create", "-f", "-"], { input: JSON.stringify(node) }), `node ${name}`);
  }
});
after(async () => {
  await srv?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function pod(name: string, schedulerName?: string, nodeName?: string, cpu = "1"): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default" },
    spec: { ...(schedulerName ? { schedulerName } : {}), ...(nodeName ? { nodeName } : {}), containers: [{ name: "c", image: "busybox:1.36", resources: { requests: { cpu } } }] },
  });
}

async function nodeOf(name: string): Promise<string> {
  for (let i = 0; i < 300; i++) {
    const n = ok(srv.kubectl(["get", "pod", name, "-o", "jsonpath={.spec.nodeName}"]), "get");
    if (n) return n;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} was never bound`);
}

describe("scheduler configuration", () => {
  it("schedules each pod with the profile its schedulerName names", async () => {
    // Load "busy" so that MostAllocated (pack-tight) prefers it and LeastAllocated (default) avoids it.
    ok(srv.kubectl(["create", "-f", "-"], { input: pod("ballast", undefined, "busy", "8") }), "ballast");
    ok(srv.kubectl(["create", "-f", "-"], { input: pod("packed", "pack-tight") }), "packed");
    ok(srv.kubectl(["create", "-f", "-"], { input: pod("spread") }), "spread");
    assert.equal(await nodeOf("packed"), "busy");
    assert.equal(await nodeOf("spread"), "roomy");
    const events = ok(srv.kubectl(["get", "events", "--field-selector", "involvedObject.name=packed", "-o", "jsonpath={.items[*].source.component}{.items[*].reportingComponent}"]), "events");
    assert.match(events, /pack-tight|default-scheduler/);
  });

  it("leaves pods of an unknown scheduler untouched", async () => {
    ok(srv.kubectl(["create", "-f", "-"], { input: pod("elsewhere", "some-other-scheduler") }), "elsewhere");
    await new Promise((r) => setTimeout(r, 1500));
    const p = JSON.parse(ok(srv.kubectl(["get", "pod", "elsewhere", "-o", "json"]), "get"));
    assert.equal(p.spec.nodeName, undefined);
    assert.equal((p.status.conditions ?? []).find((c: { type: string }) => c.type === "PodScheduled"), undefined);
  });

  it("holds the kube-system/kube-scheduler Lease", () => {
    const holder = ok(srv.kubectl(["-n", "kube-system", "get", "lease", "kube-scheduler", "-o", "jsonpath={.spec.holderIdentity}"]), "lease");
    assert.ok(holder.length > 0);
  });

  it("refuses to start with an invalid configuration, naming the file", () => {
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- schedulerName: x\n  plugins:\n    filter:\n      enabled:\n      - name: NoSuchPlugin\n");
    const r = spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", "server", ...TEST_SERVER_FLAGS, "--data-dir", join(dir, "bad-data"), "--scheduler-config", bad], { encoding: "utf8", timeout: 60_000 });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, new RegExp(`--scheduler-config ${bad.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: .*NoSuchPlugin`));
  });
});
