import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Container, Pod, PodStatus } from "kubernetes-types/core/v1.js";
import type { ResourceClient } from "../../client/resource-client.js";
import { FakeTimers } from "../../client/timers.js";
import { silentLogger } from "../../machinery/log.js";
import { SimRuntime } from "../../runtime/sim/sim-runtime.js";
import { type ContainerConfig, type ContainerRuntime, type ExecSyncResult, ok, type RuntimeResult } from "../../runtime/types.js";
import { Backoff, CRASH_LOOP_RESET_MS } from "../backoff.js";
import type { KubeletEvents } from "../events.js";
import { Limiter } from "../limiter.js";
import { PodWorkers } from "../pod/pod-workers.js";
import { ProberManager } from "../prober/manager.js";
import { StatusManager } from "../status/status-manager.js";
import { TerminationMessages } from "../status/termination-message.js";
import { podIPFromRuntime } from "./handler-runner.js";
import { ProbingPodSyncer } from "./probing-pod-syncer.js";

/**
 * The kubelet's pod machinery wired as kubelet.ts wires it, over fake time,
 * a fake API and the sim runtime made to behave like a real one for probes:
 * no simulated answers, exec probes answered by the test, and (optionally)
 * a termination-log mount added to every container.
 */
function harness(opts: { terminationLog?: string; simulated?: boolean } = {}) {
  const timers = new FakeTimers();
  const sim = new SimRuntime({ podCidr: "10.42.0.0/24", timers });
  const state = { healthy: true, ready: false, execs: 0 };
  const execSync = async (_id: string, cmd: readonly string[]): Promise<RuntimeResult<ExecSyncResult>> => {
    state.execs++;
    const pass = cmd[0] === "healthz" ? state.healthy : state.ready;
    return ok({ exitCode: pass ? 0 : 1, stdout: Buffer.from(pass ? "" : `${cmd[0]} says no`), stderr: Buffer.alloc(0), timedOut: false });
  };
  const createContainer = (sandboxId: string, config: ContainerConfig, sb: Parameters<ContainerRuntime["createContainer"]>[2]) => {
    const mounts = opts.terminationLog ? [...config.mounts, { containerPath: "/dev/termination-log", hostPath: opts.terminationLog }] : config.mounts;
    return sim.createContainer(sandboxId, { ...config, mounts }, sb);
  };
  const runtime = new Proxy(sim, {
    get(target, prop) {
      if (prop === "simulatedProbe" && !opts.simulated) return undefined;
      if (prop === "execSync" && !opts.simulated) return execSync;
      if (prop === "createContainer") return createContainer;
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  }) as ContainerRuntime;

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
  const crash = new Backoff(10_000, 300_000, timers, CRASH_LOOP_RESET_MS);
  const image = new Backoff(10_000, 300_000, timers);
  const status = new StatusManager({ pods: fakePods, apiPod: () => apiPod, timers, logger: silentLogger, limiter: new Limiter(4) });
  let workers: PodWorkers | undefined;
  const prober = new ProberManager({
    runtime,
    events: ev,
    timers,
    logger: silentLogger,
    podStatus: (uid) => status.getPodStatus(uid),
    onUpdate: (u) => {
      if (u.type === "liveness" && u.result !== "failure") return;
      workers?.runtimeChanged(u.podUid);
    },
    random: () => 0,
  });
  const syncer = new ProbingPodSyncer({
    runtime,
    events: ev,
    clock: timers,
    logger: silentLogger,
    crashBackoff: crash,
    imageBackoff: image,
    isStarted: (pod, c, id) => prober.started(pod, c, id),
    probeResult: (type, id) => prober.result(type, id),
    hooks: { runtime, events: ev, timers, logger: silentLogger, podIP: podIPFromRuntime(runtime) },
    // Read synchronously so fake time never runs ahead of the thread pool (the real reader has its own tests).
    terminationMessages: new TerminationMessages(async (path, max) => {
      const data = readFileSync(path);
      return { ok: true, data: data.subarray(Math.max(0, data.length - max)) };
    }),
    podOf: () => apiPod,
  });
  workers = new PodWorkers({
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
    probes: prober,
  });
  const flush = async () => {
    for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
  };
  const advance = async (ms: number) => {
    for (let t = 0; t < ms; t += 100) {
      timers.advance(Math.min(100, ms - t));
      await flush();
    }
  };
  const run = (p: Pod) => {
    apiPod = p;
    prober.addPod(p);
    workers!.update(p);
  };
  const stop = async () => {
    prober.stop();
    workers!.stop();
    status.stop();
    await sim.close();
  };
  return { state, events, advance, run, stop, api: () => apiPod!, prober };
}

function pod(c: Partial<Container>, restartPolicy = "Always"): Pod {
  return {
    metadata: { name: "p", namespace: "ns", uid: "u1", resourceVersion: "1" },
    spec: { containers: [{ name: "app", image: "busybox:1.36", imagePullPolicy: "IfNotPresent", command: ["sleep", "3600"], ...c }], restartPolicy, terminationGracePeriodSeconds: 30 },
    status: { phase: "Pending", qosClass: "BestEffort", conditions: [{ type: "PodScheduled", status: "True", lastTransitionTime: "2026-01-01T00:00:00Z" }] },
  };
}

const cond = (p: Pod, type: string) => p.status?.conditions?.find((c) => c.type === type);

describe("probes and lifecycle in the pod sync (sim runtime, fake time)", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync("/tmp/skiff-probing-");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("readiness drives the container's ready, ContainersReady and Ready, promptly", async () => {
    const h = harness();
    h.run(pod({ readinessProbe: { exec: { command: ["ready"] }, periodSeconds: 5, failureThreshold: 2 } }));
    await h.advance(2_000);
    let p = h.api();
    assert.equal(p.status?.phase, "Running");
    assert.equal(p.status?.containerStatuses?.[0]?.ready, false);
    assert.deepEqual(
      { status: cond(p, "Ready")?.status, reason: cond(p, "Ready")?.reason, message: cond(p, "Ready")?.message },
      { status: "False", reason: "ContainersNotReady", message: "containers with unready status: [app]" },
    );
    assert.equal(cond(p, "ContainersReady")?.status, "False");
    assert.ok(h.events.some((e) => e.reason === "Unhealthy" && e.note === "Readiness probe failed: ready says no"));

    h.state.ready = true;
    await h.advance(5_000);
    p = h.api();
    assert.equal(p.status?.containerStatuses?.[0]?.ready, true, "one period later, not at the next resync");
    assert.equal(cond(p, "Ready")?.status, "True");
    assert.equal(cond(p, "ContainersReady")?.status, "True");

    h.state.ready = false;
    await h.advance(5_000);
    assert.equal(cond(h.api(), "Ready")?.status, "True", "one failure is below failureThreshold 2");
    await h.advance(5_000);
    assert.equal(cond(h.api(), "Ready")?.status, "False");
    await h.stop();
  });

  it("a failing liveness probe restarts the container with upstream's events", async () => {
    const h = harness();
    h.run(pod({ livenessProbe: { exec: { command: ["healthz"] }, periodSeconds: 1, failureThreshold: 3 } }));
    await h.advance(3_000);
    assert.equal(h.api().status?.containerStatuses?.[0]?.restartCount, 0);
    const firstId = h.api().status?.containerStatuses?.[0]?.containerID;
    h.events.length = 0;
    h.state.healthy = false;
    await h.advance(3_000);
    h.state.healthy = true;
    await h.advance(2_000);
    assert.deepEqual(
      h.events.map((e) => [e.type, e.reason, e.note]),
      [
        ["Warning", "Unhealthy", "Liveness probe failed: healthz says no"],
        ["Warning", "Unhealthy", "Liveness probe failed: healthz says no"],
        ["Warning", "Unhealthy", "Liveness probe failed: healthz says no"],
        ["Normal", "Killing", "Container app failed liveness probe, will be restarted"],
        ["Normal", "Pulled", 'Container image "busybox:1.36" already present on machine'],
        ["Normal", "Created", "Created container app"],
        ["Normal", "Started", "Started container app"],
      ],
    );
    const cs = h.api().status!.containerStatuses![0]!;
    assert.equal(cs.restartCount, 1);
    assert.ok(cs.state?.running);
    assert.ok(cs.lastState?.terminated);
    assert.notEqual(cs.containerID, firstId);
    // The new container is probed again (and passes).
    const execs = h.state.execs;
    await h.advance(2_000);
    assert.ok(h.state.execs > execs);
    assert.equal(h.api().status!.containerStatuses![0]!.restartCount, 1);
    await h.stop();
  });

  it("under restartPolicy Never a container that fails its liveness probe is killed for good", async () => {
    const h = harness();
    h.run(pod({ livenessProbe: { exec: { command: ["healthz"] }, periodSeconds: 1, failureThreshold: 1 } }, "Never"));
    await h.advance(2_000);
    h.state.healthy = false;
    await h.advance(3_000);
    assert.ok(h.events.some((e) => e.reason === "Killing" && e.note === "Container app failed liveness probe"));
    assert.equal(h.events.filter((e) => e.reason === "Started").length, 1);
    assert.ok(h.api().status?.containerStatuses?.[0]?.state?.terminated);
    await h.stop();
  });

  it("a failed startup probe restarts the container; liveness waits for it", async () => {
    const h = harness();
    h.state.healthy = false;
    h.run(pod({ startupProbe: { exec: { command: ["healthz"] }, periodSeconds: 1, failureThreshold: 2 }, livenessProbe: { exec: { command: ["healthz"] }, periodSeconds: 1, failureThreshold: 1 } }));
    await h.advance(4_000);
    const notes = h.events.filter((e) => e.reason === "Unhealthy" || e.reason === "Killing").map((e) => e.note);
    assert.deepEqual(notes.slice(0, 3), ["Startup probe failed: healthz says no", "Startup probe failed: healthz says no", "Container app failed startup probe, will be restarted"]);
    assert.ok(!notes.some((n) => n.startsWith("Liveness")), "liveness is not probed before the container started");
    assert.equal(h.api().status?.containerStatuses?.[0]?.started, false);
    await h.stop();
  });

  it("on a simulated node the runtime answers probes (SKIFF_SIM_READY) and nothing is exec'd", async () => {
    const h = harness({ simulated: true });
    const probe = { httpGet: { port: 8080, path: "/ready" }, periodSeconds: 5 };
    const p = pod({ readinessProbe: probe, livenessProbe: probe, env: [{ name: "SKIFF_SIM_READY", value: "false" }] });
    h.run(p);
    await h.advance(30_000);
    assert.equal(h.api().status?.phase, "Running");
    assert.equal(cond(h.api(), "Ready")?.status, "False");
    assert.equal(h.api().status?.containerStatuses?.[0]?.restartCount, 0, "liveness has no simulated failure");
    assert.ok(h.events.some((e) => e.note === "Readiness probe failed: simulated probe failure"));
    assert.equal(h.state.execs, 0);
    await h.stop();

    const ready = harness({ simulated: true });
    ready.run(pod({ readinessProbe: probe }));
    await ready.advance(2_000);
    assert.equal(cond(ready.api(), "Ready")?.status, "True");
    await ready.stop();
  });

  it("shows the termination message the container wrote", async () => {
    const file = join(dir, "termination-log");
    writeFileSync(file, "bye: out of coffee");
    const h = harness({ terminationLog: file });
    h.run(pod({ command: ["sh", "-c", "exit 1"] }, "Never"));
    await h.advance(3_000);
    const t = h.api().status?.containerStatuses?.[0]?.state?.terminated;
    assert.equal(t?.exitCode, 1);
    assert.equal(t?.message, "bye: out of coffee");
    await h.stop();
  });
});
