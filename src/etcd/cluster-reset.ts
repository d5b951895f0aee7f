/**
 * `skiff server --cluster-reset [--cluster-reset-restore-path FILE]`, as
 * k3s': when quorum is gone for good, rebuild a one-member etcd cluster on
 * this server, from its own data (etcd's `--force-new-cluster`) or from an
 * etcd snapshot (`etcdctl snapshot restore` into a fresh member data dir, the
 * old one kept beside it). It then stops, saying what to do next: start this
 * server again without the flag, and on every other server move its
 * `db/etcd*` away and join again with `--server`.
 *
 * A restore takes the store back to the snapshot's revision: revisions go
 * backwards (etcd 3.4 cannot bump them), so clients holding newer
 * resourceVersions must relist. skiff's own components start fresh with the
 * server; other clients get 410 Gone or a future-revision error and relist.
 */
import { spawnSync } from "node:child_process";
import { existsSync, renameSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Logger } from "../machinery/log.js";
import { embeddedEtcdPaths, peerUrlOf, readEtcdMemberRecord, stopOrphan, writeMemberRecord } from "./embedded-etcd.js";
import { type ServerEtcdFlags, startServerEtcd } from "./server-etcd.js";

/** What a reset needs beyond the etcd flags. */
export interface ClusterResetOptions {
  readonly nodeName: string;
  readonly advertiseAddress: string;
  /** An etcd snapshot file, or a name in `<data-dir>/db/snapshots`. */
  readonly restorePath?: string;
  readonly logger: Logger;
}

function snapshotFile(dataDir: string, path: string): string {
  if (existsSync(path)) return resolve(path);
  const named = join(dataDir, "db", "snapshots", path);
  if (existsSync(named)) return named;
  throw new Error(`--cluster-reset-restore-path ${path}: no such file (nor a snapshot of that name in ${join(dataDir, "db", "snapshots")})`);
}

/** Resets the membership (see the module comment); resolves with what to do next. */
export async function resetEtcdCluster(flags: ServerEtcdFlags, o: ClusterResetOptions): Promise<string> {
  const log = o.logger.with({ component: "etcd" });
  const record = readEtcdMemberRecord(flags.dataDir);
  if (!record) throw new Error(`--cluster-reset needs a server that runs an embedded etcd member; ${flags.dataDir} has none (start one with --cluster-init)`);
  const paths = embeddedEtcdPaths(flags.dataDir);
  await stopOrphan(paths, log);
  // Whatever the member was (even mid-join), it is now the whole cluster.
  const member = { name: record.name, clientPort: record.clientPort, peerPort: record.peerPort, advertiseAddress: record.advertiseAddress };
  writeMemberRecord(paths.record, member);
  if (o.restorePath) {
    const file = snapshotFile(flags.dataDir, o.restorePath);
    const kept = `${paths.dataDir}.before-reset-${Date.now()}`;
    if (existsSync(paths.dataDir)) renameSync(paths.dataDir, kept);
    log.info("restoring the etcd member from a snapshot", { snapshot: file, previousData: kept });
    const peer = peerUrlOf(member);
    const r = spawnSync(
      "etcdctl",
      ["snapshot", "restore", file, "--data-dir", paths.dataDir, "--name", member.name, "--initial-cluster", `${member.name}=${peer}`, "--initial-advertise-peer-urls", peer],
      { encoding: "utf8", env: { ...process.env, ETCDCTL_API: "3" } },
    );
    if (r.status !== 0) {
      if (existsSync(kept) && !existsSync(paths.dataDir)) renameSync(kept, paths.dataDir);
      throw new Error(`etcdctl snapshot restore ${file} failed (the member's data was put back): ${(r.stderr || r.error?.message || "").trim()}`);
    }
  }
  // Restored data is already a one-member cluster; otherwise etcd rewrites the membership from this member's data.
  const etcd = await startServerEtcd(flags, { nodeName: o.nodeName, advertiseAddress: o.advertiseAddress, forceNewCluster: !o.restorePath, logger: o.logger });
  const members = (await etcd.clientURLs()).length;
  await etcd.stop();
  log.info("etcd cluster membership reset", { member: member.name, members, restored: o.restorePath ?? "no (local data)" });
  return (
    `Managed etcd cluster membership has been reset to this member (${member.name})${o.restorePath ? `, restored from ${o.restorePath}` : ""}. ` +
    `Start this server again without --cluster-reset. On every other server, stop it, move its <data-dir>/db/etcd* aside, and start it with --server https://${member.advertiseAddress}:<https-port> --token <this server's token> to join again.`
  );
}
