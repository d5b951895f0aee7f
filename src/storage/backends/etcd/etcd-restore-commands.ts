/**
 * The operator commands for restoring a whole etcd member from an etcd
 * snapshot with `etcdctl`, which skiff prints but does not run.
 */

/** Options for {@link etcdFullRestoreCommands}. */
export interface EtcdFullRestoreOptions {
  /** Member name, "skiff" by default. */
  readonly name?: string;
  /** This member's peer URL, `http://127.0.0.1:2380` by default. */
  readonly peerUrl?: string;
  /** Client URL etcd listens on, `http://127.0.0.1:2379` by default. */
  readonly clientUrl?: string;
}

function shellQuote(s: string): string {
  return /^[\w./:=,@+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The shell commands an operator runs to restore a whole single-member etcd
 * (Debian's etcd 3.4) from `snapshotPath` into `dataDir`: stop etcd, move the
 * old data dir aside, `etcdctl snapshot restore`, start etcd on the result.
 * Lines starting with `#` are comments for the operator. `dataDir` must be
 * the data dir etcd is configured with (Debian: `ETCD_DATA_DIR` in
 * /etc/default/etcd).
 */
export function etcdFullRestoreCommands(
  snapshotPath: string,
  dataDir: string,
  opts: EtcdFullRestoreOptions = {},
): string[] {
  const name = opts.name ?? "skiff";
  const peerUrl = opts.peerUrl ?? "http://127.0.0.1:2380";
  const clientUrl = opts.clientUrl ?? "http://127.0.0.1:2379";
  const q = shellQuote;
  const cluster = `${name}=${peerUrl}`;
  return [
    "# stop every skiff server using this etcd, then etcd itself",
    "systemctl stop etcd",
    // etcdctl refuses to restore into an existing directory.
    `if [ -e ${q(dataDir)} ]; then mv ${q(dataDir)} ${q(`${dataDir}.before-restore`)}; fi`,
    `ETCDCTL_API=3 etcdctl snapshot restore ${q(snapshotPath)} --data-dir ${q(dataDir)} --name ${q(name)} --initial-cluster ${q(cluster)} --initial-advertise-peer-urls ${q(peerUrl)}`,
    "# Debian's etcd.service runs as user etcd",
    `chown -R etcd:etcd ${q(dataDir)}`,
    `# start etcd on ${dataDir} (Debian: ETCD_DATA_DIR in /etc/default/etcd)`,
    "systemctl start etcd",
    `# without systemd: etcd --name ${q(name)} --data-dir ${q(dataDir)} --listen-client-urls ${q(clientUrl)} --advertise-client-urls ${q(clientUrl)} --listen-peer-urls ${q(peerUrl)} --initial-advertise-peer-urls ${q(peerUrl)} --initial-cluster ${q(cluster)}`,
  ];
}
