/**
 * Scheduled snapshots of a cluster several servers share: one server takes
 * them, the holder of the `kube-system/skiff-server-jobs` Lease (upstream's
 * leader election: 15 s / 10 s / 2 s), so retention counts one set of files
 * and the members are not all paused for a snapshot at once. When the
 * holder dies, another server takes over within a lease period. `skiff
 * snapshot save` still works on any server at any time.
 */
import { configFromFiles } from "../client/config.js";
import { RestClient } from "../client/rest-client.js";
import { runWhileLeading } from "../client/run-while-leading.js";
import { SERVER_JOBS_LEASE } from "../apiserver/auth/rbac/bootstrap-policy.js";
import type { Logger } from "../machinery/log.js";
import type { SnapshotManager } from "../storage/snapshot/manager.js";
import type { Store } from "../storage/store.js";

/** Options of {@link leadScheduledSnapshots}. */
export interface SnapshotLeaderOptions {
  /** This server's API (loopback URL) and the identity its own jobs use (system:skiff-controller). */
  readonly server: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly snapshots: SnapshotManager;
  readonly store: Store;
  readonly schedule: string;
  readonly retention: number;
  readonly logger: Logger;
}

/** Campaigns for the Lease and schedules snapshots while holding it; resolves the stop function. */
export function leadScheduledSnapshots(o: SnapshotLeaderOptions): () => Promise<void> {
  const log = o.logger.with({ component: "snapshot" });
  const rest = new RestClient(configFromFiles({ server: o.server, caFile: o.caFile, certFile: o.certFile, keyFile: o.keyFile, userAgent: "skiff-server-jobs" }));
  const abort = new AbortController();
  const done = runWhileLeading({ rest, lease: SERVER_JOBS_LEASE, logger: log }, abort.signal, async (leading) => {
    log.info("this server takes the scheduled snapshots", { lease: `kube-system/${SERVER_JOBS_LEASE}` });
    o.snapshots.schedule(o.store, o.schedule, o.retention);
    await new Promise<void>((resolve) => {
      if (leading.aborted) resolve();
      else leading.addEventListener("abort", () => resolve(), { once: true });
    });
    o.snapshots.stop();
    log.info("this server no longer takes the scheduled snapshots");
  });
  return async () => {
    abort.abort();
    await done;
    rest.close();
  };
}
