/**
 * The ReplicaSet and ReplicationController controllers through a real
 * server and real kubectl: pods created and owned, replaced when deleted,
 * the right ones deleted on scale-down, orphans adopted and relabelled
 * pods released, status following pod readiness, events on the owner.
 * There is no kubelet here: tests make pods Ready by writing pod status.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { ok, startTestServer, type TestServer } from "./support/cluster.js";

const NS = "rs";
let srv: TestServer;
before(async () => {
  srv = await startTestServer();
  ok(srv.kubectl(["create", "namespace", NS]), "create namespace");
});
after(async () => {
  await srv?.stop();
});

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

interface Owner {
  metadata: { uid: string; generation?: number };
  status?: {
    replicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    fullyLabeledReplicas?: number;
    observedGeneration?: number;
    conditions?: Condition[];
  };
}

function kubectl(args: string[], input?: string): string {
  return ok(srv.kubectl(["-n", NS, ...args], input === undefined ? {} : { input }), `kubectl ${args.join(" ")}`);
}

function get<T>(what: string): T {
  return JSON.parse(kubectl(["get", what, "-o", "json"])) as T;
}

function pods(selector: string): Pod[] {
  return (JSON.parse(kubectl(["get", "pods", "-l", selector, "-o", "json"])) as { items: Pod[] }).items;
}

const names = (list: Pod[]) => list.map((p) => p.metadata?.name ?? "").sort();

async function eventually(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting until ${what}`);
}

/** What the kubelet would write for a pod that became Ready. */
function markReady(name: string): void {
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  const status = { phase: "Running", conditions: [{ type: "Ready", status: "True", lastTransitionTime: now }] };
  kubectl(["patch", "pod", name, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status })]);
}

function replicaSet(name: string, replicas: number, labels: Record<string, string>): string {
  return JSON.stringify({
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: { name, namespace: NS },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name: "app", image: "busybox", command: ["sleep", "3600"] }] } },
    },
  });
}

describe("ReplicaSet controller", () => {
  let rsUid = "";

  it("creates the pods of a new ReplicaSet, each owned by it", async () => {
    kubectl(["apply", "-f", "-"], replicaSet("web", 3, { app: "web" }));
    rsUid = get<Owner>("rs/web").metadata.uid;
    await eventually("3 pods exist", () => pods("app=web").length === 3);
    for (const p of pods("app=web")) {
      assert.equal(p.metadata?.generateName, "web-");
      assert.deepEqual(p.metadata?.ownerReferences, [
        { apiVersion: "apps/v1", kind: "ReplicaSet", name: "web", uid: rsUid, controller: true, blockOwnerDeletion: true },
      ]);
      assert.equal(p.spec?.containers[0]?.image, "busybox");
    }
    await eventually("status counts 3 replicas", () => {
      const rs = get<Owner>("rs/web");
      return rs.status?.replicas === 3 && rs.status.fullyLabeledReplicas === 3 && rs.status.observedGeneration === rs.metadata.generation;
    });
    // The controller must not overshoot once its pods are observed.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(pods("app=web").length, 3);
  });

  it("replaces a deleted pod", async () => {
    const before = names(pods("app=web"));
    kubectl(["delete", "pod", before[0]!, "--wait=false"]);
    await eventually("a replacement exists", () => {
      const now = names(pods("app=web"));
      return now.length === 3 && !now.includes(before[0]!);
    });
  });

  it("counts ready and available replicas from pod status", async () => {
    const [first] = names(pods("app=web"));
    markReady(first!);
    await eventually("readyReplicas and availableReplicas are 1", () => {
      const s = get<Owner>("rs/web").status;
      return s?.readyReplicas === 1 && s.availableReplicas === 1;
    });
  });

  it("deletes not-ready pods before ready ones when scaled down", async () => {
    const ready = pods("app=web").find((p) => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
    assert.ok(ready, "a ready pod");
    kubectl(["scale", "rs/web", "--replicas=1"]);
    await eventually("one pod is left", () => pods("app=web").length === 1);
    assert.deepEqual(names(pods("app=web")), [ready.metadata?.name]);
    await eventually("status says 1 replica", () => get<Owner>("rs/web").status?.replicas === 1);
  });

  it("records its pod creates and deletes as events on the ReplicaSet", async () => {
    await eventually("describe shows the events", () => {
      const out = srv.kubectl(["-n", NS, "describe", "rs", "web"]).stdout;
      return /SuccessfulCreate\s.*Created pod: web-/.test(out) && /SuccessfulDelete\s.*Deleted pod: web-/.test(out);
    });
  });

  it("adopts a matching orphan instead of creating a pod", async () => {
    kubectl(
      ["create", "-f", "-"],
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "orphan", namespace: NS, labels: { app: "adopt" } },
        spec: { containers: [{ name: "app", image: "busybox" }] },
      }),
    );
    kubectl(["apply", "-f", "-"], replicaSet("adopter", 1, { app: "adopt" }));
    const uid = get<Owner>("rs/adopter").metadata.uid;
    await eventually("the orphan is owned by the ReplicaSet", () => get<Pod>("pod/orphan").metadata?.ownerReferences?.[0]?.uid === uid);
    const ref = get<Pod>("pod/orphan").metadata?.ownerReferences;
    assert.deepEqual(ref, [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "adopter", uid, controller: true, blockOwnerDeletion: true }]);
    await eventually("status counts the adopted pod", () => get<Owner>("rs/adopter").status?.replicas === 1);
    assert.deepEqual(names(pods("app=adopt")), ["orphan"], "no pod was created");
  });

  it("releases a pod relabelled out of its selector and replaces it", async () => {
    kubectl(["label", "pod", "orphan", "app=gone", "--overwrite"]);
    await eventually("the relabelled pod lost its ownerReference", () => (get<Pod>("pod/orphan").metadata?.ownerReferences ?? []).length === 0);
    await eventually("a replacement is created", () => pods("app=adopt").length === 1);
    assert.notEqual(names(pods("app=adopt"))[0], "orphan");
  });
});

