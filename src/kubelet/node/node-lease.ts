/**
 * The node heartbeat Lease (`kube-node-lease/NODE`), as upstream's
 * component-helpers lease controller: created with the Node as its owner,
 * its renewTime renewed every quarter of leaseDurationSeconds (10 s of 40),
 * through an optimistic update of the last copy; a failed renewal drops the
 * copy and retries after a short back-off.
 */
import type { Lease } from "kubernetes-types/coordination/v1.js";
import { formatMicroTime } from "../../client/micro-time.js";
import type { ResourceClient } from "../../client/resource-client.js";
import type { Timers } from "../../client/timers.js";
import type { Logger } from "../../machinery/log.js";
import { isNotFound } from "../../machinery/status-error.js";
import type { Limiter } from "../limiter.js";

/** The namespace of node Leases. */
export const NODE_LEASE_NAMESPACE = "kube-node-lease";

/** Options of a {@link NodeLease}. */
export interface NodeLeaseOptions {
  readonly nodeName: string;
  /** The `leases` client (any namespace; the lease namespace is set here). */
  readonly leases: ResourceClient<Lease>;
  readonly leaseDurationSeconds: number;
  /** The Node's UID once registered, for the owner reference. */
  readonly nodeUid: () => string | undefined;
  readonly timers: Timers;
  readonly logger: Logger;
  readonly limiter: Limiter;
  /** Delay of the first renewal (spreads many simulated nodes over the interval). */
  readonly initialDelayMs?: number;
}

/** Keeps one node's Lease fresh while started. */
export class NodeLease {
  private lease: Lease | undefined;
  private cancel: (() => void) | undefined;
  private stopped = true;
  private retryMs = 200;

  constructor(private readonly o: NodeLeaseOptions) {}

  /** Renew interval: a quarter of the lease duration, as upstream. */
  get renewIntervalMs(): number {
    return this.o.leaseDurationSeconds * 250;
  }

  start(): void {
    this.stopped = false;
    this.schedule(this.o.initialDelayMs ?? 0);
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
  }

  /** One renewal (exposed for tests); resolves true when the Lease was written. */
  async renew(): Promise<boolean> {
    const client = this.o.leases.namespace(NODE_LEASE_NAMESPACE);
    const now = formatMicroTime(this.o.timers.now());
    try {
      if (!this.lease) {
        try {
          this.lease = await this.o.limiter.run(() => client.get(this.o.nodeName), "heartbeat");
        } catch (err) {
          if (!isNotFound(err)) throw err;
          this.lease = await this.o.limiter.run(() => client.create(this.newLease(now)), "heartbeat");
          return true;
        }
      }
      const next: Lease = structuredClone(this.lease);
      next.spec = { ...next.spec, holderIdentity: this.o.nodeName, leaseDurationSeconds: this.o.leaseDurationSeconds, renewTime: now };
      const uid = this.o.nodeUid();
      if (uid && !(next.metadata?.ownerReferences ?? []).some((r) => r.uid === uid)) next.metadata!.ownerReferences = [this.ownerRef(uid)];
      this.lease = await this.o.limiter.run(() => client.update(next), "heartbeat");
      return true;
    } catch (err) {
      this.lease = undefined;
      this.o.logger.warn("failed to renew node lease", { node: this.o.nodeName, err: (err as Error).message });
      return false;
    }
  }

  private newLease(now: string): Lease {
    const uid = this.o.nodeUid();
    return {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: this.o.nodeName, namespace: NODE_LEASE_NAMESPACE, ...(uid ? { ownerReferences: [this.ownerRef(uid)] } : {}) },
      spec: { holderIdentity: this.o.nodeName, leaseDurationSeconds: this.o.leaseDurationSeconds, renewTime: now },
    };
  }

  private ownerRef(uid: string) {
    return { apiVersion: "v1", kind: "Node", name: this.o.nodeName, uid };
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.cancel = this.o.timers.after(ms, () => {
      void this.renew().then((ok) => {
        if (ok) this.retryMs = 200;
        const delay = ok ? this.renewIntervalMs : this.retryMs;
        if (!ok) this.retryMs = Math.min(this.retryMs * 2, this.renewIntervalMs);
        this.schedule(delay);
      });
    });
  }
}
