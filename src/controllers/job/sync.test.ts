import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import type { Job } from "kubernetes-types/batch/v1.js";
import type { Pod } from "kubernetes-types/core/v1.js";
import { rfc3339 } from "../common/time.js";
import { COMPLETION_INDEX_ENV_NAME, JOB_COMPLETION_INDEX_ANNOTATION, JOB_INDEX_FAILURE_COUNT_ANNOTATION, JOB_TRACKING_FINALIZER } from "./constants.js";
import { type JobHarness, jobHarness, NOW, newJob, newPod } from "./fixtures.js";

const harnesses: JobHarness[] = [];
afterEach(() => {
  for (const h of harnesses.splice(0)) h.stop();
});

async function run(job: Job, pods: Pod[], opts: Parameters<typeof jobHarness>[2] = {}): Promise<JobHarness> {
  const h = await jobHarness([job], pods, opts);
  harnesses.push(h);
  await h.sync();
  return h;
}

function condition(h: JobHarness, type: string) {
  return h.lastStatus()?.conditions?.find((c) => c.type === type);
}

/** Pods `prefix-0..n-1` of `job` in `phase`. */
function pods(job: Job, phase: string, n: number, prefix = phase.toLowerCase(), opts: Parameters<typeof newPod>[3] = {}): Pod[] {
  return Array.from({ length: n }, (_, i) => newPod(`${prefix}-${i}`, job, phase, opts));
}

interface Case {
  readonly name: string;
  readonly job: () => Job;
  readonly pods?: (job: Job) => Pod[];
  readonly creates: number;
  readonly deletes: number;
  readonly active: number;
  readonly succeeded?: number;
  readonly failed?: number;
  readonly ready?: number;
  readonly terminating?: number;
}

describe("syncJob: creating and deleting pods (upstream's TestControllerSyncJob)", () => {
  const cases: Case[] = [
    { name: "job start", job: () => newJob(2, 5), creates: 2, deletes: 0, active: 2, ready: 0, terminating: 0 },
    { name: "work-queue job start (no completions)", job: () => newJob(2, undefined), creates: 2, deletes: 0, active: 2 },
    { name: "pending pods", job: () => newJob(2, 5), pods: (j) => pods(j, "Pending", 2), creates: 0, deletes: 0, active: 2, ready: 0 },
    { name: "correct number of pods", job: () => newJob(2, 5), pods: (j) => pods(j, "Running", 2), creates: 0, deletes: 0, active: 2, ready: 2 },
    { name: "too few active pods", job: () => newJob(2, 5), pods: (j) => pods(j, "Running", 1), creates: 1, deletes: 0, active: 2, ready: 1 },
    { name: "too many active pods", job: () => newJob(2, 5), pods: (j) => pods(j, "Running", 3), creates: 0, deletes: 1, active: 2, ready: 2, terminating: 1 },
    { name: "never more active pods than remaining completions", job: () => newJob(3, 5), pods: (j) => pods(j, "Succeeded", 4), creates: 1, deletes: 0, active: 1, succeeded: 4 },
    {
      name: "work-queue job: once one succeeded, running pods are left alone",
      job: () => newJob(3, undefined),
      pods: (j) => [...pods(j, "Succeeded", 1), ...pods(j, "Running", 1)],
      creates: 0,
      deletes: 0,
      active: 1,
      succeeded: 1,
    },
    {
      name: "failed pods are replaced and counted",
      job: () => newJob(2, 5),
      pods: (j) => [...pods(j, "Failed", 1, "failed", { finishedAt: NOW - 3600_000 }), ...pods(j, "Running", 1)],
      creates: 1,
      deletes: 0,
      active: 2,
      failed: 1,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const job = c.job();
      const h = await run(job, c.pods?.(job) ?? []);
      assert.equal(h.podControl.creates.length, c.creates, "creates");
      assert.equal(h.podControl.deletes.length, c.deletes, "deletes");
      const s = h.lastStatus();
      assert.ok(s, "a status was written");
      assert.equal(s.active ?? 0, c.active, "active");
      assert.equal(s.succeeded ?? 0, c.succeeded ?? 0, "succeeded");
      assert.equal(s.failed ?? 0, c.failed ?? 0, "failed");
      if (c.ready !== undefined) assert.equal(s.ready, c.ready, "ready");
      if (c.terminating !== undefined) assert.equal(s.terminating, c.terminating, "terminating");
      assert.deepEqual(s.uncountedTerminatedPods, {});
      assert.equal(s.startTime, rfc3339(NOW));
    });
  }

  it("creates pods with the tracking finalizer and a controllerRef to the Job", async () => {
    const job = newJob(1, 1);
    const h = await run(job, []);
    const create = h.podControl.creates[0]!;
    assert.deepEqual(create.template?.metadata?.finalizers, [JOB_TRACKING_FINALIZER]);
    assert.deepEqual(create.controllerRef, { apiVersion: "batch/v1", kind: "Job", name: "foobar", uid: job.metadata!.uid, controller: true, blockOwnerDeletion: true });
    assert.equal(create.generateName, "");
    // The Job's own template is untouched.
    assert.equal(job.spec?.template.metadata?.finalizers, undefined);
  });

  it("waits for its creations to be observed before creating more (expectations)", async () => {
    const h = await run(newJob(2, 5), []);
    assert.equal(h.podControl.creates.length, 2);
    h.podControl.clear();
    await h.sync();
    assert.equal(h.podControl.creates.length, 0);
    h.controller.expectations.creationObserved("default/foobar");
    h.controller.expectations.creationObserved("default/foobar");
    await h.sync();
    assert.equal(h.podControl.creates.length, 2);
  });

  it("does nothing for a Job managed by another controller", async () => {
    const job = newJob(2, 5);
    job.spec!.managedBy = "example.com/batch";
    const h = await run(job, []);
    assert.equal(h.podControl.creates.length, 0);
    assert.equal(h.statusWrites.length, 0);
  });

  it("adopts a matching orphan, adding the controllerRef and the tracking finalizer", async () => {
    const job = newJob(1, 1);
    const orphan = newPod("orphan", job, "Running", { tracked: false });
    delete orphan.metadata!.ownerReferences;
    const h = await run(job, [orphan]);
    assert.equal(h.podControl.creates.length, 0);
    const patch = h.podControl.patches[0]!.patch as { metadata: { ownerReferences: { uid: string }[]; finalizers: string[] } };
    assert.equal(patch.metadata.ownerReferences[0]!.uid, job.metadata!.uid);
    assert.deepEqual(patch.metadata.finalizers, [JOB_TRACKING_FINALIZER]);
  });
});

