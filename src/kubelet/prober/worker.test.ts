import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Container, ContainerStatus, Pod, PodStatus, Probe } from "kubernetes-types/core/v1.js";
import { FakeTimers } from "../../client/timers.js";
import { silentLogger } from "../../machinery/log.js";
import { fail, ok } from "../../runtime/types.js";
import { ProberManager } from "./manager.js";
import type { ProbeRun } from "./prober.js";
import type { ResultUpdate } from "./results.js";
import type { ProbeType } from "./types.js";

const UID = "u1";

function pod(container: Partial<Container>, extra: { restartPolicy?: string; deleted?: boolean } = {}): Pod {
  return {
    metadata: { name: "p", namespace: "ns", uid: UID, ...(extra.deleted ? { deletionTimestamp: "2026-01-01T00:00:00Z" } : {}) },
    spec: { containers: [{ name: "app", image: "img", ...container }], restartPolicy: extra.restartPolicy ?? "Always" },
  };
}

/** The prober manager over fake time, a scripted prober and a status the test sets. */
function harness(p: Pod, opts: { startedAt?: number; random?: () => number } = {}) {
  const timers = new FakeTimers();
  const t0 = timers.now();
  let status: PodStatus | undefined;
  const runs: { type: ProbeType; id: string; at: number }[] = [];
  const script: Record<string, ProbeRun[]> = { liveness: [], readiness: [], startup: [] };
  const fallback: Record<string, ProbeRun> = {
    liveness: { result: "success", errored: false },
    readiness: { result: "success", errored: false },
    startup: { result: "success", errored: false },
  };
  const updates: ResultUpdate[] = [];
  const startedAt = new Map<string, number>();
  const m = new ProberManager({
    runtime: {
      execSync: async () => fail("Unimplemented", "not used"),
      containerStatus: async (id: string) => {
        const at = startedAt.get(id);
        return at === undefined ? fail("NotFound", "no") : (ok({ startedAt: at } as never) as never);
      },
    },
    events: { emit() {} },
    timers,
    logger: silentLogger,
    podStatus: () => status,
    onUpdate: (u) => updates.push(u),
    random: opts.random ?? (() => 0),
    prober: {
      async probe(type, _pod, _status, _c, id) {
        runs.push({ type, id, at: timers.now() - t0 });
        return script[type]!.shift() ?? fallback[type]!;
      },
    },
  });
  const flush = async () => {
    for (let i = 0; i < 10; i++) await new Promise<void>((r) => setImmediate(r));
  };
  const advance = async (ms: number) => {
    for (let t = 0; t < ms; t += 100) {
      timers.advance(Math.min(100, ms - t));
      await flush();
    }
  };
  /** Sets the status of container `app` (running since `since` ms after t0, id `id`). */
  const setContainer = (cs: Partial<ContainerStatus> & { id?: string; since?: number; phase?: string }) => {
    const id = cs.id ?? "c1";
    const since = cs.since ?? 0;
    startedAt.set(id, t0 + since);
    const { id: _i, since: _s, phase, ...rest } = cs;
    status = {
      phase: phase ?? "Running",
      containerStatuses: [
        {
          name: "app",
          image: "img",
          imageID: "",
          ready: false,
          restartCount: 0,
          containerID: `sim://${id}`,
          state: { running: { startedAt: new Date(t0 + since).toISOString() } },
          started: true,
          ...rest,
        },
      ],
    };
  };
  m.addPod(p);
  return { m, timers, runs, script, fallback, updates, advance, flush, setContainer, t0, pod: p };
}

const probe = (p: Partial<Probe>): Probe => ({ periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3, exec: { command: ["true"] }, ...p });
const F: ProbeRun = { result: "failure", errored: false };
const S: ProbeRun = { result: "success", errored: false };

