import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import type { Job } from "kubernetes-types/batch/v1.js";
import { FakeTimers } from "../../client/timers.js";
import { notFound } from "../../machinery/status-error.js";
import { FakeListerWatcher, runningInformer } from "../common/testing.js";
import { rfc3339 } from "../common/time.js";
import { type TtlApi, TtlAfterFinishedController } from "./controller.js";
import { timeLeft } from "./ttl.js";

const NOW = Date.UTC(2024, 0, 1, 12);
const stops: AbortController[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s.abort();
});

function job(name: string, opts: { ttl?: number; finishedAgoMs?: number; condition?: "Complete" | "Failed" } = {}): Job {
  const finished = opts.finishedAgoMs !== undefined;
  return {
    metadata: { name, namespace: "default", uid: `uid-${name}`, resourceVersion: "1" },
    spec: { template: {}, ...(opts.ttl !== undefined ? { ttlSecondsAfterFinished: opts.ttl } : {}) },
    status: finished
      ? { conditions: [{ type: opts.condition ?? "Complete", status: "True", lastTransitionTime: rfc3339(NOW - opts.finishedAgoMs!) }] }
      : { active: 1 },
  };
}

async function harness(jobs: Job[]) {
  const stop = new AbortController();
  stops.push(stop);
  const source = new FakeListerWatcher<Job>(jobs);
  const deletes: { name: string; uid: string }[] = [];
  const timers = new FakeTimers(NOW);
  const api: TtlApi = {
    getJob: async (ns, name) => {
      const j = source.get(`${ns}/${name}`);
      if (!j) throw notFound({ group: "batch", resource: "jobs" }, name);
      return j;
    },
    deleteJob: async (_ns, name, uid) => {
      deletes.push({ name, uid });
    },
  };
  const controller = new TtlAfterFinishedController({ jobInformer: await runningInformer(source, stop.signal), api, timers });
  return { controller, source, deletes, timers, api };
}

describe("TTL after finished (upstream's TestTimeLeft, processJob)", () => {
  const cases: { name: string; job: Job; remaining?: number; throws?: RegExp }[] = [
    { name: "not finished", job: job("a", { ttl: 10 }), throws: /should not be cleaned up/ },
    { name: "no TTL", job: job("b", { finishedAgoMs: 1000 }), throws: /should not be cleaned up/ },
    { name: "TTL not expired", job: job("c", { ttl: 10, finishedAgoMs: 4000 }), remaining: 6000 },
    { name: "TTL expired", job: job("d", { ttl: 10, finishedAgoMs: 15_000 }), remaining: -5000 },
    { name: "TTL 0, failed", job: job("e", { ttl: 0, finishedAgoMs: 0, condition: "Failed" }), remaining: 0 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      if (c.throws) assert.throws(() => timeLeft(c.job, NOW), c.throws);
      else assert.equal(timeLeft(c.job, NOW).remainingMs, c.remaining);
    });
  }

  it("deletes an expired Job in the foreground, preconditioned on its uid", async () => {
    const h = await harness([job("old", { ttl: 5, finishedAgoMs: 10_000 })]);
    assert.equal(h.controller.queue.len(), 1);
    await h.controller.processNextWorkItem();
    assert.deepEqual(h.deletes, [{ name: "old", uid: "uid-old" }]);
  });

  it("waits for the TTL, then deletes", async () => {
    const h = await harness([job("young", { ttl: 60, finishedAgoMs: 20_000 })]);
    await h.controller.processNextWorkItem();
    assert.deepEqual(h.deletes, []);
    h.timers.advance(39_999);
    assert.equal(h.controller.queue.len(), 0);
    h.timers.advance(1);
    await h.controller.processNextWorkItem();
    assert.deepEqual(h.deletes, [{ name: "young", uid: "uid-young" }]);
  });

  it("ignores unfinished Jobs and Jobs without a TTL", async () => {
    const h = await harness([job("running", { ttl: 5 }), job("kept", { finishedAgoMs: 3600_000 })]);
    assert.equal(h.controller.queue.len(), 0);
  });

  it("re-reads the Job before deleting: a longer TTL set meanwhile wins", async () => {
    const cached = job("changed", { ttl: 5, finishedAgoMs: 10_000 });
    const h = await harness([cached]);
    // The live Job has a longer TTL than the cache shows.
    const live = job("changed", { ttl: 600, finishedAgoMs: 10_000 });
    h.api.getJob = async () => live;
    await h.controller.processNextWorkItem();
    assert.deepEqual(h.deletes, []);
  });
});
