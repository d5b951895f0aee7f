/**
 * The Deployment controller through a real server and real kubectl, with
 * the ReplicaSet controller turning ReplicaSets into pods: a Deployment
 * rolls out to a ReplicaSet named by its pod-template-hash, `kubectl
 * rollout status|history|undo|pause|resume|restart` work, a rolling update
 * with maxUnavailable 0 never loses a ready replica, Recreate replaces all
 * pods at once, scaling mid-rollout is proportional, old ReplicaSets are
 * pruned, and `kubectl describe` shows the ScalingReplicaSet events.
 * There is no kubelet: a helper marks pods Ready by writing their status,
 * as kubelets would.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Deployment, ReplicaSet } from "kubernetes-types/apps/v1.js";
import type { Pod } from "kubernetes-types/core/v1.js";
import { configFromKubeconfig } from "../src/client/config.js";
import { type KubeObject, type ResourceDescriptor, ResourceClient } from "../src/client/resource-client.js";
import { DEPLOYMENTS, PODS, REPLICA_SETS } from "../src/client/resources.js";
import { RestClient } from "../src/client/rest-client.js";
import { isNotFound } from "../src/machinery/status-error.js";
import { ok, startTestServer, type TestServer } from "./support/cluster.js";
import { type ServerOnDir, startServerOnDir } from "./support/restart.js";

const NS = "deploy";
const REVISION = "deployment.kubernetes.io/revision";
const HASH = "pod-template-hash";

/** A server the helpers talk to: kubectl for what users do, a REST client for the polling loops (faster than a kubectl per look). */
interface Target {
  kubectl: TestServer["kubectl"];
  rest: RestClient;
}

let srv: TestServer;
/** `srv`, or the restarted server of the restart test. */
let target: Target;
before(async () => {
  srv = await startTestServer();
  target = { kubectl: (args, opts) => srv.kubectl(args, opts), rest: new RestClient(configFromKubeconfig(srv.kubeconfig)) };
  ok(srv.kubectl(["create", "namespace", NS]), "create namespace");
});
after(async () => {
  target?.rest.close();
  await srv?.stop();
});

function kubectl(args: string[], input?: string): string {
  return ok(target.kubectl(["-n", NS, ...args], input === undefined ? {} : { input }), `kubectl ${args.join(" ")}`);
}

const RESOURCES: Record<string, ResourceDescriptor> = { deploy: DEPLOYMENTS, rs: REPLICA_SETS, pods: PODS };

/** `kind/name` (deploy, rs) read through the API. */
function get<T extends KubeObject>(what: string): Promise<T> {
  const [kind, name] = what.split("/");
  return new ResourceClient<T>(target.rest, RESOURCES[kind!]!, NS).get(name!);
}

/** Objects of `kind` (pods, rs) matching `selector`. */
async function list<T extends KubeObject>(kind: string, selector: string): Promise<T[]> {
  return (await new ResourceClient<T>(target.rest, RESOURCES[kind]!, NS).list({ labelSelector: selector })).items;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually(what: string, check: () => boolean | Promise<boolean>, tries = 300): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await sleep(100);
  }
  assert.fail(`timed out waiting until ${what}`);
}

const isReady = (p: Pod) => !p.metadata?.deletionTimestamp && !!p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");

/** What kubelets would do: marks every pod of `selector` that is not yet Ready as Running and Ready. Returns the pods seen. */
async function markReady(selector: string): Promise<Pod[]> {
  const all = await list<Pod>("pods", selector);
  const pods = new ResourceClient<Pod>(target.rest, PODS, NS);
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  const status = { phase: "Running", conditions: [{ type: "Ready", status: "True", lastTransitionTime: now }] };
  for (const p of all) {
    if (isReady(p) || p.metadata?.deletionTimestamp) continue;
    // A pod deleted meanwhile is fine: the ReplicaSet controller replaced or dropped it.
    await pods.patch(p.metadata!.name!, { status }, { type: "merge", subresource: "status" }).catch((err) => {
      if (!isNotFound(err)) throw err;
    });
  }
  return all;
}

/**
 * Pods the ReplicaSets ask for. maxSurge bounds this, not the pods that
 * exist: a pod the ReplicaSet controller is about to delete can still be
 * listed next to its replacement, as upstream.
 */
const wanted = (rss: ReplicaSet[]) => rss.reduce((n, r) => n + (r.spec?.replicas ?? 0), 0);

