/**
 * Issue 6, "a CronJob firing every minute": a real server (scheduler and
 * controller manager) and simulated nodes running the Jobs' pods. A CronJob
 * on `* * * * *` fires at two consecutive minute boundaries on its own
 * schedule (no status patched, nothing created by hand): each run is a Job
 * named `<cronjob>-<minutes since the epoch>`, annotated with its scheduled
 * time, run to completion on a node; the CronJob reports lastScheduleTime
 * and lastSuccessfulTime, its SuccessfulCreate / SawCompletedJob events, and
 * keeps only successfulJobsHistoryLimit finished Jobs.
 *
 * It waits for real minutes (up to about two and a half): the schedule is
 * the wall clock's, as upstream's, with no setting to shorten it.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { CronJob, Job } from "kubernetes-types/batch/v1.js";
import type { Pod } from "kubernetes-types/core/v1.js";
import { ok, startTestServer, type TestServer } from "./support/cluster.js";
import { skiffBackground, stopProcess, waitForLog } from "./support/skiff.js";

const NS = "cron-every-minute";
const SCHEDULED = "batch.kubernetes.io/cronjob-scheduled-timestamp";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("a CronJob firing every minute", () => {
  let server: TestServer;
  let dir: string;
  let agent: ChildProcess | undefined;

  const kubectl = (args: string[], input?: string) => ok(server.kubectl(["-n", NS, ...args], input === undefined ? {} : { input }), `kubectl ${args.join(" ")}`);
  const getJson = <T>(args: string[]): T => JSON.parse(kubectl([...args, "-o", "json"])) as T;
  const jobsOf = () =>
    getJson<{ items: Job[] }>(["get", "jobs"])
      .items.filter((j) => j.metadata?.ownerReferences?.some((o) => o.kind === "CronJob" && o.name === "tick" && o.controller))
      .sort((a, b) => Date.parse(a.metadata!.annotations![SCHEDULED]!) - Date.parse(b.metadata!.annotations![SCHEDULED]!));
  const events = () =>
    getJson<{ items: { reason?: string; message?: string; involvedObject?: { kind?: string; name?: string } }[] }>(["get", "events"])
      .items.filter((e) => e.involvedObject?.kind === "CronJob" && e.involvedObject.name === "tick")
      .map((e) => `${e.reason}: ${e.message}`);
  const complete = (j: Job) => !!j.status?.conditions?.some((c) => c.type === "Complete" && c.status === "True");

  async function eventually<T>(what: string, fn: () => T | undefined, ms: number): Promise<T> {
    const end = Date.now() + ms;
    let last: unknown;
    while (Date.now() < end) {
      try {
        const v = fn();
        if (v !== undefined) return v;
      } catch (err) {
        last = err;
      }
      await sleep(500);
    }
    throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "skiff-cron-minute-"));
    server = await startTestServer();
    agent = skiffBackground([
      "agent",
      "--server",
      `https://127.0.0.1:${server.port}`,
      "--token",
      readFileSync(join(server.dataDir, "token"), "utf8").trim(),
      "--runtime",
      "sim",
      "--simulate-nodes",
      "2",
      "--node-name",
      "cron",
      "--data-dir",
      join(dir, "agent"),
    ]);
    await waitForLog(agent, /msg="nodes registered"/);
    ok(server.kubectl(["create", "namespace", NS]), "create namespace");
  });

  after(async () => {
    if (agent) await stopProcess(agent);
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs a Job at two consecutive minutes, each to completion, keeping one finished Job", async () => {
    kubectl(
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "batch/v1",
        kind: "CronJob",
        metadata: { name: "tick", namespace: NS },
        spec: {
          schedule: "* * * * *",
          successfulJobsHistoryLimit: 1,
          jobTemplate: {
            spec: {
              template: {
                spec: {
                  restartPolicy: "OnFailure",
                  // The simulated runtime runs this script for its sleeps' length, then exits with its status (0).
                  containers: [{ name: "tick", image: "busybox:1.36", command: ["sh", "-c", "echo tick; sleep 2"] }],
                },
              },
            },
          },
        },
      }),
    );

    const createdAt = Date.parse(getJson<CronJob>(["get", "cronjob", "tick"]).metadata!.creationTimestamp!);
    // The first boundary is at most a minute away, the second a minute later; a loaded machine gets some slack.
    // With the history limit of 1 the first Job may be gone once the second completed: each Job's last state seen is kept.
    const seen = new Map<string, Job>();
    const [first, second] = await eventually(
      "two Jobs of CronJob tick, the second Complete",
      () => {
        for (const j of jobsOf()) seen.set(j.metadata!.name!, j);
        const runs = [...seen.values()].sort((a, b) => Date.parse(a.metadata!.annotations![SCHEDULED]!) - Date.parse(b.metadata!.annotations![SCHEDULED]!));
        return runs.length >= 2 && complete(runs[1]!) ? runs : undefined;
      },
      170_000,
    );
    const at1 = Date.parse(first!.metadata!.annotations![SCHEDULED]!);
    const at2 = Date.parse(second!.metadata!.annotations![SCHEDULED]!);
    assert.equal(at1 % 60_000, 0, "on a minute boundary");
    // The first time after the CronJob was created: nothing before it counts as missed.
    assert.ok(at1 > createdAt && at1 - createdAt <= 60_000, `first run at ${new Date(at1).toISOString()} for a CronJob created at ${new Date(createdAt).toISOString()}`);
    assert.equal(at2 - at1, 60_000, "the next minute");
    assert.equal(first!.metadata?.name, `tick-${at1 / 60_000}`);
    assert.equal(second!.metadata?.name, `tick-${at2 / 60_000}`);
    for (const j of [first!, second!]) {
      // Created at (not before) its scheduled time.
      assert.ok(Date.parse(j.metadata!.creationTimestamp!) >= Date.parse(j.metadata!.annotations![SCHEDULED]!), `${j.metadata?.name} created before its time`);
      assert.equal(j.spec?.template.spec?.containers[0]?.command?.join(" "), "sh -c echo tick; sleep 2");
    }

    // The second run went through a node: its pod Succeeded there.
    const pods = getJson<{ items: Pod[] }>(["get", "pods", "-l", `batch.kubernetes.io/job-name=${second!.metadata!.name}`]).items;
    assert.ok(pods.some((p) => p.status?.phase === "Succeeded" && /^cron-[01]$/.test(p.spec?.nodeName ?? "")), "a Succeeded pod on a simulated node");

    const cj = await eventually(
      "the CronJob's status after the second run",
      () => {
        const c = getJson<CronJob>(["get", "cronjob", "tick"]);
        const s = c.status;
        return s?.lastScheduleTime && Date.parse(s.lastScheduleTime) >= at2 && s.lastSuccessfulTime && !s.active?.length ? c : undefined;
      },
      30_000,
    );
    assert.ok(Date.parse(cj.status!.lastSuccessfulTime!) >= at2);

    // successfulJobsHistoryLimit 1: the first run's Job is removed, the second kept.
    await eventually("only the second Job kept", () => {
      const names = jobsOf().map((j) => j.metadata?.name);
      return names.includes(second!.metadata!.name) && !names.includes(first!.metadata!.name) ? true : undefined;
    }, 30_000);

    const ev = await eventually(
      "the CronJob's events for both runs",
      () => {
        const e = events();
        const want = [
          `SuccessfulCreate: Created job ${first!.metadata!.name}`,
          `SuccessfulCreate: Created job ${second!.metadata!.name}`,
          `SawCompletedJob: Saw completed job: ${second!.metadata!.name}, condition: Complete`,
          `SuccessfulDelete: Deleted job ${first!.metadata!.name}`,
        ];
        return want.every((w) => e.includes(w)) ? e : undefined;
      },
      30_000,
    );
    assert.ok(!ev.some((e) => e.startsWith("UnexpectedJob") || e.startsWith("MissSchedule")), ev.join("\n"));
  });
});
