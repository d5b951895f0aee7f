/**
 * Networking as a new user tries it (issue 8), on one real node: a
 * `backend` Deployment behind a Service on port 8080 reached by name from a
 * pod in its namespace (`http://backend:8080`) and from another
 * (`backend.expense`), in-cluster config reaching the API server at
 * `https://kubernetes.default.svc` with the pod's ServiceAccount token, a
 * client that retries through the Service never failing while a backend
 * pod is killed and replaced, an Ingress routing `/` and `/api` on the
 * node's port 80, a NodePort and a LoadBalancer reached from the host, and
 * a NetworkPolicy that denies and then allows.
 *
 * The node's address is a test-only address on an empty bridge the test
 * makes (see startNodeServer's `network`): everything sent to it, and to
 * the test's cluster and Service ranges, stays on this machine. The cluster
 * DNS forwards names outside the cluster to a resolver that does not exist
 * (a resolv.conf naming an unused loopback address), never the real one.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomInt } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { eventually } from "./support/eventually.js";
import { repoRoot } from "./support/skiff.js";
import { BUSYBOX_IMAGE, type NodeServer, nodeLeftovers, startNodeServer } from "./support/node-cluster.js";

const isRoot = process.getuid?.() === 0;

/** This file's ranges: no other test uses 10.190–10.192. */
const CLUSTER_CIDR = "10.190.0.0/16";
const SERVICE_CIDR = "10.191.0.0/16";

function freeHostAddress(): string {
  for (;;) {
    const n = randomInt(1, 255);
    const used = spawnSync("ip", ["-4", "-o", "addr", "show", "to", `10.192.${n}.0/24`], { encoding: "utf8" }).stdout.trim();
    if (used === "") return `10.192.${n}.1`;
  }
}

/** A web server Deployment: busybox httpd answering `<text> <pod name>` on / and `<text> api` on /api/. */
function webDeployment(name: string, namespace: string, text: string, replicas: number): object {
  const script = [
    "mkdir -p /www/api",
    `echo "${text} $(hostname)" > /www/index.html`,
    `echo "${text} api" > /www/api/index.html`,
    "exec httpd -f -p 8080 -h /www",
  ].join(" && ");
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          terminationGracePeriodSeconds: 2,
          containers: [
            {
              name: "web",
              image: BUSYBOX_IMAGE,
              imagePullPolicy: "Never",
              command: ["sh", "-c", script],
              ports: [{ name: "http", containerPort: 8080 }],
              readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
            },
          ],
        },
      },
    },
  };
}

function service(name: string, namespace: string, spec: object = {}): object {
  return { apiVersion: "v1", kind: "Service", metadata: { name, namespace }, spec: { selector: { app: name }, ports: [{ name: "http", port: 8080, targetPort: "http" }], ...spec } };
}

function clientPod(name: string, namespace: string, labels: Record<string, string> = {}): object {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, labels },
    spec: { terminationGracePeriodSeconds: 1, containers: [{ name: "sh", image: BUSYBOX_IMAGE, imagePullPolicy: "Never", command: ["sleep", "3600"] }] },
  };
}

