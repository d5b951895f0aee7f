/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's
 * `leaderelection` with the Lease lock: candidates try to take the Lease
 * every retry period; the holder renews it, and stops leading when it has
 * not managed to renew within the renew deadline. A candidate takes over a
 * Lease whose record it has seen unchanged for the lease duration, judged
 * by its own clock (never by the timestamps in the record, so clock skew
 * between machines does not matter). Writes are conditional on the
 * resourceVersion last read, so two candidates never both win (409 → try
 * again next period).
 */
import type { Lease, LeaseSpec } from "kubernetes-types/coordination/v1.js";
import { type Logger, silentLogger } from "../machinery/log.js";
import { isConflict, isNotFound } from "../machinery/status-error.js";
import { formatMicroTime } from "./micro-time.js";
import type { WriteOptions } from "./resource-client.js";
import { sleepOn, systemTimers, type Timers } from "./timers.js";

/** client-go's JitterFactor: acquire retries wait retryPeriod × (1 + rand·1.2). */
const JITTER_FACTOR = 1.2;

/** The Lease calls an elector makes; a namespaced `ResourceClient<Lease>` is one. */
export interface LeaseApi {
  get(name: string, opts?: { readonly signal?: AbortSignal }): Promise<Lease>;
  create(lease: Lease, opts?: WriteOptions): Promise<Lease>;
  update(lease: Lease, opts?: WriteOptions): Promise<Lease>;
}

/** Options of a {@link LeaderElector}. */
export interface LeaderElectionOptions {
  /** Lease access in the lock's namespace, e.g. `new ResourceClient<Lease>(rest, LEASES).namespace("kube-system")`. */
  readonly leases: LeaseApi;
  /** The Lease's namespace (written into a Lease the elector creates). */
  readonly namespace: string;
  /** The Lease's name, e.g. `kube-scheduler`. */
  readonly name: string;
  /** This candidate's identity (unique per process, e.g. `hostname_uuid`). */
  readonly identity: string;
  /** How long a holder's Lease stands without renewal (15 s). */
  readonly leaseDurationMs?: number;
  /** How long the holder keeps retrying a renewal before it gives up leading (10 s). */
  readonly renewDeadlineMs?: number;
  /** Time between attempts (2 s). */
  readonly retryPeriodMs?: number;
  /**
   * Clear the holder when `run`'s signal aborts, so a successor need not
   * wait out the lease. Only safe when the leader's work has stopped by then.
   */
  readonly releaseOnCancel?: boolean;
  readonly timers?: Timers;
  readonly logger?: Logger;
}

/** What happens as leadership comes and goes. */
export interface LeaderCallbacks {
  /** Now leading; do the work until `signal` aborts (leadership lost or `run` stopped). */
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  /** Called when `run` ends, whether or not this candidate ever led (as client-go). */
  onStoppedLeading?(): void;
  /** The observed leader changed (including the first one seen, and this candidate itself). */
  onNewLeader?(identity: string): void;
}

/** The Lease fields an elector compares. */
interface LeaseRecord {
  readonly holderIdentity: string;
  readonly leaseDurationSeconds: number;
  readonly acquireTime?: string;
  readonly renewTime?: string;
  readonly leaseTransitions: number;
}

const EMPTY: LeaseRecord = { holderIdentity: "", leaseDurationSeconds: 0, leaseTransitions: 0 };

function recordOf(spec: LeaseSpec | undefined): LeaseRecord {
  return {
    holderIdentity: spec?.holderIdentity ?? "",
    leaseDurationSeconds: spec?.leaseDurationSeconds ?? 0,
    acquireTime: spec?.acquireTime,
    renewTime: spec?.renewTime,
    leaseTransitions: spec?.leaseTransitions ?? 0,
  };
}

function sameRecord(a: LeaseRecord, b: LeaseRecord): boolean {
  return (
    a.holderIdentity === b.holderIdentity &&
    a.leaseDurationSeconds === b.leaseDurationSeconds &&
    a.acquireTime === b.acquireTime &&
    a.renewTime === b.renewTime &&
    a.leaseTransitions === b.leaseTransitions
  );
}

function specOf(r: LeaseRecord): LeaseSpec {
  return {
    ...(r.holderIdentity ? { holderIdentity: r.holderIdentity } : {}),
    leaseDurationSeconds: r.leaseDurationSeconds,
    acquireTime: r.acquireTime,
    renewTime: r.renewTime,
    leaseTransitions: r.leaseTransitions,
  };
}

