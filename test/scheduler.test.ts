/**
 * The scheduler end to end through a real server: nodes are plain Node
 * objects (no kubelet needed), pods are created with kubectl, and what a
 * user sees is checked: NODE in `kubectl get pods -o wide`, the
 * `Scheduled` / `FailedScheduling` events in `kubectl describe pod`, and the
 * PodScheduled condition.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ok, startTestServer, type TestServer } from "./support/cluster.js";

let srv: TestServer;
before(async () => {
  // As upstream's scheduler tests: without the controller manager no ServiceAccount appears in new namespaces.
  srv = await startTestServer(["--disable", "controller-manager", "--disable-admission-plugins", "ServiceAccount"]);
  ok(srv.kubectl(["create", "namespace", "sched"]), "namespace");
});
after(async () => {
  await srv?.stop();
});

interface NodeSpec {
  name: string;
  cpu?: string;
  memory?: string;
  pods?: string;
  labels?: Record<string, string>;
  taints?: { key: string; value?: string; effect: string }[];
}

function createNode(n: NodeSpec): void {
  const capacity = { cpu: n.cpu ?? "4", memory: n.memory ?? "8Gi", pods: n.pods ?? "110" };
  const node = {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: n.name, labels: { "kubernetes.io/hostname": n.name, ...(n.labels ?? {}) } },
    spec: n.taints ? { taints: n.taints } : {},
    status: { capacity, allocatable: capacity, conditions: [{ type: "Ready", status: "True" }] },
  };
  ok(srv.kubectl(["create", "-f", "-"], { input: JSON.stringify(node) }), `create node ${n.name}`);
}

function createPod(name: string, spec: Record<string, unknown> = {}, requests?: Record<string, string>): void {
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "sched", labels: { app: name } },
    spec: { containers: [{ name: "c", image: "busybox:1.36", ...(requests ? { resources: { requests } } : {}) }], ...spec },
  };
  ok(srv.kubectl(["create", "-f", "-"], { input: JSON.stringify(pod) }), `create pod ${name}`);
}

function podJson(name: string): { spec: { nodeName?: string }; status: { conditions?: { type: string; status: string; reason?: string; message?: string }[] } } {
  return JSON.parse(ok(srv.kubectl(["-n", "sched", "get", "pod", name, "-o", "json"]), `get ${name}`));
}

async function eventually<T>(what: string, f: () => T | undefined): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting until ${what}`);
}

const nodeOf = (name: string) => eventually(`${name} is bound`, () => podJson(name).spec.nodeName);

async function failedMessage(name: string): Promise<string> {
  return eventually(`${name} is reported unschedulable`, () => {
    const c = podJson(name).status.conditions?.find((x) => x.type === "PodScheduled");
    return c?.status === "False" && c.reason === "Unschedulable" ? c.message : undefined;
  });
}

describe("scheduler", () => {
  it("binds pods only to nodes whose taints they tolerate, and says why not", async () => {
    createNode({ name: "cp", labels: { "node-role.kubernetes.io/control-plane": "" }, taints: [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }] });
    createNode({ name: "worker-1", labels: { "topology.kubernetes.io/zone": "a", disk: "ssd" } });
    createPod("plain");
    assert.equal(await nodeOf("plain"), "worker-1");
    createPod("tolerant", { tolerations: [{ key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" }], nodeSelector: { "node-role.kubernetes.io/control-plane": "" } });
    assert.equal(await nodeOf("tolerant"), "cp");
    createPod("intolerant", { tolerations: [{ key: "other", operator: "Exists", effect: "NoSchedule" }], nodeSelector: { "node-role.kubernetes.io/control-plane": "" } });
    const msg = await failedMessage("intolerant");
    assert.match(msg, /^0\/2 nodes are available: 1 node\(s\) didn't match Pod's node affinity\/selector, 1 node\(s\) had untolerated taint \{node-role\.kubernetes\.io\/control-plane: \}\./);
    const described = ok(srv.kubectl(["-n", "sched", "describe", "pod", "intolerant"]), "describe");
    assert.match(described, /Warning\s+FailedScheduling\s+\S+\s+default-scheduler\s+0\/2 nodes are available/);
    const scheduled = ok(srv.kubectl(["-n", "sched", "describe", "pod", "plain"]), "describe plain");
    assert.match(scheduled, /Normal\s+Scheduled\s+\S+\s+default-scheduler\s+Successfully assigned sched\/plain to worker-1/);
  });

  it("follows nodeSelector and required and preferred node affinity", async () => {
    createNode({ name: "worker-2", labels: { "topology.kubernetes.io/zone": "b", disk: "hdd" } });
    createPod("wants-ssd", { nodeSelector: { disk: "ssd" } });
    assert.equal(await nodeOf("wants-ssd"), "worker-1");
    createPod("zone-b", {
      affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "topology.kubernetes.io/zone", operator: "In", values: ["b"] }] }] } } },
    });
    assert.equal(await nodeOf("zone-b"), "worker-2");
    createPod("prefers-hdd", {
      affinity: { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, preference: { matchExpressions: [{ key: "disk", operator: "In", values: ["hdd"] }] } }] } },
    });
    assert.equal(await nodeOf("prefers-hdd"), "worker-2");
  });

  it("leaves a pod too big for every node Pending, naming the resources", async () => {
    createPod("huge", {}, { cpu: "64", memory: "512Gi" });
    const msg = await failedMessage("huge");
    assert.match(msg, /^0\/3 nodes are available: /);
    assert.match(msg, /Insufficient cpu/);
    assert.match(msg, /Insufficient memory/);
    const wide = ok(srv.kubectl(["-n", "sched", "get", "pod", "huge", "-o", "wide", "--no-headers"]), "get wide");
    assert.match(wide, /^huge\s+0\/1\s+Pending/);
  });

  it("schedules a pod once a node that fits it appears", async () => {
    createPod("waits-for-gpu", { nodeSelector: { accelerator: "gpu" } });
    await failedMessage("waits-for-gpu");
    createNode({ name: "gpu-1", labels: { accelerator: "gpu" } });
    assert.equal(await nodeOf("waits-for-gpu"), "gpu-1");
  });

  it("never binds beyond a node's capacity when many pods race for it", async () => {
    createNode({ name: "small-1", cpu: "1", labels: { pool: "small" } });
    createNode({ name: "small-2", cpu: "1", labels: { pool: "small" } });
    const names = Array.from({ length: 30 }, (_, i) => `racer-${i}`);
    const list = {
      apiVersion: "v1",
      kind: "List",
      items: names.map((name) => ({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace: "sched" },
        spec: { nodeSelector: { pool: "small" }, containers: [{ name: "c", image: "busybox:1.36", resources: { requests: { cpu: "100m" } } }] },
      })),
    };
    ok(srv.kubectl(["create", "-f", "-"], { input: JSON.stringify(list) }), "create racers");
    const placed = await eventually("every racer is bound or refused", () => {
      const pods = JSON.parse(ok(srv.kubectl(["-n", "sched", "get", "pods", "-o", "json"]), "list")).items as {
        metadata: { name: string };
        spec: { nodeName?: string };
        status: { conditions?: { type: string; reason?: string }[] };
      }[];
      const racers = pods.filter((p) => p.metadata.name.startsWith("racer-"));
      const settled = racers.filter((p) => p.spec.nodeName || p.status.conditions?.some((c) => c.type === "PodScheduled" && c.reason === "Unschedulable"));
      return settled.length === names.length ? racers : undefined;
    });
    const perNode = new Map<string, number>();
    for (const p of placed) if (p.spec.nodeName) perNode.set(p.spec.nodeName, (perNode.get(p.spec.nodeName) ?? 0) + 1);
    // 1 cpu at 100m each: ten per node, and the other ten stay Pending.
    assert.equal(perNode.get("small-1"), 10);
    assert.equal(perNode.get("small-2"), 10);
    assert.equal(placed.filter((p) => !p.spec.nodeName).length, 10);
  });
});

describe("scheduler: affinity, spread, preemption, volumes", () => {
  it("spreads replicas with required pod anti-affinity, one per node", async () => {
    for (const z of ["a", "b", "c"]) createNode({ name: `aa-${z}`, labels: { pool: "aa", "topology.kubernetes.io/zone": z } });
    const names = ["aa-0", "aa-1", "aa-2", "aa-3"];
    for (const name of names) {
      const pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace: "sched", labels: { app: "spread-me" } },
        spec: {
          nodeSelector: { pool: "aa" },
          affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: "spread-me" } }, topologyKey: "kubernetes.io/hostname" }] } },
          containers: [{ name: "c", image: "busybox:1.36" }],
        },
      };
      ok(srv.kubectl(["create", "-f", "-"], { input: JSON.stringify(pod) }), `create ${name}`);
    }
    const placed = new Set<string>();
    const unplaced: string[] = [];
    for (const name of names) {
      const c = await eventually(`${name} settles`, () => {
        const p = podJson(name);
        if (p.spec.nodeName) return { node: p.spec.nodeName };
        const cond = p.status.conditions?.find((x) => x.type === "PodScheduled" && x.reason === "Unschedulable");
        return cond ? { message: cond.message } : undefined;
      });
      if ("node" in c) placed.add(c.node!);
      else unplaced.push(c.message ?? "");
    }
    assert.equal(placed.size, 3, "three replicas on three different nodes");
    assert.equal(unplaced.length, 1);
    assert.match(unplaced[0]!, /3 node\(s\) didn't match pod anti-affinity rules/);
  });

  it("spreads across zones with a topology spread constraint", async () => {
    for (const [n, z] of [["ts-a1", "a"], ["ts-a2", "a"], ["ts-b1", "b"]] as const) createNode({ name: n, labels: { pool: "ts", "topology.kubernetes.io/zone": z } });
    const zoneOf: Record<string, string> = { "ts-a1": "a", "ts-a2": "a", "ts-b1": "b" };
    const zones: string[] = [];
    for (let i = 0; i < 4; i++) {
      const name = `ts-${i}`;
      const pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace: "sched", labels: { app: "zoned" } },
        spec: {
          nodeSelector: { pool: "ts" },
          topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: { app: "zoned" } } }],
          containers: [{ name: "c", image: "busybox:1.36" }],
        },
      };
      ok(srv.kubectl(["create", "-f", "-"], { input: JSON.stringify(pod) }), `create ${name}`);
      zones.push(zoneOf[await nodeOf(name)]!);
    }
    assert.equal(zones.filter((z) => z === "a").length, 2);
    assert.equal(zones.filter((z) => z === "b").length, 2);
  });

  it("preempts a lower-priority pod for a higher-priority one", async () => {
    createNode({ name: "pre-1", cpu: "1", labels: { pool: "pre" } });
    ok(srv.kubectl(["create", "priorityclass", "high-prio", "--value=1000"]), "priority class");
    createPod("victim", { nodeSelector: { pool: "pre" }, terminationGracePeriodSeconds: 0 }, { cpu: "800m" });
    assert.equal(await nodeOf("victim"), "pre-1");
    createPod("vip", { nodeSelector: { pool: "pre" }, priorityClassName: "high-prio" }, { cpu: "800m" });
    assert.equal(await nodeOf("vip"), "pre-1");
    await eventually("the victim is gone", () => (srv.kubectl(["-n", "sched", "get", "pod", "victim"]).status !== 0 ? true : undefined));
    const events = ok(srv.kubectl(["-n", "sched", "get", "events", "-o", "json"]), "events");
    assert.match(events, /Preempted by pod [0-9a-f-]+ on node pre-1/);
  });

  it("keeps a pod with an unbound immediate PVC Pending with upstream's reason", async () => {
    const pvc = {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "data", namespace: "sched" },
      spec: { accessModes: ["ReadWriteOnce"], storageClassName: "", resources: { requests: { storage: "1Gi" } } },
    };
    ok(srv.kubectl(["create", "-f", "-"], { input: JSON.stringify(pvc) }), "pvc");
    createPod("needs-volume", { volumes: [{ name: "d", persistentVolumeClaim: { claimName: "data" } }] });
    const msg = await failedMessage("needs-volume");
    // The doubled period is upstream's: FitError appends " %v." to a PostFilter message that already ends in one.
    assert.match(msg, /^0\/\d+ nodes are available: pod has unbound immediate PersistentVolumeClaims\. preemption: 0\/\d+ nodes are available: \d+ Preemption is not helpful for scheduling\.\.$/);
  });
});

