/**
 * The StatefulSet and DaemonSet controllers end to end: a real server
 * (scheduler, controllers) and a real `skiff agent --runtime sim
 * --simulate-nodes 3`, driven with kubectl as a user would.
 * StatefulSet: pods created in order, each after its predecessor is Ready,
 * with claims from a volumeClaimTemplate (binding them is the PV
 * controller's job; the test binds each claim to a PV it makes, as that
 * controller would, so pods can be scheduled); scale-down from the highest
 * ordinal; a partitioned rolling update; `kubectl rollout
 * status|history|undo`. DaemonSet: a tainted node skipped until tolerated,
 * a node added later gets its pod, and an image rollout.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { ControllerRevision, DaemonSet, StatefulSet } from "kubernetes-types/apps/v1.js";
import type { PersistentVolume, PersistentVolumeClaim, Pod } from "kubernetes-types/core/v1.js";
import { configFromKubeconfig } from "../src/client/config.js";
import { ResourceClient } from "../src/client/resource-client.js";
import { DAEMON_SETS, PERSISTENT_VOLUME_CLAIMS, PERSISTENT_VOLUMES, PODS, STATEFUL_SETS } from "../src/client/resources.js";
import { RestClient } from "../src/client/rest-client.js";
import { CONTROLLER_REVISIONS } from "../src/controllers/history/kinds.js";
import { ok, startTestServer, type TestServer } from "./support/cluster.js";
import { skiffBackground, stopProcess, waitForLog } from "./support/skiff.js";
import { eventually } from "./support/eventually.js";

const NS = "workloads";

let server: TestServer;
let rest: RestClient;
let dir: string;
const agents: ChildProcess[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function kubectl(args: string[], input?: string): string {
  return ok(server.kubectl(["-n", NS, ...args], input === undefined ? {} : { input }), `kubectl ${args.join(" ")}`);
}

const pods = () => new ResourceClient<Pod>(rest, PODS, NS);
const isReady = (p: Pod | undefined) => !!p && p.status?.phase === "Running" && !!p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True");

function startAgent(args: string[]): ChildProcess {
  const token = readFileSync(join(server.dataDir, "token"), "utf8").trim();
  const agent = skiffBackground(["agent", "--server", `https://127.0.0.1:${server.port}`, "--token", token, "--runtime", "sim", "--kubelet-config", join(dir, "kubelet.yaml"), ...args]);
  agents.push(agent);
  return agent;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "skiff-sts-ds-"));
  writeFileSync(join(dir, "kubelet.yaml"), ["apiVersion: kubelet.config.k8s.io/v1beta1", "kind: KubeletConfiguration", "nodeStatusUpdateFrequency: 1s", ""].join("\n"));
  server = await startTestServer();
  rest = new RestClient(configFromKubeconfig(server.kubeconfig));
  const agent = startAgent(["--simulate-nodes", "3", "--node-name", "sim", "--data-dir", join(dir, "agent")]);
  await waitForLog(agent, /msg="nodes registered"/);
  ok(server.kubectl(["create", "namespace", NS]), "create namespace");
  await eventually("3 Ready nodes", () => {
    const list = JSON.parse(ok(server.kubectl(["get", "nodes", "-o", "json"]), "get nodes")) as { items: import("kubernetes-types/core/v1.js").Node[] };
    return list.items.filter((n) => n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")).length === 3 ? true : undefined;
  });
});

after(async () => {
  for (const a of agents) await stopProcess(a);
  rest?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Makes a PV for each new claim, pre-bound to it by claimRef, as an admin
 * would; the PV controller binds the two. Should no PV controller finish
 * the binding, the test does it the same way (spec.volumeName,
 * bind-completed, phase Bound), so pods can be scheduled either way.
 */
