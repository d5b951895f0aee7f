/**
 * Issue 6, "restarting the controller manager mid-rollout finishes the
 * rollout without duplicate pods": a server with `--disable
 * controller-manager`, the controller manager as its own process (`skiff
 * controller-manager`), the scheduler and simulated nodes. A Deployment of
 * 30 replicas rolls from v1 to v2 (maxSurge 5, maxUnavailable 0); the
 * controller manager is killed with SIGKILL mid-rollout (no chance to
 * release its Lease), a new one takes the Lease over once it expires, and
 * the rollout completes.
 *
 * Every pod and ReplicaSet change is watched and replayed in
 * resourceVersion order (one store revision per write), so the checks hold
 * at every point of the history, not only at the moments a poll looked:
 * - the ReplicaSets never ask for more than replicas + maxSurge pods;
 * - no ReplicaSet ever has more live (not terminating) pods than its spec at
 *   the moment a pod of it is created: no double creates, the bug
 *   expectations exist for, which a restart with a cold cache would expose;
 * - with maxUnavailable 0, Ready live pods never drop below 30;
 * and at the end: two ReplicaSets (no second v2 one), 30 v2 pods, nothing else.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Deployment, ReplicaSet } from "kubernetes-types/apps/v1.js";
import type { Lease } from "kubernetes-types/coordination/v1.js";
import type { Pod } from "kubernetes-types/core/v1.js";
import { configFromKubeconfig } from "../src/client/config.js";
import { type KubeObject, ResourceClient } from "../src/client/resource-client.js";
import { DEPLOYMENTS, LEASES, PODS, REPLICA_SETS } from "../src/client/resources.js";
import { RestClient } from "../src/client/rest-client.js";
import type { WatchEvent } from "../src/client/watch.js";
import { ok, startTestServer, type TestServer } from "./support/cluster.js";
import { skiffBackground, stopProcess, waitForLog } from "./support/skiff.js";
import { eventually as pollUntil } from "./support/eventually.js";

const NS = "cm-restart";
const REPLICAS = 30;
const MAX_SURGE = 5;
const HASH = "pod-template-hash";
// Upstream's --leader-elect-* flags, shortened so the new instance takes the dead one's Lease over in seconds.
const LEADER_FLAGS = ["--leader-elect-lease-duration", "4s", "--leader-elect-renew-deadline", "3s", "--leader-elect-retry-period", "1s"];

/** This file's waits are longer than the shared default. */
const eventually = <T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 120_000) => pollUntil(what, fn, ms);

const isReady = (p: Pod) => !!p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");

/** Everything a watch saw, with the resourceVersion each change was made at. */
interface Recorded {
  readonly rv: number;
  readonly kind: "pod" | "rs";
  readonly type: "ADDED" | "MODIFIED" | "DELETED";
  readonly object: Pod | ReplicaSet;
}

/** Watches `client` from `rv` into `out` until `signal` aborts; a watch that ends early is an error the test reports. */
async function record<T extends KubeObject>(client: ResourceClient<T>, kind: Recorded["kind"], rv: string, out: Recorded[], signal: AbortSignal): Promise<void> {
  try {
    for await (const ev of client.watch({ resourceVersion: rv }, signal) as AsyncIterable<WatchEvent<T>>) {
      if (ev.type === "ERROR") throw new Error(`${kind} watch: ${ev.object.message}`);
      if (ev.type === "BOOKMARK") continue;
      out.push({ rv: Number(ev.object.metadata?.resourceVersion), kind, type: ev.type, object: ev.object as Pod | ReplicaSet });
    }
  } catch (err) {
    if (!signal.aborted) throw err;
    return;
  }
  if (!signal.aborted) throw new Error(`${kind} watch ended before the test did`);
}

function ownerUid(p: Pod): string | undefined {
  return p.metadata?.ownerReferences?.find((o) => o.controller)?.uid;
}