describe("syncJob: finalizer tracking and completion", () => {
  it("records a succeeded pod as uncounted, removes its finalizer, then counts it", async () => {
    const job = newJob(2, 5);
    const done = newPod("done", job, "Succeeded");
    const h = await run(job, [done, newPod("running", job, "Running")]);
    // First write: the uid in uncountedTerminatedPods; last write: counted.
    assert.deepEqual(h.statusWrites[0]!.status?.uncountedTerminatedPods, { succeeded: [done.metadata!.uid] });
    assert.deepEqual(h.podControl.patches.map((p) => p.name), ["done"]);
    assert.deepEqual(h.podControl.patches[0]!.patch, { metadata: { "$deleteFromPrimitiveList/finalizers": [JOB_TRACKING_FINALIZER] } });
    const s = h.lastStatus()!;
    assert.equal(s.succeeded, 1);
    assert.deepEqual(s.uncountedTerminatedPods, {});
    assert.equal(h.podControl.creates.length, 1);
  });

  it("does not count again a pod whose finalizer removal is not observed yet", async () => {
    const job = newJob(1, 3);
    const done = newPod("done", job, "Succeeded");
    const h = await run(job, [done]);
    assert.equal(h.lastStatus()!.succeeded, 1);
    const writes = h.statusWrites.length;
    // The informer still shows the finalizer: the pod is expected without it, so no recount.
    await h.sync();
    assert.equal(h.lastStatus()!.succeeded, 1);
    assert.ok(h.statusWrites.length - writes <= 1);
  });

  it("completes a Job: SuccessCriteriaMet, then Complete with completionTime, and a Completed event", async () => {
    const job = newJob(2, 2);
    const h = await run(job, pods(job, "Succeeded", 2));
    const s = h.lastStatus()!;
    assert.equal(s.succeeded, 2);
    assert.equal(s.active ?? 0, 0);
    const types = s.conditions?.map((c) => [c.type, c.status, c.reason, c.message]);
    assert.deepEqual(types, [
      ["SuccessCriteriaMet", "True", "CompletionsReached", "Reached expected number of succeeded pods"],
      ["Complete", "True", "CompletionsReached", "Reached expected number of succeeded pods"],
    ]);
    assert.equal(s.completionTime, rfc3339(NOW));
    assert.deepEqual(h.recorder.lines(), ["Normal Completed: Job completed"]);
    assert.deepEqual(h.podControl.creates, []);
  });

  it("fails a Job past backoffLimit: FailureTarget, then Failed, and a BackoffLimitExceeded warning", async () => {
    const job = newJob(1, 1, 1);
    const h = await run(job, pods(job, "Failed", 2));
    const s = h.lastStatus()!;
    assert.equal(s.failed, 2);
    assert.deepEqual(
      s.conditions?.map((c) => [c.type, c.status, c.reason, c.message]),
      [
        ["FailureTarget", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit"],
        ["Failed", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit"],
      ],
    );
    assert.equal(s.completionTime, undefined);
    assert.deepEqual(h.recorder.lines(), ["Warning BackoffLimitExceeded: Job has reached the specified backoff limit"]);
    assert.equal(h.podControl.creates.length, 0);
  });

  it("with restartPolicy OnFailure counts container restarts against backoffLimit and keeps Failed until the pod is gone", async () => {
    const job = newJob(1, 1, 2);
    job.spec!.template.spec!.restartPolicy = "OnFailure";
    const pod = newPod("crashing", job, "Running");
    pod.status!.containerStatuses = [{ name: "main", image: "foo/bar", imageID: "", ready: false, restartCount: 2, state: { waiting: { reason: "CrashLoopBackOff" } } }];
    const h = await run(job, [pod]);
    assert.deepEqual(h.podControl.deletes, ["default/crashing"]);
    const s = h.lastStatus()!;
    assert.deepEqual(s.conditions?.map((c) => [c.type, c.reason]), [["FailureTarget", "BackoffLimitExceeded"]]);
    // The deleted pod is terminating: Failed waits for it.
    assert.equal(s.terminating, 1);
    assert.equal(s.failed, 1);
  });

  it("fails a Job past activeDeadlineSeconds with DeadlineExceeded", async () => {
    const job = newJob(1, 1);
    job.spec!.activeDeadlineSeconds = 10;
    job.status = { startTime: rfc3339(NOW - 20_000) };
    const h = await run(job, []);
    const s = h.lastStatus()!;
    assert.deepEqual(
      s.conditions?.map((c) => [c.type, c.reason, c.message]),
      [
        ["FailureTarget", "DeadlineExceeded", "Job was active longer than specified deadline"],
        ["Failed", "DeadlineExceeded", "Job was active longer than specified deadline"],
      ],
    );
    assert.deepEqual(h.recorder.lines(), ["Warning DeadlineExceeded: Job was active longer than specified deadline"]);
  });

  it("syncs again when activeDeadlineSeconds will pass", async () => {
    const job = newJob(1, 1);
    job.spec!.activeDeadlineSeconds = 10;
    job.status = { startTime: rfc3339(NOW - 4000) };
    const h = await run(job, [newPod("running", job, "Running")]);
    assert.equal(condition(h, "Failed"), undefined);
    // The status write wakes the Job a second later; that sync (as every sync) queues the deadline again.
    h.timers.advance(1000);
    assert.deepEqual(await h.drain(), ["default/foobar"]);
    await h.sync();
    h.timers.advance(4999);
    assert.equal(h.controller.queue.len(), 0);
    h.timers.advance(1);
    assert.deepEqual(await h.drain(), ["default/foobar"]);
  });
});

describe("syncJob: suspend and resume", () => {
  it("deletes the active pods of a suspended Job and reports Suspended", async () => {
    const job = newJob(2, 5);
    job.spec!.suspend = true;
    job.status = { startTime: rfc3339(NOW - 60_000), active: 2 };
    const h = await run(job, pods(job, "Running", 2));
    assert.equal(h.podControl.deletes.length, 2);
    // deleteJobPods removes the finalizer first: these pods are not failures.
    assert.equal(h.podControl.patches.length, 2);
    const s = h.lastStatus()!;
    assert.equal(s.active ?? 0, 0);
    assert.equal(s.terminating, 2);
    assert.equal(s.failed ?? 0, 0);
    const c = condition(h, "Suspended")!;
    assert.deepEqual([c.status, c.reason, c.message], ["True", "JobSuspended", "Job suspended"]);
    assert.deepEqual(h.recorder.lines(), ["Normal Suspended: Job suspended"]);
  });

  it("does not start the clock of a Job created suspended", async () => {
    const job = newJob(2, 5);
    job.spec!.suspend = true;
    const h = await run(job, []);
    assert.equal(h.lastStatus()?.startTime, undefined);
    assert.equal(h.podControl.creates.length, 0);
  });

  it("resumes: Suspended False, startTime reset, pods created", async () => {
    const job = newJob(2, 5);
    job.status = {
      startTime: rfc3339(NOW - 3600_000),
      conditions: [{ type: "Suspended", status: "True", reason: "JobSuspended", message: "Job suspended", lastProbeTime: rfc3339(NOW - 60_000), lastTransitionTime: rfc3339(NOW - 60_000) }],
    };
    const h = await run(job, []);
    const c = condition(h, "Suspended")!;
    assert.deepEqual([c.status, c.reason, c.message], ["False", "JobResumed", "Job resumed"]);
    assert.equal(h.lastStatus()!.startTime, rfc3339(NOW));
    assert.equal(h.podControl.creates.length, 2);
    assert.deepEqual(h.recorder.lines(), ["Normal Resumed: Job resumed"]);
  });
});

describe("syncJob: pod failure backoff", () => {
  it("delays the replacement of a failed pod by 10 s, then 20 s after another failure", async () => {
    const job = newJob(1, 1, 6);
    const failed = newPod("failed-0", job, "Failed", { finishedAt: NOW - 2000 });
    const h = await run(job, [failed]);
    assert.equal(h.podControl.creates.length, 0);
    assert.equal(h.lastStatus()!.failed, 1);
    assert.equal(h.controller.backoffStore.get("default/foobar")?.failuresAfterLastSuccess, 1);
    // The status write wakes the Job a second later, still in backoff: it waits the 7 s left.
    h.timers.advance(1000);
    assert.deepEqual(await h.drain(), ["default/foobar"]);
    await h.sync();
    assert.equal(h.podControl.creates.length, 0);
    h.timers.advance(6999);
    assert.equal(h.controller.queue.len(), 0);
    h.timers.advance(1);
    assert.deepEqual(await h.drain(), ["default/foobar"]);
    await h.sync();
    assert.equal(h.podControl.creates.length, 1);

    // A second failure: 20 s from its finish.
    const second = newPod("failed-1", job, "Failed", { finishedAt: h.timers.now() });
    h.pods.set(second);
    h.controller.expectations.creationObserved("default/foobar");
    h.podControl.clear();
    await h.sync();
    assert.equal(h.podControl.creates.length, 0);
    assert.equal(h.controller.backoffStore.get("default/foobar")?.failuresAfterLastSuccess, 2);
    h.timers.advance(1000);
    assert.deepEqual(await h.drain(), ["default/foobar"]);
    await h.sync();
    assert.equal(h.podControl.creates.length, 0);
    h.timers.advance(18_999);
    assert.equal(h.controller.queue.len(), 0);
    h.timers.advance(1);
    assert.deepEqual(await h.drain(), ["default/foobar"]);
  });

  it("takes the delays from the controller's timings", async () => {
    const job = newJob(1, 1, 6);
    const h = await run(job, [newPod("failed-0", job, "Failed", { finishedAt: NOW })], { timings: { podFailureBackoffMs: 2000, syncBatchPeriodMs: 100 } });
    assert.equal(h.podControl.creates.length, 0);
    h.timers.advance(100);
    assert.deepEqual(await h.drain(), ["default/foobar"]);
    await h.sync();
    h.timers.advance(1899);
    assert.equal(h.controller.queue.len(), 0);
    h.timers.advance(1);
    assert.deepEqual(await h.drain(), ["default/foobar"]);
    await h.sync();
    assert.equal(h.podControl.creates.length, 1);
  });
});

describe("syncJob: pod failure policy", () => {
  function withPolicy(action: string): Job {
    const job = newJob(1, 1, 6);
    job.spec!.podReplacementPolicy = "Failed";
    job.spec!.podFailurePolicy = { rules: [{ action, onExitCodes: { containerName: "main", operator: "In", values: [42] } }] };
    return job;
  }

  it("FailJob on a matching exit code fails the Job with the rule's message", async () => {
    const job = withPolicy("FailJob");
    const pod = newPod("bad", job, "Failed", { exitCode: 42 });
    const h = await run(job, [pod]);
    const note = "Container main for pod default/bad failed with exit code 42 matching FailJob rule at index 0";
    assert.deepEqual(
      h.lastStatus()!.conditions?.map((c) => [c.type, c.reason, c.message]),
      [
        ["FailureTarget", "PodFailurePolicy", note],
        ["Failed", "PodFailurePolicy", note],
      ],
    );
    assert.deepEqual(h.recorder.lines(), [`Warning PodFailurePolicy: ${note}`]);
  });

  it("Ignore does not count the failure, and the pod is replaced at once", async () => {
    const job = withPolicy("Ignore");
    const h = await run(job, [newPod("bad", job, "Failed", { exitCode: 42 })]);
    assert.equal(h.lastStatus()!.failed ?? 0, 0);
    assert.equal(h.podControl.creates.length, 1);
    assert.deepEqual(h.podControl.patches.map((p) => p.name), ["bad"]);
  });

  it("Count on a non-matching code counts as usual", async () => {
    const job = withPolicy("FailJob");
    const h = await run(job, [newPod("bad", job, "Failed", { exitCode: 1, finishedAt: NOW - 3600_000 })]);
    assert.equal(h.lastStatus()!.failed, 1);
    assert.equal(condition(h, "FailureTarget"), undefined);
    assert.equal(h.podControl.creates.length, 1);
  });

  it("onPodConditions FailJob matches a pod condition", async () => {
    const job = newJob(1, 1, 6);
    job.spec!.podFailurePolicy = { rules: [{ action: "FailJob", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] }] };
    const pod = newPod("evicted", job, "Failed");
    pod.status!.conditions = [{ type: "DisruptionTarget", status: "True" }];
    const h = await run(job, [pod]);
    assert.equal(condition(h, "Failed")?.message, "Pod default/evicted has condition DisruptionTarget matching FailJob rule at index 0");
  });
});

describe("syncJob: Indexed Jobs", () => {
  it("creates the lowest pending indexes with annotation, label, hostname, generateName and env", async () => {
    const job = newJob(2, 3, 6, "Indexed");
    const h = await run(job, []);
    assert.equal(h.podControl.creates.length, 2);
    const created = h.podControl.creates.map((c) => c.template!);
    assert.deepEqual(
      created.map((t) => [t.metadata?.annotations?.[JOB_COMPLETION_INDEX_ANNOTATION], t.metadata?.labels?.[JOB_COMPLETION_INDEX_ANNOTATION], t.spec?.hostname]).sort(),
      [
        ["0", "0", "foobar-0"],
        ["1", "1", "foobar-1"],
      ],
    );
    assert.deepEqual(h.podControl.creates.map((c) => c.generateName).sort(), ["foobar-0-", "foobar-1-"]);
    assert.deepEqual(created[0]!.spec!.containers[0]!.env, [
      { name: COMPLETION_INDEX_ENV_NAME, valueFrom: { fieldRef: { fieldPath: `metadata.labels['${JOB_COMPLETION_INDEX_ANNOTATION}']` } } },
    ]);
  });

  it("records succeeded indexes in completedIndexes and fills the gaps", async () => {
    const job = newJob(3, 5, 6, "Indexed");
    const h = await run(job, [newPod("i0", job, "Succeeded", { index: 0 }), newPod("i2", job, "Succeeded", { index: 2 }), newPod("i3", job, "Running", { index: 3 })]);
    const s = h.lastStatus()!;
    assert.equal(s.completedIndexes, "0,2");
    assert.equal(s.succeeded, 2);
    assert.deepEqual(h.podControl.creates.map((c) => c.template?.metadata?.annotations?.[JOB_COMPLETION_INDEX_ANNOTATION]).sort(), ["1", "4"]);
  });

  it("deletes pods with a repeated or out-of-range index", async () => {
    const job = newJob(3, 3, 6, "Indexed");
    const h = await run(job, [
      newPod("a", job, "Running", { index: 0 }),
      newPod("b", job, "Pending", { index: 0 }),
      newPod("c", job, "Running", { index: 5 }),
      newPod("d", job, "Running", { index: 1 }),
    ]);
    assert.deepEqual([...h.podControl.deletes].sort(), ["default/b", "default/c"]);
  });

  it("completes with completedIndexes 0-2", async () => {
    const job = newJob(3, 3, 6, "Indexed");
    const h = await run(job, [0, 1, 2].map((i) => newPod(`i${i}`, job, "Succeeded", { index: i })));
    assert.equal(h.lastStatus()!.completedIndexes, "0-2");
    assert.ok(condition(h, "Complete"));
  });

  it("backoffLimitPerIndex: a failed index is recorded, and the Job fails with FailedIndexes once the rest succeeded", async () => {
    const job = newJob(2, 2, 2 ** 31 - 1, "Indexed");
    job.spec!.backoffLimitPerIndex = 0;
    const h = await run(job, [newPod("i0", job, "Succeeded", { index: 0 }), newPod("i1", job, "Failed", { index: 1 })]);
    const s = h.lastStatus()!;
    assert.equal(s.failedIndexes, "1");
    assert.equal(s.completedIndexes, "0");
    assert.deepEqual(s.conditions?.map((c) => [c.type, c.reason, c.message]), [
      ["FailureTarget", "FailedIndexes", "Job has failed indexes"],
      ["Failed", "FailedIndexes", "Job has failed indexes"],
    ]);
  });

  it("backoffLimitPerIndex: a retried index carries its failure count, and its last failed pod keeps its finalizer until then", async () => {
    const job = newJob(1, 1, 2 ** 31 - 1, "Indexed");
    job.spec!.backoffLimitPerIndex = 2;
    const failed = newPod("i0", job, "Failed", { index: 0, finishedAt: NOW - 3600_000 });
    const h = await run(job, [failed]);
    assert.equal(h.lastStatus()!.failedIndexes, "");
    assert.equal(h.podControl.creates.length, 1);
    assert.equal(h.podControl.creates[0]!.template?.metadata?.annotations?.[JOB_INDEX_FAILURE_COUNT_ANNOTATION], "1");
    assert.deepEqual(h.podControl.patches, []);
  });

  it("successPolicy: meeting a rule ends the Job with SuccessPolicy and deletes the rest", async () => {
    const job = newJob(3, 3, 6, "Indexed");
    job.spec!.successPolicy = { rules: [{ succeededIndexes: "0", succeededCount: 1 }] };
    const h = await run(job, [newPod("i0", job, "Succeeded", { index: 0 }), newPod("i1", job, "Running", { index: 1 })]);
    assert.deepEqual(h.podControl.deletes, ["default/i1"]);
    const c = condition(h, "SuccessCriteriaMet")!;
    assert.deepEqual([c.reason, c.message], ["SuccessPolicy", "Matched rules at index 0"]);
    // Complete waits for the deleted pod to terminate.
    assert.equal(condition(h, "Complete"), undefined);
  });
});

describe("JobController orphan pods", () => {
  it("removes the tracking finalizer of a pod whose Job finished", async () => {
    const job = newJob(1, 1);
    job.status = { conditions: [{ type: "Complete", status: "True" }] };
    const pod = newPod("left", job, "Succeeded");
    const h = await jobHarness([job], [pod]);
    harnesses.push(h);
    await h.controller.syncOrphanPod("default/left");
    assert.deepEqual(h.podControl.patches.map((p) => p.name), ["left"]);
  });

  it("leaves the finalizer of a pod its running Job will count", async () => {
    const job = newJob(1, 1);
    const pod = newPod("mine", job, "Succeeded");
    const h = await jobHarness([job], [pod]);
    harnesses.push(h);
    await h.controller.syncOrphanPod("default/mine");
    assert.deepEqual(h.podControl.patches, []);
  });
});