/** Whether the Deployment's status says its rollout is complete, as `kubectl rollout status` decides. */
function rolledOut(d: Deployment): boolean {
  const s = d.status ?? {};
  const want = d.spec?.replicas ?? 1;
  return (
    (d.metadata?.generation ?? 0) <= (s.observedGeneration ?? 0) &&
    (s.updatedReplicas ?? 0) === want &&
    (s.replicas ?? 0) === want &&
    (s.availableReplicas ?? 0) === want
  );
}

/**
 * Plays kubelet until the rollout of `name` completes: marks pods Ready in
 * a bounded loop, handing every observed state to `observe`.
 */
async function rollOut(name: string, selector: string, observe?: (pods: Pod[], d: Deployment, rss: ReplicaSet[]) => void): Promise<Deployment> {
  for (let i = 0; i < 200; i++) {
    const pods = await markReady(selector);
    const d = await get<Deployment>(`deploy/${name}`);
    observe?.(pods, d, await list<ReplicaSet>("rs", selector));
    if (rolledOut(d)) return d;
    await sleep(100);
  }
  assert.fail(`rollout of ${name} did not complete`);
}

async function replicaSets(selector: string): Promise<ReplicaSet[]> {
  return (await list<ReplicaSet>("rs", selector)).sort((a, b) => Number(a.metadata?.annotations?.[REVISION] ?? 0) - Number(b.metadata?.annotations?.[REVISION] ?? 0));
}

function deployment(name: string, replicas: number, image: string, strategy: Record<string, unknown>, annotations: Record<string, string> = {}): string {
  return JSON.stringify({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: NS, annotations },
    spec: {
      replicas,
      strategy,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "app", image, command: ["sleep", "3600"] }] } },
    },
  });
}

const condition = (d: Deployment, type: string) => d.status?.conditions?.find((c) => c.type === type);

