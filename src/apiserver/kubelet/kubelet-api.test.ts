/**
 * The API server and a kubelet server together, in process: kubectl logs,
 * node proxy and upgrade pass-through reach the kubelet with the API
 * server's kubelet client certificate, and the kubelet authenticates and
 * authorizes callers through the API server's TokenReview and
 * SubjectAccessReview. The kubelet runs the simulated runtime; its log files
 * are written by the test where the runtime's logPath points.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { type AddressInfo, connect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { stringify as toYaml } from "yaml";
import { RestClient } from "../../client/rest-client.js";
import { CONTAINER_NAME_LABEL, POD_NAME_LABEL, POD_NAMESPACE_LABEL, POD_UID_LABEL } from "../../kubelet/runtime-labels.js";
import { KubeletServer } from "../../kubelet/server/kubelet-server.js";
import type { ContainerTarget } from "../../kubelet/server/routes.js";
import { streamingHandlers } from "../../kubelet/server/streaming/handlers.js";
import { FakeStreamingRuntime } from "../../kubelet/server/streaming/testing/fake-runtime.js";
import { WebhookAuthorizer, WebhookTokenAuthenticator } from "../../kubelet/server/webhook.js";
import { silentLogger } from "../../machinery/log.js";
import { type ClusterPki, ensureClusterPki, issueNodeClientCert } from "../../pki/cluster-pki.js";
import { SimRuntime } from "../../runtime/sim/sim-runtime.js";
import type { ContainerRuntime, PodSandboxConfig } from "../../runtime/types.js";
import { openMemoryStore } from "../../storage/backends/memory/memory-store.js";
import { AuthenticatorChain, bearerTokenAuthenticator, StaticTokens, x509Authenticator } from "../auth/authn.js";
import { authenticatedAuthorizer, AuthorizerChain, privilegedGroupAuthorizer } from "../auth/authz.js";
import { bootstrapNamespaces } from "../bootstrap.js";
import { ApiServer } from "../server.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");

/** The directory of the machine's kubectl and its versioned siblings (kubectl.1.27 …). */
function kubectlDir(): string | undefined {
  for (const d of (process.env.PATH ?? "").split(":")) {
    const p = join(d, "kubectl");
    if (existsSync(p)) return dirname(realpathSync(p));
  }
  return undefined;
}
const KUBECTL_DIR = kubectlDir();

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("API server → kubelet", () => {
  let dir: string;
  let pki: ClusterPki;
  let store: ReturnType<typeof openMemoryStore>;
  let api: ApiServer;
  let apiPort: number;
  let admin: RestClient;
  let kubeletRest: RestClient;
  let runtime: SimRuntime;
  /** exec and port-forward run host processes and loopback connections (the sim runtime runs nothing). */
  let streamingRuntime: FakeStreamingRuntime;
  let echoServer: Server;
  let kubelet: KubeletServer;
  let kubeconfig: string;
  let logFile: string;
  let containerId: string;
  /** Starts another instance of the app container (a restart). */
  let startApp: (attempt: number) => Promise<string>;
  const pods = new Map<string, Pod>();
  const streamed: { target: ContainerTarget; headers: Record<string, string | string[] | undefined>; url: string }[] = [];

  /** Runs kubectl without blocking: the API server it talks to runs in this process. */
  const kubectl = (args: string[]): Promise<{ status: number; stdout: string; stderr: string }> =>
    new Promise((resolve, reject) => {
      const child = spawn("kubectl", ["--kubeconfig", kubeconfig, ...args], { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      const timer = setTimeout(() => child.kill(), 60_000);
      child.on("error", reject);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ status: code ?? -1, stdout, stderr });
      });
    });

  async function createPod(pod: Pod, status: Pod["status"]): Promise<void> {
    if (!pods.has(pod.metadata!.name!)) await admin.request("POST", "/api/v1/namespaces/default/pods", { body: pod });
    const updated = await admin.request<Pod>("PATCH", `/api/v1/namespaces/default/pods/${pod.metadata!.name}/status`, {
      body: { status },
      contentType: "application/merge-patch+json",
    });
    pods.set(pod.metadata!.name!, updated);
  }

  async function createNode(name: string, port: number): Promise<void> {
    await admin.request("POST", "/api/v1/nodes", { body: { apiVersion: "v1", kind: "Node", metadata: { name } } });
    await admin.request("PATCH", `/api/v1/nodes/${name}/status`, {
      body: { status: { addresses: [{ type: "Hostname", address: name }, { type: "InternalIP", address: "127.0.0.1" }], daemonEndpoints: { kubeletEndpoint: { Port: port } } } },
      contentType: "application/merge-patch+json",
    });
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "skiff-kubelet-api-"));
    pki = await ensureClusterPki({ tlsDir: join(dir, "tls"), hostAddresses: [], logger: silentLogger });
    store = openMemoryStore();
    api = new ApiServer({
      store,
      tls: { key: pki.serving.keyPem, cert: pki.serving.certPem, clientCA: pki.clientCa.certPem },
      bindAddress: "127.0.0.1",
      port: 0,
      authenticator: new AuthenticatorChain([
        x509Authenticator,
        bearerTokenAuthenticator([new StaticTokens([["viewer-token", { username: "viewer", uid: "uid-viewer", groups: ["viewers"] }]])]),
      ]),
      authorizer: new AuthorizerChain([privilegedGroupAuthorizer, authenticatedAuthorizer]),
      kubeletClient: {
        certPem: pki.clients.kubeApiserverKubeletClient.certPem,
        keyPem: pki.clients.kubeApiserverKubeletClient.keyPem,
        // The test's nodes live on loopback, which upstream's node proxy refuses.
        allowLoopbackProxy: true,
      },
      logger: silentLogger,
    });
    await bootstrapNamespaces(api, silentLogger);
    apiPort = await api.start();
    const server = `https://127.0.0.1:${apiPort}`;
    admin = new RestClient({ server, caPem: pki.serverCa.certPem, certPem: pki.clients.admin.certPem, keyPem: pki.clients.admin.keyPem });
    const nodeCert = await issueNodeClientCert(pki, "node-a");
    kubeletRest = new RestClient({ server, caPem: pki.serverCa.certPem, certPem: nodeCert.certPem, keyPem: nodeCert.keyPem });

    kubeconfig = join(dir, "kubeconfig.yaml");
    writeFileSync(
      kubeconfig,
      toYaml({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "t", cluster: { server, "certificate-authority-data": b64(pki.serverCa.certPem) } }],
        users: [{ name: "t", user: { "client-certificate-data": b64(pki.clients.admin.certPem), "client-key-data": b64(pki.clients.admin.keyPem) } }],
        contexts: [{ name: "t", context: { cluster: "t", user: "t", namespace: "default" } }],
        "current-context": "t",
      }),
    );

    // The pod first: the runtime's objects carry the UID the API server gives it.
    const webPod: Pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "web", namespace: "default", annotations: { "kubectl.kubernetes.io/default-container": "idle" } },
      spec: { nodeName: "node-a", containers: [{ name: "app", image: "busybox" }, { name: "idle", image: "busybox" }] },
    };
    const created = await admin.request<Pod>("POST", "/api/v1/namespaces/default/pods", { body: webPod });
    pods.set("web", created);
    const uid = created.metadata!.uid!;

    // The node: a simulated runtime with one running container whose log the test writes.
    runtime = new SimRuntime({ podCidr: "10.42.0.0/24", preloadedImages: ["busybox"] });
    const labels = { [POD_NAME_LABEL]: "web", [POD_NAMESPACE_LABEL]: "default", [POD_UID_LABEL]: uid };
    const sb: PodSandboxConfig = { metadata: { name: "web", namespace: "default", uid, attempt: 0 }, labels, annotations: {} };
    const s = await runtime.runPodSandbox(sb);
    assert.ok(s.ok);
    const c = await runtime.createContainer(
      s.value,
      { metadata: { name: "app", attempt: 1 }, image: "busybox", command: [], args: [], envs: [], mounts: [], logPath: "app/1.log", labels: { ...labels, [CONTAINER_NAME_LABEL]: "app" }, annotations: {} },
      sb,
    );
    assert.ok(c.ok);
    containerId = c.value;
    assert.ok((await runtime.startContainer(containerId)).ok);
    startApp = async (attempt) => {
      const next = await runtime.createContainer(
        s.value,
        { metadata: { name: "app", attempt }, image: "busybox", command: [], args: [], envs: [], mounts: [], logPath: `app/${attempt}.log`, labels: { ...labels, [CONTAINER_NAME_LABEL]: "app" }, annotations: {} },
        sb,
      );
      assert.ok(next.ok);
      assert.ok((await runtime.startContainer(next.value)).ok);
      return next.value;
    };
    const old = await runtime.createContainer(
      s.value,
      { metadata: { name: "app", attempt: 0 }, image: "busybox", command: [], args: [], envs: [], mounts: [], logPath: "app/0.log", labels: { ...labels, [CONTAINER_NAME_LABEL]: "app" }, annotations: {} },
      sb,
    );
    assert.ok(old.ok);

    streamingRuntime = new FakeStreamingRuntime();
    const sim = runtime;
    const composite = new Proxy(sim, {
      get(target, prop) {
        if (prop === "exec" || prop === "attach" || prop === "portForward") return streamingRuntime[prop].bind(streamingRuntime);
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === "function" ? v.bind(target) : v;
      },
    }) as ContainerRuntime;
    echoServer = createServer((sock) => sock.pipe(sock));
    await new Promise<void>((r) => echoServer.listen(0, "127.0.0.1", r));
    streamingRuntime.portMap.set(8080, (echoServer.address() as AddressInfo).port);
    const real = streamingHandlers();
    kubelet = new KubeletServer({
      nodeName: "node-a",
      port: 0,
      bindAddress: "127.0.0.1",
      addresses: ["127.0.0.1"],
      clientCaPem: pki.clientCa.certPem,
      tokenAuthenticator: new WebhookTokenAuthenticator({ client: kubeletRest }),
      authorizer: new WebhookAuthorizer({ client: kubeletRest }),
      pods: { podByName: (ns, name) => (ns === "default" ? pods.get(name) : undefined), pods: () => [...pods.values()] },
      runtime: composite,
      streaming: {
        exec: real.exec,
        portForward: real.portForward,
        // A stand-in protocol, so the test sees exactly what reaches the kubelet.
        attach: (req, socket, head, target) => {
          streamed.push({ target, headers: { ...req.headers }, url: req.url ?? "" });
          socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${req.headers.upgrade}\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n`);
          if (head.length > 0) socket.write(head);
          socket.pipe(socket);
        },
      },
      podLogsDir: join(dir, "pods"),
      logPollIntervalMs: 50,
      logger: silentLogger,
    });
    const kubeletPort = await kubelet.start();
    await createNode("node-a", kubeletPort);
    await createNode("node-down", await closedPort());

    await createPod(
      webPod,
      {
        phase: "Running",
        containerStatuses: [
          {
            name: "app",
            image: "busybox",
            imageID: "",
            ready: true,
            restartCount: 1,
            containerID: `sim://${containerId}`,
            state: { running: { startedAt: "2024-05-01T10:00:00Z" } },
            lastState: { terminated: { exitCode: 1, reason: "Error", containerID: `sim://${old.value}`, startedAt: "2024-05-01T09:00:00Z", finishedAt: "2024-05-01T09:00:05Z" } },
          },
          { name: "idle", image: "busybox", imageID: "", ready: false, restartCount: 0, state: { waiting: { reason: "ContainerCreating" } } },
        ],
      },
    );
    // The runtime reports log paths relative to the pod's log directory, which is named after the API's pod UID.
    const logDir = join(dir, "pods", `default_web_${uid}`, "app");
    mkdirSync(logDir, { recursive: true });
    logFile = join(logDir, "1.log");
    writeFileSync(logFile, "2024-05-01T10:00:00.000000001Z stdout F hello from app\n2024-05-01T10:00:01.000000002Z stderr F second line\n");
    writeFileSync(join(logDir, "0.log"), "2024-05-01T09:00:00Z stdout F the crashed one\n");
    await createPod({ apiVersion: "v1", kind: "Pod", metadata: { name: "pending", namespace: "default" }, spec: { containers: [{ name: "app", image: "busybox" }] } }, { phase: "Pending" });
    await createPod({ apiVersion: "v1", kind: "Pod", metadata: { name: "lost", namespace: "default" }, spec: { nodeName: "node-down", containers: [{ name: "app", image: "busybox" }] } }, { phase: "Running" });
    await createPod({ apiVersion: "v1", kind: "Pod", metadata: { name: "ghost", namespace: "default" }, spec: { nodeName: "no-such-node", containers: [{ name: "app", image: "busybox" }] } }, { phase: "Running" });
  });

  after(async () => {
    await kubelet?.stop();
    await api?.stop();
    streamingRuntime?.cleanup();
    echoServer?.close();
    admin?.close();
    kubeletRest?.close();
    await runtime?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe("kubectl logs", () => {
    test("reads the container's log through the kubelet", async () => {
      const r = await kubectl(["logs", "web", "-c", "app"]);
      assert.equal(r.stderr, "");
      assert.equal(r.stdout, "hello from app\nsecond line\n");
    });

    test("--tail, --timestamps, --limit-bytes, --since-time, --previous", async () => {
      assert.equal((await kubectl(["logs", "web", "-c", "app", "--tail=1", "--timestamps"])).stdout, "2024-05-01T10:00:01.000000002Z second line\n");
      assert.equal((await kubectl(["logs", "web", "-c", "app", "--limit-bytes=5"])).stdout, "hello");
      assert.equal((await kubectl(["logs", "web", "-c", "app", "--since-time=2024-05-01T10:00:01Z"])).stdout, "second line\n");
      assert.equal((await kubectl(["logs", "web", "-c", "app", "--previous"])).stdout, "the crashed one\n");
    });

    test("kubectl picks the default-container annotation; a waiting container is the kubelet's 400", async () => {
      const r = await kubectl(["logs", "web"]);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /Error from server \(BadRequest\): container "idle" in pod "web" is waiting to start: ContainerCreating/);
    });

    test("the API server's own errors", async () => {
      let r = await kubectl(["get", "--raw", "/api/v1/namespaces/default/pods/web/log"]);
      assert.match(r.stderr, /a container name must be specified for pod web, choose one of: \[app idle\]/);
      r = await kubectl(["logs", "web", "-c", "nope"]);
      assert.match(r.stderr, /container nope is not valid for pod web/);
      r = await kubectl(["get", "--raw", "/api/v1/namespaces/default/pods/web/log?container=app&tailLines=-1"]);
      assert.match(r.stderr, /PodLogOptions "web" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0/);
      r = await kubectl(["logs", "nope"]);
      assert.match(r.stderr, /pods "nope" not found/);
      r = await kubectl(["logs", "ghost"]);
      assert.match(r.stderr, /nodes "no-such-node" not found/);
    });

    test("an unreachable kubelet: Go's dial error", async () => {
      const r = await kubectl(["logs", "lost"]);
      assert.match(r.stderr, /Error from server: Get "https:\/\/127\.0\.0\.1:\d+\/containerLogs\/default\/lost\/app": dial tcp 127\.0\.0\.1:\d+: connect: connection refused/);
    });

    test("a pod not scheduled yet has no log (204)", async () => {
      const res = await new Promise<number>((resolve, reject) => {
        const req = request(
          { host: "127.0.0.1", port: apiPort, path: "/api/v1/namespaces/default/pods/pending/log", ca: pki.serverCa.certPem, cert: pki.clients.admin.certPem, key: pki.clients.admin.keyPem },
          (r) => {
            r.resume();
            resolve(r.statusCode ?? 0);
          },
        );
        req.on("error", reject);
        req.end();
      });
      assert.equal(res, 204);
    });

    test("-f streams until the container exits", async () => {
      const child: ChildProcess = spawn("kubectl", ["--kubeconfig", kubeconfig, "logs", "-f", "web", "-c", "app", "--tail=1"], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      child.stderr!.on("data", (d) => (err += d));
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      try {
        await new Promise<void>((resolve, reject) => {
          child.on("exit", () => reject(new Error(`kubectl logs -f ended early: ${out}${err}`)));
          child.stdout!.on("data", (d) => {
            out += d;
            if (out === "second line\n") appendFileSync(logFile, "2024-05-01T10:00:02Z stdout F streamed later\n");
            if (out.endsWith("streamed later\n")) resolve();
          });
        });
        assert.ok((await runtime.stopContainer(containerId, 0)).ok);
        assert.equal(await exited, 0, err);
        assert.equal(out, "second line\nstreamed later\n");
        containerId = await startApp(2);
      } finally {
        if (child.exitCode === null) child.kill();
      }
    });
  });

  describe("nodes/proxy", () => {
    test("reaches the kubelet's API with the API server's certificate", async () => {
      const r = await kubectl(["get", "--raw", "/api/v1/nodes/node-a/proxy/pods"]);
      assert.equal(r.status, 0, r.stderr);
      const list = JSON.parse(r.stdout) as { kind: string; items: Pod[] };
      assert.equal(list.kind, "PodList");
      assert.ok(list.items.some((p) => p.metadata?.name === "web"));
      assert.equal((await kubectl(["get", "--raw", "/api/v1/nodes/node-a/proxy/healthz"])).stdout, "ok");
      assert.equal((await kubectl(["get", "--raw", "/api/v1/nodes/node-a/proxy/containerLogs/default/web/idle"])).status, 1);
    });

    test("an unreachable node: 503 error trying to reach service", async () => {
      const r = await kubectl(["get", "--raw", "/api/v1/nodes/node-down/proxy/healthz"]);
      assert.match(r.stderr, /Error from server \(ServiceUnavailable\): error trying to reach service: dial tcp 127\.0\.0\.1:\d+: connect: connection refused/);
    });
  });

  describe("exec pass-through", () => {
    test("the upgrade reaches the kubelet with its query and protocol headers, and both ways are piped", async () => {
      const r = await new Promise<{ status: number; headers: Record<string, unknown>; echoed: string }>((resolve, reject) => {
        const req = request({
          host: "127.0.0.1",
          port: apiPort,
          method: "POST",
          path: "/api/v1/namespaces/default/pods/web/attach?container=app&stdin=true&stdout=true&tty=false",
          ca: pki.serverCa.certPem,
          cert: pki.clients.admin.certPem,
          key: pki.clients.admin.keyPem,
          headers: [
            // As Go's client sends a body-less POST.
            ["Content-Length", "0"],
            ["Connection", "Upgrade"],
            ["Upgrade", "SPDY/3.1"],
            ["X-Stream-Protocol-Version", "v4.channel.k8s.io"],
            ["X-Stream-Protocol-Version", "v3.channel.k8s.io"],
          ].flat() as unknown as Record<string, string>,
        });
        req.on("upgrade", (res, socket, head) => {
          let echoed = head.toString();
          socket.on("data", (d) => {
            echoed += d;
            if (echoed.length >= "ping".length) {
              socket.destroy();
              resolve({ status: res.statusCode ?? 0, headers: res.headers, echoed });
            }
          });
          socket.write("ping");
        });
        req.on("response", (res) => {
          let body = "";
          res.on("data", (d) => (body += d));
          res.on("end", () => reject(new Error(`no upgrade: ${res.statusCode} ${body}`)));
        });
        req.on("error", reject);
        req.end();
      });
      assert.equal(r.status, 101);
      assert.equal(r.echoed, "ping");
      assert.equal(r.headers["x-stream-protocol-version"], "v4.channel.k8s.io");
      const s = streamed.at(-1)!;
      assert.equal(s.target.containerId, containerId);
      assert.equal(s.url, "/attach/default/web/app?stdin=1&stdout=1");
      assert.equal(s.headers["x-stream-protocol-version"], "v4.channel.k8s.io, v3.channel.k8s.io");
      assert.equal(s.headers.authorization, undefined);
    });

    test("errors before the switch: the kubelet's answer for kubectl, the API server's own", async () => {
      let r = await kubectl(["exec", "web", "-c", "idle", "--", "true"]);
      assert.match(r.stderr, /container not found \("idle"\)/);
      r = await kubectl(["exec", "pending", "--", "true"]);
      assert.notEqual(r.status, 0);
      r = await kubectl(["get", "--raw", "/api/v1/namespaces/default/pods/web/exec?container=app&command=true"]);
      assert.match(r.stderr, /Upgrade request required/);
    });
  });

  describe("kubectl exec and port-forward through the API server", () => {
    const versions = ["1.27", "1.29", "1.30", "1.31", "1.33"].filter((v) => KUBECTL_DIR && existsSync(join(KUBECTL_DIR, `kubectl.${v}`)));
    const bin = (v: string) => join(KUBECTL_DIR!, `kubectl.${v}`);
    const run = (v: string, args: string[], stdin = ""): Promise<{ status: number | null; stdout: string; stderr: string }> =>
      new Promise((resolve) => {
        const child = spawn(bin(v), ["--kubeconfig", kubeconfig, ...args], { stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        const timer = setTimeout(() => child.kill(), 60_000);
        child.stdin.end(stdin);
        child.on("close", (status) => {
          clearTimeout(timer);
          resolve({ status, stdout, stderr });
        });
      });

    test("the versioned kubectl binaries are installed", () => assert.ok(versions.length > 0));

    for (const v of ["1.27", "1.29", "1.30", "1.31", "1.33"]) {
      test(`kubectl ${v} exec: output, stdin and the exit code`, { skip: !versions.includes(v) && `no kubectl.${v}` }, async () => {
        const r = await run(v, ["exec", "-i", "web", "-c", "app", "--", "sh", "-c", "cat; echo to-stderr >&2; exit 3"], "from stdin\n");
        assert.equal(r.stdout, "from stdin\n");
        assert.match(r.stderr, /to-stderr/);
        assert.match(r.stderr, /command terminated with exit code 3/);
        assert.equal(r.status, 3);
      });

      test(`kubectl ${v} port-forward`, { skip: !versions.includes(v) && `no kubectl.${v}` }, async () => {
        const child = spawn(bin(v), ["--kubeconfig", kubeconfig, "port-forward", "pod/web", ":8080"], { stdio: ["ignore", "pipe", "pipe"] });
        try {
          let out = "";
          const local = await new Promise<number>((resolve, reject) => {
            child.stdout.on("data", (d) => {
              out += d;
              const m = /Forwarding from 127\.0\.0\.1:(\d+) -> 8080/.exec(out);
              if (m) resolve(Number(m[1]));
            });
            child.on("exit", () => reject(new Error(`port-forward ended: ${out}`)));
          });
          const sock = connect(local, "127.0.0.1");
          const echoed = await new Promise<string>((resolve, reject) => {
            let got = "";
            sock.on("data", (d) => {
              got += d;
              if (got.length >= 5) resolve(got);
            });
            sock.on("error", reject);
            sock.write("hello");
          });
          sock.destroy();
          assert.equal(echoed, "hello");
        } finally {
          child.kill();
        }
      });
    }
  });

  describe("reviews", () => {
    test("the kubelet authenticates a bearer token with TokenReview and authorizes with SubjectAccessReview", async () => {
      const got = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ host: "127.0.0.1", port: kubelet.port, path: "/healthz", rejectUnauthorized: false, headers: { Authorization: "Bearer viewer-token" } }, (res) => {
          let body = "";
          res.on("data", (d) => (body += d));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("error", reject);
        req.end();
      });
      assert.deepEqual(got, { status: 200, body: "ok" });
    });

    test("TokenReview answers who a token is", async () => {
      const known = await admin.request<{ status: Record<string, unknown> }>("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {
        body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token: "viewer-token" } },
      });
      assert.deepEqual(known.status, {
        authenticated: true,
        user: { username: "viewer", uid: "uid-viewer", groups: ["viewers", "system:authenticated"] },
        audiences: ["https://kubernetes.default.svc.cluster.local"],
      });
      const unknown = await admin.request<{ status: Record<string, unknown> }>("POST", "/apis/authentication.k8s.io/v1/tokenreviews", { body: { spec: { token: "nope" } } });
      assert.deepEqual(unknown.status, { user: {} });
      const otherAudience = await admin.request<{ status: Record<string, unknown> }>("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {
        body: { spec: { token: "viewer-token", audiences: ["vault"] } },
      });
      assert.deepEqual(otherAudience.status, { user: {} });
      await assert.rejects(admin.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", { body: { spec: {} } }), /token is required for TokenReview in authentication/);
    });

    test("SubjectAccessReview and its validation", async () => {
      const allowed = await admin.request<{ kind: string; status: Record<string, unknown> }>("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", {
        body: { spec: { user: "viewer", groups: ["system:authenticated"], resourceAttributes: { verb: "get", resource: "nodes", subresource: "proxy", name: "node-a" } } },
      });
      assert.deepEqual([allowed.kind, allowed.status], ["SubjectAccessReview", { allowed: true }]);
      const nobody = await admin.request<{ status: Record<string, unknown> }>("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", {
        body: { spec: { user: "anonymous", nonResourceAttributes: { path: "/healthz", verb: "get" } } },
      });
      assert.deepEqual(nobody.status, { allowed: false });
      await assert.rejects(
        admin.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", { body: { spec: { resourceAttributes: { verb: "get" } } } }),
        /SubjectAccessReview.authorization.k8s.io "" is invalid: spec.user: Invalid value: "": at least one of user or group must be specified/,
      );
      await assert.rejects(
        admin.request("POST", "/apis/authorization.k8s.io/v1/namespaces/default/localsubjectaccessreviews", {
          body: { spec: { user: "u", resourceAttributes: { verb: "get", namespace: "other" } } },
        }),
        /spec.resourceAttributes.namespace: Invalid value: "other": must match metadata.namespace/,
      );
    });

    test("kubectl auth can-i, kubectl auth whoami, and discovery", async () => {
      assert.equal((await kubectl(["auth", "can-i", "get", "pods"])).stdout.trim(), "yes");
      const who = await kubectl(["auth", "whoami", "-o", "json"]);
      assert.equal(who.status, 0, who.stderr);
      assert.deepEqual((JSON.parse(who.stdout) as { status: { userInfo: unknown } }).status.userInfo, { username: "system:admin", groups: ["system:masters", "system:authenticated"] });
      const res = (await kubectl(["api-resources", "--api-group=authorization.k8s.io", "--no-headers"])).stdout;
      assert.match(res, /^selfsubjectaccessreviews\s+authorization\.k8s\.io\/v1\s+false\s+SelfSubjectAccessReview/m);
      assert.match(res, /^localsubjectaccessreviews\s+authorization\.k8s\.io\/v1\s+true\s+LocalSubjectAccessReview/m);
      assert.match((await kubectl(["api-resources", "--api-group=authentication.k8s.io", "--no-headers"])).stdout, /^tokenreviews\s+authentication\.k8s\.io\/v1\s+false\s+TokenReview/m);
    });
  });
});
