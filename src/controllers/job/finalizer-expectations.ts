/**
 * The pods (by uid) whose tracking finalizer a Job's sync removed and the
 * informer has not yet shown without it (upstream's
 * `uidTrackingExpectations` in tracking_utils.go). Until then a later sync
 * must not count those pods again.
 */
import { type Logger, silentLogger } from "../../machinery/log.js";

/** Expected finalizer removals, by Job key. */
export class FinalizerExpectations {
  private readonly byJob = new Map<string, Set<string>>();

  constructor(private readonly logger: Logger = silentLogger) {}

  /** A copy of the uids `jobKey` still waits for. */
  getExpectedUIDs(jobKey: string): Set<string> {
    return new Set(this.byJob.get(jobKey));
  }

  /** Records that the finalizers of these pods are being removed. */
  expectFinalizersRemoved(jobKey: string, uids: readonly string[]): void {
    this.logger.debug("expecting tracking finalizers removed", { key: jobKey, pods: uids.length });
    let set = this.byJob.get(jobKey);
    if (!set) this.byJob.set(jobKey, (set = new Set()));
    for (const uid of uids) set.add(uid);
  }

  /** The pod was seen without the finalizer (or gone, or its removal failed). */
  finalizerRemovalObserved(jobKey: string, uid: string): void {
    const set = this.byJob.get(jobKey);
    if (set?.delete(uid)) this.logger.debug("observed tracking finalizer removed", { key: jobKey, podUID: uid });
  }

  /** Forgets a deleted Job. */
  deleteExpectations(jobKey: string): void {
    this.byJob.delete(jobKey);
  }
}
