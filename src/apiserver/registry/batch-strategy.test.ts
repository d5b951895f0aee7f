import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findResource } from "../../api/resources.js";
import { openMemoryStore } from "../../storage/backends/memory/memory-store.js";
import { codecFor } from "./codecs.js";
import { ObjectStore } from "./object-store.js";
import { strategyFor } from "./strategies.js";
import type { KObject } from "./types.js";

function storeFor(plural: string) {
  const resource = findResource("batch", "v1", plural)!;
  return new ObjectStore({ store: openMemoryStore(), resource, strategy: strategyFor(resource), codec: codecFor(resource) });
}

function job(spec: Record<string, unknown>, labels?: Record<string, string>): KObject {
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: "pi" },
    spec: { template: { ...(labels ? { metadata: { labels } } : {}), spec: { restartPolicy: "Never", containers: [{ name: "c", image: "busybox" }] } }, ...spec },
  };
}

async function rejects(p: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(p, (err: Error) => {
    assert.equal(err.message, message);
    return true;
  });
}

describe("batch/v1 Jobs (upstream's job strategy, defaults and validation)", () => {
  it("defaults the spec and generates the selector and labels from the uid", async () => {
    const created = await storeFor("jobs").create("default", job({}, { app: "pi" }));
    const uid = created.metadata!.uid!;
    const spec = created.spec as Record<string, unknown>;
    assert.deepEqual(
      { ...spec, template: undefined },
      {
        completions: 1,
        parallelism: 1,
        backoffLimit: 6,
        completionMode: "NonIndexed",
        suspend: false,
        podReplacementPolicy: "TerminatingOrFailed",
        manualSelector: false,
        selector: { matchLabels: { "batch.kubernetes.io/controller-uid": uid } },
        template: undefined,
      },
    );
    const labels = { app: "pi", "batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": "pi", "controller-uid": uid, "job-name": "pi" };
    assert.deepEqual((spec.template as { metadata: { labels: unknown } }).metadata.labels, labels);
    // The Job took the template's labels, generated ones included, as upstream's shared map does.
    assert.deepEqual(created.metadata!.labels, labels);
  });

  it("leaves metadata.labels alone when the template has none", async () => {
    const created = await storeFor("jobs").create("default", job({}));
    assert.equal(created.metadata!.labels, undefined);
  });

  it("defaults only parallelism when completions is unset but parallelism is (a work queue)", async () => {
    const created = await storeFor("jobs").create("default", job({ parallelism: 3 }));
    const spec = created.spec as Record<string, unknown>;
    assert.equal(spec.completions, undefined);
    assert.equal(spec.parallelism, 3);
  });

  it("defaults backoffLimit to MaxInt32 with backoffLimitPerIndex, and podReplacementPolicy Failed with a pod failure policy", async () => {
    const created = await storeFor("jobs").create(
      "default",
      job({
        completions: 2,
        completionMode: "Indexed",
        backoffLimitPerIndex: 1,
        podFailurePolicy: { rules: [{ action: "Ignore", onPodConditions: [{ type: "DisruptionTarget" }] }] },
      }),
    );
    const spec = created.spec as { backoffLimit: number; podReplacementPolicy: string; podFailurePolicy: { rules: { onPodConditions: { status: string }[] }[] } };
    assert.equal(spec.backoffLimit, 2 ** 31 - 1);
    assert.equal(spec.podReplacementPolicy, "Failed");
    assert.equal(spec.podFailurePolicy.rules[0]!.onPodConditions[0]!.status, "True");
  });

  it("requires restartPolicy OnFailure or Never", async () => {
    const j = job({});
    delete ((j.spec as { template: { spec: Record<string, unknown> } }).template.spec as Record<string, unknown>).restartPolicy;
    await rejects(storeFor("jobs").create("default", j), 'Job.batch "pi" is invalid: spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"');
  });

  it("rejects negative counts and Indexed-only fields on NonIndexed Jobs", async () => {
    await rejects(
      storeFor("jobs").create("default", job({ parallelism: -1, backoffLimitPerIndex: 1 })),
      'Job.batch "pi" is invalid: [spec.parallelism: Invalid value: -1: must be greater than or equal to 0, spec.backoffLimitPerIndex: Forbidden: requires indexed completion mode]',
    );
    await rejects(storeFor("jobs").create("default", job({ completionMode: "Indexed", parallelism: 2 })), 'Job.batch "pi" is invalid: spec.completions: Required value: when completion mode is Indexed');
  });

  it("rejects template labels that contradict the generated ones", async () => {
    await rejects(
      storeFor("jobs").create("default", job({}, { "job-name": "other" })),
      "Job.batch \"pi\" is invalid: spec.template.metadata.labels[job-name]: Invalid value: \"other\": must be 'pi'",
    );
  });

  it("with manualSelector, requires a selector matching the template", async () => {
    await rejects(
      storeFor("jobs").create("default", job({ manualSelector: true, selector: { matchLabels: { app: "x" } } }, { app: "y" })),
      'Job.batch "pi" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"y"}: `selector` does not match template `labels`',
    );
    const ok = await storeFor("jobs").create("default", job({ manualSelector: true, selector: { matchLabels: { app: "x" } } }, { app: "x" }));
    assert.deepEqual((ok.spec as { selector: unknown }).selector, { matchLabels: { app: "x" } });
  });

  it("keeps the selector, completion mode and template immutable", async () => {
    const jobs = storeFor("jobs");
    const created = await jobs.create("default", job({}));
    const changed = structuredClone(created);
    (changed.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]!.image = "alpine";
    await assert.rejects(jobs.update("default", "pi", changed), /spec\.template: Invalid value: .*field is immutable/);
    const resumed = structuredClone(created);
    (resumed.spec as { suspend: boolean }).suspend = true;
    await jobs.update("default", "pi", resumed);
  });
});

