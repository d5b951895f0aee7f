/**
 * A real `skiff server` (with its scheduler) and a real `skiff agent
 * --runtime sim --simulate-nodes 3` joined with the server's join token
 * (each simulated node gets its own `system:node:NAME` certificate, as the
 * Node authorizer wants), driven with kubectl as a user would.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { ok, startTestServer, type TestServer } from "./support/cluster.js";
import { startSimAgent, writeFastKubeletConfig } from "./support/sim-agent.js";
import { stopProcess } from "./support/skiff.js";
import { eventually } from "./support/eventually.js";

describe("skiff agent --runtime sim", () => {
  let server: TestServer;
  let agent: ChildProcess | undefined;
  let dir: string;
  let agentLog: () => string = () => "";

  const kubectl = (args: string[]) => server.kubectl(args);
  const getPod = (name: string): Pod | undefined => {
    const r = kubectl(["get", "pod", name, "-o", "json"]);
    return r.status === 0 ? (JSON.parse(r.stdout) as Pod) : undefined;
  };
  /** The STATUS column of `kubectl get pod NAME`. */
  const printedStatus = (name: string): string | undefined => {
    const out = kubectl(["get", "pod", name, "--no-headers"]);
    return out.status === 0 ? out.stdout.trim().split(/\s+/)[2] : undefined;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "skiff-kubelet-sim-"));
    const kubeletConfig = writeFastKubeletConfig(dir);
    server = await startTestServer([]);
    const sim = await startSimAgent(server, { nodes: 3, nodeName: "sim", dataDir: join(dir, "agent"), kubeletConfig });
    agent = sim.process;
    agentLog = sim.log;
  });

  after(async () => {
    if (agent) await stopProcess(agent);
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("registers three Ready nodes, each with a Lease", async () => {
    const nodes = await eventually("3 Ready nodes", () => {
      const list = JSON.parse(ok(kubectl(["get", "nodes", "-o", "json"]), "get nodes")) as { items: import("kubernetes-types/core/v1.js").Node[] };
      const ready = list.items.filter((n) => n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
      return ready.length === 3 ? list.items : undefined;
    });
    assert.deepEqual(nodes.map((n) => n.metadata?.name).sort(), ["sim-0", "sim-1", "sim-2"]);
    const n = nodes[0]!;
    const ready = n.status!.conditions!.find((c) => c.type === "Ready")!;
    assert.equal(ready.reason, "KubeletReady");
    assert.equal(ready.message, "kubelet is posting ready status");
    assert.equal(n.status!.capacity!.pods, "110");
    assert.match(n.status!.nodeInfo!.kubeletVersion, /^v1\.30\.\d+/);
    assert.match(n.status!.nodeInfo!.containerRuntimeVersion, /^sim:\/\//);
    assert.deepEqual(n.status!.addresses!.map((a) => a.type), ["InternalIP", "Hostname"]);
    const leases = await eventually("3 node leases", () => {
      const r = JSON.parse(ok(kubectl(["get", "leases", "-n", "kube-node-lease", "-o", "json"]), "get leases")) as {
        items: import("kubernetes-types/coordination/v1.js").Lease[];
      };
      return r.items.length === 3 ? r.items : undefined;
    });
    for (const l of leases) {
      assert.equal(l.spec?.holderIdentity, l.metadata?.name);
      assert.equal(l.spec?.leaseDurationSeconds, 40);
      assert.ok(l.spec?.renewTime);
    }
  });

  it("schedules a pod and runs it: Running, Ready, with a pod IP", async () => {
    ok(kubectl(["run", "web", "--image=nginx:1.27"]), "kubectl run web");
    const p = await eventually("web Running and Ready", () => {
      const p = getPod("web");
      const ready = p?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
      return p?.status?.phase === "Running" && ready ? p : undefined;
    });
    assert.match(p.spec!.nodeName!, /^sim-[012]$/);
    assert.match(p.status!.podIP!, /^10\.42\.\d+\.\d+$/);
    assert.equal(p.status!.containerStatuses![0]!.ready, true);
    assert.match(p.status!.containerStatuses![0]!.containerID!, /^sim:\/\//);
    assert.equal(printedStatus("web"), "Running");
  });

  it("puts a container that exits 1 into CrashLoopBackOff with a growing restart count", async () => {
    ok(kubectl(["run", "crash", "--image=busybox:1.36", "--", "sh", "-c", "exit 1"]), "kubectl run crash");
    const cs = await eventually("crash in CrashLoopBackOff with restarts", () => {
      const cs = getPod("crash")?.status?.containerStatuses?.[0];
      return cs?.state?.waiting?.reason === "CrashLoopBackOff" && (cs.restartCount ?? 0) >= 2 ? cs : undefined;
    });
    const uid = getPod("crash")!.metadata!.uid!;
    assert.match(cs.state!.waiting!.message!, new RegExp(`^back-off \\S+ restarting failed container=crash pod=crash_default\\(${uid}\\)$`));
    assert.equal(cs.lastState?.terminated?.exitCode, 1);
    assert.equal(cs.lastState?.terminated?.reason, "Error");
    const first = cs.restartCount!;
    await eventually("the restart count to grow", () => ((getPod("crash")?.status?.containerStatuses?.[0]?.restartCount ?? 0) > first ? true : undefined));
    await eventually("kubectl to print CrashLoopBackOff", () => (printedStatus("crash") === "CrashLoopBackOff" ? true : undefined));
  });

  it("shows ErrImagePull, then ImagePullBackOff, with events, for an image that does not exist", async () => {
    ok(kubectl(["run", "missing", "--image=nginx:missing"]), "kubectl run missing");
    await eventually("ImagePullBackOff", () => (getPod("missing")?.status?.containerStatuses?.[0]?.state?.waiting?.reason === "ImagePullBackOff" ? true : undefined));
    const notes = await eventually("the pull events", () => {
      const r = kubectl(["get", "events", "--field-selector", "involvedObject.name=missing", "-o", "json"]);
      if (r.status !== 0) return undefined;
      const evs = (JSON.parse(r.stdout) as { items: { reason: string; message: string }[] }).items.map((e) => `${e.reason}: ${e.message}`);
      const want = [
        'Pulling: Pulling image "nginx:missing"',
        "Failed: Error: ErrImagePull",
        'BackOff: Back-off pulling image "nginx:missing"',
        "Failed: Error: ImagePullBackOff",
      ];
      return want.every((w) => evs.includes(w)) && evs.some((e) => e.startsWith('Failed: Failed to pull image "nginx:missing": ')) ? evs : undefined;
    });
    assert.ok(notes.some((n) => /not found$/.test(n)));
    // The status alternates ErrImagePull / ImagePullBackOff as pulls are retried: kubectl shows each in turn.
    await eventually("kubectl to print ImagePullBackOff", () => (printedStatus("missing") === "ImagePullBackOff" ? true : undefined));
  });

  it("completes a restartPolicy Never pod that exits 0 (Succeeded, Completed)", async () => {
    ok(kubectl(["run", "once", "--image=busybox:1.36", "--restart=Never", "--", "sh", "-c", "exit 0"]), "kubectl run once");
    const p = await eventually("once Succeeded", () => {
      const p = getPod("once");
      return p?.status?.phase === "Succeeded" ? p : undefined;
    });
    assert.equal(p.status!.containerStatuses![0]!.state!.terminated!.reason, "Completed");
    assert.equal(printedStatus("once"), "Completed");
  });

  it("removes a deleted pod after stopping its containers", async () => {
    ok(kubectl(["delete", "pod", "web", "--wait=false"]), "kubectl delete pod web");
    await eventually("web to disappear", () => (kubectl(["get", "pod", "web"]).status !== 0 ? true : undefined));
    const r = kubectl(["get", "events", "--field-selector", "involvedObject.name=web,reason=Killing", "-o", "json"]);
    const events = (JSON.parse(ok(r, "get events")) as { items: { message: string }[] }).items;
    assert.ok(events.some((e) => e.message === "Stopping container web"), `Killing event in ${JSON.stringify(events)}`);
    assert.doesNotMatch(agentLog(), /level=error/);
  });
});
