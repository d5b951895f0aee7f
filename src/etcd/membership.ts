/**
 * etcd cluster membership through etcd's own Cluster API (what `etcdctl
 * member …` calls): list, add a learner, promote, remove. Every call has a
 * deadline; {@link retrying} repeats the ones etcd refuses for a while by
 * design (one learner at a time, adds refused for a few seconds after a peer
 * reconnects, a learner promoted only once it has caught up).
 */
import type { Etcd3 } from "etcd3";
import { sleep } from "../machinery/backoff.js";
import type { Logger } from "../machinery/log.js";
import { createEtcdClient, type EtcdTlsOptions } from "../storage/backends/etcd/etcd-client.js";

/** One member, as etcd lists it (ids as decimal strings: they are 64-bit). */
export interface EtcdMember {
  readonly id: string;
  /** Empty for a member added but not started yet. */
  readonly name: string;
  readonly peerURLs: readonly string[];
  readonly clientURLs: readonly string[];
  readonly isLearner: boolean;
}

const CALL_TIMEOUT_MS = 10_000;

interface RawMember {
  ID: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner?: boolean;
}

function member(m: RawMember): EtcdMember {
  return { id: String(m.ID), name: m.name ?? "", peerURLs: m.peerURLs ?? [], clientURLs: m.clientURLs ?? [], isLearner: Boolean(m.isLearner) };
}

/** A membership client for `endpoints` (any live members) with the etcd client certificate. */
export class EtcdMembership {
  private readonly client: Etcd3;

  constructor(endpoints: readonly string[], tls: EtcdTlsOptions) {
    this.client = createEtcdClient(endpoints, tls);
  }

  private deadline(): { deadline: number } {
    return { deadline: Date.now() + CALL_TIMEOUT_MS };
  }

  /** Every member, learners included. */
  async list(): Promise<EtcdMember[]> {
    const res = await this.client.cluster.memberList({ linearizable: true }, this.deadline());
    return (res.members as unknown as RawMember[]).map(member);
  }

  /** Adds a non-voting learner with `peerURL`; resolves with it and the whole membership after the add. */
  async addLearner(peerURL: string): Promise<{ added: EtcdMember; members: EtcdMember[] }> {
    const res = await this.client.cluster.memberAdd({ peerURLs: [peerURL], isLearner: true }, this.deadline());
    return { added: member(res.member as unknown as RawMember), members: (res.members as unknown as RawMember[]).map(member) };
  }

  /** Makes learner `id` a voting member (refused until it has caught up with the leader). */
  async promote(id: string): Promise<void> {
    await this.client.cluster.memberPromote({ ID: id }, this.deadline());
  }

  /** Removes member `id`. */
  async remove(id: string): Promise<void> {
    await this.client.cluster.memberRemove({ ID: id }, this.deadline());
  }

  close(): void {
    this.client.close();
  }
}

/** An error {@link retrying} must not retry (the thing it waits on is gone). */
export class FatalError extends Error {}

/**
 * Runs `fn` until it succeeds or `timeoutMs` passes, waiting 1 s doubling to
 * 5 s between tries and logging each refusal; throws the last error, naming
 * `what`, at the deadline, and a {@link FatalError} at once.
 */
export async function retrying<T>(what: string, fn: () => Promise<T>, o: { timeoutMs: number; logger: Logger }): Promise<T> {
  const deadline = Date.now() + o.timeoutMs;
  let wait = 1000;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof FatalError) throw err;
      const message = (err as Error).message;
      if (Date.now() + wait > deadline) throw new Error(`${what} failed for ${Math.round(o.timeoutMs / 1000)} s; last error: ${message}`);
      o.logger.info(`${what}: etcd refused, retrying`, { err: message, inMs: wait });
      await sleep(wait);
      wait = Math.min(wait * 2, 5000);
    }
  }
}
