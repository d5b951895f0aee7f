/**
 * Resource metrics end to end on a real node: the kubelet's Summary API
 * read from the pod's cgroups, the API server scraping it into
 * metrics.k8s.io (what metrics-server does), and `kubectl top` reading
 * that. A busybox pod spinning in a shell loop must show cpu use, its
 * containers must show with `--containers`, and the node must show in
 * `kubectl top node`. The scrape interval is shortened with the server's
 * `--metric-resolution` flag.
 */
import assert from "node:assert/strict";
import { request } from "node:https";
import { after, before, describe, it } from "node:test";
import { parse as parseYaml } from "yaml";
import { readFileSync } from "node:fs";
import type { Node } from "kubernetes-types/core/v1.js";
import { ok } from "./support/cluster.js";
import { BUSYBOX_IMAGE, type NodeServer, nodeLeftovers, startNodeServer } from "./support/node-cluster.js";

let srv: NodeServer;

before(async () => {
  srv = await startNodeServer({ extraArgs: ["--metric-resolution", "2s"] });
});

after(async () => {
  await srv?.stop();
  if (srv) assert.deepEqual(nodeLeftovers(srv), [], "the node left nothing behind");
});

/** cpu quantity text ("250m", "1", "12345n") in millicores. */
function millicores(q: string): number {
  const m = /^(\d+)([num]?)$/.exec(q);
  assert.ok(m, `cpu quantity ${q}`);
  const n = Number(m[1]);
  return m[2] === "n" ? n / 1e6 : m[2] === "u" ? n / 1e3 : m[2] === "m" ? n : n * 1000;
}

