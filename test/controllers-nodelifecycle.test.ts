/**
 * Node lifecycle end to end: a real `skiff server` (grace period shortened
 * with --node-monitor-grace-period) and two `skiff agent --runtime sim`
 * processes with one node each. Killing one agent makes its node Unknown
 * and tainted unreachable; its pod, tolerating that for 2 s, is evicted and
 * its ReplicaSet's replacement lands on the other node; the agent's return
 * clears the taints.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Node, Pod } from "kubernetes-types/core/v1.js";
import { ok, startTestServer, type TestServer } from "./support/cluster.js";
import { skiffBackground, stopProcess, waitForLog } from "./support/skiff.js";
import { eventually } from "./support/eventually.js";

describe("node lifecycle: an unreachable node's pods move, the node recovers", () => {
  let server: TestServer;
  let dir: string;
  let token: string;
  let kubeletConfig: string;
  const agents = new Map<string, ChildProcess>();

  const kubectl = (args: string[], input?: string) => server.kubectl(args, input === undefined ? {} : { input });
  const getJson = <T>(args: string[]): T => JSON.parse(ok(kubectl([...args, "-o", "json"]), `kubectl get ${args.join(" ")}`)) as T;
  const node = (name: string) => getJson<Node>(["get", "node", name]);
  const rsPods = () => getJson<{ items: Pod[] }>(["get", "pods", "-l", "app=mover"]).items;

  /** Starts the agent of node `<prefix>-0`. */
  const startAgent = async (prefix: string) => {
    const agent = skiffBackground([
      "agent",
      "--server",
      `https://127.0.0.1:${server.port}`,
      "--token",
      token,
      "--runtime",
      "sim",
      "--simulate-nodes",
      "1",
      "--node-name",
      prefix,
      "--data-dir",
      join(dir, prefix),
      "--kubelet-config",
      kubeletConfig,
    ]);
    agents.set(`${prefix}-0`, agent);
    await waitForLog(agent, /msg="nodes registered"/);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "skiff-nodelifecycle-"));
    kubeletConfig = join(dir, "kubelet.yaml");
    // Status every second and a 4 s Lease (renewed every second): heartbeats well inside the 5 s grace period.
    writeFileSync(
      kubeletConfig,
      ["apiVersion: kubelet.config.k8s.io/v1beta1", "kind: KubeletConfiguration", "nodeStatusUpdateFrequency: 1s", "nodeLeaseDurationSeconds: 4", ""].join("\n"),
    );
    server = await startTestServer(["--node-monitor-grace-period", "5s"]);
    token = readFileSync(join(server.dataDir, "token"), "utf8").trim();
    await Promise.all([startAgent("nlc-a"), startAgent("nlc-b")]);
  });

  after(async () => {
    for (const a of agents.values()) await stopProcess(a);
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("taints the silent node, evicts its pod after tolerationSeconds, and untaints it on return", async () => {
    await eventually("both nodes Ready", () => {
      const ready = ["nlc-a-0", "nlc-b-0"].every((n) => node(n).status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
      return ready || undefined;
    });
    const rs = {
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      metadata: { name: "mover", namespace: "default" },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "mover" } },
        template: {
          metadata: { labels: { app: "mover" } },
          spec: {
            containers: [{ name: "main", image: "busybox:1.36", command: ["sleep", "3600"] }],
            tolerations: [{ key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute", tolerationSeconds: 2 }],
          },
        },
      },
    };
    ok(kubectl(["apply", "-f", "-"], JSON.stringify(rs)), "apply ReplicaSet");
    const first = await eventually("the pod running on a node", () => rsPods().find((p) => p.status?.phase === "Running" && p.spec?.nodeName));
    const victim = first.spec!.nodeName!;
    const survivor = victim === "nlc-a-0" ? "nlc-b-0" : "nlc-a-0";
    // The API server's DefaultTolerationSeconds added not-ready for 300 s; our unreachable toleration stays as given.
    assert.ok(first.spec?.tolerations?.some((t) => t.key === "node.kubernetes.io/not-ready" && t.tolerationSeconds === 300));

    // The node's agent dies without a word.
    await stopProcess(agents.get(victim)!, "SIGKILL");
    agents.delete(victim);

    const down = await eventually(
      `${victim} Unknown and tainted unreachable`,
      () => {
        const n = node(victim);
        const keys = (n.spec?.taints ?? []).map((t) => `${t.key}:${t.effect}`);
        return keys.includes("node.kubernetes.io/unreachable:NoExecute") && keys.includes("node.kubernetes.io/unreachable:NoSchedule") ? n : undefined;
      },
      40_000,
    );
    const ready = down.status?.conditions?.find((c) => c.type === "Ready");
    assert.equal(ready?.status, "Unknown");
    assert.equal(ready?.reason, "NodeStatusUnknown");
    assert.equal(ready?.message, "Kubelet stopped posting node status.");
    assert.equal(down.status?.conditions?.find((c) => c.type === "MemoryPressure")?.status, "Unknown");
    assert.ok(down.spec?.taints?.find((t) => t.effect === "NoExecute")?.timeAdded, "the NoExecute taint records when it was added");

    const evicted = await eventually("the pod marked for deletion by the taint manager", () => {
      const p = rsPods().find((x) => x.metadata?.name === first.metadata?.name);
      const target = p?.status?.conditions?.find((c) => c.type === "DisruptionTarget");
      return p?.metadata?.deletionTimestamp && target ? { p, target } : undefined;
    });
    assert.equal(evicted.target.reason, "DeletionByTaintManager");
    assert.equal(evicted.target.message, "Taint manager: deleting due to NoExecute taint");
    // Not tolerated for 2 s only: the NotReady condition was put on it first.
    assert.equal(evicted.p.status?.conditions?.find((c) => c.type === "Ready")?.status, "False");

    const replacement = await eventually("a replacement running on the other node", () =>
      rsPods().find((p) => p.metadata?.name !== first.metadata?.name && !p.metadata?.deletionTimestamp && p.status?.phase === "Running"),
    );
    assert.equal(replacement.spec?.nodeName, survivor);

    const events = getJson<{ items: { reason?: string; message?: string; involvedObject?: { name?: string } }[] }>(["get", "events", "-A"]).items;
    assert.ok(
      events.some((e) => e.reason === "TaintManagerEviction" && e.message === `Marking for deletion Pod default/${first.metadata?.name}`),
      "TaintManagerEviction event",
    );
    assert.ok(events.some((e) => e.reason === "NodeNotReady" && e.message === `Node ${victim} status is now: NodeNotReady`), "NodeNotReady event about the node");

    // The agent comes back: Ready again, taints gone.
    await startAgent(victim.replace(/-0$/, ""));
    const back = await eventually(
      `${victim} Ready and untainted`,
      () => {
        const n = node(victim);
        const isReady = n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
        const tainted = (n.spec?.taints ?? []).some((t) => t.key === "node.kubernetes.io/unreachable" || t.key === "node.kubernetes.io/not-ready");
        return isReady && !tainted ? n : undefined;
      },
      30_000,
    );
    assert.deepEqual(back.spec?.taints ?? [], []);
    // Its kubelet finishes the evicted pod.
    await eventually("the evicted pod gone", () => (rsPods().some((p) => p.metadata?.name === first.metadata?.name) ? undefined : true), 30_000);
  });
});