describe("probe workers (fake time)", () => {
  it("readiness: false until initialDelaySeconds passed and successThreshold successes came in a row", async () => {
    const p = pod({ readinessProbe: probe({ initialDelaySeconds: 15, successThreshold: 2, failureThreshold: 2 }) });
    const h = harness(p);
    h.setContainer({});
    const c = p.spec!.containers[0]!;
    await h.advance(100);
    assert.equal(h.m.ready(p, c, "c1"), false, "no result yet: not ready");
    assert.equal(h.runs.length, 0, "no probe during the initial delay, even when asked");
    await h.advance(10_000);
    assert.equal(h.runs.length, 0, "the tick at 10 s is still within the delay");
    await h.advance(10_000);
    assert.deepEqual(h.runs.map((r) => r.at), [20_000]);
    assert.equal(h.m.ready(p, c, "c1"), false, "one success is below successThreshold 2");
    await h.flush();
    assert.equal(h.runs.length, 2, "asking for readiness ran the probe at once");
    assert.equal(h.m.ready(p, c, "c1"), true);
    assert.deepEqual(
      h.updates.map((u) => `${u.type}:${u.result}`),
      ["readiness:failure", "readiness:success"],
    );
    // Two failures in a row turn it unready again; one is not enough.
    h.script.readiness!.push(F, S, F, F);
    await h.advance(10_000);
    assert.equal(h.m.result("readiness", "c1"), "success");
    await h.advance(20_000);
    assert.equal(h.m.result("readiness", "c1"), "success", "F S F: no two failures in a row");
    await h.advance(10_000);
    assert.equal(h.m.result("readiness", "c1"), "failure");
  });

  it("liveness: failureThreshold failures mark the container, then probing holds until a new container", async () => {
    const p = pod({ livenessProbe: probe({ periodSeconds: 5 }) });
    const h = harness(p);
    h.setContainer({});
    h.script.liveness!.push(F, F, F);
    await h.advance(100);
    assert.equal(h.m.result("liveness", "c1"), "success", "initial value");
    await h.advance(10_000);
    assert.equal(h.runs.length, 3);
    assert.equal(h.m.result("liveness", "c1"), "failure");
    await h.advance(30_000);
    assert.equal(h.runs.length, 3, "on hold: the failed container is not probed again");
    // The restarted container gets a fresh start.
    h.setContainer({ id: "c2", since: 40_100 });
    await h.advance(5_000);
    assert.equal(h.runs.length, 4);
    assert.equal(h.runs[3]!.id, "c2");
    assert.equal(h.m.result("liveness", "c1"), undefined, "the old container's result is dropped");
    assert.equal(h.m.result("liveness", "c2"), "success");
    assert.deepEqual(
      h.updates.map((u) => `${u.containerId}:${u.result}`),
      ["c1:success", "c1:failure", "c2:success"],
    );
  });

  it("startup gates liveness and readiness, and stops once the container started", async () => {
    const p = pod({ startupProbe: probe({ failureThreshold: 10 }), livenessProbe: probe({}), readinessProbe: probe({}) });
    const h = harness(p);
    h.setContainer({ started: false });
    h.script.startup!.push(F, F);
    const c = p.spec!.containers[0]!;
    await h.advance(100);
    assert.equal(h.m.started(p, c, "c1"), false, "a startup probe that has not passed");
    assert.deepEqual(h.runs.map((r) => r.type), ["startup"], "only the startup probe runs");
    await h.advance(20_000);
    assert.deepEqual(h.runs.map((r) => r.type), ["startup", "startup", "startup"]);
    assert.equal(h.m.started(p, c, "c1"), true);
    // The status now says started; liveness and readiness take over, startup is quiet.
    h.setContainer({ started: true });
    await h.advance(10_000);
    assert.deepEqual(h.runs.slice(3).map((r) => r.type).sort(), ["liveness", "readiness"]);
  });

  it("a failed startup probe marks the container for a restart and holds", async () => {
    const p = pod({ startupProbe: probe({ failureThreshold: 2, periodSeconds: 1 }) });
    const h = harness(p);
    h.setContainer({ started: false });
    h.script.startup!.push(F, F, F);
    await h.advance(3_000);
    assert.equal(h.m.result("startup", "c1"), "failure");
    assert.equal(h.runs.length, 2);
  });

  it("a probe that errored is thrown away", async () => {
    const p = pod({ livenessProbe: probe({ failureThreshold: 2 }) });
    const h = harness(p);
    h.setContainer({});
    h.script.liveness!.push(F, { result: "failure", errored: true }, S, F);
    await h.advance(35_000);
    assert.equal(h.runs.length, 4);
    assert.equal(h.m.result("liveness", "c1"), "success", "F (error) S F: never two failures in a row");
  });

  it("ends with the pod: terminal phase, a container that will not run again, deletion", async () => {
    const p1 = pod({ readinessProbe: probe({}) });
    const h1 = harness(p1);
    h1.setContainer({ phase: "Succeeded" });
    await h1.advance(100);
    assert.equal(h1.m.workerCount, 0);

    const p2 = pod({ readinessProbe: probe({}) }, { restartPolicy: "Never" });
    const h2 = harness(p2);
    h2.setContainer({ state: { terminated: { exitCode: 1 } } });
    await h2.advance(100);
    assert.equal(h2.m.workerCount, 0, "terminated under Never: done");
    assert.equal(h2.m.result("readiness", "c1"), undefined, "results go with the worker");

    const p3 = pod({ livenessProbe: probe({}), readinessProbe: probe({}) });
    const h3 = harness(p3);
    h3.setContainer({});
    await h3.advance(100);
    h3.script.liveness!.push(F, F, F);
    h3.m.updatePod(pod({ livenessProbe: probe({}), readinessProbe: probe({}) }, { deleted: true }));
    await h3.advance(30_000);
    assert.equal(h3.runs.filter((r) => r.type === "liveness").length, 1, "only the run before the deletion");
    assert.equal(h3.m.workerCount, 1, "the readiness worker keeps going while the pod terminates");
    h3.m.removePod(p3);
    assert.equal(h3.m.workerCount, 0);
    assert.equal(h3.timers.pendingCount, 0, "no timers left behind");
  });

  it("a freshly started kubelet spreads first runs over the period", async () => {
    const p = pod({ readinessProbe: probe({ periodSeconds: 10 }) });
    const h = harness(p, { random: () => 0.5 });
    h.setContainer({});
    await h.advance(4_900);
    assert.equal(h.runs.length, 0);
    await h.advance(200);
    assert.deepEqual(h.runs.map((r) => r.at), [5_000]);
    await h.advance(10_000);
    assert.deepEqual(h.runs.map((r) => r.at), [5_000, 15_000]);
    h.m.stop();
    assert.equal(h.timers.pendingCount, 0);
  });

  it("answers for containers without probes, and sidecars get workers too", () => {
    const p: Pod = {
      metadata: { name: "p", namespace: "ns", uid: UID },
      spec: {
        initContainers: [{ name: "side", image: "i", restartPolicy: "Always", readinessProbe: probe({}) }, { name: "init", image: "i", readinessProbe: probe({}) }],
        containers: [{ name: "app", image: "i" }],
      },
    };
    const h = harness(p);
    const app = p.spec!.containers[0]!;
    assert.equal(h.m.started(p, app, "x"), true);
    assert.equal(h.m.ready(p, app, "x"), true);
    assert.equal(h.m.workerCount, 1, "the sidecar's readiness; plain init containers are not probed");
    h.m.stop();
  });
});
