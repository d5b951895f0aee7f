import assert from "node:assert/strict";
import { hostname } from "node:os";
import { describe, it } from "node:test";
import type { Event as EventsV1Event } from "kubernetes-types/events/v1.js";
import { alreadyExists, invalid, notFound } from "../machinery/status-error.js";
import { DEFAULT_SPAM_FILTER, EventRecorder, type EventSink, EventSpamFilter, eventName, isomorphicKey, referenceOf } from "./event-recorder.js";
import { formatMicroTime } from "./micro-time.js";
import { FakeTimers } from "./timers.js";

interface Call {
  op: "create" | "patch";
  name: string;
  namespace: string;
  event?: EventsV1Event;
  patch?: unknown;
}

class FakeSink implements EventSink {
  calls: Call[] = [];
  stored = new Map<string, EventsV1Event>();
  failures: Error[] = [];

  async create(ev: EventsV1Event): Promise<EventsV1Event> {
    const name = ev.metadata!.name!;
    const ns = ev.metadata!.namespace!;
    this.calls.push({ op: "create", name, namespace: ns, event: structuredClone(ev) });
    const f = this.failures.shift();
    if (f) throw f;
    if (this.stored.has(`${ns}/${name}`)) throw alreadyExists({ group: "events.k8s.io", resource: "events" }, name);
    this.stored.set(`${ns}/${name}`, ev);
    return ev;
  }

  async patch(ns: string, name: string, patch: unknown): Promise<EventsV1Event> {
    this.calls.push({ op: "patch", name, namespace: ns, patch });
    const f = this.failures.shift();
    if (f) throw f;
    const ev = this.stored.get(`${ns}/${name}`);
    if (!ev) throw notFound({ group: "events.k8s.io", resource: "events" }, name);
    Object.assign(ev, patch);
    return ev;
  }
}

const POD = { apiVersion: "v1", kind: "Pod", metadata: { name: "web", namespace: "shop", uid: "u-1", resourceVersion: "7" } };
const NODE = { apiVersion: "v1", kind: "Node", metadata: { name: "node-1", uid: "u-2" } };

function setup(start = Date.UTC(2026, 0, 2, 3, 4, 5, 678)) {
  const timers = new FakeTimers(start);
  const sink = new FakeSink();
  const rec = new EventRecorder({ sink, reportingController: "default-scheduler", timers, retryDelayMs: 1000 });
  return { timers, sink, rec };
}

