/**
 * The HorizontalPodAutoscaler controller end to end on a real node: a
 * Deployment of one busybox pod burning cpu (request 100m, limit 200m so
 * the shared machine keeps its cores), `kubectl autoscale --cpu-percent=50
 * --min=1 --max=3`, and the HPA reading metrics.k8s.io (scraped every 2 s
 * by `--metric-resolution`) scales it to 3 through deployments/scale,
 * with upstream's status, conditions, event and `kubectl get hpa`
 * columns. Then the load stops (each pod is told to, over exec) and,
 * after the stabilization window (10 s by flag), it scales back to 1.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import type { HorizontalPodAutoscaler } from "kubernetes-types/autoscaling/v2.js";
import type { Event } from "kubernetes-types/core/v1.js";
import { ok } from "./support/cluster.js";
import { BUSYBOX_IMAGE, type NodeServer, nodeLeftovers, startNodeServer } from "./support/node-cluster.js";

let srv: NodeServer;
const NS = "hpa-e2e";

before(async () => {
  srv = await startNodeServer({
    extraArgs: ["--metric-resolution", "2s", "--horizontal-pod-autoscaler-sync-period", "2s", "--horizontal-pod-autoscaler-downscale-stabilization", "10s"],
  });
});

after(async () => {
  if (!srv) return;
  // The HPA and Deployment first, so nothing brings pods back while the node is emptied.
  srv.kubectl(["delete", "hpa", "burn", "-n", NS, "--ignore-not-found"]);
  srv.kubectl(["delete", "deployment", "burn", "-n", NS, "--ignore-not-found", "--cascade=foreground", "--wait=true", "--timeout=60s"]);
  await srv.stop();
  assert.deepEqual(nodeLeftovers(srv), [], "the node left nothing behind");
});

/** Upstream's bootstrap role of the HPA controller (bound to the controller manager's user, as skiff binds every controller role). */
const HPA_CONTROLLER_RBAC = [
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name: "system:controller:horizontal-pod-autoscaler" },
    rules: [
      { apiGroups: ["autoscaling"], resources: ["horizontalpodautoscalers"], verbs: ["get", "list", "watch"] },
      { apiGroups: ["autoscaling"], resources: ["horizontalpodautoscalers/status"], verbs: ["update"] },
      { apiGroups: ["*"], resources: ["*/scale"], verbs: ["get", "update"] },
      { apiGroups: [""], resources: ["pods"], verbs: ["list"] },
      { apiGroups: ["metrics.k8s.io"], resources: ["pods"], verbs: ["list"] },
      { apiGroups: ["custom.metrics.k8s.io"], resources: ["*"], verbs: ["get", "list"] },
      { apiGroups: ["external.metrics.k8s.io"], resources: ["*"], verbs: ["get", "list"] },
      { apiGroups: ["", "events.k8s.io"], resources: ["events"], verbs: ["create", "update", "patch"] },
    ],
  },
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name: "system:controller:horizontal-pod-autoscaler" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:controller:horizontal-pod-autoscaler" },
    subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "system:kube-controller-manager" }],
  },
];

/** kubectl without blocking the event loop, so several run at once. */
function kubectlAsync(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("kubectl", ["--kubeconfig", srv.kubeconfig, ...args], { encoding: "utf8", timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ status: code, stdout, stderr });
    });
  });
}

function getHpa(): HorizontalPodAutoscaler {
  return JSON.parse(ok(srv.kubectl(["get", "hpa.v2.autoscaling", "burn", "-n", NS, "-o", "json"]), "get hpa")) as HorizontalPodAutoscaler;
}

function condition(h: HorizontalPodAutoscaler, type: string) {
  return h.status?.conditions?.find((c) => c.type === type);
}

