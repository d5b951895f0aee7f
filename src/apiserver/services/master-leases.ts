/**
 * Upstream's "lease" endpoint reconciler storage (pkg/controlplane/
 * reconcilers/lease.go): every API server keeps a key
 * `/registry/masterleases/<its IP>` in the store, attached to a lease of
 * `--endpoint-reconciler`'s TTL (15 s), and renews it every reconcile
 * (10 s). The `kubernetes` endpoints then list exactly the servers whose key
 * is alive, so a server that dies drops out once its lease expires (within
 * about 25 s), and one that stops cleanly removes its key at once.
 */
import { KeyExistsError, KeyNotFoundError, LeaseNotFoundError, RevisionMismatchError } from "../../storage/errors.js";
import type { Store } from "../../storage/store.js";

export const MASTER_LEASES_PREFIX = "/registry/masterleases/";
/** Upstream's masterEndpointReconcileTTL. */
export const MASTER_LEASE_TTL_SECONDS = 15;

/** The live API servers' addresses, kept in the store. */
export class MasterLeases {
  private leaseId: number | undefined;

  constructor(
    private readonly store: Store,
    private readonly ttlSeconds = MASTER_LEASE_TTL_SECONDS,
  ) {}

  /** Writes (or refreshes) this server's key; call it every reconcile. */
  async update(ip: string): Promise<void> {
    if (this.leaseId !== undefined) {
      try {
        await this.store.keepAliveLease(this.leaseId);
      } catch (err) {
        if (!(err instanceof LeaseNotFoundError)) throw err;
        this.leaseId = undefined;
      }
    }
    this.leaseId ??= await this.store.grantLease(this.ttlSeconds);
    const key = MASTER_LEASES_PREFIX + ip;
    // As upstream, the value is an Endpoints object naming the address.
    const value = new TextEncoder().encode(JSON.stringify({ kind: "Endpoints", apiVersion: "v1", metadata: { name: ip }, subsets: [{ addresses: [{ ip }] }] }));
    for (;;) {
      const current = await this.store.get(key);
      // Already ours on the live lease: the keep-alive above was the refresh (no write, no new revision).
      if (current.kv && current.kv.lease === this.leaseId) return;
      try {
        if (current.kv) await this.store.update(key, value, current.kv.modRevision, { lease: this.leaseId });
        else await this.store.create(key, value, { lease: this.leaseId });
        return;
      } catch (err) {
        // Another writer (an earlier run of this server) raced us: read again.
        if (!(err instanceof KeyExistsError) && !(err instanceof KeyNotFoundError) && !(err instanceof RevisionMismatchError)) throw err;
      }
    }
  }

  /** The addresses of every server whose key is alive, sorted. */
  async list(): Promise<string[]> {
    const res = await this.store.list(MASTER_LEASES_PREFIX);
    return res.kvs.map((kv) => kv.key.slice(MASTER_LEASES_PREFIX.length)).sort();
  }

  /** Removes this server's key (a clean stop), so the endpoints drop it at once. */
  async remove(ip: string): Promise<void> {
    try {
      await this.store.delete(MASTER_LEASES_PREFIX + ip);
    } catch (err) {
      if (!(err instanceof KeyNotFoundError)) throw err;
    }
    if (this.leaseId !== undefined) {
      await this.store.revokeLease(this.leaseId).catch(() => undefined);
      this.leaseId = undefined;
    }
  }
}