/** One candidate in one election. */
export class LeaderElector {
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly timers: Timers;
  private readonly log: Logger;
  private observed: LeaseRecord = EMPTY;
  /** Local time at which `observed` last changed. */
  private observedTime = 0;
  /** The Lease last read or written (its resourceVersion conditions the next write). */
  private lease: Lease | undefined;
  private reportedLeader = "";
  private callbacks: LeaderCallbacks | undefined;

  constructor(private readonly opts: LeaderElectionOptions) {
    this.leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2_000;
    if (!opts.identity) throw new Error("leader election needs an identity");
    if (!(this.retryPeriodMs > 0 && this.renewDeadlineMs > 0 && this.leaseDurationMs > 0)) throw new Error("leader election durations must be > 0");
    if (this.leaseDurationMs <= this.renewDeadlineMs) throw new Error("leaseDuration must be greater than renewDeadline");
    if (this.renewDeadlineMs <= JITTER_FACTOR * this.retryPeriodMs) throw new Error("renewDeadline must be greater than retryPeriod*1.2");
    this.timers = opts.timers ?? systemTimers;
    this.log = (opts.logger ?? silentLogger).with({ component: "leader-election", lease: `${opts.namespace}/${opts.name}`, identity: opts.identity });
  }

  /** True if the last observed holder is this candidate. */
  isLeader(): boolean {
    return this.observed.holderIdentity === this.opts.identity;
  }

  /** The last observed holder ("" when none). */
  getLeader(): string {
    return this.observed.holderIdentity;
  }

