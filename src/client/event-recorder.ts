/**
 * Records events.k8s.io/v1 Events as upstream's new events library
 * (k8s.io/client-go/tools/events) does:
 * - each Event is named `<regarding.name>.<unix nanoseconds in hex>` and
 *   lives in the regarding object's namespace (`default` for cluster-scoped
 *   objects), with reportingController/reportingInstance, action, reason,
 *   note, type and a MicroTime eventTime;
 * - an Event isomorphic to one recorded in the last 6 minutes (same action,
 *   reason, reporting controller, regarding and related) does not make a
 *   new object: the first repeat turns the cached Event into a series
 *   (series.count 2) written by a strategic-merge PATCH, later repeats bump
 *   the count in memory and are written in one PATCH per flush interval
 *   (upstream waits up to 30 min; skiff flushes every 30 s by default so
 *   `kubectl get events` shows current counts), and a series quiet for 6
 *   minutes is written a last time and forgotten;
 * - optionally (the controller manager's recorders, as upstream's
 *   EventCorrelator there) a spam filter: each reporting controller may
 *   write 25 Events about one object, then one more every 5 minutes; a
 *   ReplicaSet creating 1,000 pods records the first 25 "Created pod"
 *   Events, not 1,000 writes competing with the pod creates;
 * - recording never blocks and never throws: events go through a bounded
 *   queue (1000, overflow dropped, as upstream's broadcaster drops when its
 *   sink falls behind); network failures are retried (12 tries, ~10 s
 *   apart), anything the server rejects is logged and dropped.
 * - writes about one object (an Event's create, then its series PATCHes,
 *   and other Events about the same object) go in the order recorded, as
 *   upstream's one writer sends them; writes about different objects
 *   overlap, up to `maxInFlight` (upstream's writer keeps up with
 *   sub-millisecond writes over HTTP/2; one write at a time over HTTP/1.1
 *   does not at a scheduler's rate, and the queue would overflow).
 */
import { hostname } from "node:os";
import { format } from "node:util";
import type { ObjectReference } from "kubernetes-types/core/v1.js";
import type { Event as EventsV1Event } from "kubernetes-types/events/v1.js";
import { type Logger, silentLogger } from "../machinery/log.js";
import { isAlreadyExists, isNotFound, StatusError } from "../machinery/status-error.js";
import { formatMicroTime } from "./micro-time.js";
import { type KubeObject, ResourceClient } from "./resource-client.js";
import { EVENTS } from "./resources.js";
import { RestClient } from "./rest-client.js";
import { systemTimers, type Timers } from "./timers.js";

/** Upstream's only two event types. */
export type EventType = "Normal" | "Warning";

/** Where events are written; {@link restEventSink} for a real server. */
export interface EventSink {
  create(event: EventsV1Event): Promise<EventsV1Event>;
  /** A strategic-merge patch of an existing Event. */
  patch(namespace: string, name: string, patch: unknown): Promise<EventsV1Event>;
}

/** An {@link EventSink} writing through the events.k8s.io/v1 API. */
export function restEventSink(rest: RestClient): EventSink {
  const events = new ResourceClient<EventsV1Event>(rest, EVENTS);
  return {
    create: (ev) => events.create(ev),
    patch: (ns, name, patch) => events.namespace(ns).patch(name, patch, { type: "strategic" }),
  };
}

/** Options of an {@link EventRecorder}. */
export interface EventRecorderOptions {
  /** Where to write: a REST client (the events.k8s.io API) or any sink. */
  readonly sink: EventSink | RestClient;
  /** The component recording, e.g. `default-scheduler`, `kubelet`. */
  readonly reportingController: string;
  /** This instance; `<reportingController>-<hostname>` unless given (as upstream). */
  readonly reportingInstance?: string;
  readonly timers?: Timers;
  readonly logger?: Logger;
  /** Events waiting to be written before new ones are dropped (1000). */
  readonly maxQueued?: number;
  /** Writes in flight at once, each about a different object (16). */
  readonly maxInFlight?: number;
  /** How often pending series counts are written (30 s). */
  readonly seriesFlushIntervalMs?: number;
  /** Delay between retries of a write that failed on the network (10 s, ±25 % jitter). */
  readonly retryDelayMs?: number;
  /** Attempts per write before it is dropped (12). */
  readonly maxTries?: number;
  /**
   * Per-object rate limit on new Events (off unless given): see
   * {@link EventSpamFilter}; {@link DEFAULT_SPAM_FILTER} is upstream's.
   */
  readonly spamFilter?: SpamFilterOptions;
}

/** A token bucket per (reporting controller, regarding object, type). */
export interface SpamFilterOptions {
  /** Events about one object written at once before the rate applies. */
  readonly burst: number;
  /** Events per second about one object after the burst. */
  readonly qps: number;
  /** Objects remembered (least recently used forgotten first; 4096). */
  readonly maxObjects?: number;
}

