/**
 * The Job, CronJob and TTL-after-finished controllers through a real
 * server, real kubectl and `skiff agent --runtime sim` nodes, whose
 * containers run `sh -c "sleep 1"` for a second and `sh -c "exit 3"` not at
 * all: Jobs run to completion (NonIndexed and Indexed) or fail at their
 * backoffLimit with upstream's conditions and events, a suspended Job
 * loses its pods, a CronJob that missed its schedule runs the latest time
 * at once, `kubectl create job --from=cronjob/…` works, and a finished Job
 * with ttlSecondsAfterFinished is deleted with its pods.
 *
 * The tests run concurrently: the failing Job spends ten seconds in
 * upstream's pod failure backoff while the others run.
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
import { eventually } from "./support/eventually.js";

const NS = "batch";
let server: TestServer;
let agent: ChildProcess | undefined;
let dir: string;

before(async () => {
  server = await startTestServer();
  dir = mkdtempSync(join(tmpdir(), "skiff-batch-"));
  const token = readFileSync(join(server.dataDir, "token"), "utf8").trim();
  agent = skiffBackground([
    "agent",
    "--server",
    `https://127.0.0.1:${server.port}`,
    "--token",
    token,
    "--runtime",
    "sim",
    "--simulate-nodes",
    "2",
    "--node-name",
    "sim",
    "--data-dir",
    join(dir, "agent"),
  ]);
  // A loaded machine can take a while to start two processes.
  await waitForLog(agent, /msg="nodes registered"/, 120_000);
  ok(server.kubectl(["create", "namespace", NS]), "create namespace");
});

after(async () => {
  if (agent) await stopProcess(agent);
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function kubectl(args: string[], input?: string): string {
  return ok(server.kubectl(["-n", NS, ...args], input === undefined ? {} : { input }), `kubectl ${args.join(" ")}`);
}

function getJob(name: string): Job | undefined {
  const r = server.kubectl(["-n", NS, "get", "job", name, "-o", "json"]);
  return r.status === 0 ? (JSON.parse(r.stdout) as Job) : undefined;
}

function jobPods(name: string): Pod[] {
  return (JSON.parse(kubectl(["get", "pods", "-l", `batch.kubernetes.io/job-name=${name}`, "-o", "json"])) as { items: Pod[] }).items;
}

/** `Type Reason: note` of the events about `kind/name`. */
function events(kind: string, name: string): string[] {
  const list = JSON.parse(kubectl(["get", "events", "--field-selector", `involvedObject.kind=${kind},involvedObject.name=${name}`, "-o", "json"])) as {
    items: { type: string; reason: string; message: string }[];
  };
  return list.items.map((e) => `${e.type} ${e.reason}: ${e.message}`);
}

function jobManifest(name: string, spec: Record<string, unknown>, script: string): string {
  return JSON.stringify({
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, namespace: NS },
    spec: {
      ...spec,
      template: { spec: { restartPolicy: "Never", containers: [{ name: "work", image: "busybox:1.36", command: ["sh", "-c", script] }] } },
    },
  });
}

const conditionsOf = (job: Job) => (job.status?.conditions ?? []).map((c) => [c.type, c.status, c.reason ?? "", c.message ?? ""]);

