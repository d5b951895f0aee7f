import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeTimers } from "../../client/timers.js";
import { runtimeConformance } from "../conformance.js";
import type { ContainerConfig, PodSandboxConfig, RuntimeResult } from "../types.js";
import { SimRuntime } from "./sim-runtime.js";

runtimeConformance({
  name: "sim",
  make: async () => new SimRuntime({ podCidr: "10.42.0.0/24" }),
  image: "busybox:1.36",
  missingImage: "busybox:missing",
});

function value<T>(r: RuntimeResult<T>): T {
  if (!r.ok) assert.fail(`${r.error.code}: ${r.error.message}`);
  return r.value;
}

const sb: PodSandboxConfig = { metadata: { name: "p", namespace: "ns", uid: "u", attempt: 0 }, labels: {}, annotations: {} };
const ctr = (env: Record<string, string> = {}, command: string[] = []): ContainerConfig => ({
  metadata: { name: "c", attempt: 0 },
  image: "img:1",
  command,
  args: [],
  envs: Object.entries(env).map(([key, value]) => ({ key, value })),
  mounts: [],
  labels: {},
  annotations: {},
});

async function started(rt: SimRuntime, timers: FakeTimers, config: ContainerConfig): Promise<string> {
  value(await rt.pullImage("img:1"));
  const s = value(await rt.runPodSandbox(sb));
  const id = value(await rt.createContainer(s, config, sb));
  const p = rt.startContainer(id);
  timers.advance(0);
  value(await p);
  return id;
}

describe("SimRuntime", () => {
  it("exits after SKIFF_SIM_RUN_SECONDS with SKIFF_SIM_EXIT_CODE", async () => {
    const timers = new FakeTimers();
    const rt = new SimRuntime({ podCidr: "10.42.0.0/24", timers });
    const id = await started(rt, timers, ctr({ SKIFF_SIM_RUN_SECONDS: "5", SKIFF_SIM_EXIT_CODE: "2" }));
    timers.advance(4_999);
    assert.equal(value(await rt.containerStatus(id)).state, "running");
    timers.advance(1);
    const st = value(await rt.containerStatus(id));
    assert.equal(st.state, "exited");
    assert.equal(st.exitCode, 2);
    assert.equal(st.finishedAt - st.startedAt, 5_000);
  });

  it("reports OOMKilled", async () => {
    const timers = new FakeTimers();
    const rt = new SimRuntime({ podCidr: "10.42.0.0/24", timers });
    const id = await started(rt, timers, ctr({ SKIFF_SIM_OOM: "true" }));
    timers.advance(0);
    const st = value(await rt.containerStatus(id));
    assert.deepEqual([st.exitCode, st.reason], [137, "OOMKilled"]);
  });

  it("waits the start delay before running", async () => {
    const timers = new FakeTimers();
    const rt = new SimRuntime({ podCidr: "10.42.0.0/24", timers, containerStartDelayMs: 300 });
    value(await rt.pullImage("img:1"));
    const s = value(await rt.runPodSandbox(sb));
    const id = value(await rt.createContainer(s, ctr(), sb));
    const p = rt.startContainer(id);
    timers.advance(299);
    assert.equal(value(await rt.containerStatus(id)).state, "created");
    timers.advance(1);
    value(await p);
    assert.equal(value(await rt.containerStatus(id)).state, "running");
  });

  it("kills a container that ignores the stop signal at the grace period", async () => {
    const timers = new FakeTimers();
    const rt = new SimRuntime({ podCidr: "10.42.0.0/24", timers });
    const id = await started(rt, timers, ctr({ SKIFF_SIM_TERM_SECONDS: "60" }));
    const stopping = rt.stopContainer(id, 5);
    timers.advance(4_999);
    assert.equal(value(await rt.containerStatus(id)).state, "running");
    timers.advance(1);
    value(await stopping);
    assert.equal(value(await rt.containerStatus(id)).exitCode, 137);
  });

  it("exits with SKIFF_SIM_TERM_EXIT_CODE when it stops in time", async () => {
    const timers = new FakeTimers();
    const rt = new SimRuntime({ podCidr: "10.42.0.0/24", timers });
    const id = await started(rt, timers, ctr({ SKIFF_SIM_TERM_SECONDS: "1", SKIFF_SIM_TERM_EXIT_CODE: "143" }));
    const stopping = rt.stopContainer(id, 30);
    timers.advance(1_000);
    value(await stopping);
    const st = value(await rt.containerStatus(id));
    assert.deepEqual([st.exitCode, st.reason], [143, "Error"]);
  });

  it("fails starts on SKIFF_SIM_START_ERROR", async () => {
    const timers = new FakeTimers();
    const rt = new SimRuntime({ podCidr: "10.42.0.0/24", timers });
    value(await rt.pullImage("img:1"));
    const s = value(await rt.runPodSandbox(sb));
    const id = value(await rt.createContainer(s, ctr({ SKIFF_SIM_START_ERROR: "exec: no such file" }), sb));
    const r = await rt.startContainer(id);
    assert.equal(r.ok, false);
    assert.equal(value(await rt.containerStatus(id)).state, "exited");
  });

  it("fails a seeded share of starts with failureRate", async () => {
    const count = async (seed: number) => {
      const timers = new FakeTimers();
      const rt = new SimRuntime({ podCidr: "10.42.0.0/16", timers, failureRate: 0.5, seed });
      let failed = 0;
      for (let i = 0; i < 40; i++) {
        const id = await started(rt, timers, ctr());
        timers.advance(0);
        if (value(await rt.containerStatus(id)).state === "exited") failed++;
      }
      return failed;
    };
    const a = await count(7);
    assert.ok(a > 5 && a < 35, `about half failed (${a})`);
    assert.equal(await count(7), a, "the same seed fails the same starts");
  });

  it("hands out IPs host-local style and runs out cleanly", async () => {
    const rt = new SimRuntime({ podCidr: "10.42.7.0/30" });
    const a = value(await rt.runPodSandbox(sb));
    assert.deepEqual(value(await rt.podSandboxStatus(a)).ips, ["10.42.7.2"]);
    const full = await rt.runPodSandbox(sb);
    assert.equal(full.ok, false);
    if (!full.ok) assert.equal(full.error.code, "ResourceExhausted");
    value(await rt.stopPodSandbox(a));
    assert.ok((await rt.runPodSandbox(sb)).ok, "a released IP is reused");
  });

  it("takes a new pod CIDR for new sandboxes", async () => {
    const rt = new SimRuntime({ podCidr: "10.42.0.0/24" });
    value(await rt.updateRuntimeConfig({ podCidr: "10.42.9.0/24" }));
    assert.equal(rt.podCidr, "10.42.9.0/24");
    const s = value(await rt.runPodSandbox(sb));
    assert.match(value(await rt.podSandboxStatus(s)).ips[0]!, /^10\.42\.9\./);
    assert.equal((await rt.updateRuntimeConfig({ podCidr: "nonsense" })).ok, false);
  });

  it("reports the readiness knob for probes", async () => {
    const timers = new FakeTimers();
    const rt = new SimRuntime({ podCidr: "10.42.0.0/24", timers });
    const id = await started(rt, timers, ctr({ SKIFF_SIM_READY: "false" }));
    assert.equal(rt.simulatedProbe(id, "readiness"), false);
    assert.equal(rt.simulatedProbe(id, "liveness"), undefined);
  });
});
