/**
 * Leader election on real Leases and the event recorder writing real
 * Events, against a `skiff server`, checked with kubectl.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Lease } from "kubernetes-types/coordination/v1.js";
import type { ConfigMap } from "kubernetes-types/core/v1.js";
import type { Event as EventsV1Event } from "kubernetes-types/events/v1.js";
import { configFromKubeconfig } from "../src/client/config.js";
import { EventRecorder } from "../src/client/event-recorder.js";
import { LeaderElector } from "../src/client/leader-election.js";
import { ResourceClient } from "../src/client/resource-client.js";
import { CONFIGMAPS, EVENTS, LEASES } from "../src/client/resources.js";
import { RestClient } from "../src/client/rest-client.js";
import { ok, startTestServer, type TestServer } from "./support/cluster.js";

let srv: TestServer;
let rest: RestClient;

before(async () => {
  srv = await startTestServer();
  rest = new RestClient(configFromKubeconfig(srv.kubeconfig));
});
after(async () => {
  rest?.close();
  await srv?.stop();
});

async function until(what: string, cond: () => boolean | Promise<boolean>, tries = 600): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`never happened: ${what}`);
}

interface Candidate {
  readonly stop: AbortController;
  leading?: AbortSignal;
  stopped: boolean;
  readonly done: Promise<void>;
}

/** Short durations (the relations client-go requires still hold) so the test runs in seconds. */
function candidate(leaseName: string, identity: string, releaseOnCancel = false): Candidate {
  const elector = new LeaderElector({
    leases: new ResourceClient<Lease>(rest, LEASES).namespace("kube-system"),
    namespace: "kube-system",
    name: leaseName,
    identity,
    leaseDurationMs: 4000,
    renewDeadlineMs: 3000,
    retryPeriodMs: 500,
    releaseOnCancel,
  });
  const stop = new AbortController();
  const c: { stop: AbortController; leading?: AbortSignal; stopped: boolean; done: Promise<void> } = { stop, stopped: false, done: Promise.resolve() };
  c.done = elector.run(
    {
      onStartedLeading: (signal) => {
        c.leading = signal;
      },
      onStoppedLeading: () => {
        c.stopped = true;
      },
    },
    stop.signal,
  );
  return c;
}

/**
 * Reads a Lease through the API. (Not kubectl while electors run: its
 * spawnSync would stall this process's event loop, and with it the
 * leader's renewals.)
 */
function lease(name: string): Promise<Lease> {
  return new ResourceClient<Lease>(rest, LEASES).namespace("kube-system").get(name);
}

describe("leader election", () => {
  it("one of two candidates leads; the other takes over when it stops", async () => {
    const a = candidate("skiff-test", "candidate-a");
    await until("a leads", () => a.leading !== undefined);
    const b = candidate("skiff-test", "candidate-b");
    try {
      // Let a renew a few times while b campaigns.
      const first = (await lease("skiff-test")).spec!.renewTime;
      await until("a renewed", async () => (await lease("skiff-test")).spec!.renewTime !== first);
      const second = (await lease("skiff-test")).spec!.renewTime;
      await until("a renewed again", async () => (await lease("skiff-test")).spec!.renewTime !== second);
      assert.equal(b.leading, undefined, "b does not lead while a renews");
      const held = (await lease("skiff-test")).spec!;
      assert.equal(held.holderIdentity, "candidate-a");
      assert.equal(held.leaseDurationSeconds, 4);
      assert.equal(held.leaseTransitions, 0);
      assert.match(held.acquireTime!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

      a.stop.abort();
      await a.done;
      assert.equal(a.leading!.aborted, true);
      assert.equal(a.stopped, true);
      await until("b takes over", () => b.leading !== undefined);
      const taken = (await lease("skiff-test")).spec!;
      assert.equal(taken.holderIdentity, "candidate-b");
      assert.equal(taken.leaseTransitions, 1);
    } finally {
      a.stop.abort();
      b.stop.abort();
      await Promise.all([a.done, b.done]);
    }
    // And kubectl sees the Lease as upstream's would look.
    const shown = ok(srv.kubectl(["get", "lease", "skiff-test", "-n", "kube-system"]), "kubectl get lease");
    assert.match(shown, /skiff-test\s+candidate-b/);
  });

  it("releases the lease on a graceful stop when asked", async () => {
    const a = candidate("skiff-release", "candidate-a", true);
    try {
      await until("a leads", () => a.leading !== undefined);
      a.stop.abort();
      await a.done;
      const released = (await lease("skiff-release")).spec!;
      assert.equal(released.holderIdentity, undefined);
      assert.equal(released.leaseDurationSeconds, 1);
    } finally {
      a.stop.abort();
      await a.done;
    }
  });
});

describe("event recorder", () => {
  it("writes events.k8s.io Events kubectl shows, repeats as one series", async () => {
    const target = await new ResourceClient<ConfigMap>(rest, CONFIGMAPS)
      .namespace("default")
      .create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "evented" } });
    const rec = new EventRecorder({ sink: rest, reportingController: "skiff-test-controller", reportingInstance: "skiff-test-1" });
    try {
      rec.event(target, undefined, "Warning", "SyncFailed", "Sync", "could not sync: boom");
      rec.event(target, undefined, "Warning", "SyncFailed", "Sync", "could not sync: boom");
      rec.eventf(target, undefined, "Normal", "Synced", "Sync", "synced %d keys", 3);
      await rec.flush();

      const events = new ResourceClient<EventsV1Event>(rest, EVENTS).namespace("default");
      const list = await events.list({ fieldSelector: "regarding.name=evented" });
      const byReason = new Map(list.items.map((e) => [e.reason, e]));
      assert.equal(list.items.length, 2, "the repeat became a series, not a second object");
      const failed = byReason.get("SyncFailed")!;
      assert.match(failed.metadata!.name!, /^evented\.[0-9a-f]+$/);
      assert.equal(failed.series?.count, 2);
      assert.equal(failed.reportingController, "skiff-test-controller");
      assert.equal(failed.reportingInstance, "skiff-test-1");
      assert.equal(failed.regarding?.kind, "ConfigMap");
      assert.equal(failed.regarding?.uid, target.metadata?.uid);
      assert.equal(byReason.get("Synced")!.note, "synced 3 keys");

      const table = ok(srv.kubectl(["get", "events", "--field-selector", "involvedObject.name=evented"]), "kubectl get events");
      assert.match(table, /Warning\s+SyncFailed\s+configmap\/evented\s+could not sync: boom/);
      assert.match(table, /Normal\s+Synced\s+configmap\/evented\s+synced 3 keys/);
    } finally {
      await rec.shutdown();
    }
  });
});
