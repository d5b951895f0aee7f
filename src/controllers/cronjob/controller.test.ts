import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import type { CronJob, Job } from "kubernetes-types/batch/v1.js";
import { FakeTimers } from "../../client/timers.js";
import { notFound } from "../../machinery/status-error.js";
import { FakeListerWatcher, runningInformer, settle } from "../common/testing.js";
import { rfc3339 } from "../common/time.js";
import type { CronJobApi } from "./api.js";
import { CronJobController } from "./controller.js";
import { cronJob } from "./fixtures.js";

const stops: AbortController[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s.abort();
});

const T10 = Date.UTC(2024, 0, 1, 10);

async function harness(cj: CronJob, now: number) {
  const stop = new AbortController();
  stops.push(stop);
  const cronJobs = new FakeListerWatcher<CronJob>([cj]);
  const jobs = new FakeListerWatcher<Job>([]);
  const created: Job[] = [];
  const api: CronJobApi = {
    getCronJob: async (ns, name) => structuredClone(cronJobs.get(`${ns}/${name}`)!),
    updateCronJobStatus: async (c) => structuredClone(cronJobs.set(c)),
    getJob: async (ns, name) => {
      const j = jobs.get(`${ns}/${name}`);
      if (!j) throw notFound({ group: "batch", resource: "jobs" }, name);
      return j;
    },
    createJob: async (ns, job) => {
      const stored = jobs.set({ ...job, metadata: { ...job.metadata, namespace: ns, uid: `uid-${job.metadata?.name}` } });
      created.push(stored);
      return stored;
    },
    deleteJob: async () => {},
  };
  const timers = new FakeTimers(now);
  const controller = new CronJobController({
    cronJobInformer: await runningInformer(cronJobs, stop.signal),
    jobInformer: await runningInformer(jobs, stop.signal),
    api,
    recorder: { eventf: () => {} },
    timers,
  });
  return { controller, cronJobs, jobs, created, timers };
}

describe("CronJobController", () => {
  it("sleeps in the queue until the next schedule time, then starts the Job", async () => {
    const h = await harness(cronJob(), T10 - 5 * 60_000);
    assert.equal(h.controller.queue.len(), 1);
    await h.controller.processNextWorkItem();
    assert.equal(h.created.length, 0);
    // Due at 10:00:00.1.
    h.timers.advance(5 * 60_000 + 99);
    assert.equal(h.controller.queue.len(), 0);
    h.timers.advance(1);
    assert.equal(h.controller.queue.len(), 1);
    await h.controller.processNextWorkItem();
    assert.deepEqual(
      h.created.map((j) => j.metadata?.name),
      [`mycronjob-${T10 / 60_000}`],
    );
    await settle();
    assert.equal(h.cronJobs.get("default/mycronjob")?.status?.lastScheduleTime, rfc3339(T10));
  });

  it("a new schedule moves the wake-up to its next time", async () => {
    const cj = cronJob();
    cj.status = { lastScheduleTime: rfc3339(T10) };
    const h = await harness(cj, T10 + 60_000);
    await h.controller.processNextWorkItem();
    h.cronJobs.set({ ...cj, spec: { ...cj.spec!, schedule: "*/5 * * * *" } });
    await settle();
    // 10:05:00.1 is 4 min and 100 ms away.
    h.timers.advance(4 * 60_000 + 99);
    assert.equal(h.controller.queue.len(), 0);
    h.timers.advance(1);
    assert.equal(h.controller.queue.len(), 1);
  });
});