describe("Deployment controller (RollingUpdate)", () => {
  let firstRS = "";

  it("creates one ReplicaSet named and labelled by the pod-template-hash, with 3 pods", async () => {
    kubectl(["apply", "-f", "-"], deployment("web", 3, "busybox:v1", { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } }, { "kubernetes.io/change-cause": "create v1" }));
    const uid = (await get<Deployment>("deploy/web")).metadata!.uid;
    await eventually("a ReplicaSet with 3 pods", async () => (await replicaSets("app=web")).length === 1 && (await list<Pod>("pods", "app=web")).length === 3);
    const [rs] = await replicaSets("app=web");
    const hash = rs!.metadata!.labels![HASH]!;
    firstRS = rs!.metadata!.name!;
    assert.equal(firstRS, `web-${hash}`);
    assert.deepEqual(rs!.spec?.selector, { matchLabels: { app: "web", [HASH]: hash } });
    assert.equal(rs!.spec?.template?.metadata?.labels?.[HASH], hash);
    assert.equal(rs!.spec?.replicas, 3, "the full size at once");
    assert.deepEqual(rs!.metadata?.ownerReferences, [{ apiVersion: "apps/v1", kind: "Deployment", name: "web", uid, controller: true, blockOwnerDeletion: true }]);
    assert.equal(rs!.metadata?.annotations?.[REVISION], "1");
    assert.equal(rs!.metadata?.annotations?.["deployment.kubernetes.io/desired-replicas"], "3");
    assert.equal(rs!.metadata?.annotations?.["deployment.kubernetes.io/max-replicas"], "4");
    assert.equal(rs!.metadata?.annotations?.["kubernetes.io/change-cause"], "create v1");
    for (const p of await list<Pod>("pods", "app=web")) {
      assert.equal(p.metadata?.labels?.[HASH], hash);
      assert.equal(p.metadata?.ownerReferences?.[0]?.name, firstRS);
    }
    await eventually("the Deployment carries revision 1", async () => (await get<Deployment>("deploy/web")).metadata?.annotations?.[REVISION] === "1");
  });

  it("`kubectl rollout status` succeeds once the pods are Ready", async () => {
    const d = await rollOut("web", "app=web");
    assert.equal(condition(d, "Available")?.reason, "MinimumReplicasAvailable");
    assert.equal(condition(d, "Available")?.message, "Deployment has minimum availability.");
    assert.equal(condition(d, "Progressing")?.reason, "NewReplicaSetAvailable");
    assert.equal(condition(d, "Progressing")?.message, `ReplicaSet "${firstRS}" has successfully progressed.`);
    assert.equal(d.status?.readyReplicas, 3);
    assert.match(kubectl(["rollout", "status", "deploy/web", "--timeout=60s"]), /deployment "web" successfully rolled out/);
  });

  it("rolls to v2 with maxUnavailable 0 without ever dropping below 3 ready replicas", async () => {
    kubectl(["set", "image", "deploy/web", "app=busybox:v2"]);
    kubectl(["annotate", "deploy/web", "kubernetes.io/change-cause=set image v2", "--overwrite"]);
    let states = 0;
    const d = await rollOut("web", "app=web", (pods, dep, rss) => {
      states++;
      const ready = pods.filter(isReady).length;
      assert.ok(ready >= 3, `only ${ready} ready pods in state ${states}`);
      if (dep.status?.readyReplicas !== undefined) assert.ok(dep.status.readyReplicas >= 3, `status.readyReplicas ${dep.status.readyReplicas}`);
      assert.ok(wanted(rss) <= 4, `${wanted(rss)} pods wanted: more than maxSurge allows`);
    });
    assert.ok(states > 1, "the rollout was observed step by step");
    assert.equal(d.spec?.template.spec?.containers[0]?.image, "busybox:v2");
    const rss = await replicaSets("app=web");
    assert.equal(rss.length, 2);
    assert.deepEqual(
      rss.map((r) => [r.metadata?.annotations?.[REVISION], r.spec?.replicas]),
      [
        ["1", 0],
        ["2", 3],
      ],
    );
    assert.match(kubectl(["rollout", "status", "deploy/web", "--timeout=60s"]), /successfully rolled out/);
    await eventually("the Deployment carries revision 2", async () => (await get<Deployment>("deploy/web")).metadata?.annotations?.[REVISION] === "2");
  });

  it("`kubectl rollout history` lists the revisions with their change-cause", () => {
    const out = kubectl(["rollout", "history", "deploy/web"]);
    assert.match(out, /REVISION\s+CHANGE-CAUSE/);
    assert.match(out, /^1\s+create v1$/m);
    assert.match(out, /^2\s+set image v2$/m);
    assert.match(kubectl(["rollout", "history", "deploy/web", "--revision=2"]), /Image:\s+busybox:v2/);
  });

  it("`kubectl rollout undo` brings back the v1 template as revision 3", async () => {
    assert.match(kubectl(["rollout", "undo", "deploy/web"]), /rolled back/);
    const d = await rollOut("web", "app=web", (pods) => assert.ok(pods.filter(isReady).length >= 3, "no drop below 3 ready during the undo"));
    assert.equal(d.spec?.template.spec?.containers[0]?.image, "busybox:v1");
    assert.equal(d.spec?.template.metadata?.labels?.[HASH], undefined, "the hash label stays with the ReplicaSet");
    await eventually("the Deployment carries revision 3", async () => (await get<Deployment>("deploy/web")).metadata?.annotations?.[REVISION] === "3");
    const back = await get<ReplicaSet>(`rs/${firstRS}`);
    assert.equal(back.metadata?.annotations?.[REVISION], "3", "the v1 ReplicaSet is reused with the next revision");
    assert.equal(back.metadata?.annotations?.["deployment.kubernetes.io/revision-history"], "1");
    assert.equal(back.spec?.replicas, 3);
    const history = kubectl(["rollout", "history", "deploy/web"]);
    assert.match(history, /^2\s+set image v2$/m);
    assert.match(history, /^3\s+create v1$/m);
    assert.doesNotMatch(history, /^1\s/m);
  });

  it("`kubectl rollout pause` holds a template change back; `resume` rolls it out", async () => {
    kubectl(["rollout", "pause", "deploy/web"]);
    kubectl(["set", "image", "deploy/web", "app=busybox:v3"]);
    await eventually("the paused template change is observed", async () => {
      const d = await get<Deployment>("deploy/web");
      return (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) && condition(d, "Progressing")?.reason === "DeploymentPaused";
    });
    assert.equal(condition(await get<Deployment>("deploy/web"), "Progressing")?.status, "Unknown");
    assert.equal(condition(await get<Deployment>("deploy/web"), "Progressing")?.message, "Deployment is paused");
    assert.equal((await replicaSets("app=web")).length, 2, "no ReplicaSet for v3 while paused");
    kubectl(["rollout", "resume", "deploy/web"]);
    const d = await rollOut("web", "app=web");
    assert.equal(d.spec?.template.spec?.containers[0]?.image, "busybox:v3");
    assert.equal((await replicaSets("app=web")).length, 3);
    assert.match(kubectl(["rollout", "status", "deploy/web", "--timeout=60s"]), /successfully rolled out/);
  });

  it("`kubectl rollout restart` rolls out a new ReplicaSet", async () => {
    const before = new Set((await replicaSets("app=web")).map((r) => r.metadata?.name));
    kubectl(["rollout", "restart", "deploy/web"]);
    await rollOut("web", "app=web");
    const fresh = (await replicaSets("app=web")).filter((r) => !before.has(r.metadata?.name));
    assert.equal(fresh.length, 1);
    assert.ok(fresh[0]?.spec?.template?.metadata?.annotations?.["kubectl.kubernetes.io/restartedAt"], "the restart annotation is in the new template");
    assert.equal(fresh[0]?.spec?.replicas, 3);
  });

  it("scales proportionally when the Deployment is scaled mid-rollout", async () => {
    // A Deployment of its own: after this file's rollouts, `web` has had more than 25 ScalingReplicaSet events, and
    // client-go's spam filter (as kube-controller-manager's) lets only one more through every 5 minutes.
    kubectl(["apply", "-f", "-"], deployment("prop", 3, "busybox:v1", { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } }));
    await rollOut("prop", "app=prop");
    kubectl(["set", "image", "deploy/prop", "app=busybox:v4"]);
    // No pods made Ready: the rollout stops at one surge pod.
    await eventually("the new ReplicaSet has its surge pod", async () => {
      const rss = (await replicaSets("app=prop")).filter((r) => (r.spec?.replicas ?? 0) > 0);
      return rss.length === 2 && rss.some((r) => r.spec?.template?.spec?.containers[0]?.image === "busybox:v4" && r.spec?.replicas === 1);
    });
    const oldRS = (await replicaSets("app=prop")).find((r) => (r.spec?.replicas ?? 0) === 3)!;
    const newRS = (await replicaSets("app=prop")).find((r) => r.spec?.template?.spec?.containers[0]?.image === "busybox:v4")!;
    kubectl(["scale", "deploy/prop", "--replicas=6"]);
    // 6 + maxSurge 1 = 7 pods spread 3:1 -> 5:2 (upstream's getProportion).
    await eventually("both ReplicaSets grew in proportion", async () => {
      return (await get<ReplicaSet>(`rs/${oldRS.metadata!.name}`)).spec?.replicas === 5 && (await get<ReplicaSet>(`rs/${newRS.metadata!.name}`)).spec?.replicas === 2;
    });
    const d = await rollOut("prop", "app=prop");
    assert.equal(d.status?.replicas, 6);
    assert.equal((await get<ReplicaSet>(`rs/${newRS.metadata!.name}`)).spec?.replicas, 6);
    assert.equal((await get<ReplicaSet>(`rs/${oldRS.metadata!.name}`)).spec?.replicas, 0);
    await eventually("describe shows the proportional scale-up", async () =>
      new RegExp(`Scaled up replica set ${oldRS.metadata!.name} to 5 from 3`).test(target.kubectl(["-n", NS, "describe", "deploy", "prop"]).stdout),
    );
  });

  it("prunes fully scaled-down ReplicaSets beyond revisionHistoryLimit", async () => {
    assert.ok((await replicaSets("app=web")).length > 2);
    kubectl(["patch", "deploy/web", "--type=merge", "-p", JSON.stringify({ spec: { revisionHistoryLimit: 1 } })]);
    await eventually("one old ReplicaSet is left", async () => (await replicaSets("app=web")).length === 2);
    const left = await replicaSets("app=web");
    assert.equal(left[0]?.spec?.replicas, 0);
    assert.equal(left[1]?.spec?.replicas, 3);
  });

  it("`kubectl describe deployment` shows the ScalingReplicaSet events of the deployment-controller", async () => {
    await eventually("describe shows scale-ups and scale-downs", async () => {
      const out = target.kubectl(["-n", NS, "describe", "deploy", "web"]).stdout;
      return (
        new RegExp(`ScalingReplicaSet\\s+\\S+\\s+deployment-controller\\s+Scaled up replica set ${firstRS} to 3`).test(out) &&
        /ScalingReplicaSet\s+\S+\s+deployment-controller\s+Scaled down replica set web-\w+ to 2 from 3/.test(out)
      );
    });
  });
});

