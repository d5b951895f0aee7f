import assert from "node:assert/strict";
import { test } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { FakeClock } from "../../machinery/clock.js";
import type { ContainerRuntime, ContainerSummary, PodSandbox } from "../../runtime/types.js";
import { ok } from "../../runtime/types.js";
import { SIM_CONTAINER_DEFAULT_USAGE, SIM_NODE_SYSTEM_USAGE, SimStatsProvider } from "./sim-stats-provider.js";
import { metaTime } from "./types.js";

const T0 = Date.UTC(2026, 0, 1);

function runtime(state: { sandboxes: PodSandbox[]; containers: ContainerSummary[] }): ContainerRuntime {
  const r: Partial<ContainerRuntime> = { listPodSandbox: async () => ok(state.sandboxes), listContainers: async () => ok(state.containers) };
  return r as ContainerRuntime;
}

const sb = (id: string, uid: string, name: string): PodSandbox => ({ id, metadata: { name, namespace: "ns", uid, attempt: 0 }, state: "ready", createdAt: T0, labels: {}, annotations: {} });
const ctr = (id: string, sandbox: string, name: string): ContainerSummary => ({
  id,
  podSandboxId: sandbox,
  metadata: { name, attempt: 0 },
  image: "img",
  imageRef: "img",
  state: "running",
  createdAt: T0,
  labels: {},
  annotations: {},
});

const pods: Pod[] = [
  {
    metadata: { name: "web", namespace: "ns", uid: "u1" },
    spec: {
      containers: [
        { name: "app", resources: { requests: { cpu: "250m", memory: "64Mi" } } },
        { name: "side", resources: {} },
      ],
    },
  },
];

test("simulated containers use their requests (1m and 1 MiB without), pods sum them, the node adds its system usage", async () => {
  const clock = new FakeClock(T0);
  const state = { sandboxes: [sb("s1", "u1", "web")], containers: [ctr("c1", "s1", "app"), ctr("c2", "s1", "side")] };
  const p = new SimStatsProvider({ nodeName: "sim-0", runtime: runtime(state), pods: () => pods, capacity: { cpu: "8", memory: "32Gi" }, clock });
  await p.summary();
  clock.advance(10_000);
  const s = await p.summary();
  const web = s.pods[0]!;
  const app = web.containers.find((c) => c.name === "app")!;
  const side = web.containers.find((c) => c.name === "side")!;
  assert.equal(app.cpu?.usageNanoCores, 250_000_000);
  assert.equal(app.cpu?.usageCoreNanoSeconds, 2_500_000_001);
  assert.equal(app.memory?.workingSetBytes, 64 * 1024 * 1024);
  assert.equal(side.cpu?.usageNanoCores, SIM_CONTAINER_DEFAULT_USAGE.nanoCores);
  assert.equal(side.memory?.workingSetBytes, SIM_CONTAINER_DEFAULT_USAGE.memoryBytes);
  assert.equal(web.cpu?.usageNanoCores, 251_000_000);
  assert.equal(web.memory?.workingSetBytes, 64 * 1024 * 1024 + SIM_CONTAINER_DEFAULT_USAGE.memoryBytes);
  assert.equal(s.node.cpu?.usageNanoCores, 251_000_000 + SIM_NODE_SYSTEM_USAGE.nanoCores);
  // The node ran at its system usage alone until the first call saw the pod, then with it.
  assert.equal(s.node.cpu?.usageCoreNanoSeconds, (251_000_000 + SIM_NODE_SYSTEM_USAGE.nanoCores) * 10 + 1);
  assert.equal(s.node.memory?.availableBytes, 32 * 1024 ** 3 - (SIM_NODE_SYSTEM_USAGE.memoryBytes + web.memory!.workingSetBytes!));
  assert.equal(s.node.startTime, metaTime(T0));
});

test("the node's counter never goes back when pods leave, and never reads zero", async () => {
  const clock = new FakeClock(T0);
  const state = { sandboxes: [sb("s1", "u1", "web")], containers: [ctr("c1", "s1", "app")] };
  const p = new SimStatsProvider({ nodeName: "sim-0", runtime: runtime(state), pods: () => pods, capacity: {}, clock });
  const first = await p.summary();
  assert.equal(first.node.cpu?.usageCoreNanoSeconds, 1);
  assert.equal(first.pods[0]!.containers[0]!.cpu?.usageCoreNanoSeconds, 1);
  clock.advance(4_000);
  const before = (await p.summary()).node.cpu!.usageCoreNanoSeconds!;
  state.sandboxes = [];
  state.containers = [];
  clock.advance(4_000);
  const s = await p.summary();
  assert.equal(s.pods.length, 0);
  assert.ok(s.node.cpu!.usageCoreNanoSeconds! > before);
  assert.equal(s.node.memory?.availableBytes, undefined);
});
