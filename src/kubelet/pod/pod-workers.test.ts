import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Pod, PodStatus } from "kubernetes-types/core/v1.js";
import type { ResourceClient } from "../../client/resource-client.js";
import { FakeTimers } from "../../client/timers.js";
import { silentLogger } from "../../machinery/log.js";
import { SimRuntime } from "../../runtime/sim/sim-runtime.js";
import { Backoff } from "../backoff.js";
import type { KubeletEvents } from "../events.js";
import { Limiter } from "../limiter.js";
import { NO_PROBES } from "../status/generate.js";
import { StatusManager } from "../status/status-manager.js";
import { PodWorkers } from "./pod-workers.js";
import { PodSyncer } from "./sync-pod.js";

/** A kubelet's pod machinery over the sim runtime, fake time and a fake API. */
function harness() {
  const timers = new FakeTimers();
  const runtime = new SimRuntime({ podCidr: "10.42.0.0/24", timers });
  const events: { reason: string; note: string }[] = [];
  const ev: KubeletEvents = { emit: (_ref, _type, reason, note) => void events.push({ reason, note }) };
  let apiPod: Pod | undefined;
  const deletes: unknown[] = [];
  const fakePods = {
    namespace: () => fakePods,
    async patch(_name: string, body: { status: PodStatus }) {
      apiPod = { ...apiPod!, status: { ...apiPod!.status, ...body.status } };
      for (const [k, v] of Object.entries(body.status)) if (v === null) delete (apiPod.status as Record<string, unknown>)[k];
      return apiPod;
    },
    async delete(_name: string, opts: unknown) {
      deletes.push(opts);
    },
  } as unknown as ResourceClient<Pod>;
  const crash = new Backoff(10_000, 300_000, timers);
  const image = new Backoff(10_000, 300_000, timers);
  const status = new StatusManager({ pods: fakePods, apiPod: () => apiPod, timers, logger: silentLogger, limiter: new Limiter(4) });
  const syncer = new PodSyncer({ runtime, events: ev, clock: timers, logger: silentLogger, crashBackoff: crash, imageBackoff: image });
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
  const flush = async () => {
    for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
  };
  /** Moves fake time forward in 100 ms steps, letting async work settle between. */
  const advance = async (ms: number) => {
    for (let t = 0; t < ms; t += 100) {
      timers.advance(Math.min(100, ms - t));
      await flush();
    }
  };
  const setPod = (p: Pod) => {
    apiPod = p;
  };
  return { timers, runtime, events, workers, status, advance, flush, setPod, deletes, api: () => apiPod };
}

function pod(command: string[], restartPolicy = "Always", image = "busybox:1.36"): Pod {
  return {
    metadata: { name: "p", namespace: "ns", uid: "u1", resourceVersion: "1" },
    spec: { containers: [{ name: "app", image, command, imagePullPolicy: "IfNotPresent" }], restartPolicy, terminationGracePeriodSeconds: 30 },
    status: { phase: "Pending", qosClass: "BestEffort", conditions: [{ type: "PodScheduled", status: "True", lastTransitionTime: "2026-01-01T00:00:00Z" }] },
  };
}