describe("ReplicaSet controller when pods cannot be created", () => {
  it("sets ReplicaFailure and records FailedCreate, then recovers once creates succeed", async () => {
    // Priority admission rejects pods naming a PriorityClass that does not exist; the ReplicaSet itself is fine.
    const rs = JSON.parse(replicaSet("blocked", 2, { app: "blocked" }));
    rs.spec.template.spec.priorityClassName = "blocked-priority";
    kubectl(["apply", "-f", "-"], JSON.stringify(rs));
    await eventually("the ReplicaFailure condition is set", () => {
      const conds = get<Owner>("rs/blocked").status?.conditions ?? [];
      return conds.some((c) => c.type === "ReplicaFailure" && c.status === "True" && c.reason === "FailedCreate" && /no PriorityClass with name blocked-priority/.test(c.message ?? ""));
    });
    assert.match(kubectl(["describe", "rs", "blocked"]), /FailedCreate\s.*Error creating: .*forbidden: no PriorityClass with name blocked-priority was found/);
    assert.equal(pods("app=blocked").length, 0);
    ok(srv.kubectl(["create", "priorityclass", "blocked-priority", "--value=1000"]), "create priorityclass");
    await eventually("both pods are created and the condition is gone", () => {
      const s = get<Owner>("rs/blocked").status;
      return pods("app=blocked").length === 2 && s?.replicas === 2 && s.conditions === undefined;
    });
  });
});

describe("ReplicationController controller", () => {
  it("creates owned pods for an RC and reports its status", async () => {
    kubectl(
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "v1",
        kind: "ReplicationController",
        metadata: { name: "legacy", namespace: NS },
        spec: {
          replicas: 2,
          selector: { app: "legacy" },
          template: { metadata: { labels: { app: "legacy" } }, spec: { containers: [{ name: "app", image: "busybox" }] } },
        },
      }),
    );
    const uid = get<Owner>("rc/legacy").metadata.uid;
    await eventually("2 pods exist", () => pods("app=legacy").length === 2);
    for (const p of pods("app=legacy")) {
      assert.equal(p.metadata?.generateName, "legacy-");
      assert.deepEqual(p.metadata?.ownerReferences, [
        { apiVersion: "v1", kind: "ReplicationController", name: "legacy", uid, controller: true, blockOwnerDeletion: true },
      ]);
    }
    const created = names(pods("app=legacy"));
    markReady(created[0]!);
    await eventually("status counts 2 replicas, 1 ready", () => {
      const s = get<Owner>("rc/legacy").status;
      return s?.replicas === 2 && s.readyReplicas === 1 && s.availableReplicas === 1;
    });
    kubectl(["scale", "rc/legacy", "--replicas=1"]);
    await eventually("the not-ready pod went", () => pods("app=legacy").length === 1);
    assert.equal(pods("app=legacy")[0]?.status?.phase, "Running");
    // One event per pod, as upstream's, each naming its pod.
    await eventually("describe rc shows an event for each pod created", () => {
      const out = srv.kubectl(["-n", NS, "describe", "rc", "legacy"]).stdout;
      return created.every((name) => new RegExp(`SuccessfulCreate\\s.*replication-controller\\s+Created pod: ${name}`).test(out));
    });
  });
});