/** GETs `path` from the node's kubelet with the admin client certificate of the server's kubeconfig. */
function kubeletGet(port: number, path: string): Promise<{ status: number; body: string }> {
  const kc = parseYaml(readFileSync(srv.kubeconfig, "utf8")) as { users: { user: Record<string, string> }[] };
  const user = kc.users[0]!.user;
  const cert = Buffer.from(user["client-certificate-data"]!, "base64");
  const key = Buffer.from(user["client-key-data"]!, "base64");
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, cert, key, rejectUnauthorized: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("kubectl top on a real node", () => {
  before(() => {
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "burner", namespace: "default", labels: { app: "burner" } },
      spec: {
        terminationGracePeriodSeconds: 1,
        containers: [
          // Half a core at most: the machine is shared.
          { name: "burn", image: BUSYBOX_IMAGE, command: ["sh", "-c", "while :; do :; done"], resources: { limits: { cpu: "500m" } } },
          { name: "idle", image: BUSYBOX_IMAGE, command: ["sleep", "3600"] },
        ],
      },
    };
    ok(srv.kubectl(["apply", "-f", "-"], { input: JSON.stringify(pod) }), "apply");
    ok(srv.kubectl(["wait", "--for=condition=Ready", "pod/burner", "--timeout=90s"]), "wait for the pod");
  });

  it("serves the kubelet's /stats/summary from the pod's cgroups", async () => {
    const node = JSON.parse(ok(srv.kubectl(["get", "node", srv.nodeName, "-o", "json"]), "get node")) as Node;
    const port = node.status!.daemonEndpoints!.kubeletEndpoint!.Port!;
    const r = await kubeletGet(port, "/stats/summary");
    assert.equal(r.status, 200, r.body);
    const s = JSON.parse(r.body) as {
      node: { nodeName: string; cpu: { usageCoreNanoSeconds: number }; memory: { workingSetBytes: number; availableBytes: number }; fs: { capacityBytes: number }; rlimit: { maxpid: number } };
      pods: { podRef: { name: string }; containers: { name: string; cpu?: { usageCoreNanoSeconds: number }; memory?: { workingSetBytes: number }; logs?: { usedBytes: number } }[]; network?: { name: string; rxBytes: number } }[];
    };
    assert.equal(s.node.nodeName, srv.nodeName);
    assert.ok(s.node.cpu.usageCoreNanoSeconds > 0 && s.node.memory.workingSetBytes > 0 && s.node.memory.availableBytes > 0);
    assert.ok(s.node.fs.capacityBytes > 0 && s.node.rlimit.maxpid > 0);
    const burner = s.pods.find((p) => p.podRef.name === "burner");
    assert.ok(burner, "the pod is in the summary");
    assert.deepEqual(burner.containers.map((c) => c.name), ["burn", "idle"]);
    const burn = burner.containers[0]!;
    assert.ok((burn.cpu?.usageCoreNanoSeconds ?? 0) > 0, "the spinning container used cpu");
    assert.ok((burn.memory?.workingSetBytes ?? 0) > 0);
    assert.equal(burner.network?.name, "eth0");
  });

  it("shows the spinning pod's cpu in kubectl top pod, per container with --containers", async () => {
    const line = await srv.eventually(
      "kubectl top pod to show the pod's cpu",
      () => {
        const r = srv.kubectl(["top", "pod", "burner", "--no-headers"]);
        if (r.status !== 0) return undefined;
        const [name, cpu] = r.stdout.trim().split(/\s+/);
        return name === "burner" && cpu && millicores(cpu) > 0 ? r.stdout.trim() : undefined;
      },
      90_000,
    );
    const [, cpu, memory] = line.split(/\s+/);
    assert.ok(millicores(cpu!) >= 10, `the spinning pod uses cpu: ${line}`);
    assert.match(memory!, /^\d+Mi$/);

    const containers = ok(srv.kubectl(["top", "pod", "burner", "--containers", "--no-headers"]), "top --containers")
      .trim()
      .split("\n")
      .map((l) => l.trim().split(/\s+/));
    assert.deepEqual(containers.map((c) => `${c[0]}/${c[1]}`).sort(), ["burner/burn", "burner/idle"]);
    const burn = containers.find((c) => c[1] === "burn")!;
    assert.ok(millicores(burn[2]!) >= 10, `the burn container uses cpu: ${burn.join(" ")}`);

    // Label selectors reach the metrics API.
    assert.match(ok(srv.kubectl(["top", "pod", "-l", "app=burner", "--no-headers"]), "top -l"), /^burner\s/);
    assert.match(srv.kubectl(["top", "pod", "-l", "app=other"]).stderr, /No resources found in default namespace/);
  });

  it("shows the node in kubectl top node", async () => {
    const line = await srv.eventually("kubectl top node to list the node", () => {
      const r = srv.kubectl(["top", "node", "--no-headers"]);
      return r.status === 0 && r.stdout.includes(srv.nodeName) ? r.stdout.trim() : undefined;
    });
    const [name, cpu, cpuPercent, memory, memoryPercent] = line.split(/\s+/);
    assert.equal(name, srv.nodeName);
    assert.ok(millicores(cpu!) > 0, line);
    assert.match(cpuPercent!, /^\d+%$/);
    assert.match(memory!, /^\d+Mi$/);
    assert.match(memoryPercent!, /^\d+%$/);
  });

  it("answers metrics.k8s.io as metrics-server does", () => {
    const pm = JSON.parse(ok(srv.kubectl(["get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/burner"]), "get podmetrics")) as {
      kind: string;
      metadata: { labels: Record<string, string> };
      window: string;
      containers: { name: string; usage: { cpu: string; memory: string } }[];
    };
    assert.equal(pm.kind, "PodMetrics");
    assert.deepEqual(pm.metadata.labels, { app: "burner" });
    assert.match(pm.window, /^\d+(\.\d+)?s$/);
    assert.deepEqual(pm.containers.map((c) => c.name).sort(), ["burn", "idle"]);
    // A pod that never ran has no metrics: metrics-server's NotFound.
    const pending = { apiVersion: "v1", kind: "Pod", metadata: { name: "nowhere", namespace: "default" }, spec: { nodeSelector: { "no-such": "node" }, containers: [{ name: "c", image: BUSYBOX_IMAGE }] } };
    ok(srv.kubectl(["apply", "-f", "-"], { input: JSON.stringify(pending) }), "apply pending pod");
    const r = srv.kubectl(["get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/nowhere"]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /podmetrics\.metrics\.k8s\.io "default\/nowhere" not found/);
  });
});