describe("pod workers (sim runtime, fake time)", () => {
  it("runs a pod and reports Running with an IP", async () => {
    const h = harness();
    const p = pod(["sleep", "3600"]);
    h.setPod(p);
    h.workers.update(p);
    await h.advance(2_000);
    const s = h.api()!.status!;
    assert.equal(s.phase, "Running");
    assert.equal(s.podIP, "10.42.0.2");
    assert.equal(s.containerStatuses![0]!.ready, true);
    assert.deepEqual(
      h.events.map((e) => e.reason),
      ["Pulling", "Pulled", "Created", "Started"],
    );
  });

  it("crash-loops with upstream's back-off sequence", async () => {
    const h = harness();
    const p = pod(["sh", "-c", "exit 1"]);
    h.setPod(p);
    h.workers.update(p);
    const messages: string[] = [];
    for (let i = 0; i < 65 * 10; i++) {
      await h.advance(100);
      const cs = h.api()?.status?.containerStatuses?.[0];
      const m = cs?.state?.waiting?.reason === "CrashLoopBackOff" ? cs.state.waiting.message : undefined;
      if (m && messages[messages.length - 1] !== m) messages.push(m);
    }
    assert.deepEqual(
      messages.map((m) => /back-off (\S+)/.exec(m)?.[1]),
      ["10s", "20s", "40s"],
    );
    assert.equal(messages[0], "back-off 10s restarting failed container=app pod=p_ns(u1)");
    const cs = h.api()!.status!.containerStatuses![0]!;
    assert.equal(cs.restartCount, 3);
    assert.equal(cs.lastState?.terminated?.exitCode, 1);
    assert.equal(h.api()!.status!.phase, "Running");
    assert.ok(h.events.some((e) => e.reason === "BackOff" && e.note === "Back-off restarting failed container app in pod p_ns(u1)"));
  });

  it("goes ErrImagePull then ImagePullBackOff for a missing image", async () => {
    const h = harness();
    const p = pod(["sleep", "3600"], "Always", "busybox:missing");
    h.setPod(p);
    h.workers.update(p);
    const reasons: string[] = [];
    for (let i = 0; i < 150; i++) {
      await h.advance(100);
      const r = h.api()?.status?.containerStatuses?.[0]?.state?.waiting?.reason;
      if (r && reasons[reasons.length - 1] !== r) reasons.push(r);
    }
    // The first status may already carry the pull failure (writes coalesce); then it alternates as the back-off grows.
    assert.deepEqual(reasons.filter((r) => r !== "ContainerCreating").slice(0, 4), ["ErrImagePull", "ImagePullBackOff", "ErrImagePull", "ImagePullBackOff"]);
    assert.ok(h.events.some((e) => e.reason === "Failed" && e.note === "Error: ErrImagePull"));
    assert.ok(h.events.some((e) => e.reason === "Failed" && e.note === "Error: ImagePullBackOff"));
    assert.ok(h.events.some((e) => e.reason === "BackOff" && e.note === 'Back-off pulling image "busybox:missing"'));
  });

  it("completes a Never pod that exits 0 and stops its sandbox", async () => {
    const h = harness();
    const p = pod(["sh", "-c", "exit 0"], "Never");
    h.setPod(p);
    h.workers.update(p);
    await h.advance(3_000);
    const s = h.api()!.status!;
    assert.equal(s.phase, "Succeeded");
    assert.equal(s.containerStatuses![0]!.state?.terminated?.reason, "Completed");
    const sandboxes = await h.runtime.listPodSandbox({ state: "ready" });
    assert.ok(sandboxes.ok && sandboxes.value.length === 0);
  });

  it("stops a deleted pod within its grace period, then deletes it with grace 0", async () => {
    const h = harness();
    const p = pod(["sleep", "3600"]);
    h.setPod(p);
    h.workers.update(p);
    await h.advance(2_000);
    const deleted: Pod = { ...h.api()!, metadata: { ...p.metadata, deletionTimestamp: "2026-01-01T00:00:30Z", deletionGracePeriodSeconds: 30 } };
    h.setPod(deleted);
    h.workers.update(deleted);
    h.status.onApiUpdate(deleted);
    await h.advance(2_000);
    assert.deepEqual(h.deletes, [{ gracePeriodSeconds: 0, preconditions: { uid: "u1" } }]);
    assert.ok(h.events.some((e) => e.reason === "Killing" && e.note === "Stopping container app"));
    h.workers.remove(deleted);
    await h.advance(1_000);
    assert.equal(h.workers.size, 0);
    const left = await h.runtime.listContainers();
    assert.ok(left.ok && left.value.length === 0);
  });
});
