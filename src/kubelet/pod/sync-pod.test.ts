import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { Pod, PodStatus } from "kubernetes-types/core/v1.js";
import type { ResourceClient } from "../../client/resource-client.js";
import { FakeTimers } from "../../client/timers.js";
import { silentLogger } from "../../machinery/log.js";
import { SimRuntime } from "../../runtime/sim/sim-runtime.js";
import type { ContainerConfig, PodSandboxConfig } from "../../runtime/types.js";
import { Backoff } from "../backoff.js";
import type { KubeletEvents } from "../events.js";
import { Limiter } from "../limiter.js";
import { NO_PROBES } from "../status/generate.js";
import { StatusManager } from "../status/status-manager.js";
import { FakePodObjects } from "../volumes/fake-objects.js";
import { SimulatedMounter } from "../volumes/mounter.js";
import { VolumeManager } from "../volumes/volume-manager.js";
import { PodWorkers } from "./pod-workers.js";
import { PodSyncer } from "./sync-pod.js";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Pod workers over the sim runtime with volumes, env sources and pod log directories, fake time and a fake API. */
function harness() {
  const timers = new FakeTimers();
  const runtime = new SimRuntime({ podCidr: "10.42.0.0/24", timers });
  const configs: ContainerConfig[] = [];
  const sandboxes: PodSandboxConfig[] = [];
  const createContainer = runtime.createContainer.bind(runtime);
  runtime.createContainer = async (id, cfg, sb) => {
    configs.push(cfg);
    return createContainer(id, cfg, sb);
  };
  const runPodSandbox = runtime.runPodSandbox.bind(runtime);
  runtime.runPodSandbox = async (cfg) => {
    sandboxes.push(cfg);
    return runPodSandbox(cfg);
  };
  const events: { type: string; reason: string; note: string }[] = [];
  const ev: KubeletEvents = { emit: (_ref, type, reason, note) => void events.push({ type, reason, note }) };
  let apiPod: Pod | undefined;
  const fakePods = {
    namespace: () => fakePods,
    async patch(_name: string, body: { status: PodStatus }) {
      apiPod = { ...apiPod!, status: { ...apiPod!.status, ...body.status } };
      for (const [k, v] of Object.entries(body.status)) if (v === null) delete (apiPod.status as Record<string, unknown>)[k];
      return apiPod;
    },
    async delete() {},
  } as unknown as ResourceClient<Pod>;
  const root = mkdtempSync("/tmp/skiff-syncpod-");
  dirs.push(root);
  const objects = new FakePodObjects();
  const mounter = new SimulatedMounter();
  const volumes = new VolumeManager({ rootDir: join(root, "kubelet"), mounter, objects, clock: timers, logger: silentLogger });
  const crash = new Backoff(10_000, 300_000, timers);
  const image = new Backoff(10_000, 300_000, timers);
  const status = new StatusManager({ pods: fakePods, apiPod: () => apiPod, timers, logger: silentLogger, limiter: new Limiter(4) });
  const syncer = new PodSyncer({
    runtime,
    events: ev,
    clock: timers,
    logger: silentLogger,
    crashBackoff: crash,
    imageBackoff: image,
    volumes,
    objects,
    podLogsDir: join(root, "logs"),
    hostIPs: () => ["127.1.0.1"],
    nodeAllocatable: () => ({ cpu: "8", memory: "32Gi" }),
  });
  const workers = new PodWorkers({
    syncer,
    status,
    timers,
    logger: silentLogger,
    crashBackoff: crash,
    imageBackoff: image,
    syncFrequencyMs: 60_000,
    followUpMs: 1_000,
    hostIPs: () => ["127.1.0.1"],
    runtimeType: "sim",
    probes: NO_PROBES,
  });
  // Syncs do real file I/O (volumes, log directories): time moves only once every sync in flight has settled.
  const pending = new Set<Promise<unknown>>();
  for (const m of ["status", "syncPod", "killPod", "removePod"] as const) {
    const orig = (syncer[m] as (...a: unknown[]) => Promise<unknown>).bind(syncer);
    (syncer as unknown as Record<string, unknown>)[m] = (...a: unknown[]) => {
      const p = orig(...a);
      pending.add(p);
      void p.finally(() => pending.delete(p)).catch(() => {});
      return p;
    };
  }
  const turns = async () => {
    for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
  };
  const flush = async () => {
    await turns();
    while (pending.size > 0) {
      await Promise.allSettled([...pending]);
      await turns();
    }
  };
  const advance = async (ms: number) => {
    for (let t = 0; t < ms; t += 100) {
      timers.advance(Math.min(100, ms - t));
      await flush();
    }
  };
  const run = (p: Pod) => {
    apiPod = p;
    workers.update(p);
  };
  return { root, runtime, configs, sandboxes, events, workers, status, objects, mounter, advance, run, api: () => apiPod! };
}

