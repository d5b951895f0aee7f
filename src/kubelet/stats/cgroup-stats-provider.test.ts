import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { FakeClock } from "../../machinery/clock.js";
import type { ContainerRuntime, ContainerStatus, ContainerSummary, Image, PodSandbox } from "../../runtime/types.js";
import { ok } from "../../runtime/types.js";
import { CgroupFs } from "./cgroup-fs.js";
import { CgroupStatsProvider } from "./cgroup-stats-provider.js";
import { ProcFs } from "./proc-stats.js";
import { metaTime } from "./types.js";

const tmp = mkdtempSync("/tmp/skiff-stats-");
after(() => rmSync(tmp, { recursive: true, force: true }));

function write(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const cgroups = join(tmp, "cgroup");
const proc = join(tmp, "proc");
const kubeletRoot = join(tmp, "kubelet");
const layers = join(tmp, "layers");
const logs = join(tmp, "logs");
const images = join(tmp, "images");

const APP_POD = "/skiff/burstable/podu1";
const WEB_POD = "/skiff/besteffort/podu2";

/** A v1 cgroup tree: the root, the pods cgroup, two pods with one running container each. */
function writeCgroups(appCpu: number): void {
  write(join(cgroups, "cpuacct", "cpuacct.usage"), "900000000000\n");
  write(join(cgroups, "cpuacct/skiff/cpuacct.usage"), `${appCpu + 1_000_000_000}\n`);
  write(join(cgroups, "memory/skiff/memory.usage_in_bytes"), "40000000\n");
  write(join(cgroups, "memory/skiff/memory.stat"), "total_inactive_file 0\ntotal_rss 30000000\n");
  for (const [pod, id, cpu, mem, pid] of [
    [APP_POD, "c-app", appCpu, 20_000_000, 4242],
    [WEB_POD, "c-web", 1_000_000_000, 10_000_000, 5151],
  ] as const) {
    write(join(cgroups, "cpuacct", pod, "cpuacct.usage"), `${cpu + 5}\n`);
    write(join(cgroups, "cpuacct", pod, id, "cpuacct.usage"), `${cpu}\n`);
    write(join(cgroups, "cpuacct", pod, id, "cgroup.procs"), `${pid}\n`);
    for (const p of [pod, `${pod}/${id}`]) {
      write(join(cgroups, "memory", p, "memory.usage_in_bytes"), `${mem}\n`);
      write(join(cgroups, "memory", p, "memory.stat"), `total_rss ${mem / 2}\ntotal_inactive_file ${mem / 4}\npgfault 9\npgmajfault 1\n`);
      write(join(cgroups, "memory", p, "memory.limit_in_bytes"), "9223372036854771712\n");
    }
    write(join(cgroups, "pids", pod, "pids.current"), "3\n");
  }
}

const NET_DEV = (rx: number) =>
  [
    "Inter-|   Receive                                                |  Transmit",
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed",
    "    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0",
    `  eth0:  ${rx}     100    0    0    0     0          0         0    2000      90    0    0    0     0       0          0`,
    "",
  ].join("\n");

function writeProc(): void {
  write(join(proc, "stat"), "cpu  100 0 100 1000 0 0 0 0 0 0\n");
  write(join(proc, "meminfo"), "MemTotal:  1048576 kB\nMemFree:  524288 kB\nInactive(file): 262144 kB\nAnonPages: 131072 kB\n");
  write(join(proc, "vmstat"), "pgfault 500\npgmajfault 5\n");
  write(join(proc, "uptime"), "3600.00 7000.00\n");
  write(join(proc, "loadavg"), "0.00 0.00 0.00 1/200 1\n");
  write(join(proc, "sys/kernel/pid_max"), "32768\n");
  write(join(proc, "sys/kernel/threads-max"), "100000\n");
  write(join(proc, "self/net/dev"), NET_DEV(999));
  write(join(proc, "4242/net/dev"), NET_DEV(123));
}

function writeDisk(): void {
  write(join(layers, "c-app", "upper", "tmp", "scratch"), "x".repeat(10_000));
  write(join(logs, "default_app_u1", "app", "0.log"), "line\n".repeat(100));
  write(join(kubeletRoot, "pods/u1/volumes/kubernetes.io~empty-dir/cache/data"), "y".repeat(5000));
  mkdirSync(images, { recursive: true });
}

function sandbox(id: string, uid: string, name: string, createdAt: number, state: "ready" | "notready"): PodSandbox {
  return { id, metadata: { name, namespace: "default", uid, attempt: 0 }, state, createdAt, labels: {}, annotations: {} };
}

function container(id: string, sandboxId: string, name: string, createdAt: number, state: ContainerSummary["state"]): ContainerSummary {
  return { id, podSandboxId: sandboxId, metadata: { name, attempt: 0 }, image: "busybox", imageRef: "sha256:1", state, createdAt, labels: {}, annotations: {} };
}

/** The runtime calls the provider makes, answered from fixed lists. */
function fakeRuntime(): ContainerRuntime {
  const sandboxes = [sandbox("sb-old", "u1", "app", T0 - 60_000, "notready"), sandbox("sb-app", "u1", "app", T0 - 30_000, "ready"), sandbox("sb-web", "u2", "web", T0 - 20_000, "ready")];
  const containers = [
    container("c-app-old", "sb-app", "app", T0 - 29_000, "exited"),
    container("c-app", "sb-app", "app", T0 - 25_000, "running"),
    container("c-web", "sb-web", "web", T0 - 15_000, "running"),
  ];
  const images: Image[] = [
    { id: "sha256:1", repoTags: ["busybox"], repoDigests: [], size: 1_000_000 },
    { id: "sha256:2", repoTags: ["other"], repoDigests: [], size: 234 },
  ];
  const runtime: Partial<ContainerRuntime> = {
    listPodSandbox: async () => ok(sandboxes),
    listContainers: async () => ok(containers),
    containerStatus: async (id) => ok({ ...containers.find((c) => c.id === id)!, logPath: join(logs, id === "c-app" ? "default_app_u1/app/0.log" : "default_web_u2/web/0.log") } as ContainerStatus),
    listImages: async () => ok(images),
  };
  return runtime as ContainerRuntime;
}

const pods: Pod[] = [
  { metadata: { name: "app", namespace: "default", uid: "u1" }, spec: { containers: [{ name: "app" }], volumes: [{ name: "cache", emptyDir: {} }] } },
  { metadata: { name: "web", namespace: "default", uid: "u2" }, spec: { hostNetwork: true, containers: [{ name: "web" }] } },
];

describe("CgroupStatsProvider", () => {
  writeCgroups(2_000_000_000);
  writeProc();
  writeDisk();
  const clock = new FakeClock(T0);
  const provider = new CgroupStatsProvider({
    nodeName: "n1",
    runtime: fakeRuntime(),
    cgroupRoot: "/skiff",
    rootDir: kubeletRoot,
    imageFsDir: images,
    containerWritableDir: (id) => join(layers, id, "upper"),
    pods: () => pods,
    cgroups: new CgroupFs({ root: cgroups, version: 1 }),
    proc: new ProcFs(proc),
    clock,
  });

  test("before housekeeping: cumulative cpu and memory, no rate yet, no measured directories", async () => {
    const s = await provider.summary();
    const time = metaTime(T0);
    assert.equal(s.node.nodeName, "n1");
    assert.equal(s.node.startTime, metaTime(T0 - 3_600_000));
    assert.deepEqual(s.node.cpu, { time, usageCoreNanoSeconds: 900_000_000_000 });
    assert.deepEqual(s.node.memory, {
      time,
      availableBytes: 1024 * 1024 * 1024 - 256 * 1024 * 1024,
      usageBytes: 512 * 1024 * 1024,
      workingSetBytes: 256 * 1024 * 1024,
      rssBytes: 128 * 1024 * 1024,
      pageFaults: 500,
      majorPageFaults: 5,
    });
    assert.equal(s.node.systemContainers?.[0]?.name, "pods");
    assert.equal(s.node.systemContainers?.[0]?.cpu?.usageCoreNanoSeconds, 3_000_000_000);
    // Only ready sandboxes and running containers: the old sandbox and the exited container are not there.
    assert.deepEqual(
      s.pods.map((p) => [p.podRef, p.startTime, p.containers.map((c) => [c.name, c.startTime])]),
      [
        [{ name: "app", namespace: "default", uid: "u1" }, metaTime(T0 - 30_000), [["app", metaTime(T0 - 25_000)]]],
        [{ name: "web", namespace: "default", uid: "u2" }, metaTime(T0 - 20_000), [["web", metaTime(T0 - 15_000)]]],
      ],
    );
    const app = s.pods[0]!;
    assert.deepEqual(app.containers[0]!.cpu, { time, usageCoreNanoSeconds: 2_000_000_000 });
    assert.deepEqual(app.containers[0]!.memory, { time, usageBytes: 20_000_000, workingSetBytes: 15_000_000, rssBytes: 10_000_000, pageFaults: 9, majorPageFaults: 1 });
    assert.deepEqual(app.cpu, { time, usageCoreNanoSeconds: 2_000_000_005 });
    assert.equal(app.containers[0]!.rootfs, undefined);
    assert.equal(app.process_stats?.process_count, 3);
  });

  test("two housekeeping passes give usageNanoCores over the interval between them", async () => {
    await provider.housekeeping();
    clock.advance(10_000);
    // Half a core for 10 s.
    writeCgroups(7_000_000_000);
    await provider.housekeeping();
    const s = await provider.summary();
    const app = s.pods.find((p) => p.podRef.name === "app")!;
    assert.equal(app.containers[0]!.cpu?.usageNanoCores, 500_000_000);
    assert.equal(app.containers[0]!.cpu?.usageCoreNanoSeconds, 7_000_000_000);
    assert.equal(app.cpu?.usageNanoCores, 500_000_000);
    // The web container did not move: a rate of zero, not a missing one.
    assert.equal(s.pods.find((p) => p.podRef.name === "web")!.containers[0]!.cpu?.usageNanoCores, 0);
    assert.equal(s.node.cpu?.usageNanoCores, 0);
  });

  test("the full summary: filesystems, network, volumes, ephemeral storage, rlimit", async () => {
    const s = await provider.summary();
    assert.ok(s.node.fs && s.node.fs.capacityBytes! > 0 && s.node.fs.usedBytes! > 0);
    assert.equal(s.node.runtime?.imageFs?.usedBytes, 1_000_234);
    assert.deepEqual({ ...s.node.rlimit, time: undefined }, { time: undefined, maxpid: 32768, curproc: 200 });
    assert.equal(s.node.network?.name, "eth0");
    assert.equal(s.node.network?.rxBytes, 999);

    const app = s.pods.find((p) => p.podRef.name === "app")!;
    assert.deepEqual(app.network, {
      time: metaTime(clock.now()),
      name: "eth0",
      rxBytes: 123,
      rxErrors: 0,
      txBytes: 2000,
      txErrors: 0,
      interfaces: [{ name: "eth0", rxBytes: 123, rxErrors: 0, txBytes: 2000, txErrors: 0 }],
    });
    const c = app.containers[0]!;
    assert.ok(c.rootfs!.usedBytes! >= 10_000, `rootfs counts the writable layer (${c.rootfs!.usedBytes})`);
    assert.equal(c.rootfs!.inodesUsed, 3);
    assert.ok(c.logs!.usedBytes! >= 500);
    assert.equal(app.volume?.length, 1);
    assert.equal(app.volume![0]!.name, "cache");
    assert.ok(app.volume![0]!.usedBytes! >= 5000);
    const eph = app["ephemeral-storage"]!;
    assert.equal(eph.usedBytes, c.rootfs!.usedBytes! + c.logs!.usedBytes! + app.volume![0]!.usedBytes!);
    assert.equal(eph.inodesUsed, c.rootfs!.inodesUsed! + c.logs!.inodesUsed! + app.volume![0]!.inodesUsed!);

    // A host-network pod has no interfaces of its own.
    assert.equal(s.pods.find((p) => p.podRef.name === "web")!.network, undefined);
  });

  test("only_cpu_and_memory leaves out filesystems, network, volumes and rlimit", async () => {
    const s = await provider.summary({ onlyCpuAndMemory: true });
    assert.deepEqual(Object.keys(s.node).sort(), ["cpu", "memory", "nodeName", "startTime", "systemContainers"]);
    for (const p of s.pods) {
      assert.deepEqual(Object.keys(p).sort(), ["containers", "cpu", "memory", "podRef", "startTime"]);
      for (const c of p.containers) assert.deepEqual(Object.keys(c).sort(), ["cpu", "memory", "name", "startTime"]);
    }
  });

  test("a container whose cgroup vanished is listed without cpu and memory", async () => {
    rmSync(join(cgroups, "cpuacct", WEB_POD, "c-web"), { recursive: true });
    rmSync(join(cgroups, "memory", WEB_POD, "c-web"), { recursive: true });
    const s = await provider.summary({ onlyCpuAndMemory: true });
    const web = s.pods.find((p) => p.podRef.name === "web")!;
    assert.deepEqual(web.containers, [{ name: "web", startTime: metaTime(T0 - 15_000) }]);
  });
});