/** client-go's EventCorrelator defaults (defaultSpamBurst 25, defaultSpamQPS 1/300, maxLruCacheEntries 4096). */
export const DEFAULT_SPAM_FILTER: SpamFilterOptions = Object.freeze({ burst: 25, qps: 1 / 300, maxObjects: 4096 });

/**
 * Upstream's EventSourceObjectSpamFilter: an LRU of token buckets keyed by
 * the source and the object an Event is about (not its reason or note), so
 * a controller cannot write an unbounded number of Events about one object.
 */
export class EventSpamFilter {
  private readonly buckets = new Map<string, { tokens: number; last: number }>();
  private readonly maxObjects: number;

  constructor(private readonly opts: SpamFilterOptions) {
    if (!(opts.burst >= 1) || !(opts.qps > 0)) throw new Error(`spam filter needs burst >= 1 and qps > 0, not ${opts.burst}/${opts.qps}`);
    this.maxObjects = opts.maxObjects ?? 4096;
  }

  /** Takes a token for `key` at `now` (ms); false when the object's bucket is empty (drop the Event). */
  allow(key: string, now: number): boolean {
    let b = this.buckets.get(key);
    if (b) {
      // Most recently used last: Map iteration order is the LRU order.
      this.buckets.delete(key);
      b.tokens = Math.min(this.opts.burst, b.tokens + (Math.max(0, now - b.last) * this.opts.qps) / 1000);
      b.last = now;
    } else {
      b = { tokens: this.opts.burst, last: now };
      if (this.buckets.size >= this.maxObjects) this.buckets.delete(this.buckets.keys().next().value!);
    }
    this.buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

/** How long an Event stays isomorphic-mergeable after it was last seen (upstream finishTime). */
const FINISH_MS = 6 * 60_000;

interface CacheEntry {
  readonly event: EventsV1Event;
  /** Local time of the last occurrence: eventTime, then each repeat. */
  lastSeen: number;
  /** A series count changed since it was last written. */
  dirty: boolean;
}

interface WriteJob {
  readonly event: EventsV1Event;
  readonly attempt: number;
  /** The regarding object: writes about one object go one after another. */
  readonly key: string;
}

/** Anything an Event can be about: an API object or a reference to one. */
export type EventSubject = KubeObject | ObjectReference;

/** The ObjectReference of an object (apiVersion, kind, namespace, name, uid, resourceVersion), as upstream's `reference.GetReference`. */
export function referenceOf(subject: EventSubject): ObjectReference {
  if (!("metadata" in subject) || subject.metadata === undefined) return { ...(subject as ObjectReference) };
  const o = subject as KubeObject;
  const m = o.metadata!;
  const ref: ObjectReference = {};
  if (o.apiVersion) ref.apiVersion = o.apiVersion;
  if (o.kind) ref.kind = o.kind;
  if (m.namespace) ref.namespace = m.namespace;
  if (m.name) ref.name = m.name;
  if (m.uid) ref.uid = m.uid;
  if (m.resourceVersion) ref.resourceVersion = m.resourceVersion;
  return ref;
}

function refKey(r: ObjectReference | undefined): string {
  if (!r) return "";
  return [r.apiVersion, r.kind, r.namespace, r.name, r.uid, r.resourceVersion, r.fieldPath].map((v) => v ?? "").join("\u0000");
}

/** Upstream's isomorphism key: action, reason, reporting controller, regarding, related (not the note, not the type). */
export function isomorphicKey(ev: EventsV1Event): string {
  return [ev.action ?? "", ev.reason ?? "", ev.reportingController ?? "", refKey(ev.regarding), refKey(ev.related)].join("\u0001");
}

/** The object an Event is about, as the key that orders its writes. */
function writeKey(ev: EventsV1Event): string {
  const r = ev.regarding;
  return `${r?.apiVersion ?? ""}\u0000${r?.kind ?? ""}\u0000${r?.namespace ?? ""}\u0000${r?.name ?? ""}\u0000${r?.uid ?? ""}`;
}

/** `<name>.<nanoseconds in hex>`, upstream's `fmt.Sprintf("%v.%x", refRegarding.Name, t.UnixNano())`. */
export function eventName(regardingName: string, unixNanos: bigint): string {
  return `${regardingName}.${unixNanos.toString(16)}`;
}

/**
 * The copy of a cached Event that a queued write sends. The cache changes an
 * Event only by setting `series` or bumping its fields, so a copy of the top
 * level with its own `series` is as independent as a deep one, at a fraction
 * of structuredClone's cost (one per recorded event).
 */
function clone(ev: EventsV1Event): EventsV1Event {
  return ev.series ? { ...ev, series: { ...ev.series } } : { ...ev };
}

/** Records Events for one reporting controller. */
export class EventRecorder {
  /** This recorder's offset within each millisecond of its event names. */
  private readonly subMillisecond = BigInt(Math.floor(Math.random() * 1_000_000));
  private readonly sink: EventSink;
  private readonly timers: Timers;
  private readonly log: Logger;
  private readonly reportingInstance: string;
  private readonly maxQueued: number;
  private readonly flushMs: number;
  private readonly retryDelayMs: number;
  private readonly maxTries: number;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly spam?: EventSpamFilter;
  private readonly queue: WriteJob[] = [];
  private readonly maxInFlight: number;
  /** Objects with a write in flight. */
  private readonly writing = new Set<string>();
  private kickQueued = false;
  private readonly retries = new Set<() => void>();
  private lastNanos = 0n;
  private idleWaiters: (() => void)[] = [];
  private cancelTick: (() => void) | undefined;
  private stopped = false;

  constructor(private readonly opts: EventRecorderOptions) {
    this.sink = opts.sink instanceof RestClient ? restEventSink(opts.sink) : opts.sink;
    this.timers = opts.timers ?? systemTimers;
    this.log = (opts.logger ?? silentLogger).with({ component: "events", controller: opts.reportingController });
    this.reportingInstance = opts.reportingInstance ?? `${opts.reportingController}-${hostname()}`;
    this.maxQueued = opts.maxQueued ?? 1000;
    this.maxInFlight = Math.max(1, opts.maxInFlight ?? 16);
    this.flushMs = opts.seriesFlushIntervalMs ?? 30_000;
    this.retryDelayMs = opts.retryDelayMs ?? 10_000;
    this.maxTries = opts.maxTries ?? 12;
    if (opts.spamFilter) this.spam = new EventSpamFilter(opts.spamFilter);
  }

  /**
   * Records an Event about `regarding` (optionally `related`). Returns at
   * once; the write happens in the background.
   */
  event(regarding: EventSubject, related: EventSubject | undefined, type: EventType, reason: string, action: string, note: string): void {
    try {
      if (this.stopped) return;
      if (type !== "Normal" && type !== "Warning") {
        this.log.error("unsupported event type; dropping event", { type, reason });
        return;
      }
      const ref = referenceOf(regarding);
      if (!ref.name) {
        this.log.error("event regarding an object without a name; dropping event", { reason });
        return;
      }
      const now = this.timers.now();
      // Names must be unique even for events in the same millisecond (JS has no finer clock):
      // a random sub-millisecond offset per recorder keeps two components (the scheduler's
      // Scheduled, the kubelet's Created) from naming the same pod's events alike, as
      // upstream's real nanoseconds do; lastNanos keeps one recorder's names distinct.
      let nanos = BigInt(now) * 1_000_000n + this.subMillisecond;
      if (nanos <= this.lastNanos) nanos = this.lastNanos + 1n;
      this.lastNanos = nanos;
      const ev: EventsV1Event = {
        apiVersion: "events.k8s.io/v1",
        kind: "Event",
        metadata: { name: eventName(ref.name, nanos), namespace: ref.namespace || "default" },
        eventTime: formatMicroTime(now),
        reportingController: this.opts.reportingController,
        reportingInstance: this.reportingInstance,
        action,
        reason,
        regarding: ref,
        ...(related ? { related: referenceOf(related) } : {}),
        note,
        type,
      };
      this.observe(ev, now);
    } catch (err) {
      this.log.error("could not record event", { err: (err as Error).message, reason });
    }
  }

  /** {@link event} with a printf-style note (`%s`, `%d`, `%j`… as `util.format`). */
  eventf(regarding: EventSubject, related: EventSubject | undefined, type: EventType, reason: string, action: string, note: string, ...args: unknown[]): void {
    let text = note;
    try {
      text = args.length > 0 ? format(note, ...args) : note;
    } catch {
      // Keep the unformatted note rather than lose the event.
    }
    this.event(regarding, related, type, reason, action, text);
  }

  /** Resolves once every queued write has been attempted (scheduled retries not awaited). */
  flush(): Promise<void> {
    if (this.writing.size === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Writes pending series counts, waits for queued writes, then stops (later events are ignored). */
  async shutdown(): Promise<void> {
    if (this.stopped) return;
    for (const entry of this.cache.values()) {
      if (entry.dirty) {
        entry.dirty = false;
        this.enqueue({ event: clone(entry.event), attempt: 1, key: writeKey(entry.event) });
      }
    }
    this.stopped = true;
    this.cancelTick?.();
    this.cancelTick = undefined;
    for (const cancel of this.retries) cancel();
    this.retries.clear();
    await this.flush();
    this.cache.clear();
  }

  /** Applies upstream's series logic to a new occurrence. */
  private observe(ev: EventsV1Event, now: number): void {
    const key = isomorphicKey(ev);
    const entry = this.cache.get(key);
    const repeat = entry !== undefined && now - entry.lastSeen <= FINISH_MS;
    // Only occurrences that write at once take a token: bumping a series' count is written by the periodic flush.
    if (this.spam && !(repeat && entry.event.series) && !this.spam.allow(`${ev.type}\u0000${writeKey(ev)}`, now)) {
      this.log.debug("event spam filter: dropping event", { reason: ev.reason, regarding: ev.regarding?.name });
      return;
    }
    if (entry && repeat) {
      entry.lastSeen = now;
      const cached = entry.event;
      if (cached.series) {
        cached.series.count++;
        cached.series.lastObservedTime = formatMicroTime(now);
        entry.dirty = true;
        return;
      }
      cached.series = { count: 2, lastObservedTime: formatMicroTime(now) };
      this.enqueue({ event: clone(cached), attempt: 1, key: writeKey(cached) });
      return;
    }
    // A finished series not yet swept still owes its final count.
    if (entry?.dirty) this.enqueue({ event: clone(entry.event), attempt: 1, key: writeKey(entry.event) });
    this.cache.set(key, { event: ev, lastSeen: now, dirty: false });
    this.armTick();
    this.enqueue({ event: clone(ev), attempt: 1, key: writeKey(ev) });
  }

  private enqueue(job: WriteJob): void {
    if (this.queue.length >= this.maxQueued) {
      this.log.warn("event queue full; dropping event", { reason: job.event.reason, regarding: job.event.regarding?.name });
      return;
    }
    this.queue.push(job);
    if (!this.kickQueued) {
      this.kickQueued = true;
      queueMicrotask(() => {
        this.kickQueued = false;
        this.kick();
      });
    }
  }

  /** Starts queued writes while slots are free, oldest first, never two about one object at once. */
  private kick(): void {
    while (this.writing.size < this.maxInFlight && this.queue.length > 0) {
      let i = 0;
      while (i < this.queue.length && this.writing.has(this.queue[i]!.key)) i++;
      if (i === this.queue.length) break;
      const job = i === 0 ? this.queue.shift()! : this.queue.splice(i, 1)[0]!;
      this.writing.add(job.key);
      void this.write(job).finally(() => {
        this.writing.delete(job.key);
        this.kick();
        if (this.writing.size === 0 && this.queue.length === 0) {
          const w = this.idleWaiters;
          this.idleWaiters = [];
          for (const r of w) r();
        }
      });
    }
  }

  private async write(job: WriteJob): Promise<void> {
    const ev = job.event;
    try {
      await this.record(ev);
    } catch (err) {
      if (err instanceof StatusError) {
        // The server rejected this Event; sending it again will not change that.
        if (isAlreadyExists(err)) this.log.debug("server rejected event", { err: err.message });
        else this.log.warn("server rejected event; dropping it", { err: err.message, reason: ev.reason, regarding: ev.regarding?.name });
        return;
      }
      if (job.attempt >= this.maxTries || this.stopped) {
        this.log.error("unable to write event; dropping it", { err: (err as Error).message, tries: job.attempt });
        return;
      }
      this.log.warn("unable to write event; will retry", { err: (err as Error).message, attempt: job.attempt });
      const delay = this.retryDelayMs * (0.75 + Math.random() * 0.5);
      const cancel = this.timers.after(delay, () => {
        this.retries.delete(cancel);
        this.enqueue({ event: ev, attempt: job.attempt + 1, key: job.key });
      });
      this.retries.add(cancel);
    }
  }

  /** Upstream's recordEvent: PATCH a series (create it if the object is gone), create anything else. */
  private async record(ev: EventsV1Event): Promise<void> {
    const ns = ev.metadata?.namespace ?? "default";
    if (ev.series) {
      try {
        await this.sink.patch(ns, ev.metadata!.name!, { series: { count: ev.series.count, lastObservedTime: ev.series.lastObservedTime } });
        return;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    const { resourceVersion: _rv, ...meta } = ev.metadata ?? {};
    await this.sink.create({ ...ev, metadata: meta });
  }

  /** Runs the flush/expiry sweep while anything is cached; no timer when idle. */
  private armTick(): void {
    if (this.cancelTick || this.stopped) return;
    this.cancelTick = this.timers.after(this.flushMs, () => {
      this.cancelTick = undefined;
      this.sweep();
      if (this.cache.size > 0) this.armTick();
    });
  }

  private sweep(): void {
    const now = this.timers.now();
    for (const [key, entry] of this.cache) {
      if (entry.dirty) {
        entry.dirty = false;
        this.enqueue({ event: clone(entry.event), attempt: 1, key: writeKey(entry.event) });
      }
      if (now - entry.lastSeen > FINISH_MS) this.cache.delete(key);
    }
  }
}
