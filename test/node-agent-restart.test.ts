/**
 * A joined `skiff agent --runtime runc` killed with SIGKILL: an exec in
 * flight ends with an error (it does not hang), the containers keep running
 * under conmon, and the restarted agent adopts them with the same container
 * ids, restart counts and logs.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { RuncPaths } from "../src/runtime/runc/paths.js";
import { ok, startTestServer, type TestServer } from "./support/cluster.js";
import {
  BUSYBOX_IMAGE,
  cleanupNode,
  importBusybox,
  type NodeIdentity,
  nodeIdentity,
  nodeLeftovers,
  TEST_CLUSTER_CIDR,
  TEST_SERVICE_CIDR,
  writeKubeletConfig,
} from "./support/node-cluster.js";
import { skiffBackground, stopProcess, waitForLog } from "./support/skiff.js";
import { eventually } from "./support/eventually.js";

let server: TestServer;
let node: NodeIdentity;
let dataDir: string;
let kubeletConfig: string;
let agent: ChildProcess | undefined;

function startAgent(): ChildProcess {
  const token = readFileSync(join(server.dataDir, "token"), "utf8").trim();
  return skiffBackground([
    "agent",
    "--runtime",
    "runc",
    "--server",
    `https://127.0.0.1:${server.port}`,
    "--token",
    token,
    "--node-name",
    node.nodeName,
    "--node-ip",
    "127.0.0.1",
    "--kubelet-port",
    "0",
    "--kubelet-config",
    kubeletConfig,
    "--data-dir",
    dataDir,
    "--cluster-cidr",
    TEST_CLUSTER_CIDR,
    "--service-cidr",
    TEST_SERVICE_CIDR,
  ]);
}

function getPod(name: string): Pod | undefined {
  const r = server.kubectl(["get", "pod", name, "-o", "json"]);
  return r.status === 0 ? (JSON.parse(r.stdout) as Pod) : undefined;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

before(async () => {
  server = await startTestServer(["--cluster-cidr", TEST_CLUSTER_CIDR, "--service-cidr", TEST_SERVICE_CIDR]);
  node = nodeIdentity();
  dataDir = mkdtempSync(join(tmpdir(), "skiff-agent-"));
  importBusybox(dataDir);
  kubeletConfig = writeKubeletConfig(dataDir, node);
  agent = startAgent();
  await waitForLog(agent, /msg="nodes registered"/);
});

after(async () => {
  server?.kubectl(["delete", "pods", "--all", "--grace-period", "1", "--wait=true", "--timeout", "60s"]);
  if (agent) await stopProcess(agent);
  await server?.stop();
  if (dataDir) {
    cleanupNode(dataDir, node, kubeletConfig);
    assert.deepEqual(nodeLeftovers({ ...node, dataDir }), []);
  }
});

describe("agent restart", () => {
  it("keeps containers running through kill -9 and adopts them again", async () => {
    ok(
      server.kubectl(["apply", "-f", "-"], {
        input: JSON.stringify({
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "survivor" },
          spec: { terminationGracePeriodSeconds: 1, containers: [{ name: "app", image: BUSYBOX_IMAGE, imagePullPolicy: "Never", command: ["sh", "-c", "echo started; exec sleep 3600"] }] },
        }),
      }),
      "apply",
    );
    const before = await eventually("survivor running", () => {
      const p = getPod("survivor");
      return p?.status?.phase === "Running" && p.status.containerStatuses?.[0]?.state?.running ? p : undefined;
    });
    const containerID = before.status!.containerStatuses![0]!.containerID!;

    // An exec in flight when the agent dies ends with an error, not a hang.
    const exec = spawn("kubectl", ["--kubeconfig", server.kubeconfig, "exec", "survivor", "--", "sleep", "60"], { stdio: ["ignore", "pipe", "pipe"] });
    let execErr = "";
    exec.stderr.on("data", (d) => {
      execErr += d;
    });
    await new Promise((r) => setTimeout(r, 1500));
    const pid = agent!.pid!;
    agent!.kill("SIGKILL");
    await once(agent!, "exit");
    agent = undefined;
    const [code] = (await once(exec, "close")) as [number | null];
    assert.notEqual(code, 0, "the exec fails");
    assert.match(execErr, /error|EOF|closed|lost/i, `a clean error, not a hang: ${execErr}`);
    assert.equal(processAlive(pid), false);

    // The container outlived its agent.
    assert.ok(containerStillRunning(containerID.replace("runc://", "")), "the container keeps running under conmon");

    agent = startAgent();
    await waitForLog(agent, /msg="nodes registered"/);
    // Give the restarted kubelet a sync; the pod must keep its container.
    await eventually("the pod seen again", () => (getPod("survivor")?.status?.containerStatuses?.[0]?.ready ? true : undefined));
    await new Promise((r) => setTimeout(r, 3000));
    const after = getPod("survivor")!;
    const st = after.status!.containerStatuses![0]!;
    assert.equal(st.containerID, containerID, "same container");
    assert.equal(st.restartCount, 0);
    assert.ok(st.state?.running, "still running");
    assert.equal(ok(server.kubectl(["logs", "survivor"]), "logs"), "started\n");
  });
});

/** Whether runc (under this agent's root) still reports the container running. */
function containerStillRunning(id: string): boolean {
  const root = new RuncPaths(join(dataDir, "agent", "runtime")).runcRoot;
  const r = spawnSync("runc", ["--root", root, "state", id], { encoding: "utf8" });
  return r.status === 0 && (JSON.parse(r.stdout) as { status?: string }).status === "running";
}
