/**
 * `skiff doctor` against a real server with simulated nodes: a wrong image
 * tag, a crash loop, a pod asking for more cpu than any node has and a
 * claim naming a StorageClass that does not exist, each explained (cause
 * and fix) in the CLI's JSON output; a healthy pod exits 0.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import type { Report } from "../src/doctor/types.js";
import { ok, startTestServer, type TestServer } from "./support/cluster.js";
import { eventually } from "./support/eventually.js";
import { startSimAgent, writeFastKubeletConfig } from "./support/sim-agent.js";
import { skiff, stopProcess } from "./support/skiff.js";

describe("skiff doctor", () => {
  let server: TestServer;
  let agent: ChildProcess | undefined;
  let dir: string;
  const ns = `doctor-${Math.random().toString(36).slice(2, 8)}`;

  const getPod = (name: string): Pod | undefined => {
    const r = server.kubectl(["get", "pod", name, "-n", ns, "-o", "json"]);
    return r.status === 0 ? (JSON.parse(r.stdout) as Pod) : undefined;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "skiff-doctor-"));
    const kubeletConfig = writeFastKubeletConfig(dir);
    server = await startTestServer([]);
    agent = (await startSimAgent(server, { nodes: 2, nodeName: `${ns}-n`, dataDir: join(dir, "agent"), kubeletConfig })).process;
    ok(server.kubectl(["create", "namespace", ns]), "create namespace");
    const manifest = [
      pod("badimage", { image: "busybox:missing" }),
      pod("crash", { image: "busybox", command: ["sh", "-c", "exit 3"] }),
      pod("bigcpu", { image: "busybox", resources: { requests: { cpu: "500" } } }),
      {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: { name: "data", namespace: ns },
        spec: { storageClassName: "no-such-class", accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
      },
      { ...pod("withpvc", { image: "busybox", volumeMounts: [{ name: "data", mountPath: "/data" }] }), spec: { ...pod("x", {}).spec, volumes: [{ name: "data", persistentVolumeClaim: { claimName: "data" } }], containers: [{ name: "main", image: "busybox", volumeMounts: [{ name: "data", mountPath: "/data" }] }] } },
      pod("good", { image: "busybox" }),
    ];
    ok(server.kubectl(["apply", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "List", items: manifest }) }), "apply");

    function pod(name: string, container: Record<string, unknown>) {
      return { apiVersion: "v1", kind: "Pod", metadata: { name, namespace: ns }, spec: { containers: [{ name: "main", ...container }] } };
    }
  });

  after(async () => {
    if (agent) await stopProcess(agent);
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("explains every broken pod in JSON and exits 1", async () => {
    // Wait for the cluster to reach each broken state before asking the doctor.
    await eventually("badimage pull failure", () => /ImagePullBackOff|ErrImagePull/.test(getPod("badimage")?.status?.containerStatuses?.[0]?.state?.waiting?.reason ?? ""));
    await eventually("crash to have exited 3", () => getPod("crash")?.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode === 3);
    for (const name of ["bigcpu", "withpvc"]) {
      await eventually(`${name} unschedulable`, () => getPod(name)?.status?.conditions?.some((c) => c.type === "PodScheduled" && c.reason === "Unschedulable"));
    }
    await eventually("good Ready", () => getPod("good")?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"));

    const r = skiff(["doctor", "-n", ns, "-o", "json", "--kubeconfig", server.kubeconfig, "--data-dir", server.dataDir]);
    assert.equal(r.status, 1, r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(report.healthy, false);
    for (const f of report.findings) {
      assert.deepEqual(Object.keys(f).sort(), ["cause", "evidence", "fix", "object", "severity"]);
      assert.ok(f.cause.length > 0 && f.fix.length > 0, JSON.stringify(f));
    }
    const about = (object: string, re: RegExp) => {
      const hit = report.findings.find((f) => f.object === object && re.test(f.cause));
      assert.ok(hit, `no finding on ${object} matching ${re} in:\n${JSON.stringify(report.findings, null, 2)}`);
      return hit;
    };

    const pull = about(`Pod ${ns}/badimage`, /does not exist/);
    assert.match(pull.cause, /busybox:missing/);
    assert.match(pull.fix, /tag/);

    const crash = about(`Pod ${ns}/crash`, /exiting with code 3/);
    assert.equal(crash.severity, "error");

    const cpu = about(`Pod ${ns}/bigcpu`, /unrequested cpu/);
    assert.match(cpu.cause, /500000m/);
    assert.match(cpu.cause, /not look at live usage/);

    const claim = about(`PersistentVolumeClaim ${ns}/data`, /StorageClass "no-such-class" does not exist/);
    assert.match(claim.fix, /storageClassName/);
    about(`Pod ${ns}/withpvc`, /cannot be scheduled/);

    // The server runs with --disable-snapshots: no snapshot at all.
    about("Cluster store", /very important to take frequent backup/);
    assert.ok(!report.findings.some((f) => f.object === `Pod ${ns}/good`));
  });

  it("names the quota that keeps a ReplicaSet from creating pods", async () => {
    const qns = `${ns}-quota`;
    ok(server.kubectl(["create", "namespace", qns]), "create namespace");
    const objects = [
      { apiVersion: "v1", kind: "ResourceQuota", metadata: { name: "compute", namespace: qns }, spec: { hard: { "requests.cpu": "1" } } },
      {
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        metadata: { name: "web", namespace: qns },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: "web" } },
          template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "main", image: "busybox", resources: { requests: { cpu: "2" } } }] } },
        },
      },
    ];
    // The quota first, so its status is counted before the ReplicaSet tries to create a pod.
    ok(server.kubectl(["apply", "-f", "-"], { input: JSON.stringify(objects[0]) }), "apply quota");
    await eventually("quota status", () => JSON.parse(ok(server.kubectl(["get", "resourcequota", "compute", "-n", qns, "-o", "json"]), "get quota")).status?.hard);
    ok(server.kubectl(["apply", "-f", "-"], { input: JSON.stringify(objects[1]) }), "apply replicaset");
    await eventually("FailedCreate event", () =>
      ok(server.kubectl(["get", "events", "-n", qns, "--field-selector", "reason=FailedCreate", "-o", "name"]), "get events").trim().length > 0,
    );
    const r = skiff(["doctor", "-n", qns, "-o", "json", "--kubeconfig", server.kubeconfig]);
    assert.equal(r.status, 1, r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    const f = report.findings.find((x) => x.object === `ReplicaSet ${qns}/web`);
    assert.ok(f, JSON.stringify(report, null, 2));
    assert.match(f.cause, /ResourceQuota "compute"/);
    assert.match(f.fix, /quota/);
  });

  it("exits 0 for a healthy pod and prints text", () => {
    const r = skiff(["doctor", "good", "-n", ns], { KUBECONFIG: server.kubeconfig });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /No problems found/);
    const bad = skiff(["doctor", "crash", "-n", ns], { KUBECONFIG: server.kubeconfig });
    assert.equal(bad.status, 1);
    assert.match(bad.stdout, /Cause: Container main keeps exiting with code 3/);
  });
});
