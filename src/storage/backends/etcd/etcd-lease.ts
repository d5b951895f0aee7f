/**
 * Leases on etcd. Ids are chosen by us from a 52-bit range, because etcd's
 * own ids use 63 bits and would not survive the trip through a JavaScript
 * number.
 */
import { randomBytes } from "node:crypto";
import { GRPCDeadlineExceededError, GRPCUnavailableError } from "etcd3";
import { LeaseNotFoundError } from "../../errors.js";
import { endStream } from "./etcd-client.js";
import type { EtcdConnection } from "./etcd-connection.js";
import { errorMessage } from "./etcd-errors.js";

/** Lease ids we choose stay below 2^52, exact as JavaScript numbers. */
const LEASE_ID_BITS = 52n;

/** The lease half of an etcd-backed store. */
export class EtcdLeases {
  /**
   * @param writeBarrier awaited before a write that could end a watch's view
   *   of "now" (see EtcdStore's watch pinning).
   */
  constructor(
    private readonly conn: EtcdConnection,
    private readonly writeBarrier: () => Promise<void>,
  ) {}

  /** Grants a lease of at least one second; resolves with its id. */
  async grant(ttlSeconds: number): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const id = Number(randomBytes(8).readBigUInt64BE() & ((1n << LEASE_ID_BITS) - 1n));
      if (id === 0) continue;
      try {
        const res = await this.conn.call("grantLease", () =>
          this.conn.client.leaseClient.leaseGrant({ TTL: Math.max(1, Math.ceil(ttlSeconds)), ID: id }, this.conn.deadline()),
        );
        return Number(res.ID);
      } catch (err) {
        // A random 52-bit id colliding is rare; pick another.
        if (/lease already exists/.test(errorMessage(err)) && attempt < 5) continue;
        throw err;
      }
    }
  }

  /** Renews lease `id` once; {@link LeaseNotFoundError} if it expired or was revoked. */
  async keepAlive(id: number): Promise<void> {
    const { conn } = this;
    const stream = await conn.call("keepAliveLease", () => conn.client.leaseClient.leaseKeepAlive());
    const ttl = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new GRPCDeadlineExceededError(`no keep-alive answer within ${conn.requestTimeoutMs} ms`)),
        conn.requestTimeoutMs,
      );
      stream.on("data", (res) => {
        clearTimeout(timer);
        resolve(Number(res.TTL));
      });
      stream.on("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      stream.on("end", () => {
        clearTimeout(timer);
        reject(new GRPCUnavailableError("lease keep-alive stream ended"));
      });
      stream.write({ ID: id });
    })
      .catch(async (err: unknown) => {
        throw await conn.translate(err, "keepAliveLease", { lease: id });
      })
      .finally(() => endStream(stream));
    // etcd answers TTL 0 for a lease it does not know (expired or revoked).
    if (ttl <= 0) throw new LeaseNotFoundError(id);
  }

  /** Revokes lease `id`, deleting its keys. */
  async revoke(id: number): Promise<void> {
    await this.writeBarrier();
    await this.conn.call("revokeLease", () => this.conn.client.leaseClient.leaseRevoke({ ID: id }, this.conn.deadline()), {
      lease: id,
    });
  }
}
