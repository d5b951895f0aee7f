import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Lease } from "kubernetes-types/coordination/v1.js";
import { alreadyExists, conflict, notFound, OPTIMISTIC_LOCK_MESSAGE } from "../machinery/status-error.js";
import { type LeaseApi, LeaderElector } from "./leader-election.js";
import { FakeTimers } from "./timers.js";

const Q = { group: "coordination.k8s.io", resource: "leases" };

/** One Lease in memory with resourceVersion checks, as the API server does. */
class LeaseServer {
  lease: Lease | undefined;
  rv = 0;
  writes = 0;

  api(who: { failing: boolean }): LeaseApi {
    const check = () => {
      if (who.failing) throw new Error("connect ECONNREFUSED");
    };
    return {
      get: async (name) => {
        check();
        if (!this.lease) throw notFound(Q, name);
        return structuredClone(this.lease);
      },
      create: async (lease) => {
        check();
        if (this.lease) throw alreadyExists(Q, lease.metadata!.name!);
        this.lease = { ...structuredClone(lease), metadata: { ...lease.metadata, resourceVersion: String(++this.rv) } };
        this.writes++;
        return structuredClone(this.lease);
      },
      update: async (lease) => {
        check();
        if (!this.lease) throw notFound(Q, lease.metadata!.name!);
        if (lease.metadata?.resourceVersion !== this.lease.metadata!.resourceVersion) throw conflict(Q, lease.metadata!.name!, OPTIMISTIC_LOCK_MESSAGE);
        this.lease = { ...structuredClone(lease), metadata: { ...lease.metadata, resourceVersion: String(++this.rv) } };
        this.writes++;
        return structuredClone(this.lease);
      },
    };
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
}

/** Advances fake time in steps, letting the electors' promises run between steps. */
async function elapse(timers: FakeTimers, ms: number, step = 250): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    timers.advance(step);
    await settle();
  }
}

interface Candidate {
  elector: LeaderElector;
  who: { failing: boolean };
  stop: AbortController;
  leading?: AbortSignal;
  stopped: boolean;
  leaders: string[];
  done: Promise<void>;
}

/** Reads the signal afresh (assertions narrow a property read, not a call). */
function leadSignal(c: Candidate): AbortSignal | undefined {
  return c.leading;
}

function candidate(server: LeaseServer, timers: FakeTimers, identity: string, releaseOnCancel = false): Candidate {
  const who = { failing: false };
  const elector = new LeaderElector({ leases: server.api(who), namespace: "kube-system", name: "kube-scheduler", identity, timers, releaseOnCancel });
  const c: Candidate = { elector, who, stop: new AbortController(), stopped: false, leaders: [], done: Promise.resolve() };
  c.done = elector.run(
    {
      onStartedLeading: (signal) => {
        c.leading = signal;
      },
      onStoppedLeading: () => {
        c.stopped = true;
      },
      onNewLeader: (id) => c.leaders.push(id),
    },
    c.stop.signal,
  );
  return c;
}

describe("LeaderElector", () => {
  it("one candidate leads; the other takes over once the leader stops renewing", async () => {
    const timers = new FakeTimers();
    const server = new LeaseServer();
    const a = candidate(server, timers, "a");
    await settle();
    assert.ok(a.leading && !a.leading.aborted, "a leads");
    const b = candidate(server, timers, "b");
    await elapse(timers, 60_000);
    assert.equal(b.leading, undefined, "b waits while a renews");
    assert.equal(server.lease!.spec!.holderIdentity, "a");
    assert.equal(server.lease!.spec!.leaseTransitions, 0);
    assert.equal(server.lease!.spec!.leaseDurationSeconds, 15);
    assert.match(server.lease!.spec!.renewTime!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.ok(server.writes > 20, "a renewed every retry period");
    assert.deepEqual(b.leaders, ["a"]);
    assert.equal(a.elector.isLeader(), true);
    assert.equal(b.elector.getLeader(), "a");
    const acquired = server.lease!.spec!.acquireTime;

    a.stop.abort();
    await a.done;
    assert.equal(a.leading!.aborted, true);
    assert.equal(a.stopped, true);
    assert.equal(server.lease!.spec!.holderIdentity, "a", "no release unless asked");
    // Worst case: b saw a's last renewal up to one jittered retry (4.4 s)
    // late, waits the 15 s lease out, then up to one more retry.
    await elapse(timers, 30_000);
    const bLead = leadSignal(b);
    assert.ok(bLead && !bLead.aborted, "b took over");
    assert.equal(server.lease!.spec!.holderIdentity, "b");
    assert.equal(server.lease!.spec!.leaseTransitions, 1);
    assert.notEqual(server.lease!.spec!.acquireTime, acquired);
    assert.deepEqual(b.leaders, ["a", "b"]);
    b.stop.abort();
    await b.done;
  });

  it("stops leading when renewals fail past the renew deadline", async () => {
    const timers = new FakeTimers();
    const server = new LeaseServer();
    const a = candidate(server, timers, "a");
    await settle();
    assert.ok(a.leading);
    a.who.failing = true;
    await elapse(timers, 8_000);
    assert.equal(a.leading.aborted, false, "still within the renew deadline");
    await elapse(timers, 6_000);
    assert.equal(leadSignal(a)!.aborted, true, "gave up after the renew deadline");
    await a.done;
    assert.equal(a.stopped, true);
  });

  it("releases the lease on cancel when asked, so a successor need not wait", async () => {
    const timers = new FakeTimers();
    const server = new LeaseServer();
    const a = candidate(server, timers, "a", true);
    await settle();
    const b = candidate(server, timers, "b");
    await elapse(timers, 4_000);
    a.stop.abort();
    await a.done;
    assert.equal(server.lease!.spec!.holderIdentity, undefined);
    assert.equal(server.lease!.spec!.leaseDurationSeconds, 1);
    await elapse(timers, 5_000);
    assert.ok(leadSignal(b), "b took the released lease within a couple of retry periods");
    assert.equal(server.lease!.spec!.leaseTransitions, 1);
    b.stop.abort();
    await b.done;
  });

  it("validates its durations as client-go does", () => {
    const leases = new LeaseServer().api({ failing: false });
    const base = { leases, namespace: "n", name: "l", identity: "i" };
    assert.throws(() => new LeaderElector({ ...base, leaseDurationMs: 10_000, renewDeadlineMs: 10_000 }), /leaseDuration must be greater/);
    assert.throws(() => new LeaderElector({ ...base, renewDeadlineMs: 2_000, retryPeriodMs: 2_000 }), /renewDeadline must be greater/);
  });
});