describe("EventRecorder", () => {
  it("names events <regarding>.<hex unix nanos> and fills events.k8s.io/v1 fields", async () => {
    const { timers, sink, rec } = setup();
    rec.event(POD, NODE, "Warning", "FailedScheduling", "Scheduling", "0/3 nodes are available");
    await rec.flush();
    assert.equal(sink.calls.length, 1);
    const ev = sink.calls[0]!.event!;
    // Nanoseconds of the event's millisecond, plus the recorder's sub-millisecond offset.
    const ms = BigInt(timers.now()) * 1_000_000n;
    const m = /^web\.([0-9a-f]+)$/.exec(ev.metadata!.name!);
    assert.ok(m, ev.metadata!.name);
    const nanos = BigInt(`0x${m[1]}`);
    assert.ok(nanos >= ms && nanos < ms + 1_000_000n, "within the event's millisecond");
    assert.equal(ev.metadata!.name, eventName("web", nanos));
    assert.equal(ev.metadata!.namespace, "shop");
    assert.equal(ev.apiVersion, "events.k8s.io/v1");
    assert.equal(ev.eventTime, "2026-01-02T03:04:05.678000Z");
    assert.equal(ev.reportingController, "default-scheduler");
    assert.equal(ev.reportingInstance, `default-scheduler-${hostname()}`);
    assert.equal(ev.reason, "FailedScheduling");
    assert.equal(ev.action, "Scheduling");
    assert.equal(ev.note, "0/3 nodes are available");
    assert.equal(ev.type, "Warning");
    assert.deepEqual(ev.regarding, { apiVersion: "v1", kind: "Pod", namespace: "shop", name: "web", uid: "u-1", resourceVersion: "7" });
    assert.deepEqual(ev.related, { apiVersion: "v1", kind: "Node", name: "node-1", uid: "u-2" });
    assert.equal(ev.series, undefined);
  });

  it("gives events in the same millisecond distinct names; cluster-scoped subjects go to default", async () => {
    const { sink, rec } = setup();
    rec.event(NODE, undefined, "Normal", "NodeReady", "Ready", "ready");
    rec.event(NODE, undefined, "Normal", "Starting", "Start", "starting");
    await rec.flush();
    const names = sink.calls.map((c) => c.name);
    assert.equal(new Set(names).size, 2);
    assert.deepEqual(
      sink.calls.map((c) => c.namespace),
      ["default", "default"],
    );
  });

  it("turns isomorphic repeats into a series updated by PATCH", async () => {
    const { timers, sink, rec } = setup();
    rec.event(POD, undefined, "Warning", "BackOff", "Restart", "Back-off restarting");
    await rec.flush();
    timers.advance(1000);
    // The note is not part of the key (as upstream).
    rec.event(POD, undefined, "Warning", "BackOff", "Restart", "Back-off restarting again");
    await rec.flush();
    assert.deepEqual(
      sink.calls.map((c) => c.op),
      ["create", "patch"],
    );
    const name = sink.calls[0]!.name;
    assert.equal(sink.calls[1]!.name, name);
    assert.deepEqual(sink.calls[1]!.patch, { series: { count: 2, lastObservedTime: formatMicroTime(timers.now()) } });

    // Further repeats coalesce until the flush interval.
    timers.advance(1000);
    rec.event(POD, undefined, "Warning", "BackOff", "Restart", "x");
    rec.event(POD, undefined, "Warning", "BackOff", "Restart", "x");
    await rec.flush();
    assert.equal(sink.calls.length, 2);
    timers.advance(30_000);
    await rec.flush();
    assert.equal(sink.calls.length, 3);
    assert.deepEqual(sink.calls[2]!.patch, { series: { count: 4, lastObservedTime: formatMicroTime(timers.now() - 30_000) } });
    assert.equal(sink.stored.get(`shop/${name}`)!.series!.count, 4);

    // A different reason is a different event.
    rec.event(POD, undefined, "Warning", "Failed", "Restart", "x");
    await rec.flush();
    assert.equal(sink.calls.at(-1)!.op, "create");
  });

  it("starts a new event after 6 quiet minutes", async () => {
    const { timers, sink, rec } = setup();
    rec.event(POD, undefined, "Normal", "Pulled", "Pull", "pulled");
    await rec.flush();
    timers.advance(6 * 60_000 + 1);
    rec.event(POD, undefined, "Normal", "Pulled", "Pull", "pulled");
    await rec.flush();
    assert.deepEqual(
      sink.calls.map((c) => c.op),
      ["create", "create"],
    );
    assert.notEqual(sink.calls[0]!.name, sink.calls[1]!.name);
  });

  it("recreates a series whose Event was deleted", async () => {
    const { sink, rec } = setup();
    rec.event(POD, undefined, "Normal", "Pulled", "Pull", "pulled");
    await rec.flush();
    sink.stored.clear();
    rec.event(POD, undefined, "Normal", "Pulled", "Pull", "pulled");
    await rec.flush();
    assert.deepEqual(
      sink.calls.map((c) => c.op),
      ["create", "patch", "create"],
    );
    assert.equal(sink.calls[2]!.event!.series!.count, 2);
  });

  it("retries network failures, drops what the server rejects, never throws", async () => {
    const { timers, sink, rec } = setup();
    sink.failures.push(new Error("connect ECONNREFUSED"));
    rec.event(POD, undefined, "Normal", "Pulled", "Pull", "pulled");
    await rec.flush();
    assert.equal(sink.stored.size, 0);
    timers.advance(2000);
    await rec.flush();
    assert.equal(sink.stored.size, 1, "written on retry");

    sink.failures.push(invalid("Event", "events.k8s.io", "x", [{ type: "FieldValueRequired", field: "action", detail: "Required value" }]));
    rec.event(NODE, undefined, "Normal", "Other", "Act", "n");
    await rec.flush();
    timers.advance(60_000);
    await rec.flush();
    assert.equal(sink.calls.filter((c) => c.event?.reason === "Other").length, 1, "a rejected event is not retried");

    const before = sink.calls.length;
    assert.doesNotThrow(() => rec.event(POD, undefined, "Bogus" as "Normal", "R", "A", "n"));
    assert.doesNotThrow(() => rec.event({ metadata: {} }, undefined, "Normal", "R", "A", "n"));
    await rec.flush();
    assert.equal(sink.calls.length, before);
    await rec.shutdown();
    rec.event(POD, undefined, "Normal", "After", "A", "n");
    await rec.flush();
    assert.equal(sink.calls.length, before);
    assert.equal(timers.pendingCount, 0, "no timers left after shutdown");
  });

  it("eventf formats the note; keys and references follow upstream", () => {
    const { sink, rec } = setup();
    rec.eventf(POD, undefined, "Normal", "Scheduled", "Binding", "Successfully assigned %s/%s to %s", "shop", "web", "node-1");
    return rec.flush().then(() => {
      assert.equal(sink.calls[0]!.event!.note, "Successfully assigned shop/web to node-1");
      const ev = sink.calls[0]!.event!;
      assert.equal(isomorphicKey(ev), isomorphicKey({ ...ev, note: "other", type: "Warning" }));
      assert.notEqual(isomorphicKey(ev), isomorphicKey({ ...ev, regarding: { ...ev.regarding, resourceVersion: "8" } }));
      assert.deepEqual(referenceOf({ kind: "Pod", name: "p", namespace: "n" }), { kind: "Pod", name: "p", namespace: "n" });
    });
  });
});