function pod(spec: Partial<Pod["spec"]> & { containers: NonNullable<Pod["spec"]>["containers"] }): Pod {
  return {
    metadata: { name: "p", namespace: "ns", uid: "u1", resourceVersion: "1" },
    spec: { restartPolicy: "Always", terminationGracePeriodSeconds: 30, ...spec },
    status: { phase: "Pending", conditions: [{ type: "PodScheduled", status: "True", lastTransitionTime: "2026-01-01T00:00:00Z" }] },
  };
}

const app = { name: "app", image: "busybox:1.36", command: ["sleep", "3600"], imagePullPolicy: "IfNotPresent" };

describe("sync-pod: volumes and environment (sim runtime, fake time)", () => {
  it("keeps a pod ContainerCreating with FailedMount until its ConfigMap exists, then runs it with the volume mounted", async () => {
    const h = harness();
    h.run(pod({ containers: [{ ...app, volumeMounts: [{ name: "cfg", mountPath: "/etc/cfg" }] }], volumes: [{ name: "cfg", configMap: { name: "missing" } }] }));
    await h.advance(3_000);
    const waiting = h.api().status!;
    assert.equal(waiting.phase, "Pending");
    assert.deepEqual(waiting.containerStatuses![0]!.state, { waiting: { reason: "ContainerCreating" } });
    assert.equal(h.sandboxes.length, 0, "no sandbox before the volumes are ready");
    const failed = h.events.filter((e) => e.reason === "FailedMount");
    assert.ok(failed.length >= 2, "retried");
    assert.deepEqual(failed[0], { type: "Warning", reason: "FailedMount", note: 'MountVolume.SetUp failed for volume "cfg" : configmap "missing" not found' });

    h.objects.addConfigMap("ns", "missing", { "app.conf": "x=1" });
    await h.advance(10_000);
    assert.equal(h.api().status!.phase, "Running");
    const cfg = h.configs.at(-1)!;
    const volDir = join(h.root, "kubelet/pods/u1/volumes/kubernetes.io~configmap/cfg");
    assert.deepEqual(cfg.mounts[0], { containerPath: "/etc/cfg", hostPath: volDir, readonly: true, propagation: "private" });
    assert.equal(readFileSync(join(volDir, "app.conf"), "utf8"), "x=1");
    assert.deepEqual(
      cfg.mounts.map((m) => m.containerPath),
      ["/etc/cfg", "/etc/hosts", "/dev/termination-log"],
    );
  });

  it("fails a container whose env names a missing ConfigMap with CreateContainerConfigError, then starts it", async () => {
    const h = harness();
    h.run(pod({ containers: [{ ...app, env: [{ name: "MODE", valueFrom: { configMapKeyRef: { name: "settings", key: "mode" } } }] }] }));
    await h.advance(2_000);
    const cs = h.api().status!.containerStatuses![0]!;
    assert.deepEqual(cs.state, { waiting: { reason: "CreateContainerConfigError", message: 'configmap "settings" not found' } });
    assert.ok(h.events.some((e) => e.type === "Warning" && e.reason === "Failed" && e.note === 'Error: configmap "settings" not found'));
    assert.equal(h.configs.length, 0);
    // Retried on the pod worker's back-off, not every second.
    const failures = () => h.events.filter((e) => e.reason === "Failed").length;
    const before = failures();
    await h.advance(5_000);
    assert.equal(failures(), before);

    h.objects.addConfigMap("ns", "settings", { other: "1" });
    await h.advance(10_000);
    assert.deepEqual(h.api().status!.containerStatuses![0]!.state, { waiting: { reason: "CreateContainerConfigError", message: "couldn't find key mode in ConfigMap ns/settings" } });
    h.objects.addConfigMap("ns", "settings", { mode: "fast" });
    await h.advance(12_000);
    assert.equal(h.api().status!.phase, "Running");
    assert.ok(h.configs.at(-1)!.envs.some((e) => e.key === "MODE" && e.value === "fast"));
  });

  it("gives containers the env upstream builds: downward fields, service variables, expanded command", async () => {
    const h = harness();
    h.objects.services.push({ metadata: { namespace: "default", name: "kubernetes" }, spec: { clusterIP: "10.43.0.1", ports: [{ name: "https", port: 443, protocol: "TCP" }] } });
    h.run(
      pod({
        containers: [
          {
            ...app,
            command: ["sleep", "$(SECONDS)"],
            env: [
              { name: "SECONDS", value: "3600" },
              { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
              { name: "NODE_IP", valueFrom: { fieldRef: { fieldPath: "status.hostIP" } } },
              { name: "MEM", valueFrom: { resourceFieldRef: { resource: "limits.memory", divisor: "1Gi" } } },
            ],
          },
        ],
      }),
    );
    await h.advance(2_000);
    assert.equal(h.api().status!.phase, "Running");
    const cfg = h.configs[0]!;
    assert.deepEqual(cfg.command, ["sleep", "3600"]);
    const env = Object.fromEntries(cfg.envs.map((e) => [e.key, e.value]));
    assert.equal(env.POD_IP, h.api().status!.podIP);
    assert.equal(env.NODE_IP, "127.1.0.1");
    assert.equal(env.MEM, "32");
    assert.equal(env.KUBERNETES_SERVICE_HOST, "10.43.0.1");
    assert.equal(env.KUBERNETES_PORT_443_TCP, "tcp://10.43.0.1:443");
  });

  it("makes the pod's log directory under podLogsDir and removes it, the volumes and the pod directory at the end", async () => {
    const h = harness();
    h.objects.addSecret("ns", "creds", { a: "b" });
    const p = pod({ containers: [{ ...app, volumeMounts: [{ name: "s", mountPath: "/s" }] }], volumes: [{ name: "s", secret: { secretName: "creds" } }] });
    h.run(p);
    await h.advance(2_000);
    const logDir = join(h.root, "logs/ns_p_u1");
    assert.equal(h.sandboxes[0]!.logDirectory, logDir);
    assert.ok(existsSync(logDir));
    const secretDir = join(h.root, "kubelet/pods/u1/volumes/kubernetes.io~secret/s");
    assert.ok(h.mounter.mounts.has(secretDir), "secret volume on a (simulated) tmpfs");

    const deleted: Pod = { ...h.api(), metadata: { ...p.metadata, deletionTimestamp: "2026-01-01T00:00:30Z", deletionGracePeriodSeconds: 30 } };
    h.run(deleted);
    h.status.onApiUpdate(deleted);
    await h.advance(2_000);
    assert.equal(h.mounter.mounts.size, 0, "volumes unmounted once the pod terminated");
    assert.equal(existsSync(join(h.root, "kubelet/pods/u1/volumes")), false);
    h.workers.remove(deleted);
    await h.advance(1_000);
    assert.equal(existsSync(join(h.root, "kubelet/pods/u1")), false);
    assert.equal(existsSync(logDir), false);
  });
});