describe("batch/v1 CronJobs", () => {
  function cronJob(schedule: string, extra: Record<string, unknown> = {}, name = "hello"): KObject {
    return {
      apiVersion: "batch/v1",
      kind: "CronJob",
      metadata: { name },
      spec: { schedule, jobTemplate: { spec: { template: { spec: { restartPolicy: "OnFailure", containers: [{ name: "c", image: "busybox" }] } } } }, ...extra },
    };
  }

  it("defaults policy, suspend and history limits", async () => {
    const created = await storeFor("cronjobs").create("default", cronJob("*/1 * * * *"));
    const spec = created.spec as Record<string, unknown>;
    assert.deepEqual([spec.concurrencyPolicy, spec.suspend, spec.successfulJobsHistoryLimit, spec.failedJobsHistoryLimit], ["Allow", false, 3, 1]);
  });

  it("rejects a bad schedule with robfig's message", async () => {
    await rejects(storeFor("cronjobs").create("default", cronJob("61 * * * *")), 'CronJob.batch "hello" is invalid: spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61');
  });

  it("rejects TZ in the schedule, an unknown timeZone, and long names", async () => {
    await rejects(
      storeFor("cronjobs").create("default", cronJob("TZ=UTC 0 * * * *")),
      'CronJob.batch "hello" is invalid: spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead',
    );
    await rejects(
      storeFor("cronjobs").create("default", cronJob("0 * * * *", { timeZone: "Nowhere/City" })),
      'CronJob.batch "hello" is invalid: spec.timeZone: Invalid value: "Nowhere/City": unknown time zone Nowhere/City',
    );
    const long = "a".repeat(53);
    await rejects(storeFor("cronjobs").create("default", cronJob("0 * * * *", {}, long)), `CronJob.batch "${long}" is invalid: metadata.name: Invalid value: "${long}": must be no more than 52 characters`);
  });
});
