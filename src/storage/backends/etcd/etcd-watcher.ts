/**
 * One watch on etcd that survives etcd restarts: its own gRPC stream,
 * resumed where it left off, with progress notifications it can trust.
 */
import {
  GRPCDeadlineExceededError,
  GRPCUnavailableError,
  type IDuplexStream,
  type IEvent,
  type IKeyValue,
  type IWatchRequest,
  type IWatchResponse,
} from "etcd3";
import { Backoff } from "../../../machinery/backoff.js";
import type { Logger } from "../../../machinery/log.js";
import { CompactedError, StoreUnavailableError } from "../../errors.js";
import type { KeyValue, WatchEvent } from "../../store.js";
import { WatchQueue } from "../../watch-queue.js";
import { endStream } from "./etcd-client.js";
import { revisionOf } from "./etcd-convert.js";
import { type ErrorContext, errorMessage } from "./etcd-errors.js";

/** A bidirectional etcd watch stream. */
export type WatchStream = IDuplexStream<IWatchRequest, IWatchResponse>;

/** What an {@link EtcdWatcher} uses of its store. */
export interface WatcherSupport {
  openStream(): Promise<WatchStream>;
  toKeyValue(kv: IKeyValue): KeyValue;
  translate(err: unknown, op: string, ctx: ErrorContext): Promise<unknown>;
  forget(w: EtcdWatcher): void;
  readonly log: Logger;
  readonly endpoints: string;
  readonly requestTimeoutMs: number;
}

/** What to watch and how, for {@link EtcdWatcher}. */
export interface EtcdWatcherOptions {
  /** The etcd byte range [key, end) watched. */
  readonly key: Buffer;
  readonly end: Buffer;
  /** First revision to deliver; 0 to start after {@link now}. */
  readonly startRevision: number;
  /** For a watch "from now": the store revision at the call. */
  readonly now?: Promise<number>;
  readonly progressIntervalMs: number;
  readonly signal?: AbortSignal;
  readonly support: WatcherSupport;
}

/**
 * A watch that survives etcd restarts. Each watcher has its own gRPC stream
 * (so a progress request speaks for this watcher alone); when it breaks, a
 * new stream resumes at the first revision not yet delivered, so nothing is
 * lost or repeated, and a compacted resume point fails with CompactedError.
 *
 * Progress: etcd 3.4.23 answers a progress request with the store revision
 * without waiting for events still queued for the watcher (etcd issue
 * #15220, fixed in 3.4.25), so an answer could overtake an event. A progress
 * answer is therefore only delivered once a second request, sent after it,
 * has been answered with no older event arriving in between, and only while
 * the watcher is idle and caught up.
 */
export class EtcdWatcher {
  readonly queue: WatchQueue;
  private readonly s: WatcherSupport;
  /** First revision not yet delivered: where a new stream starts. */
  private next = 0;
  /** Highest revision a progress batch has claimed. */
  private progressDelivered = 0;
  /** Revision of the last event delivered. */
  private lastEventRevision = 0;
  /** Whether the current outage has been logged at warn level already. */
  private outageLogged = false;
  private stream?: WatchStream;
  private generation = 0;
  private watchId?: string;
  private established = false;
  private everEstablished = false;
  private establishDeadline = 0;
  private createdAt = 0;
  /** Store revision when the current stream's watch was created. */
  private createdRevision = 0;
  private lastEventAt = 0;
  private clusterId?: string;
  private progressPhase: "idle" | "asked" | "confirming" = "idle";
  private pendingProgress?: number;
  private readonly backoff = new Backoff(250, 5000);
  private reconnectTimer?: NodeJS.Timeout;
  private progressTimer?: NodeJS.Timeout;
  private createTimer?: NodeJS.Timeout;
  private done = false;

  constructor(private readonly opts: EtcdWatcherOptions) {
    this.s = opts.support;
    this.queue = new WatchQueue({ signal: opts.signal, onClose: () => this.stop() });
  }

  /** Where a relist-and-rewatch would have to start; for CompactedError. */
  get resumeRevision(): number {
    return this.next;
  }