describe("Deployment controller (Recreate)", () => {
  it("scales the old pods away before any new pod exists", async () => {
    kubectl(["apply", "-f", "-"], deployment("rec", 2, "busybox:v1", { type: "Recreate" }));
    await rollOut("rec", "app=rec");
    const oldHash = (await replicaSets("app=rec"))[0]!.metadata!.labels![HASH];
    kubectl(["set", "image", "deploy/rec", "app=busybox:v2"]);
    const d = await rollOut("rec", "app=rec", (pods) => {
      const live = pods.filter((p) => !p.metadata?.deletionTimestamp && p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed");
      const hashes = new Set(live.map((p) => p.metadata?.labels?.[HASH]));
      assert.ok(!(hashes.has(oldHash) && hashes.size > 1), "old and new pods at the same time");
    });
    assert.equal(d.spec?.template.spec?.containers[0]?.image, "busybox:v2");
    const [old, cur] = await replicaSets("app=rec");
    assert.equal(old?.spec?.replicas, 0);
    assert.equal(cur?.spec?.replicas, 2);
    await eventually("describe shows scale-down to 0 then the new ReplicaSet at full size", async () => {
      const out = target.kubectl(["-n", NS, "describe", "deploy", "rec"]).stdout;
      return new RegExp(`Scaled down replica set ${old!.metadata!.name} to 0 from 2`).test(out) && new RegExp(`Scaled up replica set ${cur!.metadata!.name} to 2`).test(out);
    });
  });
});

describe("Deployment controller (progressDeadlineSeconds)", () => {
  it("reports ProgressDeadlineExceeded when pods never become Ready, and `kubectl rollout status` fails", async () => {
    const spec = JSON.parse(deployment("stuck", 1, "busybox:v1", { type: "RollingUpdate" }));
    spec.spec.progressDeadlineSeconds = 2;
    kubectl(["apply", "-f", "-"], JSON.stringify(spec));
    await eventually("the Progressing condition times out", async () => condition(await get<Deployment>("deploy/stuck"), "Progressing")?.reason === "ProgressDeadlineExceeded");
    const d = await get<Deployment>("deploy/stuck");
    assert.equal(condition(d, "Progressing")?.status, "False");
    assert.match(condition(d, "Progressing")?.message ?? "", /^ReplicaSet "stuck-\w+" has timed out progressing\.$/);
    assert.equal(condition(d, "Available")?.reason, "MinimumReplicasUnavailable");
    assert.equal(condition(d, "Available")?.message, "Deployment does not have minimum availability.");
    const r = target.kubectl(["-n", NS, "rollout", "status", "deploy/stuck", "--timeout=30s"]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /deployment "stuck" exceeded its progress deadline/);
  });
});

describe("Deployment controller across a controller-manager restart", () => {
  it("finishes a rollout begun before the restart, without a second ReplicaSet or extra pods", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-deploy-restart-"));
    let server: ServerOnDir | undefined = await startServerOnDir(dir);
    const made: Target[] = [];
    const on = (s: ServerOnDir): Target => {
      const t: Target = {
        kubectl(args, opts = {}) {
          const r = spawnSync("kubectl", ["--kubeconfig", s.kubeconfig, ...args], { encoding: "utf8", input: opts.input, timeout: 60_000, env: { ...process.env, KUBECONFIG: s.kubeconfig } });
          return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
        },
        rest: new RestClient(configFromKubeconfig(s.kubeconfig)),
      };
      made.push(t);
      return t;
    };
    const main = target;
    try {
      target = on(server);
      ok(target.kubectl(["create", "namespace", NS]), "create namespace");
      kubectl(["apply", "-f", "-"], deployment("again", 3, "busybox:v1", { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } }));
      await rollOut("again", "app=again");
      kubectl(["set", "image", "deploy/again", "app=busybox:v2"]);
      // Mid-rollout: the surge pod of v2 exists, not Ready, the old ones still run.
      await eventually("the v2 surge pod exists", async () => (await list<Pod>("pods", "app=again")).length === 4);
      const before = (await replicaSets("app=again")).map((r) => r.metadata?.name);
      await server.stop();
      server = await startServerOnDir(dir);
      target = on(server);
      const d = await rollOut("again", "app=again", (pods, _d, rss) => {
        assert.ok(wanted(rss) <= 4, `${wanted(rss)} pods wanted after the restart`);
        assert.ok(pods.filter(isReady).length >= 3, "no drop below 3 ready");
      });
      assert.equal(d.spec?.template.spec?.containers[0]?.image, "busybox:v2");
      assert.deepEqual(
        (await replicaSets("app=again")).map((r) => r.metadata?.name),
        before,
        "the same two ReplicaSets, no duplicate",
      );
      const newHash = (await replicaSets("app=again"))[1]?.metadata?.labels?.[HASH];
      await eventually("3 pods, all v2", async () => {
        const pods = (await list<Pod>("pods", "app=again")).filter((p) => !p.metadata?.deletionTimestamp);
        return pods.length === 3 && pods.every((p) => p.metadata?.labels?.[HASH] === newHash);
      });
    } finally {
      target = main;
      for (const t of made) t.rest.close();
      await server?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
