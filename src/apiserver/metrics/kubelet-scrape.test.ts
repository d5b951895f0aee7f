/**
 * The whole metrics path without root: a kubelet server answering
 * `/stats/summary` from a simulated node's stats, scraped over HTTPS with
 * the API server's kubelet client certificate (authorized as
 * `nodes/stats`), decoded, rated, and served as metrics.k8s.io objects.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { findResource } from "../../api/resources.js";
import type { KubeletRequestAttributes } from "../../kubelet/server/auth.js";
import { KubeletServer } from "../../kubelet/server/kubelet-server.js";
import { SimStatsProvider } from "../../kubelet/stats/sim-stats-provider.js";
import { FakeClock } from "../../machinery/clock.js";
import { silentLogger } from "../../machinery/log.js";
import { createCertificateAuthority, issueCertificate } from "../../pki/certs.js";
import { SimRuntime } from "../../runtime/sim/sim-runtime.js";
import type { PodSandboxConfig } from "../../runtime/types.js";
import { openMemoryStore } from "../../storage/backends/memory/memory-store.js";
import { sendError } from "../http/respond.js";
import { codecFor } from "../registry/codecs.js";
import { ObjectStore } from "../registry/object-store.js";
import { strategyFor } from "../registry/strategies.js";
import { parseRequestInfo } from "../request-info.js";
import { MetricsApi } from "./metrics-api.js";

const backing = openMemoryStore();
const storeFor = (plural: string) => {
  const resource = findResource("", "v1", plural)!;
  return new ObjectStore({ store: backing, resource, strategy: strategyFor(resource), codec: codecFor(resource) });
};
const nodes = storeFor("nodes");
const pods = storeFor("pods");
// A minute after the container starts (in real time), so its age is above the resolution and no start-based rate applies.
const clock = new FakeClock(Math.floor(Date.now() / 1000) * 1000 + 60_000);
const runtime = new SimRuntime({ podCidr: "10.42.0.0/24", preloadedImages: ["busybox"] });
const decisions: KubeletRequestAttributes[] = [];
const podSpec: Pod = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "web", namespace: "default", uid: "uid-web", labels: { app: "web" } },
  spec: { nodeName: "node-a", containers: [{ name: "app", image: "busybox", resources: { requests: { cpu: "250m", memory: "64Mi" } } }] },
};

let kubelet: KubeletServer;
let metrics: MetricsApi;
let api: Server;
let base = "";

before(async () => {
  const clientCa = await createCertificateAuthority({ commonName: "client-ca" });
  const apiserverClient = await issueCertificate({ ca: clientCa, commonName: "kube-apiserver-kubelet-client", organizations: ["system:masters"], usages: ["client"], validDays: 1 });

  const sb: PodSandboxConfig = { metadata: { name: "web", namespace: "default", uid: "uid-web", attempt: 0 }, labels: {}, annotations: {} };
  const s = await runtime.runPodSandbox(sb);
  assert.ok(s.ok);
  const c = await runtime.createContainer(s.value, { metadata: { name: "app", attempt: 0 }, image: "busybox", command: [], args: [], envs: [], mounts: [], labels: {}, annotations: {} }, sb);
  assert.ok(c.ok);
  assert.ok((await runtime.startContainer(c.value)).ok);

  kubelet = new KubeletServer({
    nodeName: "node-a",
    port: 0,
    bindAddress: "127.0.0.1",
    addresses: ["127.0.0.1"],
    clientCaPem: clientCa.certPem,
    authorizer: {
      async authorize(a) {
        decisions.push(a);
        return a.user.groups.includes("system:masters") ? { decision: "allow" } : { decision: "no-opinion" };
      },
    },
    pods: { podByName: () => undefined, pods: () => [podSpec] },
    runtime,
    stats: new SimStatsProvider({ nodeName: "node-a", runtime, pods: () => [podSpec], capacity: { cpu: "4", memory: "8Gi" }, clock }),
    logger: silentLogger,
  });
  const port = await kubelet.start();

  await nodes.create(undefined, {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: "node-a" },
    status: { addresses: [{ type: "InternalIP", address: "127.0.0.1" }], daemonEndpoints: { kubeletEndpoint: { Port: port } } },
  });
  await pods.create("default", { ...podSpec, metadata: { name: "web", namespace: "default", labels: { app: "web" } } });

  metrics = new MetricsApi({ nodes, pods, kubeletClient: { certPem: apiserverClient.certPem, keyPem: apiserverClient.keyPem }, logger: silentLogger });
  api = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    metrics.serve({ info: parseRequestInfo(req.method ?? "GET", url), url, req, res }).catch((err) => sendError(res, err));
  });
  await new Promise<void>((r) => api.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(api.address() as AddressInfo).port}/apis/metrics.k8s.io/v1beta1`;
});

after(async () => {
  await metrics?.stop();
  await kubelet?.stop();
  await runtime.close();
  await new Promise<void>((r) => api.close(() => r()));
});

test("a simulated node's stats reach metrics.k8s.io through its kubelet's /stats/summary", async () => {
  await metrics.scrape();
  clock.advance(15_000);
  await metrics.scrape();
  assert.ok(
    decisions.some((d) => d.subresource === "stats" && d.path === "/stats/summary" && d.user.username === "kube-apiserver-kubelet-client"),
    "the kubelet authorized the scrape as nodes/stats",
  );
  const pod = (await (await fetch(`${base}/namespaces/default/pods/web`)).json()) as { window: string; containers: unknown[] };
  assert.equal(pod.window, "15s");
  assert.deepEqual(pod.containers, [{ name: "app", usage: { cpu: "250m", memory: "64Mi" } }]);
  const node = (await (await fetch(`${base}/nodes/node-a`)).json()) as { usage: { cpu: string; memory: string } };
  // The pod plus the simulated node's own 100m and 256Mi.
  assert.deepEqual(node.usage, { cpu: "350m", memory: "320Mi" });
});
