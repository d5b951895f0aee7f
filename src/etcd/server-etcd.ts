/**
 * How `skiff server` decides whether it runs its own etcd member: with
 * `--cluster-init` (a new cluster), `--server URL --token T` (join the
 * cluster of a running server), or on any later start of a data dir that
 * has one (as k3s does: the flags are needed only the first time). It cannot be mixed
 * with `--datastore-endpoint`, and a data dir whose cluster lives in SQLite
 * is not silently switched to an empty etcd.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../machinery/log.js";
import { defaultHostAddresses } from "../pki/cluster-pki.js";
import { ensureEtcdPki } from "../pki/etcd-pki.js";
import { parseJoinToken } from "../pki/join-token.js";
import { fetchServerBootstrap, writeServerBootstrap } from "./server-bootstrap.js";
import { type EmbeddedEtcd, readEtcdMemberRecord, startEmbeddedEtcd } from "./embedded-etcd.js";

/** The server flags that concern the embedded etcd. */
export interface ServerEtcdFlags {
  readonly dataDir: string;
  readonly clusterInit?: boolean;
  /** `--server`: join the cluster of this running server (its etcd, its shared keys). */
  readonly server?: string;
  /** `--token`: the cluster's server token (the first server's `<data-dir>/token`). */
  readonly token?: string;
  readonly datastoreEndpoint?: string;
  /** `--etcd-client-port` / `--etcd-peer-port` (2379 / 2380; 0 picks free ports at first start). */
  readonly etcdClientPort: string;
  readonly etcdPeerPort: string;
}

function port(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${flag} must be a port number from 0 (any free port) to 65535, not ${text}`);
  return n;
}

/**
 * Whether this start runs an embedded etcd; throws, saying what to do, for
 * combinations that would lose or hide the cluster's data.
 */
export function wantsEmbeddedEtcd(flags: ServerEtcdFlags): boolean {
  const hasMember = readEtcdMemberRecord(flags.dataDir) !== undefined;
  if (!flags.clusterInit && !flags.server && !hasMember) return false;
  if (flags.clusterInit && flags.server) throw new Error("--cluster-init starts a new cluster and --server joins an existing one; give one of them");
  if (flags.datastoreEndpoint) {
    throw new Error(
      hasMember
        ? `${flags.dataDir} runs an embedded etcd member; --datastore-endpoint cannot be used with it (use another --data-dir for an external datastore)`
        : `${flags.server ? "--server" : "--cluster-init"} runs an embedded etcd; it cannot be combined with --datastore-endpoint (servers sharing an external datastore need neither)`,
    );
  }
  if (!hasMember && existsSync(join(flags.dataDir, "db", "state.db"))) {
    throw new Error(
      `${flags.dataDir} already holds a cluster in SQLite (db/state.db); --cluster-init would start an empty etcd beside it. Take a snapshot and restore it on a fresh --data-dir started with --cluster-init, or leave out --cluster-init`,
    );
  }
  return true;
}

/**
 * For a server started with `--server` that is not yet a member: fetches the
 * cluster's shared files (CAs, keys, encryption config, token) from that
 * server and writes them into the data dir, before anything reads them;
 * resolves with the etcd client URLs to join through. Undefined when there
 * is nothing to join (no `--server`, or already a member: a restart needs
 * no running first server).
 */
export async function prepareServerJoin(flags: ServerEtcdFlags, logger: Logger): Promise<{ readonly clientURLs: readonly string[] } | undefined> {
  if (!flags.server) return undefined;
  const record = readEtcdMemberRecord(flags.dataDir);
  if (record && !record.joining) return undefined;
  if (!flags.token) throw new Error(`--server needs --token: the cluster's server token (the first server's <data-dir>/token)`);
  const token = parseJoinToken(flags.token);
  if (!token) throw new Error("--token is not a server token: expected K10<hash>::server:<secret>, as in the first server's <data-dir>/token");
  const bootstrap = await fetchServerBootstrap(flags.server, token);
  writeServerBootstrap(flags.dataDir, bootstrap);
  logger.info("received the cluster's shared keys", { server: flags.server, etcdMembers: bootstrap.etcdClientURLs.join(",") });
  return { clientURLs: bootstrap.etcdClientURLs };
}

/** Makes the etcd PKI and starts this server's member (see embedded-etcd.ts); `join` adds it to an existing cluster. */
export async function startServerEtcd(
  flags: ServerEtcdFlags,
  o: { nodeName: string; advertiseAddress: string; hostAddresses?: readonly string[]; join?: { readonly clientURLs: readonly string[] }; forceNewCluster?: boolean; logger: Logger },
): Promise<EmbeddedEtcd> {
  const clientPort = port(flags.etcdClientPort, "--etcd-client-port");
  const peerPort = port(flags.etcdPeerPort, "--etcd-peer-port");
  const recorded = readEtcdMemberRecord(flags.dataDir);
  const advertise = recorded?.advertiseAddress ?? o.advertiseAddress;
  const pki = await ensureEtcdPki({
    tlsDir: join(flags.dataDir, "tls"),
    nodeName: o.nodeName,
    hostAddresses: [...(o.hostAddresses ?? defaultHostAddresses()), advertise],
    logger: o.logger,
  });
  return startEmbeddedEtcd({ dataDir: flags.dataDir, nodeName: o.nodeName, advertiseAddress: advertise, clientPort, peerPort, pki, logger: o.logger, ...(o.join ? { join: o.join } : {}), ...(o.forceNewCluster ? { forceNewCluster: true } : {}) });
}