  /** Opens the first stream; the watch then runs until it fails or is stopped. */
  start(): void {
    if (this.done) return;
    this.establishDeadline = Date.now() + this.s.requestTimeoutMs;
    void this.begin();
  }

  private async begin(): Promise<void> {
    if (this.opts.startRevision > 0 || !this.opts.now) {
      this.next = this.opts.startRevision;
    } else {
      try {
        this.next = (await this.opts.now) + 1;
      } catch (err) {
        this.fail(err);
        return;
      }
    }
    this.lastEventRevision = this.next - 1;
    if (this.opts.progressIntervalMs > 0) {
      this.progressTimer = setInterval(() => this.askProgress(), this.opts.progressIntervalMs);
    }
    await this.connect();
  }

  private async connect(): Promise<void> {
    if (this.done) return;
    const gen = ++this.generation;
    this.established = false;
    this.watchId = undefined;
    this.progressPhase = "idle";
    this.pendingProgress = undefined;
    let stream: WatchStream;
    try {
      stream = await this.s.openStream();
    } catch (err) {
      this.broken(gen, err);
      return;
    }
    if (this.done || gen !== this.generation) {
      endStream(stream);
      return;
    }
    this.stream = stream;
    stream.on("data", (res) => {
      if (gen !== this.generation || this.done) return;
      try {
        this.onResponse(res);
      } catch (err) {
        this.fail(err);
      }
    });
    stream.on("error", (err) => this.broken(gen, err));
    stream.on("end", () => this.broken(gen, new GRPCUnavailableError("watch stream ended by etcd")));
    this.createTimer = setTimeout(
      () => this.broken(gen, new GRPCDeadlineExceededError(`watch not created within ${this.s.requestTimeoutMs} ms`)),
      this.s.requestTimeoutMs,
    );
    stream.write({
      create_request: {
        key: this.opts.key,
        range_end: this.opts.end,
        start_revision: this.next,
        prev_kv: true,
        // etcd's own per-watcher notifications are ordered with events; they
        // come at the server's interval (10 min by default).
        progress_notify: this.opts.progressIntervalMs > 0,
      },
    });
  }

  /** The stream failed or ended: resume on a new one, or give up if never established in time. */
  private broken(gen: number, err: unknown): void {
    if (gen !== this.generation || this.done) return;
    this.generation++;
    clearTimeout(this.createTimer);
    if (this.stream) endStream(this.stream);
    this.stream = undefined;
    this.established = false;
    if (!this.everEstablished && Date.now() >= this.establishDeadline) {
      void this.s.translate(err, "watch", {}).then((e) => this.fail(e));
      return;
    }
    const delay = this.backoff.next();
    if (this.everEstablished) {
      // One warning per outage; the retries themselves only at debug level.
      const fields = { endpoint: this.s.endpoints, fromRevision: this.next, err: errorMessage(err), retryIn: `${delay / 1000}s` };
      if (this.outageLogged) this.s.log.debug("etcd watch still broken, retrying", fields);
      else this.s.log.warn("etcd watch broken, resuming", fields);
      this.outageLogged = true;
    }
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
  }

  private onResponse(res: IWatchResponse): void {
    const cluster = res.header?.cluster_id;
    if (cluster && cluster !== "0") {
      if (this.clusterId && this.clusterId !== cluster) {
        // A different etcd cluster behind the same endpoint: its revisions
        // mean nothing to us, so the consumer must relist.
        this.fail(new CompactedError(this.next, 0));
        return;
      }
      this.clusterId = cluster;
    }
    if (res.created) {
      clearTimeout(this.createTimer);
      if (res.canceled) {
        this.fail(new StoreUnavailableError(`etcd at ${this.s.endpoints} refused the watch: ${res.cancel_reason}`));
        return;
      }
      if (this.outageLogged) this.s.log.info("etcd watch resumed", { endpoint: this.s.endpoints, fromRevision: this.next });
      this.outageLogged = false;
      this.watchId = res.watch_id;
      this.established = true;
      this.everEstablished = true;
      this.createdAt = Date.now();
      this.createdRevision = revisionOf(res.header);
      this.backoff.reset();
      return;
    }
    if (res.canceled) {
      const compactRevision = Number(res.compact_revision);
      if (compactRevision > 0) {
        this.fail(new CompactedError(this.next, compactRevision));
        return;
      }
      this.broken(this.generation, new GRPCUnavailableError(`etcd cancelled the watch: ${res.cancel_reason || "no reason"}`));
      return;
    }
    if (res.events.length > 0) {
      this.onEvents(res.events);
      return;
    }
    const revision = revisionOf(res.header);
    if (res.watch_id === this.watchId) {
      // etcd's periodic per-watcher notification: sent only to a synced
      // watcher, through the same queue as its events, so it is exact.
      this.deliverProgress(revision);
    } else if (res.watch_id === "-1") {
      this.onProgressAnswer(revision);
    }
  }

