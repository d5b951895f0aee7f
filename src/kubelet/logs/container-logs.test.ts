import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { Pod, PodStatus } from "kubernetes-types/core/v1.js";
import { type ContainerStatus, fail, ok, type RuntimeResult } from "../../runtime/types.js";
import { containerIdForLogs, containerLogs, parseContainerId } from "./container-logs.js";
import type { LogSink } from "./read-logs.js";

const dir = mkdtempSync(join(tmpdir(), "skiff-container-logs-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function status(cs: NonNullable<PodStatus["containerStatuses"]>[number]): PodStatus {
  return { containerStatuses: [cs] };
}
const base = { name: "app", image: "busybox", imageID: "", ready: false, restartCount: 0 };

describe("which instance's log (validateContainerLogStatus)", () => {
  const cases: { name: string; st: PodStatus | undefined; previous?: boolean; want: { id: string } | { error: string } }[] = [
    { name: "no status for the container", st: { containerStatuses: [] }, want: { error: 'container "app" in pod "web" is not available' } },
    { name: "running: the current one", st: status({ ...base, containerID: "sim://cur", state: { running: {} } }), want: { id: "sim://cur" } },
    {
      name: "creating",
      st: status({ ...base, state: { waiting: { reason: "ContainerCreating" } } }),
      want: { error: 'container "app" in pod "web" is waiting to start: ContainerCreating' },
    },
    {
      name: "image pull failing",
      st: status({ ...base, state: { waiting: { reason: "ErrImagePull" } } }),
      want: { error: `container "app" in pod "web" is waiting to start: image can't be pulled` },
    },
    {
      name: "image pull backing off",
      st: status({ ...base, state: { waiting: { reason: "ImagePullBackOff" } } }),
      want: { error: 'container "app" in pod "web" is waiting to start: trying and failing to pull image' },
    },
    {
      name: "crash looping: the last terminated one",
      st: status({ ...base, state: { waiting: { reason: "CrashLoopBackOff" } }, lastState: { terminated: { exitCode: 1, containerID: "sim://old" } } }),
      want: { id: "sim://old" },
    },
    {
      name: "previous without a terminated instance",
      st: status({ ...base, containerID: "sim://cur", state: { running: {} } }),
      previous: true,
      want: { error: 'previous terminated container "app" in pod "web" not found' },
    },
    {
      name: "previous: the last terminated instance",
      st: status({ ...base, containerID: "sim://cur", state: { running: {} }, lastState: { terminated: { exitCode: 2, containerID: "sim://old" } } }),
      previous: true,
      want: { id: "sim://old" },
    },
    {
      name: "terminated with its id",
      st: status({ ...base, state: { terminated: { exitCode: 0, containerID: "sim://done" } } }),
      want: { id: "sim://done" },
    },
    { name: "terminated without an id", st: status({ ...base, state: { terminated: { exitCode: 0 } } }), want: { error: 'container "app" in pod "web" is terminated' } },
    { name: "no state at all", st: status({ ...base, state: {} }), want: { error: 'container "app" in pod "web" is waiting to start - no logs yet' } },
  ];
  for (const c of cases) {
    test(c.name, () => assert.deepEqual(containerIdForLogs("web", c.st, "app", c.previous ?? false), c.want));
  }

  test("init containers are found too", () => {
    const st: PodStatus = { initContainerStatuses: [{ ...base, name: "init", containerID: "sim://i", state: { terminated: { exitCode: 0, containerID: "sim://i" } } }] };
    assert.deepEqual(containerIdForLogs("web", st, "init", false), { id: "sim://i" });
  });

  test("container ids parse as type://id", () => {
    assert.deepEqual(parseContainerId("runc://abc"), { type: "runc", id: "abc" });
    assert.equal(parseContainerId("abc"), 'invalid container ID: "abc"');
  });
});

describe("containerLogs", () => {
  const pod = (st: PodStatus): Pod => ({ metadata: { namespace: "ns", name: "web", uid: "u1" }, spec: { containers: [{ name: "app" }] }, status: st });
  const sink = (): LogSink & { text: string } => {
    const s = {
      text: "",
      async write(c: Buffer) {
        s.text += c.toString();
        return true;
      },
    };
    return s;
  };
  const runtime = (logPaths: Record<string, string>) => ({
    async containerStatus(id: string): Promise<RuntimeResult<ContainerStatus>> {
      if (!(id in logPaths)) return fail("NotFound", `container ${id} not found`);
      return ok({ state: "exited", logPath: logPaths[id]! } as ContainerStatus);
    },
  });
  const now = Date.now();

  test("reads the current instance's file; previous reads the last one's", async () => {
    const cur = join(dir, "cur.log");
    const old = join(dir, "old.log");
    writeFileSync(cur, "2024-01-01T00:00:00Z stdout F current\n");
    writeFileSync(old, "2024-01-01T00:00:00Z stdout F previous\n");
    const st = status({ ...base, containerID: "sim://cur", state: { running: {} }, lastState: { terminated: { exitCode: 1, containerID: "sim://old" } } });
    const rt = runtime({ cur, old });
    const a = sink();
    assert.deepEqual(await containerLogs({ pod: pod(st), containerName: "app", options: { follow: false, previous: false, timestamps: false, insecureSkipTLSVerifyBackend: false }, runtime: rt, sink: a, nowMs: now }), { ok: true });
    assert.equal(a.text, "current\n");
    const b = sink();
    assert.deepEqual(await containerLogs({ pod: pod(st), containerName: "app", options: { follow: false, previous: true, timestamps: false, insecureSkipTLSVerifyBackend: false }, runtime: rt, sink: b, nowMs: now }), { ok: true });
    assert.equal(b.text, "previous\n");
  });

  test("a relative log path is under the pod's log directory", async () => {
    mkdirSync(join(dir, "pods", "ns_web_u1", "app"), { recursive: true });
    writeFileSync(join(dir, "pods", "ns_web_u1", "app", "0.log"), "2024-01-01T00:00:00Z stderr F relative\n");
    const st = status({ ...base, containerID: "sim://r", state: { running: {} } });
    const a = sink();
    const r = await containerLogs({ pod: pod(st), containerName: "app", options: { follow: false, previous: false, timestamps: false, insecureSkipTLSVerifyBackend: false }, runtime: runtime({ r: "app/0.log" }), sink: a, nowMs: now, podLogsDir: join(dir, "pods") });
    assert.deepEqual(r, { ok: true });
    assert.equal(a.text, "relative\n");
  });

  test("an instance the runtime no longer has", async () => {
    const st = status({ ...base, containerID: "sim://gone", state: { running: {} } });
    const r = await containerLogs({ pod: pod(st), containerName: "app", options: { follow: false, previous: false, timestamps: false, insecureSkipTLSVerifyBackend: false }, runtime: runtime({}), sink: sink(), nowMs: now });
    assert.deepEqual(r, { ok: false, error: "unable to retrieve container logs for sim://gone" });
  });
});