  /**
   * Campaigns until this candidate leads, then leads until leadership is
   * lost or `signal` aborts. Resolves when done (never rejects); run again
   * to campaign again.
   */
  async run(callbacks: LeaderCallbacks, signal: AbortSignal): Promise<void> {
    this.callbacks = callbacks;
    try {
      if (!(await this.acquire(signal))) return;
      const lead = new AbortController();
      const onAbort = () => lead.abort();
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        this.startLeading(callbacks, lead.signal);
        await this.renew(signal);
      } finally {
        signal.removeEventListener("abort", onAbort);
        lead.abort();
      }
      if (this.opts.releaseOnCancel) await this.release();
    } finally {
      try {
        callbacks.onStoppedLeading?.();
      } catch (err) {
        this.log.error("onStoppedLeading threw", { err: (err as Error).message });
      }
    }
  }

  private startLeading(callbacks: LeaderCallbacks, signal: AbortSignal): void {
    try {
      const r = callbacks.onStartedLeading(signal);
      if (r instanceof Promise) r.catch((err: unknown) => this.log.error("onStartedLeading failed", { err: (err as Error)?.message }));
    } catch (err) {
      this.log.error("onStartedLeading threw", { err: (err as Error).message });
    }
  }

  /** Tries every retry period (jittered) until the Lease is ours; false if `signal` aborted. */
  private async acquire(signal: AbortSignal): Promise<boolean> {
    this.log.info("attempting to acquire leader lease");
    while (!signal.aborted) {
      const ok = await this.attempt(signal, this.renewDeadlineMs);
      this.maybeReportTransition();
      if (ok) {
        this.log.info("successfully acquired lease");
        return true;
      }
      try {
        await sleepOn(this.timers, this.retryPeriodMs * (1 + Math.random() * JITTER_FACTOR), signal);
      } catch {
        return false;
      }
    }
    return false;
  }

  /**
   * Renews every retry period; each round retries until it succeeds or
   * the renew deadline passes, which ends leadership. Returns then, or when
   * `signal` aborts.
   */
  private async renew(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await sleepOn(this.timers, this.retryPeriodMs, signal);
      } catch {
        return;
      }
      const deadline = this.timers.now() + this.renewDeadlineMs;
      let ok = false;
      while (!signal.aborted) {
        const left = deadline - this.timers.now();
        if (left <= 0) break;
        ok = await this.attempt(signal, left);
        if (ok) break;
        const wait = Math.min(this.retryPeriodMs, deadline - this.timers.now());
        if (wait <= 0) break;
        try {
          await sleepOn(this.timers, wait, signal);
        } catch {
          return;
        }
      }
      this.maybeReportTransition();
      if (signal.aborted) return;
      if (!ok) {
        this.log.info("failed to renew lease within the renew deadline; stopped leading", { renewDeadlineMs: this.renewDeadlineMs });
        return;
      }
    }
  }

  /** One tryAcquireOrRenew bounded by `withinMs` (a hung request must not outlive the deadline). */
  private async attempt(signal: AbortSignal, withinMs: number): Promise<boolean> {
    const ac = new AbortController();
    const onAbort = () => ac.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    const cancel = this.timers.after(withinMs, () => ac.abort());
    try {
      return await this.tryAcquireOrRenew(ac.signal);
    } finally {
      cancel();
      signal.removeEventListener("abort", onAbort);
    }
  }

  private leaseDurationSeconds(): number {
    return Math.max(1, Math.floor(this.leaseDurationMs / 1000));
  }

  private setObserved(lease: Lease, now: number): void {
    this.lease = lease;
    this.observed = recordOf(lease.spec);
    this.observedTime = now;
  }

  private withSpec(lease: Lease, r: LeaseRecord): Lease {
    return { ...lease, spec: specOf(r) };
  }

  /** client-go's tryAcquireOrRenew: true when this candidate holds the Lease afterwards. */
  private async tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const now = this.timers.now();
    const stamp = formatMicroTime(now);
    const desired = {
      holderIdentity: this.opts.identity,
      leaseDurationSeconds: this.leaseDurationSeconds(),
      acquireTime: stamp,
      renewTime: stamp,
      leaseTransitions: 0,
    };
    const { leases, name, namespace } = this.opts;

    // Fast path, as client-go: a leader whose lease is still valid renews
    // against the Lease it wrote last, without reading it first.
    if (this.isLeader() && this.lease && this.observedTime + this.observed.leaseDurationSeconds * 1000 > now) {
      try {
        const updated = await leases.update(
          this.withSpec(this.lease, { ...desired, acquireTime: this.observed.acquireTime, leaseTransitions: this.observed.leaseTransitions }),
          { signal },
        );
        this.setObserved(updated, now);
        return true;
      } catch (err) {
        this.log.debug("fast-path renewal failed; reading the lease", { err: (err as Error).message });
      }
    }

    let lease: Lease;
    try {
      lease = await leases.get(name, { signal });
    } catch (err) {
      if (!isNotFound(err)) {
        this.log.warn("error retrieving lease", { err: (err as Error).message });
        return false;
      }
      try {
        const created = await leases.create(
          { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name, namespace }, spec: specOf(desired) },
          { signal },
        );
        this.setObserved(created, now);
        return true;
      } catch (err2) {
        this.log.debug("error creating lease", { err: (err2 as Error).message });
        return false;
      }
    }

    const current = recordOf(lease.spec);
    this.lease = lease;
    if (!sameRecord(current, this.observed)) {
      this.observed = current;
      this.observedTime = now;
    }
    if (current.holderIdentity && this.observedTime + current.leaseDurationSeconds * 1000 > now && !this.isLeader()) {
      this.log.debug("lease is held by another candidate and has not expired", { holder: current.holderIdentity });
      return false;
    }
    const next: LeaseRecord = this.isLeader()
      ? { ...desired, acquireTime: current.acquireTime, leaseTransitions: current.leaseTransitions }
      : { ...desired, leaseTransitions: current.leaseTransitions + 1 };
    try {
      const updated = await leases.update(this.withSpec(lease, next), { signal });
      this.setObserved(updated, now);
      return true;
    } catch (err) {
      if (isConflict(err)) this.log.debug("lease changed underneath us; retrying next period");
      else this.log.warn("failed to update lease", { err: (err as Error).message });
      return false;
    }
  }

  /** Gives the Lease up (holder cleared, duration 1 s) if this candidate still holds it. */
  private async release(): Promise<void> {
    if (!this.isLeader()) return;
    const ac = new AbortController();
    const cancel = this.timers.after(this.renewDeadlineMs, () => ac.abort());
    try {
      const lease = await this.opts.leases.get(this.opts.name, { signal: ac.signal });
      const current = recordOf(lease.spec);
      if (current.holderIdentity !== this.opts.identity) return;
      const stamp = formatMicroTime(this.timers.now());
      const released: LeaseRecord = {
        holderIdentity: "",
        leaseDurationSeconds: 1,
        acquireTime: stamp,
        renewTime: stamp,
        leaseTransitions: current.leaseTransitions,
      };
      const updated = await this.opts.leases.update(this.withSpec(lease, released), { signal: ac.signal });
      this.setObserved(updated, this.timers.now());
      this.log.info("released leader lease");
    } catch (err) {
      this.log.warn("failed to release lease", { err: (err as Error).message });
    } finally {
      cancel();
    }
  }

  private maybeReportTransition(): void {
    const holder = this.observed.holderIdentity;
    if (holder === this.reportedLeader) return;
    this.reportedLeader = holder;
    // "Nobody" (a released Lease) is not a new leader worth announcing.
    if (!holder) return;
    const cb = this.callbacks?.onNewLeader;
    if (!cb) return;
    queueMicrotask(() => {
      try {
        cb(holder);
      } catch (err) {
        this.log.error("onNewLeader threw", { err: (err as Error).message });
      }
    });
  }
}