describe("batch controllers", { concurrency: true }, () => {
  it("runs a Job with completions 3 and parallelism 2 to completion", async () => {
    kubectl(["apply", "-f", "-"], jobManifest("three", { completions: 3, parallelism: 2 }, "sleep 1"));
    const job = await eventually("Job three Complete", () => {
      const j = getJob("three");
      return j?.status?.conditions?.some((c) => c.type === "Complete") ? j : undefined;
    });
    const uid = job.metadata!.uid!;
    // The API server generated the selector and labels.
    assert.deepEqual(job.spec?.selector, { matchLabels: { "batch.kubernetes.io/controller-uid": uid } });
    assert.equal(job.spec?.template.metadata?.labels?.["job-name"], "three");
    const s = job.status!;
    assert.equal(s.succeeded, 3);
    assert.equal(s.active, undefined);
    assert.equal(s.failed, undefined);
    assert.equal(s.ready, 0);
    assert.equal(s.terminating, 0);
    assert.deepEqual(s.uncountedTerminatedPods, {});
    assert.ok(s.startTime && s.completionTime);
    assert.deepEqual(conditionsOf(job), [
      ["SuccessCriteriaMet", "True", "CompletionsReached", "Reached expected number of succeeded pods"],
      ["Complete", "True", "CompletionsReached", "Reached expected number of succeeded pods"],
    ]);
    const pods = await eventually("three pods without the tracking finalizer", () => {
      const p = jobPods("three");
      return p.length === 3 && p.every((x) => !x.metadata?.finalizers?.includes("batch.kubernetes.io/job-tracking")) ? p : undefined;
    });
    for (const p of pods) {
      assert.equal(p.status?.phase, "Succeeded");
      assert.deepEqual(p.metadata?.ownerReferences, [{ apiVersion: "batch/v1", kind: "Job", name: "three", uid, controller: true, blockOwnerDeletion: true }]);
      for (const l of ["controller-uid", "batch.kubernetes.io/controller-uid"]) assert.equal(p.metadata?.labels?.[l], uid);
    }
    const ev = await eventually("the Job's events", () => {
      const e = events("Job", "three");
      return e.filter((x) => x.startsWith("Normal SuccessfulCreate: Created pod: three-")).length === 3 && e.includes("Normal Completed: Job completed") ? e : undefined;
    });
    assert.ok(!ev.some((e) => e.startsWith("Warning")), ev.join("\n"));
    const row = kubectl(["get", "job", "three", "--no-headers"]).trim().split(/\s+/);
    assert.deepEqual(row.slice(0, 3), ["three", "Complete", "3/3"]);
  });

  it("fails a Job at its backoffLimit after the pod failure backoff, with BackoffLimitExceeded", async () => {
    kubectl(["apply", "-f", "-"], jobManifest("crash", { backoffLimit: 1 }, "exit 3"));
    const job = await eventually("Job crash Failed", () => {
      const j = getJob("crash");
      return j?.status?.conditions?.some((c) => c.type === "Failed") ? j : undefined;
    });
    const msg = "Job has reached the specified backoff limit";
    assert.deepEqual(conditionsOf(job), [
      ["FailureTarget", "True", "BackoffLimitExceeded", msg],
      ["Failed", "True", "BackoffLimitExceeded", msg],
    ]);
    assert.equal(job.status?.failed, 2);
    assert.equal(job.status?.succeeded, undefined);
    assert.equal(job.status?.completionTime, undefined);
    const pods = jobPods("crash");
    assert.equal(pods.length, 2);
    for (const p of pods) {
      assert.equal(p.status?.phase, "Failed");
      assert.equal(p.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 3);
    }
    const ev = await eventually("the failure event", () => {
      const e = events("Job", "crash");
      return e.includes(`Warning BackoffLimitExceeded: ${msg}`) ? e : undefined;
    });
    assert.equal(ev.filter((e) => e.startsWith("Normal SuccessfulCreate")).length, 2);
    assert.equal(kubectl(["get", "job", "crash", "--no-headers"]).trim().split(/\s+/)[1], "Failed");
  });

  it("runs an Indexed Job: one pod per index, with its index, hostname and env", async () => {
    kubectl(["apply", "-f", "-"], jobManifest("indexed", { completions: 3, parallelism: 3, completionMode: "Indexed" }, "sleep 1"));
    const job = await eventually("Job indexed Complete", () => {
      const j = getJob("indexed");
      return j?.status?.conditions?.some((c) => c.type === "Complete") ? j : undefined;
    });
    assert.equal(job.status?.completedIndexes, "0-2");
    assert.equal(job.status?.succeeded, 3);
    const pods = jobPods("indexed");
    const seen = pods
      .map((p) => {
        const ix = p.metadata?.annotations?.["batch.kubernetes.io/job-completion-index"] ?? "";
        assert.equal(p.metadata?.labels?.["batch.kubernetes.io/job-completion-index"], ix);
        assert.equal(p.spec?.hostname, `indexed-${ix}`);
        assert.ok(p.metadata?.name?.startsWith(`indexed-${ix}-`), p.metadata?.name);
        const env = p.spec?.containers[0]?.env;
        assert.equal(env?.length, 1);
        assert.equal(env?.[0]?.name, "JOB_COMPLETION_INDEX");
        assert.equal(env?.[0]?.valueFrom?.fieldRef?.fieldPath, "metadata.labels['batch.kubernetes.io/job-completion-index']");
        return ix;
      })
      .sort();
    assert.deepEqual(seen, ["0", "1", "2"]);
  });

  it("deletes the pods of a suspended Job and marks it Suspended", async () => {
    kubectl(["apply", "-f", "-"], jobManifest("paused", { parallelism: 2, completions: 2 }, "sleep 3600"));
    await eventually("two running pods", () => (jobPods("paused").filter((p) => p.status?.phase === "Running").length === 2 ? true : undefined));
    kubectl(["patch", "job", "paused", "--type=merge", "-p", '{"spec":{"suspend":true}}']);
    const job = await eventually("Job paused Suspended with no pods left", () => {
      const j = getJob("paused");
      const suspended = j?.status?.conditions?.some((c) => c.type === "Suspended" && c.status === "True");
      return suspended && jobPods("paused").length === 0 ? j : undefined;
    });
    assert.equal(job.status?.active, undefined);
    assert.equal(job.status?.failed, undefined);
    assert.ok((await eventually("the Suspended event", () => events("Job", "paused"))).includes("Normal Suspended: Job suspended"));
    assert.equal(kubectl(["get", "job", "paused", "--no-headers"]).trim().split(/\s+/)[1], "Suspended");
  });

  it("a CronJob that missed its schedule runs the latest time at once; kubectl create job --from works", async () => {
    kubectl(["create", "cronjob", "tick", "--image=busybox:1.36", "--schedule=*/1 * * * *", "--", "sh", "-c", "sleep 2"]);
    // As if the controller had been away for three minutes: the last run is in the past.
    const past = new Date(Date.now() - 3 * 60_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    kubectl(["patch", "cronjob", "tick", "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { lastScheduleTime: past } })]);
    const job = await eventually("a Job of CronJob tick", () => {
      const list = JSON.parse(kubectl(["get", "jobs", "-o", "json"])) as { items: Job[] };
      return list.items.find((j) => j.metadata?.ownerReferences?.some((r) => r.kind === "CronJob" && r.name === "tick"));
    });
    const scheduled = job.metadata?.annotations?.["batch.kubernetes.io/cronjob-scheduled-timestamp"];
    assert.ok(scheduled, "the scheduled-timestamp annotation");
    const at = Date.parse(scheduled);
    assert.equal(at % 60_000, 0, "a minute boundary");
    assert.ok(at > Date.parse(past), "a time after the last run");
    assert.equal(job.metadata?.name, `tick-${at / 60_000}`);
    assert.equal(job.spec?.template.spec?.restartPolicy, "OnFailure");
    const cj = JSON.parse(kubectl(["get", "cronjob", "tick", "-o", "json"])) as CronJob;
    // Later if a minute went by meanwhile (that run is then the next Job).
    assert.ok(Date.parse(cj.status?.lastScheduleTime ?? "") >= at);
    assert.ok(events("CronJob", "tick").includes(`Normal SuccessfulCreate: Created job ${job.metadata?.name}`));

    // The run finishes: the CronJob notes it.
    await eventually("lastSuccessfulTime", () => {
      const c = JSON.parse(kubectl(["get", "cronjob", "tick", "-o", "json"])) as CronJob;
      return c.status?.lastSuccessfulTime && !c.status.active?.some((a) => a.uid === job.metadata?.uid) ? c : undefined;
    });
    await eventually("SawCompletedJob", () =>
      events("CronJob", "tick").includes(`Normal SawCompletedJob: Saw completed job: ${job.metadata?.name}, condition: Complete`) ? true : undefined,
    );

    // A run by hand, from the CronJob's template.
    kubectl(["create", "job", "tick-manual", "--from=cronjob/tick"]);
    const manual = await eventually("Job tick-manual Complete", () => {
      const j = getJob("tick-manual");
      return j?.status?.conditions?.some((c) => c.type === "Complete") ? j : undefined;
    });
    assert.equal(manual.metadata?.annotations?.["cronjob.kubernetes.io/instantiate"], "manual");
    assert.equal(manual.metadata?.ownerReferences?.[0]?.kind, "CronJob");
    await eventually("UnexpectedJob", () =>
      events("CronJob", "tick").includes("Warning UnexpectedJob: Saw a job that the controller did not create or forgot: tick-manual") ? true : undefined,
    );
  });

  it("deletes a finished Job with ttlSecondsAfterFinished, and its pods", async () => {
    kubectl(["apply", "-f", "-"], jobManifest("short-lived", { ttlSecondsAfterFinished: 1 }, "exit 0"));
    const uid = await eventually("Job short-lived created", () => getJob("short-lived")?.metadata?.uid);
    await eventually("Job short-lived gone", () => (getJob("short-lived") === undefined ? true : undefined));
    await eventually("its pods gone", () => {
      const pods = (JSON.parse(kubectl(["get", "pods", "-l", `batch.kubernetes.io/controller-uid=${uid}`, "-o", "json"])) as { items: Pod[] }).items;
      return pods.length === 0 ? true : undefined;
    });
  });
});