function bindClaimsWhileRunning(signal: AbortSignal): Promise<void> {
  const claims = new ResourceClient<PersistentVolumeClaim>(rest, PERSISTENT_VOLUME_CLAIMS, NS);
  const volumes = new ResourceClient<PersistentVolume>(rest, PERSISTENT_VOLUMES);
  const madeAt = new Map<string, number>();
  const fullyBound = (c: PersistentVolumeClaim) => !!c.spec?.volumeName && c.status?.phase === "Bound" && !!c.metadata?.annotations?.["pv.kubernetes.io/bind-completed"];
  return (async () => {
    while (!signal.aborted) {
      for (const pvc of (await claims.list()).items) {
        const name = pvc.metadata!.name!;
        if (fullyBound(pvc)) continue;
        const pvName = `pv-${NS}-${name}`;
        if (!madeAt.has(name)) {
          await volumes
            .create({
              apiVersion: "v1",
              kind: "PersistentVolume",
              metadata: { name: pvName },
              spec: {
                capacity: { storage: "1Gi" },
                accessModes: ["ReadWriteOnce"],
                storageClassName: "manual",
                persistentVolumeReclaimPolicy: "Retain",
                hostPath: { path: join(dir, pvName) },
                claimRef: { apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: NS, name, uid: pvc.metadata!.uid },
              },
            })
            .catch(() => {});
          madeAt.set(name, Date.now());
          continue;
        }
        // Give a PV controller two seconds to bind it first.
        if (Date.now() - madeAt.get(name)! < 2000) continue;
        try {
          if (!pvc.spec?.volumeName) {
            await claims.update({
              ...pvc,
              metadata: { ...pvc.metadata, annotations: { ...pvc.metadata?.annotations, "pv.kubernetes.io/bind-completed": "yes" } },
              spec: { ...pvc.spec, volumeName: pvName },
            });
          }
          const now = await claims.get(name);
          if (now.status?.phase !== "Bound") await claims.updateStatus({ ...now, status: { phase: "Bound", accessModes: ["ReadWriteOnce"], capacity: { storage: "1Gi" } } });
        } catch {
          // A PV controller raced us (a conflict): look again on the next pass.
        }
      }
      await sleep(100);
    }
  })();
}

/** What the cluster looked like, for a failure message. */
function diagnostics(): string {
  return ["get sts,pods,pvc,pv,controllerrevisions -o wide", "get events"]
    .map((a) => {
      const r = server.kubectl(["-n", NS, ...a.split(" ")]);
      return `$ kubectl ${a}\n${r.stdout}${r.stderr}`;
    })
    .join("\n");
}

