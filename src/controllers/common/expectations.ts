/**
 * Controller expectations, as upstream's (pkg/controller/controller_utils.go):
 * a controller that just asked for N creates (or deletes) records that it
 * expects to observe them, and skips managing replicas until the informer
 * has shown them all, or until the expectations are 5 minutes old (a lost
 * watch event must not stall the controller forever). This is what stops a
 * sync that runs before the cache caught up from creating the same pods
 * twice.
 *
 * Keys are the controller's `ns/name`. Expectations only ever go down once
 * set, and a controller with none recorded is always free to sync.
 */
import { type Clock, systemClock } from "../../machinery/clock.js";
import { type Logger, silentLogger } from "../../machinery/log.js";

/** Upstream's `ExpectationsTimeout`: expectations older than this are treated as met. */
export const EXPECTATIONS_TIMEOUT_MS = 5 * 60_000;

/** The adds and deletes one controller still waits to observe. */
export class ControlleeExpectations {
  constructor(
    private add: number,
    private del: number,
    readonly key: string,
    /** When they were set (epoch ms). */
    readonly timestamp: number,
  ) {}

  /** Changes the counts by `add` and `del` (negative to lower them). */
  change(add: number, del: number): void {
    this.add += add;
    this.del += del;
  }

  /** True once no more adds or deletes are awaited. */
  fulfilled(): boolean {
    return this.add <= 0 && this.del <= 0;
  }

  /** The awaited counts `[add, del]` (negative when more were observed than expected). */
  getExpectations(): [add: number, del: number] {
    return [this.add, this.del];
  }
}

/** Options of {@link ControllerExpectations}. */
export interface ControllerExpectationsOptions {
  readonly clock?: Clock;
  /** Age after which expectations count as met ({@link EXPECTATIONS_TIMEOUT_MS}). */
  readonly timeoutMs?: number;
  readonly logger?: Logger;
}

/** What each controller (by key) expects to see before it syncs again (upstream's `ControllerExpectations`). */
export class ControllerExpectations {
  private readonly store = new Map<string, ControlleeExpectations>();
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  private readonly log: Logger;

  constructor(opts: ControllerExpectationsOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.timeoutMs = opts.timeoutMs ?? EXPECTATIONS_TIMEOUT_MS;
    this.log = opts.logger ?? silentLogger;
  }

  /** The expectations recorded for `key`. */
  getExpectations(key: string): ControlleeExpectations | undefined {
    return this.store.get(key);
  }

  /** Forgets `key`'s expectations (its controller was deleted). */
  deleteExpectations(key: string): void {
    this.store.delete(key);
  }

  /**
   * Whether `key` may sync: its expectations are met, expired, or were
   * never recorded.
   */
  satisfiedExpectations(key: string): boolean {
    const exp = this.store.get(key);
    if (!exp) {
      // A new controller has none yet; one whose last expectations were deleted starts afresh.
      this.log.debug("controller either never recorded expectations, or the ttl expired", { key });
      return true;
    }
    if (exp.fulfilled()) return true;
    if (this.isExpired(exp)) {
      this.log.debug("controller expectations expired", { key });
      return true;
    }
    const [add, del] = exp.getExpectations();
    this.log.debug("controller still waiting on expectations", { key, add, del });
    return false;
  }

  private isExpired(exp: ControlleeExpectations): boolean {
    return this.clock.now() - exp.timestamp > this.timeoutMs;
  }

  /** Replaces `key`'s expectations with `add` creates and `del` deletes, stamped now. */
  setExpectations(key: string, add: number, del: number): void {
    this.store.set(key, new ControlleeExpectations(add, del, key, this.clock.now()));
    this.log.debug("setting expectations", { key, add, del });
  }

  /** Expects `adds` creates (and no deletes). */
  expectCreations(key: string, adds: number): void {
    this.setExpectations(key, adds, 0);
  }

  /** Expects `dels` deletes (and no creates). */
  expectDeletions(key: string, dels: number): void {
    this.setExpectations(key, 0, dels);
  }

  /** Lowers `key`'s expectations, if it has any. */
  lowerExpectations(key: string, add: number, del: number): void {
    this.store.get(key)?.change(-add, -del);
  }

  /** Raises `key`'s expectations, if it has any. */
  raiseExpectations(key: string, add: number, del: number): void {
    this.store.get(key)?.change(add, del);
  }

  /** One awaited create was seen (or will never happen). */
  creationObserved(key: string): void {
    this.lowerExpectations(key, 1, 0);
  }

  /** One awaited delete was seen (or will never happen). */
  deletionObserved(key: string): void {
    this.lowerExpectations(key, 0, 1);
  }
}

/**
 * Expectations that also remember which pods (`ns/name`) a controller is
 * deleting, so a graceful deletion counts once, whether it is seen as the
 * update that sets deletionTimestamp or as the final delete (upstream's
 * `UIDTrackingControllerExpectations`).
 */
export class UIDTrackingControllerExpectations {
  private readonly uids = new Map<string, Set<string>>();

  constructor(
    /** The counting expectations underneath. */
    readonly expectations: ControllerExpectations = new ControllerExpectations(),
    private readonly logger: Logger = silentLogger,
  ) {}

  /** The pod keys `key` still waits to see deleted. */
  getUIDs(key: string): ReadonlySet<string> | undefined {
    return this.uids.get(key);
  }

  /** Expects the deletion of exactly these pods (replacing earlier ones). */
  expectDeletions(key: string, deletedKeys: readonly string[]): void {
    const existing = this.uids.get(key);
    if (existing && existing.size > 0) this.logger.error("clobbering existing delete keys", { key, keys: [...existing].join(",") });
    const expected = new Set(deletedKeys);
    this.uids.set(key, expected);
    this.expectations.expectDeletions(key, expected.size);
  }

  /** Records the deletion of pod `deleteKey`, if `key` was waiting for it. */
  deletionObserved(key: string, deleteKey: string): void {
    const uids = this.uids.get(key);
    if (uids?.has(deleteKey)) {
      this.logger.debug("controller received delete for pod", { key, pod: deleteKey });
      this.expectations.deletionObserved(key);
      uids.delete(deleteKey);
    }
  }

  /** Forgets everything about `key`. */
  deleteExpectations(key: string): void {
    this.expectations.deleteExpectations(key);
    this.uids.delete(key);
  }

  /** See {@link ControllerExpectations.getExpectations}. */
  getExpectations(key: string): ControlleeExpectations | undefined {
    return this.expectations.getExpectations(key);
  }

  /** See {@link ControllerExpectations.satisfiedExpectations}. */
  satisfiedExpectations(key: string): boolean {
    return this.expectations.satisfiedExpectations(key);
  }

  /** See {@link ControllerExpectations.setExpectations}. */
  setExpectations(key: string, add: number, del: number): void {
    this.expectations.setExpectations(key, add, del);
  }

  /** See {@link ControllerExpectations.expectCreations}. */
  expectCreations(key: string, adds: number): void {
    this.expectations.expectCreations(key, adds);
  }

  /** See {@link ControllerExpectations.creationObserved}. */
  creationObserved(key: string): void {
    this.expectations.creationObserved(key);
  }

  /** See {@link ControllerExpectations.lowerExpectations}. */
  lowerExpectations(key: string, add: number, del: number): void {
    this.expectations.lowerExpectations(key, add, del);
  }

  /** See {@link ControllerExpectations.raiseExpectations}. */
  raiseExpectations(key: string, add: number, del: number): void {
    this.expectations.raiseExpectations(key, add, del);
  }
}