describe("EventRecorder writes", () => {
  /** A sink whose writes finish only when the test says so. */
  class HeldSink implements EventSink {
    readonly started: string[] = [];
    private readonly pending: (() => void)[] = [];
    create(ev: EventsV1Event): Promise<EventsV1Event> {
      this.started.push(`create ${ev.regarding?.name}`);
      return new Promise((resolve) => this.pending.push(() => resolve(ev)));
    }
    patch(_ns: string, name: string): Promise<EventsV1Event> {
      this.started.push(`patch ${name.split(".")[0]}`);
      return new Promise((resolve) => this.pending.push(() => resolve({ eventTime: "" })));
    }
    /** Finishes every write started so far. */
    release(): void {
      for (const r of this.pending.splice(0)) r();
    }
  }
  const turn = () => new Promise((r) => setImmediate(r));
  const pod = (name: string) => ({ ...POD, metadata: { ...POD.metadata, name, uid: `u-${name}` } });

  it("overlaps writes of different events up to maxInFlight", async () => {
    const timers = new FakeTimers(Date.UTC(2026, 0, 2));
    const sink = new HeldSink();
    const rec = new EventRecorder({ sink, reportingController: "default-scheduler", timers, maxInFlight: 2 });
    for (const n of ["a", "b", "c"]) rec.event(pod(n), undefined, "Normal", "Scheduled", "Binding", n);
    await turn();
    assert.deepEqual(sink.started, ["create a", "create b"], "two at once, oldest first");
    sink.release();
    await turn();
    assert.deepEqual(sink.started, ["create a", "create b", "create c"]);
    sink.release();
    await rec.flush();
  });

  it("writes one event's create and series PATCH one after the other", async () => {
    const timers = new FakeTimers(Date.UTC(2026, 0, 2));
    const sink = new HeldSink();
    const rec = new EventRecorder({ sink, reportingController: "default-scheduler", timers, maxInFlight: 4 });
    rec.event(pod("a"), undefined, "Normal", "Scheduled", "Binding", "a");
    timers.advance(1000);
    rec.event(pod("a"), undefined, "Normal", "Scheduled", "Binding", "a again");
    rec.event(pod("b"), undefined, "Normal", "Scheduled", "Binding", "b");
    await turn();
    assert.deepEqual(sink.started, ["create a", "create b"], "a's PATCH waits for its create, b does not wait for it");
    sink.release();
    await turn();
    assert.deepEqual(sink.started, ["create a", "create b", "patch a"]);
    sink.release();
    await rec.flush();
  });
});