describe("HorizontalPodAutoscaler on a real node", () => {
  before(() => {
    // Until the bootstrap policy carries upstream's role, the test grants it the same way.
    if (srv.kubectl(["get", "clusterrole", "system:controller:horizontal-pod-autoscaler"]).status !== 0) {
      ok(srv.kubectl(["apply", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "List", items: HPA_CONTROLLER_RBAC }) }), "grant the HPA controller role");
    }
    ok(srv.kubectl(["create", "namespace", NS]), "create namespace");
    const deployment = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "burn", namespace: NS },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "burn" } },
        template: {
          metadata: { labels: { app: "burn" } },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [
              {
                name: "burn",
                image: BUSYBOX_IMAGE,
                // Burns until told to stop (a file appears), then idles.
                command: ["sh", "-c", "mkdir -p /tmp; while [ ! -e /tmp/stop ]; do :; done; exec sleep 3600"],
                resources: { requests: { cpu: "100m" }, limits: { cpu: "200m" } },
              },
            ],
          },
        },
      },
    };
    ok(srv.kubectl(["apply", "-f", "-"], { input: JSON.stringify(deployment) }), "apply deployment");
    ok(srv.kubectl(["rollout", "status", "deployment/burn", "-n", NS, "--timeout=60s"]), "deployment ready");
  });

  it("kubectl autoscale makes an HPA; it scales the busy Deployment up to maxReplicas", async () => {
    ok(srv.kubectl(["autoscale", "deployment", "burn", "-n", NS, "--cpu-percent=50", "--min=1", "--max=3"]), "kubectl autoscale");
    const scaled = await srv.eventually(
      "the HPA to scale the deployment to 3",
      () => {
        const h = getHpa();
        return h.status?.desiredReplicas === 3 && h.status.lastScaleTime ? h : undefined;
      },
      60_000,
    );
    assert.equal(scaled.spec?.minReplicas, 1);
    assert.equal(scaled.spec?.maxReplicas, 3);
    assert.equal(condition(scaled, "ScalingActive")?.reason, "ValidMetricFound");
    assert.equal(condition(scaled, "ScalingActive")?.message, "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)");
    const metric = scaled.status?.currentMetrics?.[0];
    assert.equal(metric?.type, "Resource");
    assert.equal(metric?.resource?.name, "cpu");
    assert.ok((metric?.resource?.current.averageUtilization ?? 0) > 55, `utilization ${metric?.resource?.current.averageUtilization} is above the target`);

    const replicas = ok(srv.kubectl(["get", "deployment", "burn", "-n", NS, "-o", "jsonpath={.spec.replicas}"]), "get deployment");
    assert.equal(replicas, "3");

    const events = JSON.parse(ok(srv.kubectl(["get", "events", "-n", NS, "--field-selector", "reason=SuccessfulRescale", "-o", "json"]), "get events")) as {
      items: Event[];
    };
    const notes = events.items.map((e) => e.message);
    assert.ok(notes.includes("New size: 3; reason: cpu resource utilization (percentage of request) above target"), `events: ${JSON.stringify(notes)}`);
    assert.equal(events.items[0]?.source?.component ?? events.items[0]?.reportingComponent, "horizontal-pod-autoscaler");

    const table = ok(srv.kubectl(["get", "hpa", "burn", "-n", NS]), "kubectl get hpa");
    const [header, row] = table.trim().split("\n");
    assert.deepEqual(header?.split(/\s+/), ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]);
    assert.match(row ?? "", /^burn\s+Deployment\/burn\s+cpu: \d+%\/50%\s+1\s+3\s+[13]\s+\d+s$/);
  });

  it("scales back to minReplicas once the load stops and the stabilization window passes", async () => {
    await srv.eventually(
      "three running pods",
      () => {
        const out = srv.kubectl(["get", "pods", "-n", NS, "-l", "app=burn", "--field-selector", "status.phase=Running", "-o", "name"]).stdout.trim();
        return out.split("\n").filter(Boolean).length === 3 ? true : undefined;
      },
      60_000,
    );
    const pods = ok(srv.kubectl(["get", "pods", "-n", NS, "-l", "app=burn", "-o", "name"]), "list pods").trim().split("\n");
    const stopped = await Promise.all(pods.map((p) => kubectlAsync(["exec", "-n", NS, p, "--", "touch", "/tmp/stop"])));
    for (const r of stopped) ok(r, "stop the load");
    const h = await srv.eventually(
      "the HPA to scale back to 1",
      () => {
        const cur = getHpa();
        return cur.status?.desiredReplicas === 1 ? cur : undefined;
      },
      60_000,
    );
    assert.equal(ok(srv.kubectl(["get", "deployment", "burn", "-n", NS, "-o", "jsonpath={.spec.replicas}"]), "get deployment"), "1");
    const limited = condition(h, "ScalingLimited");
    assert.ok(limited?.reason === "TooFewReplicas" || limited?.reason === "DesiredWithinRange", `ScalingLimited ${JSON.stringify(limited)}`);
    const events = ok(srv.kubectl(["get", "events", "-n", NS, "--field-selector", "reason=SuccessfulRescale", "-o", "jsonpath={.items[*].message}"]), "events");
    assert.match(events, /New size: 1; reason: All metrics below target/);
  });
});
