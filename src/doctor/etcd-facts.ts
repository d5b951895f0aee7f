/**
 * What `skiff doctor --data-dir` reads from the server's embedded etcd
 * cluster, as `etcdctl member list`, `endpoint status`, `alarm list` and
 * `endpoint hashkv` would: every member, each member's own status (asked of
 * that member), the alarms, and each voting member's KV hash at one common
 * revision so they can be compared. Calls do not require a leader: a
 * cluster without one must still be described.
 */
import { join } from "node:path";
import { readEtcdMemberRecord } from "../etcd/embedded-etcd.js";
import { createEtcdClient, type EtcdTlsOptions } from "../storage/backends/etcd/etcd-client.js";

/** One member as doctor saw it. */
export interface EtcdMemberFacts {
  readonly id: string;
  readonly name: string;
  readonly clientURLs: readonly string[];
  readonly isLearner: boolean;
  /** Its own answer to Status; undefined with `error` when it did not answer. */
  readonly status?: { readonly leader: string; readonly dbSize: number; readonly dbSizeInUse: number; readonly raftIndex: number; readonly revision: number; readonly version: string };
  /** Its KV hash at {@link EtcdFacts.hashRevision}. */
  readonly hash?: { readonly hash: string; readonly compactRevision: number };
  readonly error?: string;
}

/** The cluster as doctor saw it, or why it could not look. */
export interface EtcdFacts {
  /** The local member's client URL doctor asked first. */
  readonly endpoint: string;
  readonly members: readonly EtcdMemberFacts[];
  /** Active alarms: member name (or id) and type, e.g. NOSPACE. */
  readonly alarms: readonly { readonly member: string; readonly alarm: string }[];
  /** The revision the hashes were taken at (the lowest any member reported). */
  readonly hashRevision?: number;
  /** Set when the local member could not be asked at all. */
  readonly error?: string;
  /** `etcdctl` flags that reach the local member with the right certificates, for fixes. */
  readonly etcdctlFlags: string;
}

const CALL_MS = 5000;

function deadline(): { deadline: number } {
  return { deadline: Date.now() + CALL_MS };
}

/** The embedded member's facts, or undefined when this data dir runs no embedded etcd. */
export async function readEtcdFacts(dataDir: string): Promise<EtcdFacts | undefined> {
  const record = readEtcdMemberRecord(dataDir);
  if (!record) return undefined;
  const dir = join(dataDir, "tls", "etcd");
  const tls: EtcdTlsOptions = { ca: join(dir, "server-ca.crt"), cert: join(dir, "client.crt"), key: join(dir, "client.key") };
  const endpoint = `https://127.0.0.1:${record.clientPort}`;
  const etcdctlFlags = `--endpoints=${endpoint} --cacert=${tls.ca} --cert=${tls.cert} --key=${tls.key}`;
  const local = createEtcdClient([endpoint], tls, { requireLeader: false });
  try {
    let list: { ID: string; name: string; clientURLs: string[]; isLearner?: boolean }[];
    try {
      list = (await local.cluster.memberList({}, deadline())).members as unknown as typeof list;
    } catch (err) {
      return { endpoint, members: [], alarms: [], error: (err as Error).message, etcdctlFlags };
    }
    const names = new Map(list.map((m) => [String(m.ID), m.name || String(m.ID)]));
    const members: EtcdMemberFacts[] = await Promise.all(
      list.map(async (m) => {
        const base = { id: String(m.ID), name: m.name, clientURLs: m.clientURLs ?? [], isLearner: Boolean(m.isLearner) };
        const url = m.clientURLs?.[0];
        if (!url) return { ...base, error: "not started yet (no client URL)" };
        const c = createEtcdClient([url], tls, { requireLeader: false });
        try {
          const st = await c.maintenance.status(deadline());
          return {
            ...base,
            status: {
              leader: String(st.leader),
              dbSize: Number(st.dbSize),
              dbSizeInUse: Number(st.dbSizeInUse ?? st.dbSize),
              raftIndex: Number(st.raftIndex),
              revision: Number((st.header as unknown as { revision: string }).revision),
              version: st.version,
            },
          };
        } catch (err) {
          return { ...base, error: (err as Error).message };
        } finally {
          c.close();
        }
      }),
    );
    let alarms: EtcdFacts["alarms"] = [];
    try {
      const res = await local.maintenance.alarm({ action: "Get", alarm: "None", memberID: 0 }, deadline());
      alarms = (res.alarms ?? []).map((a) => ({ member: names.get(String(a.memberID)) ?? String(a.memberID), alarm: String(a.alarm) }));
    } catch {
      // Reported through the members' errors; alarms stay unknown.
    }
    const voters = members.filter((m) => m.status && !m.isLearner);
    const hashRevision = voters.length > 1 ? Math.min(...voters.map((m) => m.status!.revision)) : undefined;
    const hashed =
      hashRevision === undefined
        ? members
        : await Promise.all(
            members.map(async (m) => {
              if (!m.status || m.isLearner) return m;
              const c = createEtcdClient([m.clientURLs[0]!], tls, { requireLeader: false });
              try {
                const h = await c.maintenance.hashKV({ revision: hashRevision }, deadline());
                return { ...m, hash: { hash: String(h.hash), compactRevision: Number(h.compact_revision) } };
              } catch {
                return m;
              } finally {
                c.close();
              }
            }),
          );
    return { endpoint, members: hashed, alarms, ...(hashRevision !== undefined ? { hashRevision } : {}), etcdctlFlags };
  } finally {
    local.close();
  }
}