describe("EventRecorder spam filter", () => {
  const RS = { apiVersion: "apps/v1", kind: "ReplicaSet", metadata: { name: "web-1", namespace: "shop", uid: "u-rs" } };
  const podRef = (name: string) => ({ apiVersion: "v1", kind: "Pod", namespace: "shop", name });

  it("writes 25 Events about one object, then one more per 5 minutes, as client-go's EventCorrelator", async () => {
    const timers = new FakeTimers(Date.UTC(2026, 0, 2));
    const sink = new FakeSink();
    const rec = new EventRecorder({ sink, reportingController: "replicaset-controller", timers, spamFilter: DEFAULT_SPAM_FILTER });
    for (let i = 0; i < 40; i++) rec.event(RS, podRef(`web-1-${i}`), "Normal", "SuccessfulCreate", "Create", `Created pod: web-1-${i}`);
    // Another object has its own bucket.
    rec.event(POD, undefined, "Normal", "SuccessfulCreate", "Create", "other object");
    await rec.flush();
    const notes = sink.calls.map((c) => c.event?.note);
    const created = notes.filter((n) => n?.startsWith("Created pod"));
    assert.deepEqual(created, Array.from({ length: 25 }, (_, i) => `Created pod: web-1-${i}`), "the first 25, in order");
    assert.ok(notes.includes("other object"));
    timers.advance(299_000);
    rec.event(RS, podRef("late-0"), "Normal", "SuccessfulCreate", "Create", "Created pod: late-0");
    timers.advance(1000);
    rec.event(RS, podRef("late-1"), "Normal", "SuccessfulCreate", "Create", "Created pod: late-1");
    rec.event(RS, podRef("late-2"), "Normal", "SuccessfulCreate", "Create", "Created pod: late-2");
    await rec.flush();
    const late = sink.calls.map((c) => c.event?.note).filter((n) => n?.startsWith("Created pod: late"));
    assert.deepEqual(late, ["Created pod: late-1"], "one token refilled after 300 s");
  });

  it("lets repeats of an existing series count without taking tokens", async () => {
    const timers = new FakeTimers(Date.UTC(2026, 0, 2));
    const sink = new FakeSink();
    const rec = new EventRecorder({ sink, reportingController: "node-controller", timers, spamFilter: { burst: 2, qps: 1 / 300 } });
    for (let i = 0; i < 10; i++) rec.event(NODE, undefined, "Normal", "NodeNotReady", "Check", "Node is not ready");
    await rec.flush();
    // The create and the PATCH that starts the series took the two tokens; the other repeats are counted.
    assert.deepEqual(
      sink.calls.map((c) => c.op),
      ["create", "patch"],
    );
    timers.advance(30_000);
    await rec.flush();
    const last = sink.calls.at(-1)!;
    assert.equal(last.op, "patch");
    assert.equal((last.patch as { series: { count: number } }).series.count, 10);
  });

  it("forgets the least recently used object past maxObjects", () => {
    const f = new EventSpamFilter({ burst: 1, qps: 1 / 300, maxObjects: 2 });
    assert.equal(f.allow("a", 0), true);
    assert.equal(f.allow("a", 0), false);
    assert.equal(f.allow("b", 0), true);
    assert.equal(f.allow("c", 0), true, "a is forgotten");
    assert.equal(f.allow("a", 0), true, "a starts over with a full bucket");
    assert.equal(f.allow("c", 0), false, "c is still remembered");
  });
});

describe("MicroTime", () => {
  it("has six fractional digits and a Z", () => {
    assert.equal(formatMicroTime(Date.UTC(2006, 0, 2, 15, 4, 5)), "2006-01-02T15:04:05.000000Z");
    assert.equal(formatMicroTime(Date.UTC(2006, 0, 2, 15, 4, 5, 7)), "2006-01-02T15:04:05.007000Z");
  });
});
