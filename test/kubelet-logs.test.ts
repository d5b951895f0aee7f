/**
 * `kubectl logs` against a real `skiff server` process, reaching a kubelet
 * (simulated runtime) through the API server's kubelet client certificate.
 * The simulated runtime writes no logs, so this test writes each started
 * container's CRI log file where the runtime's logPath points, as a real
 * runtime's log writer would. The kubelet authenticates the API server's
 * certificate against the cluster's client CA and authorizes it with a
 * SubjectAccessReview, as upstream's kubelet does.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Lease } from "kubernetes-types/coordination/v1.js";
import type { Node, Pod } from "kubernetes-types/core/v1.js";
import { configFromKubeconfig } from "../src/client/config.js";
import { EventRecorder } from "../src/client/event-recorder.js";
import { ResourceClient } from "../src/client/resource-client.js";
import { LEASES, NODES, PODS } from "../src/client/resources.js";
import { RestClient } from "../src/client/rest-client.js";
import { systemTimers } from "../src/client/timers.js";
import { runKubelets, type RunningKubelets } from "../src/kubelet/agent.js";
import { DEFAULT_KUBELET_CONFIG } from "../src/kubelet/config.js";
import { recorderEvents } from "../src/kubelet/events.js";
import { Kubelet } from "../src/kubelet/kubelet.js";
import { Limiter } from "../src/kubelet/limiter.js";
import { formatCriLine } from "../src/kubelet/logs/log-format.js";
import { POD_NAME_LABEL, POD_NAMESPACE_LABEL, POD_UID_LABEL } from "../src/kubelet/runtime-labels.js";
import { KubeletServer } from "../src/kubelet/server/kubelet-server.js";
import { WebhookAuthorizer, WebhookTokenAuthenticator } from "../src/kubelet/server/webhook.js";
import { silentLogger } from "../src/machinery/log.js";
import { SimRuntime } from "../src/runtime/sim/sim-runtime.js";
import { ok, startTestServer, type TestServer } from "./support/cluster.js";
import { eventually } from "./support/eventually.js";

const NODE = "logs-node";

describe("kubectl logs through skiff server to a kubelet", () => {
  let server: TestServer;
  let dir: string;
  let rest: RestClient;
  let runtime: SimRuntime;
  let kubeletServer: KubeletServer;
  let recorder: EventRecorder;
  let run: RunningKubelets;

  const kubectl = (args: string[]) => server.kubectl(args);
  /** kubectl without blocking this process, which runs the kubelet the command reaches. */
  const kubectlAsync = (args: string[]): Promise<{ status: number; stdout: string; stderr: string }> =>
    new Promise((resolve, reject) => {
      const child = spawn("kubectl", ["--kubeconfig", server.kubeconfig, ...args], { stdio: ["ignore", "pipe", "pipe"] });
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
  const getPod = (name: string): Pod | undefined => {
    const r = kubectl(["get", "pod", name, "-o", "json"]);
    return r.status === 0 ? (JSON.parse(r.stdout) as Pod) : undefined;
  };

  before(async () => {
    server = await startTestServer(["--disable", "scheduler"]);
    dir = mkdtempSync(join(tmpdir(), "skiff-kubelet-logs-"));
    const podLogsDir = join(dir, "pods");
    rest = new RestClient({ ...configFromKubeconfig(server.kubeconfig), userAgent: "skiff-kubelet" });
    runtime = new SimRuntime({ podCidr: "10.42.7.0/24", hostIp: "127.0.0.1" });
    // The test's log writer: each container prints one line per start, as `echo` would.
    runtime.subscribe((ev) => {
      if (ev.type !== "started") return;
      void runtime.containerStatus(ev.containerId).then((st) => {
        if (!st.ok) return;
        const l = st.value.labels;
        const file = join(podLogsDir, `${l[POD_NAMESPACE_LABEL]}_${l[POD_NAME_LABEL]}_${l[POD_UID_LABEL]}`, st.value.logPath);
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, formatCriLine(new Date(), "stdout", `${st.value.metadata.name} attempt ${st.value.metadata.attempt}`));
      });
    });
    let kubelet: Kubelet | undefined;
    kubeletServer = new KubeletServer({
      nodeName: NODE,
      port: 0,
      bindAddress: "127.0.0.1",
      addresses: ["127.0.0.1"],
      clientCaPem: readFileSync(join(server.dataDir, "tls", "client-ca.crt"), "utf8"),
      tokenAuthenticator: new WebhookTokenAuthenticator({ client: rest }),
      authorizer: new WebhookAuthorizer({ client: rest }),
      pods: { podByName: (ns, name) => kubelet?.podByName(ns, name), pods: () => kubelet?.pods() ?? [] },
      runtime,
      podLogsDir,
      logger: silentLogger,
    });
    const port = await kubeletServer.start();
    recorder = new EventRecorder({ sink: rest, reportingController: "kubelet", reportingInstance: NODE, timers: systemTimers, logger: silentLogger });
    kubelet = new Kubelet({
      nodeName: NODE,
      nodeIP: "127.0.0.1",
      capacity: { cpu: "4", memory: "8Gi" },
      runtime,
      // A crashed container waits a minute before its restart: long enough to read its log.
      config: { ...DEFAULT_KUBELET_CONFIG, port, nodeStatusUpdateFrequencyMs: 1000, crashLoopBackOffInitialMs: 60_000, crashLoopBackOffMaxMs: 60_000, imagePullBackOffInitialMs: 500, imagePullBackOffMaxMs: 1000 },
      pods: new ResourceClient<Pod>(rest, PODS),
      nodes: new ResourceClient<Node>(rest, NODES),
      leases: new ResourceClient<Lease>(rest, LEASES),
      events: recorderEvents(recorder),
      timers: systemTimers,
      logger: silentLogger,
      limiter: new Limiter(8),
      podLogsDir,
    });
    run = runKubelets({ kubelets: [kubelet], pods: new ResourceClient<Pod>(rest, PODS), nodes: new ResourceClient<Node>(rest, NODES), single: true, logger: silentLogger, timers: systemTimers });
    await run.registered;
    const pods = [
      { name: "web", containers: [{ name: "app", image: "busybox", command: ["sleep", "infinity"] }] },
      { name: "crasher", containers: [{ name: "app", image: "busybox", env: [{ name: "SKIFF_SIM_EXIT_CODE", value: "1" }] }] },
      { name: "nopull", containers: [{ name: "app", image: "busybox:missing" }] },
    ];
    for (const p of pods) {
      const manifest = { apiVersion: "v1", kind: "Pod", metadata: { name: p.name, namespace: "default" }, spec: { nodeName: NODE, containers: p.containers } };
      ok(server.kubectl(["apply", "-f", "-"], { input: JSON.stringify(manifest) }), `apply ${p.name}`);
    }
  });

  after(async () => {
    await run?.stop();
    await recorder?.shutdown();
    await kubeletServer?.stop();
    await runtime?.close();
    rest?.close();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("shows a running container's log", async () => {
    await eventually("web running", () => (getPod("web")?.status?.containerStatuses?.[0]?.state?.running ? true : undefined));
    assert.equal(ok(await kubectlAsync(["logs", "web"]), "logs web"), "app attempt 0\n");
    assert.match(ok(await kubectlAsync(["logs", "web", "--timestamps"]), "logs --timestamps"), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z app attempt 0\n$/);
  });

  it("shows a crashed container's last log while it backs off", async () => {
    // The first restart is immediate, as upstream's; the second crash then waits out the back-off.
    const cs = await eventually("crasher backing off", () => {
      const c = getPod("crasher")?.status?.containerStatuses?.[0];
      return c?.state?.waiting?.reason === "CrashLoopBackOff" && c.lastState?.terminated ? c : undefined;
    });
    const last = `app attempt ${cs.restartCount}\n`;
    assert.equal(ok(await kubectlAsync(["logs", "crasher"]), "logs crasher"), last);
    assert.equal(ok(await kubectlAsync(["logs", "crasher", "--previous"]), "logs --previous"), last);
  });

  it("says why a container that never started has no log", async () => {
    await eventually("nopull failing", () => (getPod("nopull")?.status?.containerStatuses?.[0]?.state?.waiting?.reason?.match(/ErrImagePull|ImagePullBackOff/) ? true : undefined));
    const r = await kubectlAsync(["logs", "nopull"]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Error from server \(BadRequest\): container "app" in pod "nopull" is waiting to start: (image can't be pulled|trying and failing to pull image)/);
  });

  it("refuses to proxy to a loopback node address, as upstream", async () => {
    const r = await kubectlAsync(["get", "--raw", `/api/v1/nodes/${NODE}/proxy/pods`]);
    assert.match(r.stderr, /address not allowed/);
  });
});
