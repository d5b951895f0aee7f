/**
 * What every leader-elected component does (kube-scheduler,
 * kube-controller-manager): campaign for a Lease in kube-system, run the
 * work while leading, and campaign again when leadership is lost (upstream's
 * process exits and is restarted; in one process the loop does that).
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { Lease } from "kubernetes-types/coordination/v1.js";
import type { Logger } from "../machinery/log.js";
import { LeaderElector } from "./leader-election.js";
import { ResourceClient } from "./resource-client.js";
import { LEASES } from "./resources.js";
import type { RestClient } from "./rest-client.js";

/** Options of {@link runWhileLeading}. */
export interface LeadOptions {
  readonly rest: RestClient;
  /** The Lease's name in kube-system, e.g. `kube-scheduler`. */
  readonly lease: string;
  readonly logger: Logger;
  /** `<hostname>_<uuid>` (as upstream) unless given. */
  readonly identity?: string;
  /** Upstream defaults 15 s / 10 s / 2 s. */
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
}

/** Runs `work` whenever this instance holds the Lease, until `signal` aborts. */
export async function runWhileLeading(opts: LeadOptions, signal: AbortSignal, work: (leading: AbortSignal) => Promise<void>): Promise<void> {
  const identity = opts.identity ?? `${hostname()}_${randomUUID()}`;
  while (!signal.aborted) {
    const elector = new LeaderElector({
      leases: new ResourceClient<Lease>(opts.rest, LEASES, "kube-system"),
      namespace: "kube-system",
      name: opts.lease,
      identity,
      leaseDurationMs: opts.leaseDurationMs,
      renewDeadlineMs: opts.renewDeadlineMs,
      retryPeriodMs: opts.retryPeriodMs,
      releaseOnCancel: true,
      logger: opts.logger,
    });
    await elector.run(
      {
        onStartedLeading: (leading) => work(leading),
        onNewLeader: (leader) => {
          if (leader !== identity) opts.logger.info("another instance leads", { lease: opts.lease, leader });
        },
      },
      signal,
    );
  }
}
