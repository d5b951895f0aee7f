import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { rfc3339 } from "../common/time.js";
import { CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION } from "./constants.js";
import { activeRef, CronJobFixture, cronJob, jobOf } from "./fixtures.js";

const T10 = Date.UTC(2024, 0, 1, 10); // Mon, 01 Jan 2024 10:00:00 UTC: an hourly schedule time
const MIN = 60_000;
const H = 60 * MIN;

describe("CronJob sync: when to start a Job (upstream's TestControllerV2SyncCronJob)", () => {
  interface Case {
    readonly name: string;
    readonly now: number;
    readonly concurrencyPolicy?: string;
    readonly suspend?: boolean;
    readonly startingDeadlineSeconds?: number;
    readonly lastScheduleTime?: number;
    readonly activeJob?: boolean;
    readonly created?: number;
    readonly wantCreate: boolean;
    readonly wantDelete?: boolean;
    readonly wantRequeue: number | undefined;
    readonly wantEvents?: string[];
  }
  const cases: Case[] = [
    { name: "never ran, not time yet", now: T10 - MIN, wantCreate: false, wantRequeue: MIN + 100 },
    { name: "never ran, is time", now: T10 + 30_000, wantCreate: true, wantRequeue: H - 30_000 + 100 },
    { name: "never ran, is time, suspended", now: T10 + 30_000, suspend: true, wantCreate: false, wantRequeue: undefined },
    // The deadline moves the earliest time considered: a time past it is never even found.
    { name: "never ran, too late for the starting deadline", now: T10 + 30_000, startingDeadlineSeconds: 10, wantCreate: false, wantRequeue: H - 30_000 + 100 },
    { name: "never ran, within the starting deadline", now: T10 + 30_000, startingDeadlineSeconds: 60, wantCreate: true, wantRequeue: H - 30_000 + 100 },
    { name: "this time already ran", now: T10 + 30 * MIN, lastScheduleTime: T10, wantCreate: false, wantRequeue: 30 * MIN + 100 },
    { name: "prev ran and is still running, Allow: another one", now: T10 + 30_000, lastScheduleTime: T10 - H, activeJob: true, wantCreate: true, wantRequeue: H - 30_000 + 100 },
    {
      name: "prev ran and is still running, Forbid: none",
      now: T10 + 30_000,
      lastScheduleTime: T10 - H,
      activeJob: true,
      concurrencyPolicy: "Forbid",
      wantCreate: false,
      wantRequeue: H - 30_000 + 100,
      wantEvents: ["Normal JobAlreadyActive Not starting job because prior execution is running and concurrency policy is Forbid"],
    },
    {
      name: "prev ran and is still running, Replace: replaced",
      now: T10 + 30_000,
      lastScheduleTime: T10 - H,
      activeJob: true,
      concurrencyPolicy: "Replace",
      wantCreate: true,
      wantDelete: true,
      wantRequeue: H - 30_000 + 100,
    },
    {
      name: "many schedule times missed: the latest runs, with a warning",
      now: T10 + 30_000,
      created: T10 - 200 * H,
      wantCreate: true,
      wantRequeue: H - 30_000 + 100,
      wantEvents: ["Warning TooManyMissedTimes too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew"],
    },
    { name: "a few missed: the latest runs, no warning", now: T10 + 30_000, created: T10 - 5 * H, wantCreate: true, wantRequeue: H - 30_000 + 100 },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const cj = cronJob({ concurrencyPolicy: c.concurrencyPolicy, created: c.created });
      if (c.suspend) cj.spec!.suspend = true;
      if (c.startingDeadlineSeconds !== undefined) cj.spec!.startingDeadlineSeconds = c.startingDeadlineSeconds;
      const jobs = [];
      cj.status = {};
      if (c.lastScheduleTime !== undefined) cj.status.lastScheduleTime = rfc3339(c.lastScheduleTime);
      if (c.activeJob) {
        const running = jobOf(cj, c.lastScheduleTime!);
        jobs.push(running);
        cj.status.active = [activeRef(running)];
      }
      const f = new CronJobFixture(cj, jobs, c.now);
      const requeue = await f.sync();
      assert.equal(requeue, c.wantRequeue, "requeue");
      assert.equal(f.created.length, c.wantCreate ? 1 : 0, "created");
      assert.equal(f.deleted.length, c.wantDelete ? 1 : 0, "deleted");
      const events = f.events.filter((e) => !/SuccessfulCreate|SuccessfulDelete/.test(e));
      assert.deepEqual(events, c.wantEvents ?? []);
      if (c.wantCreate) {
        const job = f.created[0]!;
        assert.equal(job.metadata?.name, `mycronjob-${Math.floor(T10 / MIN)}`);
        assert.deepEqual(job.metadata?.labels, { a: "b" });
        assert.deepEqual(job.metadata?.annotations, { x: "y", [CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION]: "2024-01-01T10:00:00Z" });
        assert.deepEqual(job.metadata?.ownerReferences, [{ apiVersion: "batch/v1", kind: "CronJob", name: "mycronjob", uid: "1a2b3c", controller: true, blockOwnerDeletion: true }]);
        assert.deepEqual(job.spec, cj.spec?.jobTemplate.spec);
        const status = f.statusWrites.at(-1)!.status!;
        assert.equal(status.lastScheduleTime, "2024-01-01T10:00:00Z");
        assert.deepEqual(status.active?.at(-1), { ...activeRef(job), resourceVersion: "7" });
        assert.ok(f.events.includes(`Normal SuccessfulCreate Created job ${job.metadata?.name}`));
        if (c.activeJob && c.concurrencyPolicy === "Replace") assert.equal(status.active?.length, 1);
        if (c.activeJob && c.concurrencyPolicy !== "Replace") assert.equal(status.active?.length, 2);
      }
    });
  }

  it("does not start the same scheduled time twice when the Job already exists (a lost status write)", async () => {
    const cj = cronJob();
    const existing = jobOf(cj, T10);
    const f = new CronJobFixture(cj, [existing], T10 + 30_000);
    // The informer shows the Job only after the create was refused.
    await f.sync();
    assert.equal(f.created.length, 0);
    assert.deepEqual(f.cj.status?.active, [activeRef(existing)]);
    assert.equal(f.cj.status?.lastScheduleTime, "2024-01-01T10:00:00Z");
  });

  it("runs in the CronJob's time zone and stamps the scheduled time in it", async () => {
    const cj = cronJob({ schedule: "0 9 * * *" });
    cj.spec!.timeZone = "America/New_York";
    // 09:00 in New York is 14:00 UTC in January.
    const f = new CronJobFixture(cj, [], Date.UTC(2024, 0, 1, 14, 0, 30));
    await f.sync();
    assert.equal(f.created.length, 1);
    assert.equal(f.created[0]!.metadata?.annotations?.[CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION], "2024-01-01T09:00:00-05:00");
  });

  it("reports an unknown time zone and starts nothing", async () => {
    const cj = cronJob();
    cj.spec!.timeZone = "Mars/Olympus";
    const f = new CronJobFixture(cj, [], T10 + 30_000);
    assert.equal(await f.sync(), undefined);
    assert.deepEqual(f.events, ['Warning UnknownTimeZone invalid timeZone: "Mars/Olympus": unknown time zone Mars/Olympus']);
    assert.equal(f.created.length, 0);
  });

  it("reports an unparseable schedule and waits for a change", async () => {
    const cj = cronJob({ schedule: "every now and then" });
    const f = new CronJobFixture(cj, [], T10);
    assert.equal(await f.sync(), undefined);
    assert.deepEqual(f.events, ['Warning UnparseableSchedule unparseable schedule: "every now and then" : expected exactly 5 fields, found 4: [every now and then]']);
  });

  it("warns about TZ in the schedule but honours it", async () => {
    const cj = cronJob({ schedule: "TZ=Asia/Tokyo 0 19 * * *" });
    const f = new CronJobFixture(cj, [], T10 + 30_000);
    await f.sync();
    assert.equal(f.created.length, 1);
    assert.ok(f.events[0]!.startsWith('Warning UnsupportedSchedule CRON_TZ or TZ used in schedule "TZ=Asia/Tokyo 0 19 * * *" is not officially supported'));
  });
});