  private onEvents(raw: readonly IEvent[]): void {
    const events: WatchEvent[] = [];
    let last = 0;
    for (const ev of raw) {
      const kv = this.s.toKeyValue(ev.kv);
      // Never repeat an event, whatever a resumed stream sends.
      if (kv.modRevision <= this.lastEventRevision) continue;
      if (kv.modRevision < this.next) {
        // Not delivered, yet older than a progress batch already delivered:
        // the progress answer overtook it despite the confirmation round.
        // Delivering it now would move time backwards, so make the consumer relist.
        this.s.log.warn("etcd watch event older than a delivered progress notification; forcing relist", {
          endpoint: this.s.endpoints,
          eventRevision: kv.modRevision,
          progressRevision: this.progressDelivered,
        });
        this.fail(new CompactedError(this.next, 0));
        return;
      }
      const prevKv = ev.prev_kv && ev.prev_kv.key.length > 0 ? this.s.toKeyValue(ev.prev_kv) : undefined;
      const type = String(ev.type).toLowerCase() === "delete" ? "delete" : "put";
      events.push(prevKv ? { type, kv, prevKv } : { type, kv });
      last = kv.modRevision;
    }
    if (events.length === 0) return;
    const first = events[0]!.kv.modRevision;
    this.lastEventAt = Date.now();
    // An unconfirmed progress answer at or past this event was premature.
    if (this.pendingProgress !== undefined && first <= this.pendingProgress) this.pendingProgress = undefined;
    this.queue.push({ events, revision: last });
    this.next = last + 1;
    this.lastEventRevision = last;
  }

  private deliverProgress(revision: number): void {
    // Repeating the last revision is fine (an idle watcher hears "still at
    // R" each interval); going backwards is not.
    if (revision < this.next - 1) return;
    this.queue.push({ events: [], revision });
    this.next = revision + 1;
    this.progressDelivered = revision;
  }

  private askProgress(): void {
    if (this.done || !this.established || !this.stream || this.progressPhase !== "idle") return;
    const now = Date.now();
    // Only while idle, and only once caught up: a watch that started in the
    // past may still be replaying history that a progress answer would skip.
    if (now - this.lastEventAt < this.opts.progressIntervalMs) return;
    const caughtUp = this.next > this.createdRevision || now - this.createdAt >= 1000;
    if (!caughtUp) return;
    this.progressPhase = "asked";
    this.stream.write({ progress_request: {} });
  }

  private onProgressAnswer(revision: number): void {
    if (this.progressPhase === "asked") {
      this.pendingProgress = revision;
      this.progressPhase = "confirming";
      this.stream?.write({ progress_request: {} });
    } else if (this.progressPhase === "confirming") {
      this.progressPhase = "idle";
      const confirmed = this.pendingProgress;
      this.pendingProgress = undefined;
      if (confirmed !== undefined) this.deliverProgress(confirmed);
    }
  }

  /** Ends the watch with `err` (CompactedError, StoreUnavailableError…). */
  fail(err: unknown): void {
    this.queue.fail(err);
    this.stop();
  }

  /** Stops the stream and timers; the queue ends if it has not already. */
  stop(): void {
    if (this.done) return;
    this.done = true;
    this.generation++;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.createTimer);
    clearInterval(this.progressTimer);
    if (this.stream) endStream(this.stream);
    this.stream = undefined;
    this.queue.end();
    this.s.forget(this);
  }
}