describe("StatefulSet", () => {
  const manifest = (image: string) => `
apiVersion: v1
kind: Service
metadata: {name: nginx}
spec:
  clusterIP: None
  selector: {app: nginx}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: nginx
  replicas: 3
  selector: {matchLabels: {app: nginx}}
  template:
    metadata: {labels: {app: nginx}}
    spec:
      containers: [{name: nginx, image: "${image}"}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      storageClassName: manual
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
`;

  it("creates web-0, web-1, web-2 in order, each once its predecessor is Ready, with their claims", async () => {
    const stop = new AbortController();
    const binding = bindClaimsWhileRunning(stop.signal);
    // Every pod event, to check the order pods appeared in and what their predecessors looked like then.
    const seen = new Map<string, Pod>();
    const order: { name: string; predecessorReady: boolean }[] = [];
    const watching = (async () => {
      for await (const ev of pods().watch({ resourceVersion: "0" }, stop.signal)) {
        const p = ev.object as Pod;
        const name = p.metadata?.name ?? "";
        if (ev.type === "ADDED" && !seen.has(name)) {
          const ordinal = Number(name.split("-").pop());
          order.push({ name, predecessorReady: ordinal === 0 || isReady(seen.get(`web-${ordinal - 1}`)) });
        }
        if (ev.type === "ADDED" || ev.type === "MODIFIED") seen.set(name, p);
      }
    })().catch(() => {});
    try {
      kubectl(["apply", "-f", "-"], manifest("nginx:1.27"));
      // Waiting here, not in kubectl (which would block this process and with it the claim binding and the watch).
      await eventually(
        "3 ready replicas",
        async () => ((await new ResourceClient<StatefulSet>(rest, STATEFUL_SETS, NS).get("web")).status?.readyReplicas === 3 ? true : undefined),
        45_000,
      ).catch((err: Error) => assert.fail(`${err.message}\n${diagnostics()}`));
      const r = server.kubectl(["-n", NS, "rollout", "status", "statefulset/web", "--timeout=60s"]);
      assert.equal(r.status, 0, `rollout status: ${r.stderr}\n${diagnostics()}`);
      assert.match(r.stdout, /partitioned roll out complete: 3 new pods have been updated/);
    } finally {
      stop.abort();
      await binding.catch(() => {});
      await watching;
    }
    assert.deepEqual(order, [
      { name: "web-0", predecessorReady: true },
      { name: "web-1", predecessorReady: true },
      { name: "web-2", predecessorReady: true },
    ]);
    const claims = (await new ResourceClient<PersistentVolumeClaim>(rest, PERSISTENT_VOLUME_CLAIMS, NS).list()).items;
    assert.deepEqual(claims.map((c) => c.metadata?.name).sort(), ["data-web-0", "data-web-1", "data-web-2"]);
    assert.deepEqual(claims[0]!.metadata?.labels, { app: "nginx" });
    const web1 = await pods().get("web-1");
    assert.equal(web1.metadata?.labels?.["statefulset.kubernetes.io/pod-name"], "web-1");
    assert.equal(web1.metadata?.labels?.["apps.kubernetes.io/pod-index"], "1");
    assert.equal(web1.spec?.hostname, "web-1");
    assert.equal(web1.spec?.subdomain, "nginx");
    assert.deepEqual(web1.spec?.volumes?.find((v) => v.name === "data")?.persistentVolumeClaim, { claimName: "data-web-1" });
    const sts = await new ResourceClient<StatefulSet>(rest, STATEFUL_SETS, NS).get("web");
    assert.equal(sts.status?.replicas, 3);
    assert.equal(sts.status?.readyReplicas, 3);
    assert.equal(sts.status?.availableReplicas, 3);
    assert.equal(sts.status?.observedGeneration, sts.metadata?.generation);
    assert.ok(sts.status?.currentRevision && sts.status.currentRevision === sts.status.updateRevision);
    assert.equal(web1.metadata?.labels?.["controller-revision-hash"], sts.status.currentRevision);
    const events = kubectl(["get", "events", "--field-selector", "involvedObject.kind=StatefulSet", "-o", "jsonpath={range .items[*]}{.reason} {.message}{\"\\n\"}{end}"]);
    assert.match(events, /SuccessfulCreate create Claim data-web-0 Pod web-0 in StatefulSet web success/);
    assert.match(events, /SuccessfulCreate create Pod web-2 in StatefulSet web successful/);
  });

  it("scales down from the highest ordinal", async () => {
    kubectl(["scale", "statefulset/web", "--replicas=2"]);
    await eventually("web-2 to go", async () => ((await pods().list()).items.some((p) => p.metadata?.name === "web-2") ? undefined : true));
    const names = (await pods().list()).items.map((p) => p.metadata?.name).sort();
    assert.deepEqual(names, ["web-0", "web-1"]);
    // Retain: the claim stays.
    assert.ok(await new ResourceClient<PersistentVolumeClaim>(rest, PERSISTENT_VOLUME_CLAIMS, NS).get("data-web-2"));
    const events = kubectl(["get", "events", "--field-selector", "reason=SuccessfulDelete", "-o", "jsonpath={.items[*].message}"]);
    assert.match(events, /delete Pod web-2 in StatefulSet web successful/);
  });

  it("rolls a new image out above the partition only, then everywhere; rollout history and undo", async () => {
    const sets = new ResourceClient<StatefulSet>(rest, STATEFUL_SETS, NS);
    const before = await sets.get("web");
    kubectl(["patch", "statefulset/web", "-p", '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":1}}}}']);
    kubectl(["set", "image", "statefulset/web", "nginx=nginx:1.28"]);
    await eventually("web-1 at the new image and Ready", async () => {
      const p = await pods().get("web-1");
      return p.spec?.containers[0]?.image === "nginx:1.28" && isReady(p) ? true : undefined;
    });
    const mid = await sets.get("web");
    assert.equal((await pods().get("web-0")).spec?.containers[0]?.image, "nginx:1.27");
    assert.equal(mid.status?.currentRevision, before.status?.currentRevision);
    assert.notEqual(mid.status?.updateRevision, mid.status?.currentRevision);
    assert.equal((await pods().get("web-1")).metadata?.labels?.["controller-revision-hash"], mid.status?.updateRevision);

    kubectl(["patch", "statefulset/web", "-p", '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}']);
    assert.match(kubectl(["rollout", "status", "statefulset/web", "--timeout=60s"]), /partitioned roll out complete: 2 new pods have been updated/);
    await eventually("currentRevision to catch up", async () => {
      const s = await sets.get("web");
      return s.status?.currentRevision === s.status?.updateRevision ? true : undefined;
    });
    assert.equal((await pods().get("web-0")).spec?.containers[0]?.image, "nginx:1.28");
    const history = kubectl(["rollout", "history", "statefulset/web"]);
    assert.match(history, /REVISION\s+CHANGE-CAUSE\s*\n1\s+<none>\s*\n2\s+<none>/);
    assert.match(kubectl(["rollout", "history", "statefulset/web", "--revision=1"]), /Image:\s+nginx:1\.27/);

    assert.match(kubectl(["rollout", "undo", "statefulset/web"]), /statefulset.apps\/web rolled back/);
    kubectl(["rollout", "status", "statefulset/web", "--timeout=60s"]);
    await eventually("both pods back at nginx:1.27 and Ready", async () => {
      const ps = (await pods().list()).items;
      return ps.length === 2 && ps.every((p) => p.spec?.containers[0]?.image === "nginx:1.27" && isReady(p)) ? true : undefined;
    });
    // The rollback renumbered revision 1; no new revision was made.
    const revs = (await new ResourceClient<ControllerRevision>(rest, CONTROLLER_REVISIONS, NS).list({ labelSelector: "app=nginx" })).items;
    assert.deepEqual(revs.map((r) => r.revision).sort(), [2, 3]);
  });

  it("refuses updates to fields other than the mutable ones", () => {
    const r = server.kubectl(["-n", NS, "patch", "statefulset/web", "-p", '{"spec":{"serviceName":"other"}}']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy'/);
  });
});

describe("DaemonSet", () => {
  const ds = (tolerate: boolean, image: string) => `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: "${image}"}]${tolerate ? "\n      tolerations: [{key: dedicated, operator: Exists, effect: NoSchedule}]" : ""}
`;
  const agentPods = async () => (await pods().list({ labelSelector: "app=agent" })).items.filter((p) => !p.metadata?.deletionTimestamp);
  const nodesOf = async () => (await agentPods()).map((p) => p.spec?.nodeName ?? "").sort();

  it("skips a node with a taint it does not tolerate, and runs there once it does", async () => {
    ok(server.kubectl(["taint", "node", "sim-1", "dedicated=db:NoSchedule"]), "taint sim-1");
    kubectl(["apply", "-f", "-"], ds(false, "agent:1"));
    assert.match(kubectl(["rollout", "status", "daemonset/agent", "--timeout=60s"]), /daemon set "agent" successfully rolled out/);
    assert.deepEqual(await nodesOf(), ["sim-0", "sim-2"]);
    const set = await new ResourceClient<DaemonSet>(rest, DAEMON_SETS, NS).get("agent");
    assert.equal(set.status?.desiredNumberScheduled, 2);
    assert.equal(set.metadata?.annotations?.["deprecated.daemonset.template.generation"], "1");
    const pod = (await agentPods())[0]!;
    assert.deepEqual(pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms, [
      { matchFields: [{ key: "metadata.name", operator: "In", values: [pod.spec?.nodeName] }] },
    ]);
    assert.equal(pod.metadata?.labels?.["pod-template-generation"], "1");
    assert.ok(pod.spec?.tolerations?.some((t) => t.key === "node.kubernetes.io/unreachable" && t.effect === "NoExecute" && t.tolerationSeconds === undefined));

    kubectl(["apply", "-f", "-"], ds(true, "agent:1"));
    assert.match(kubectl(["rollout", "status", "daemonset/agent", "--timeout=60s"]), /successfully rolled out/);
    await eventually("a pod on each of the 3 nodes", async () => ((await nodesOf()).join() === "sim-0,sim-1,sim-2" ? true : undefined));
    const updated = await new ResourceClient<DaemonSet>(rest, DAEMON_SETS, NS).get("agent");
    assert.equal(updated.metadata?.annotations?.["deprecated.daemonset.template.generation"], "2");
  });

  it("gives a node added later its pod", async () => {
    const extra = startAgent(["--node-name", "extra", "--data-dir", join(dir, "extra")]);
    await waitForLog(extra, /msg="nodes registered"/);
    await eventually("a Ready agent pod on the new node", async () => ((await agentPods()).some((p) => p.spec?.nodeName === "extra" && isReady(p)) ? true : undefined));
  });

  it("rolls a new image out to every node; rollout history and undo", async () => {
    kubectl(["set", "image", "daemonset/agent", "agent=agent:2"]);
    assert.match(kubectl(["rollout", "status", "daemonset/agent", "--timeout=60s"]), /daemon set "agent" successfully rolled out/);
    await eventually("4 pods at agent:2", async () => {
      const ps = await agentPods();
      return ps.length === 4 && ps.every((p) => p.spec?.containers[0]?.image === "agent:2") ? true : undefined;
    });
    const set = await new ResourceClient<DaemonSet>(rest, DAEMON_SETS, NS).get("agent");
    assert.equal(set.status?.updatedNumberScheduled, 4);
    assert.equal(set.status?.numberAvailable, 4);
    assert.match(kubectl(["rollout", "history", "daemonset/agent"]), /\n1\s+<none>\s*\n2\s+<none>\s*\n3\s+<none>/);
    assert.match(kubectl(["rollout", "undo", "daemonset/agent"]), /daemonset.apps\/agent rolled back/);
    kubectl(["rollout", "status", "daemonset/agent", "--timeout=60s"]);
    await eventually("4 pods back at agent:1", async () => {
      const ps = await agentPods();
      return ps.length === 4 && ps.every((p) => p.spec?.containers[0]?.image === "agent:1") ? true : undefined;
    });
  });
});