describe("CronJob sync: the active list and history", () => {
  it("drops a finished Job from the active list and records lastSuccessfulTime", async () => {
    const cj = cronJob();
    const done = jobOf(cj, T10, "Complete");
    cj.status = { active: [activeRef(done)], lastScheduleTime: rfc3339(T10) };
    const f = new CronJobFixture(cj, [done], T10 + 30 * MIN);
    await f.sync();
    assert.deepEqual(f.events, [`Normal SawCompletedJob Saw completed job: ${done.metadata!.name}, condition: Complete`]);
    const status = f.statusWrites.at(-1)!.status!;
    assert.equal(status.active, undefined);
    assert.equal(status.lastSuccessfulTime, done.status?.completionTime);
  });

  it("drops an active Job that no longer exists", async () => {
    const cj = cronJob();
    cj.status = { active: [{ kind: "Job", namespace: "default", name: "mycronjob-1", uid: "gone", apiVersion: "batch/v1" }], lastScheduleTime: rfc3339(T10) };
    const f = new CronJobFixture(cj, [], T10 + 30 * MIN);
    await f.sync();
    assert.deepEqual(f.events, ["Normal MissingJob Active job went missing: mycronjob-1"]);
    assert.equal(f.statusWrites.at(-1)!.status!.active, undefined);
  });

  it("warns about a running Job it owns but did not start (kubectl create job --from)", async () => {
    const cj = cronJob();
    cj.status = { lastScheduleTime: rfc3339(T10) };
    const manual = jobOf(cj, T10 + 5 * MIN);
    manual.metadata!.name = "mycronjob-manual";
    const f = new CronJobFixture(cj, [manual], T10 + 30 * MIN);
    await f.sync();
    assert.deepEqual(f.events, ["Warning UnexpectedJob Saw a job that the controller did not create or forgot: mycronjob-manual"]);
  });

  it("keeps successfulJobsHistoryLimit succeeded and failedJobsHistoryLimit failed Jobs, deleting the oldest", async () => {
    const cj = cronJob();
    cj.spec!.successfulJobsHistoryLimit = 3;
    cj.spec!.failedJobsHistoryLimit = 1;
    cj.status = { lastScheduleTime: rfc3339(T10) };
    const jobs = [5, 4, 3, 2, 1].map((h) => jobOf(cj, T10 - h * H, "Complete"));
    jobs.push(jobOf(cj, T10 - 7 * H, "Failed"), jobOf(cj, T10 - 6 * H, "Failed"));
    const f = new CronJobFixture(cj, jobs, T10 + 30 * MIN);
    await f.sync();
    const name = (h: number) => `mycronjob-${Math.floor((T10 - h * H) / MIN)}`;
    assert.deepEqual(f.deleted, [name(5), name(4), name(7)]);
    assert.ok(f.events.includes(`Normal SuccessfulDelete Deleted job ${name(5)}`));
  });

  it("only updates status while the CronJob is being deleted", async () => {
    const cj = cronJob();
    (cj.metadata as { deletionTimestamp?: string }).deletionTimestamp = rfc3339(T10);
    const f = new CronJobFixture(cj, [], T10 + 30_000);
    assert.equal(await f.sync(), undefined);
    assert.equal(f.created.length, 0);
  });
});