/** GET http://host:port/path with an optional Host header; resolves with status and body. */
function httpGet(host: string, port: number, path: string, hostHeader?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, headers: hostHeader ? { host: hostHeader } : {}, timeout: 5000, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

describe("Services, cluster DNS, Ingress and NetworkPolicy on a real node", { skip: !isRoot && "needs root (runc, CNI, nftables)" }, () => {
  let s: NodeServer;
  let hostAddress: string;
  let resolvDir: string;

  before(async () => {
    hostAddress = freeHostAddress();
    resolvDir = mkdtempSync(join(tmpdir(), "skiff-resolv-"));
    // Names outside the cluster go to a resolver that is not there: never the machine's real one.
    writeFileSync(join(resolvDir, "resolv.conf"), "nameserver 127.0.0.254\n");
    s = await startNodeServer({
      network: { clusterCidr: CLUSTER_CIDR, serviceCidr: SERVICE_CIDR, hostAddress },
      extraArgs: ["--resolv-conf", join(resolvDir, "resolv.conf"), "--ingress-http-port", "80", "--ingress-https-port", "443"],
    });
    const apply = (objs: object[]) => {
      const r = s.kubectl(["apply", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "List", items: objs }) });
      assert.equal(r.status, 0, r.stderr);
    };
    assert.equal(s.kubectl(["create", "namespace", "expense"]).status, 0);
    await s.eventually("the default ServiceAccount in expense", () => (s.kubectl(["get", "sa", "default", "-n", "expense"]).status === 0 ? true : undefined));
    apply([
      webDeployment("backend", "expense", "backend", 2),
      service("backend", "expense"),
      webDeployment("frontend", "expense", "frontend", 1),
      service("frontend", "expense"),
      clientPod("client", "expense", { role: "client" }),
      clientPod("outsider", "expense"),
      clientPod("client", "default"),
    ]);
    for (const [ns, what] of [
      ["expense", "deployment/backend"],
      ["expense", "deployment/frontend"],
    ]) {
      const r = s.kubectl(["rollout", "status", "-n", ns!, what!, "--timeout", "120s"]);
      assert.equal(r.status, 0, r.stderr);
    }
    for (const [ns, pod] of [
      ["expense", "client"],
      ["expense", "outsider"],
      ["default", "client"],
    ]) {
      const r = s.kubectl(["wait", "--for=condition=Ready", "-n", ns!, `pod/${pod}`, "--timeout", "120s"]);
      assert.equal(r.status, 0, r.stderr);
    }
  });

  after(async () => {
    if (s) {
      s.kubectl(["delete", "namespace", "expense", "--wait=true", "--timeout", "60s"]);
      await s.stop();
      assert.deepEqual(nodeLeftovers(s), []);
      const tables = spawnSync("nft", ["list", "tables"], { encoding: "utf8" }).stdout;
      assert.doesNotMatch(tables, new RegExp(s.bridge), "the node's nftables tables are removed");
    }
    if (resolvDir) rmSync(resolvDir, { recursive: true, force: true });
  });

  /** Runs kubectl without blocking the test (spawnSync would stop the clock for everything else). */
  function kubectlAsync(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn("kubectl", ["--kubeconfig", s.kubeconfig, ...args], { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => {
        stdout += d;
      });
      child.stderr.on("data", (d) => {
        stderr += d;
      });
      child.on("close", (code) => resolve({ status: code ?? -1, stdout, stderr }));
    });
  }

  /** Runs a shell command in a pod; resolves with its exit code and output. */
  const inPod = (ns: string, pod: string, script: string) => s.kubectl(["exec", "-n", ns, pod, "--", "sh", "-c", script]);

  it("reaches the backend by name from its namespace (http://backend:8080)", async () => {
    const r = await s.eventually("http://backend:8080 from expense/client", () => {
      const x = inPod("expense", "client", "timeout 5 wget -qO- http://backend:8080/");
      return x.status === 0 ? x : undefined;
    });
    assert.match(r.stdout, /^backend backend-/);
  });

  it("reaches the backend from another namespace as backend.expense, and by its full name", async () => {
    for (const name of ["backend.expense", "backend.expense.svc.cluster.local"]) {
      const r = await s.eventually(`http://${name}:8080 from default/client`, () => {
        const x = inPod("default", "client", `timeout 5 wget -qO- http://${name}:8080/`);
        return x.status === 0 ? x : undefined;
      });
      assert.match(r.stdout, /^backend backend-/);
    }
    const missing = inPod("default", "client", "nslookup nothing-here.expense.svc.cluster.local");
    assert.notEqual(missing.status, 0, "an unknown Service name does not resolve");
  });

  it("reaches the API server from a pod with in-cluster config: client-node's loadFromCluster and https://kubernetes.default.svc", async () => {
    // The pod runs this machine's node binary and the repository's @kubernetes/client-node from a read-only
    // hostPath of /, through the host's dynamic loader (the test image is busybox only).
    const node = realpathSync(process.execPath);
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "in-cluster", namespace: "expense" },
      spec: {
        terminationGracePeriodSeconds: 1,
        containers: [{ name: "sh", image: BUSYBOX_IMAGE, imagePullPolicy: "Never", command: ["sleep", "3600"], volumeMounts: [{ name: "host", mountPath: "/host", readOnly: true }] }],
        volumes: [{ name: "host", hostPath: { path: "/", type: "Directory" } }],
      },
    };
    assert.equal(s.kubectl(["apply", "-f", "-"], { input: JSON.stringify(pod) }).status, 0);
    assert.equal(s.kubectl(["wait", "--for=condition=Ready", "-n", "expense", "pod/in-cluster", "--timeout", "120s"]).status, 0);
    // Absolute symlinks (merged /usr's /lib64) would point into the container: name real paths.
    const libs = ["/host/usr/lib/x86_64-linux-gnu", "/host/lib/x86_64-linux-gnu"].join(":");
    const script = `CLIENT_NODE=/host${repoRoot}node_modules/@kubernetes/client-node/dist/index.js /host${realpathSync("/lib64/ld-linux-x86-64.so.2")} --library-path ${libs} /host${node} /host${repoRoot}test/fixtures/in-cluster-client.mjs`;
    let last = "";
    const r = await eventually(
      "the API through the kubernetes Service",
      () => {
        const x = inPod("expense", "in-cluster", script);
        last = `${x.stdout}${x.stderr}`;
        return x.status === 0 ? x : undefined;
      },
      60_000,
      1000,
    ).catch((err: Error) => assert.fail(`${err.message}\n--- the pod's last attempt ---\n${last}`));
    const seen = JSON.parse(r.stdout) as { server: string; user: string; api: { status: number; kind: string } };
    assert.equal(seen.server, `https://${s.kubectl(["get", "svc", "kubernetes", "-o", "jsonpath={.spec.clusterIP}"]).stdout.trim()}:443`);
    assert.equal(seen.user, "system:serviceaccount:expense:default");
    assert.deepEqual(seen.api, { status: 200, kind: "APIVersions" });
  });

  it("never fails a retrying client while a backend pod is killed and replaced", async () => {
    // 60 requests, each retried for up to about 3 s: a request that still fails prints FAIL.
    const loop =
      "i=0; while [ $i -lt 60 ]; do i=$((i+1)); ok=0; for t in 1 2 3 4 5 6 7 8 9 10; do if timeout 5 wget -qO- http://backend:8080/ >/dev/null 2>&1; then ok=1; break; fi; sleep 0.3; done; [ $ok = 1 ] || echo FAIL; sleep 0.1; done; echo DONE";
    const victim = s.kubectl(["get", "pods", "-n", "expense", "-l", "app=backend", "-o", "jsonpath={.items[0].metadata.name}"]).stdout.trim();
    const client = kubectlAsync(["exec", "-n", "expense", "client", "--", "sh", "-c", loop]);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(s.kubectl(["delete", "pod", "-n", "expense", victim, "--wait=false"]).status, 0);
    const rollout = s.kubectl(["rollout", "status", "-n", "expense", "deployment/backend", "--timeout", "120s"]);
    assert.equal(rollout.status, 0, rollout.stderr);
    const r = await client;
    assert.match(r.stdout, /DONE/, r.stderr);
    assert.doesNotMatch(r.stdout, /FAIL/);
  });

  it("routes an Ingress: / to the frontend and /api to the backend on the node's port 80", async () => {
    const ingress = {
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      metadata: { name: "expense", namespace: "expense" },
      spec: {
        rules: [
          {
            host: "expense.example",
            http: {
              paths: [
                { path: "/", pathType: "Prefix", backend: { service: { name: "frontend", port: { number: 8080 } } } },
                { path: "/api", pathType: "Prefix", backend: { service: { name: "backend", port: { name: "http" } } } },
              ],
            },
          },
        ],
      },
    };
    assert.equal(s.kubectl(["apply", "-f", "-"], { input: JSON.stringify(ingress) }).status, 0);
    const front = await s.eventually("the frontend through the ingress", () => {
      const x = spawnSync("curl", ["-s", "-m", "5", "-H", "Host: expense.example", `http://${hostAddress}:80/`], { encoding: "utf8" });
      return x.status === 0 && x.stdout.startsWith("frontend") ? x.stdout : undefined;
    });
    assert.match(front, /^frontend frontend-/);
    const api = spawnSync("curl", ["-s", "-m", "5", "-H", "Host: expense.example", `http://${hostAddress}:80/api/`], { encoding: "utf8" });
    assert.equal(api.stdout, "backend api\n");
    const other = spawnSync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "5", "-H", "Host: other.example", `http://${hostAddress}:80/`], { encoding: "utf8" });
    assert.equal(other.stdout, "404");
    await s.eventually("the Ingress status to list the node", () => {
      const ip = s.kubectl(["get", "ingress", "expense", "-n", "expense", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}"]).stdout.trim();
      return ip === hostAddress ? true : undefined;
    });
  });

  it("answers a NodePort and a LoadBalancer Service on the node's address, from the host", async () => {
    assert.equal(s.kubectl(["apply", "-f", "-"], { input: JSON.stringify(service("backend", "expense", { type: "LoadBalancer" })) }).status, 0);
    const nodePort = Number(s.kubectl(["get", "svc", "backend", "-n", "expense", "-o", "jsonpath={.spec.ports[0].nodePort}"]).stdout.trim());
    assert.ok(nodePort >= 30000 && nodePort <= 32767, `nodePort ${nodePort}`);
    const r = await eventually("the backend on the NodePort", () => httpGet(hostAddress, nodePort, "/"));
    assert.equal(r.status, 200);
    assert.match(r.body, /^backend backend-/);
    await s.eventually("the LoadBalancer status to list the node", () => {
      const ip = s.kubectl(["get", "svc", "backend", "-n", "expense", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}"]).stdout.trim();
      return ip === hostAddress ? true : undefined;
    });
    const lb = await eventually("the backend on the LoadBalancer port", () => httpGet(hostAddress, 8080, "/"));
    assert.match(lb.body, /^backend backend-/);
  });

  it("enforces a NetworkPolicy that denies, then one that allows the client", async () => {
    const denyAll = {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "backend-deny", namespace: "expense" },
      spec: { podSelector: { matchLabels: { app: "backend" } }, policyTypes: ["Ingress"] },
    };
    assert.equal(s.kubectl(["apply", "-f", "-"], { input: JSON.stringify(denyAll) }).status, 0);
    await s.eventually("the policy to deny the client", () => (inPod("expense", "client", "timeout 5 wget -qO- http://backend:8080/").status !== 0 ? true : undefined));
    const allowClient = {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "backend-allow-client", namespace: "expense" },
      spec: {
        podSelector: { matchLabels: { app: "backend" } },
        ingress: [{ from: [{ podSelector: { matchLabels: { role: "client" } } }], ports: [{ port: 8080 }] }],
      },
    };
    assert.equal(s.kubectl(["apply", "-f", "-"], { input: JSON.stringify(allowClient) }).status, 0);
    await s.eventually("the policy to allow the client", () => (inPod("expense", "client", "timeout 5 wget -qO- http://backend:8080/").status === 0 ? true : undefined));
    assert.notEqual(inPod("expense", "outsider", "timeout 5 wget -qO- http://backend:8080/").status, 0, "a pod without role=client stays denied");
    assert.equal(s.kubectl(["delete", "networkpolicy", "--all", "-n", "expense"]).status, 0);
    await s.eventually("traffic to come back without policies", () => (inPod("expense", "outsider", "timeout 5 wget -qO- http://backend:8080/").status === 0 ? true : undefined));
  });
});