describe("controller manager killed mid-rollout (skiff controller-manager)", () => {
  let server: TestServer;
  let dir: string;
  let rest: RestClient;
  let agent: ChildProcess | undefined;
  const managers: ChildProcess[] = [];

  const startManager = async (): Promise<ChildProcess> => {
    const cm = skiffBackground(["controller-manager", "--kubeconfig", server.kubeconfig, ...LEADER_FLAGS]);
    managers.push(cm);
    await waitForLog(cm, /msg="leading: starting controllers"/);
    return cm;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "skiff-cm-restart-"));
    server = await startTestServer(["--disable", "controller-manager"]);
    rest = new RestClient(configFromKubeconfig(server.kubeconfig));
    // The node IPAM controller gives the nodes their pod ranges: the manager runs before the nodes come.
    await startManager();
    const kubeletConfig = join(dir, "kubelet.yaml");
    writeFileSync(kubeletConfig, ["apiVersion: kubelet.config.k8s.io/v1beta1", "kind: KubeletConfiguration", "nodeStatusUpdateFrequency: 2s", ""].join("\n"));
    agent = skiffBackground([
      "agent",
      "--server",
      `https://127.0.0.1:${server.port}`,
      "--token",
      readFileSync(join(server.dataDir, "token"), "utf8").trim(),
      "--runtime",
      "sim",
      "--simulate-nodes",
      "4",
      "--node-name",
      "cmr",
      "--data-dir",
      join(dir, "agent"),
      "--kubelet-config",
      kubeletConfig,
    ]);
    await waitForLog(agent, /msg="nodes registered"/);
    ok(server.kubectl(["create", "namespace", NS]), "create namespace");
  });

  after(async () => {
    for (const cm of managers) await stopProcess(cm);
    if (agent) await stopProcess(agent);
    rest?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("finishes the rollout under a new instance, never over maxSurge, without double creates or a ready drop", async () => {
    const deployments = new ResourceClient<Deployment>(rest, DEPLOYMENTS, NS);
    const replicaSets = new ResourceClient<ReplicaSet>(rest, REPLICA_SETS, NS);
    const pods = new ResourceClient<Pod>(rest, PODS, NS);
    const leases = new ResourceClient<Lease>(rest, LEASES, "kube-system");
    const manifest = (image: string) =>
      JSON.stringify({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "roll", namespace: NS },
        spec: {
          replicas: REPLICAS,
          // Each step waits for its pods to be available 2 s: the rollout lasts long enough to be cut in the middle.
          minReadySeconds: 2,
          strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: MAX_SURGE, maxUnavailable: 0 } },
          selector: { matchLabels: { app: "roll" } },
          template: {
            metadata: { labels: { app: "roll" } },
            spec: { terminationGracePeriodSeconds: 1, containers: [{ name: "app", image, command: ["sleep", "infinity"] }] },
          },
        },
      });
    const complete = async (): Promise<Deployment | undefined> => {
      const d = await deployments.get("roll");
      const s = d.status ?? {};
      const done =
        (d.metadata?.generation ?? 0) <= (s.observedGeneration ?? 0) &&
        s.updatedReplicas === REPLICAS &&
        s.replicas === REPLICAS &&
        s.availableReplicas === REPLICAS;
      return done ? d : undefined;
    };

    ok(server.kubectl(["apply", "-f", "-"], { input: manifest("busybox:v1") }), "apply v1");
    await eventually("v1 rolled out", complete);

    // The history from here on: lists first, then watches from the lists' versions.
    const podList = await pods.list();
    const rsList = await replicaSets.list();
    const history: Recorded[] = [];
    const stopWatches = new AbortController();
    const watching = Promise.all([
      record(pods, "pod", podList.metadata?.resourceVersion ?? "", history, stopWatches.signal),
      record(replicaSets, "rs", rsList.metadata?.resourceVersion ?? "", history, stopWatches.signal),
    ]);
    watching.catch(() => {});

    const leaseBefore = await leases.get("kube-controller-manager");
    ok(server.kubectl(["-n", NS, "set", "image", "deploy/roll", "app=busybox:v2"]), "set image v2");
    // Mid-rollout: some v2 pods available, most pods still v1.
    const mid = await eventually("the rollout a third done", async () => {
      const d = await deployments.get("roll");
      const updated = d.status?.updatedReplicas ?? 0;
      return updated >= 10 && updated < REPLICAS ? d : undefined;
    });
    const first = managers[0]!;
    const exited = new Promise((r) => first.once("exit", r));
    process.kill(first.pid!, "SIGKILL");
    await exited;
    const killedAt = mid.status?.updatedReplicas;

    await startManager();
    const done = await eventually("v2 rolled out under the new controller manager", complete);
    assert.equal(done.spec?.template.spec?.containers[0]?.image, "busybox:v2");
    const lease = await leases.get("kube-controller-manager");
    assert.notEqual(lease.spec?.holderIdentity, leaseBefore.spec?.holderIdentity, "the new instance holds the Lease");
    assert.ok((lease.spec?.leaseTransitions ?? 0) > (leaseBefore.spec?.leaseTransitions ?? 0), "leaseTransitions counted the takeover");

    // The old pods finish terminating and go.
    const rsFinal = (await replicaSets.list()).items;
    assert.equal(rsFinal.length, 2, `two ReplicaSets, v1 and v2: ${rsFinal.map((r) => r.metadata?.name).join(", ")}`);
    const v2 = rsFinal.find((r) => r.spec?.template?.spec?.containers[0]?.image === "busybox:v2")!;
    assert.ok(v2, "a v2 ReplicaSet");
    const finalPods = await eventually("only the 30 v2 pods left", async () => {
      const items = (await pods.list()).items;
      return items.length === REPLICAS ? items : undefined;
    });
    assert.ok(finalPods.every((p) => p.metadata?.labels?.[HASH] === v2.metadata?.labels?.[HASH] && !p.metadata?.deletionTimestamp && isReady(p)));
    assert.equal(rsFinal.find((r) => r !== v2)?.spec?.replicas, 0, "v1 scaled to 0");

    stopWatches.abort();
    await watching;

    // Replay in store order.
    history.sort((a, b) => a.rv - b.rv);
    const podState = new Map<string, Pod>(podList.items.map((p) => [p.metadata!.uid!, p]));
    const rsState = new Map<string, ReplicaSet>(rsList.items.map((r) => [r.metadata!.uid!, r]));
    const live = () => [...podState.values()].filter((p) => !p.metadata?.deletionTimestamp);
    let maxWanted = 0;
    let minReady = Number.POSITIVE_INFINITY;
    let maxLive = 0;
    let creates = 0;
    for (const ev of history) {
      const uid = ev.object.metadata!.uid!;
      if (ev.kind === "rs") {
        if (ev.type === "DELETED") rsState.delete(uid);
        else rsState.set(uid, ev.object as ReplicaSet);
        const wanted = [...rsState.values()].reduce((n, r) => n + (r.spec?.replicas ?? 0), 0);
        maxWanted = Math.max(maxWanted, wanted);
        assert.ok(wanted <= REPLICAS + MAX_SURGE, `at rv ${ev.rv} the ReplicaSets want ${wanted} pods (> ${REPLICAS}+${MAX_SURGE})`);
        continue;
      }
      const pod = ev.object as Pod;
      const isNew = ev.type === "ADDED" && !podState.has(uid);
      if (ev.type === "DELETED") podState.delete(uid);
      else podState.set(uid, pod);
      if (isNew) {
        creates++;
        const owner = ownerUid(pod);
        const rs = owner ? rsState.get(owner) : undefined;
        assert.ok(rs, `pod ${pod.metadata?.name} created at rv ${ev.rv} by no known ReplicaSet`);
        const mine = live().filter((p) => ownerUid(p) === owner).length;
        assert.ok(mine <= (rs.spec?.replicas ?? 0), `at rv ${ev.rv} ${rs.metadata?.name} has ${mine} live pods for spec.replicas ${rs.spec?.replicas}: a double create`);
      }
      const ready = live().filter(isReady).length;
      minReady = Math.min(minReady, ready);
      maxLive = Math.max(maxLive, live().length);
      assert.ok(ready >= REPLICAS, `at rv ${ev.rv} only ${ready} live pods are Ready (maxUnavailable 0)`);
    }
    assert.equal(creates, REPLICAS, `${creates} pods created for a rollout of ${REPLICAS}: each v2 pod once`);
    assert.ok(killedAt !== undefined && killedAt < REPLICAS);
    process.stderr.write(`# killed at updatedReplicas=${killedAt}; max wanted ${maxWanted}, max live pods ${maxLive}, min Ready ${minReady}, ${history.length} events\n`);
  });
});
