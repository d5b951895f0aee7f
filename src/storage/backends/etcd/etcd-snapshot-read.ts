/**
 * Reading an etcd snapshot file back as skiff snapshot entries: its sha256
 * trailer checked, restored by `etcdctl` into a temporary data dir and read
 * through a temporary etcd.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, open, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { Etcd3 } from "etcd3";
import { SnapshotInvalidError } from "../../errors.js";
import type { SnapshotEntry } from "../../store.js";
import { bytes, EtcdKeySpace } from "./etcd-convert.js";
import { type EtcdProcess, lastLines, PortInUseError, startEtcd, twoFreePorts } from "./etcd-launch.js";

/** Runs a command with a timeout; resolves with its output or rejects with a message naming it. */
function run(
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env, timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const detail = lastLines(`${stderr}\n${stdout}`) || err.message;
        reject(new Error(err.killed ? `${cmd} timed out after ${timeoutMs} ms: ${detail}` : detail));
      } else {
        resolve({ stdout, stderr });
      }
    });
  });
}

/**
 * Checks etcd's snapshot trailer: a snapshot taken through the maintenance API
 * ends with the sha256 of every byte before it.
 */
export async function verifyEtcdSnapshotHash(path: string): Promise<void> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (err) {
    throw new SnapshotInvalidError(`cannot read etcd snapshot ${path}: ${(err as Error).message}`);
  }
  // A bbolt file is at least a few pages; anything shorter cannot be a snapshot.
  if (size < 4096 + 32) {
    throw new SnapshotInvalidError(`etcd snapshot ${path} is truncated (${size} bytes)`);
  }
  const hash = createHash("sha256");
  await new Promise<void>((resolve, reject) => {
    const rs = createReadStream(path, { start: 0, end: size - 33 });
    rs.on("data", (c) => hash.update(c));
    rs.on("end", resolve);
    rs.on("error", reject);
  });
  const fh = await open(path, "r");
  const trailer = Buffer.alloc(32);
  try {
    await fh.read(trailer, 0, 32, size - 32);
  } finally {
    await fh.close();
  }
  if (!hash.digest().equals(trailer)) {
    throw new SnapshotInvalidError(
      `etcd snapshot ${path} is corrupt or truncated: its sha256 trailer does not match its contents; nothing was restored`,
    );
  }
}

/** Options for {@link readEtcdSnapshotEntries}. */
export interface ReadEtcdSnapshotOptions {
  /** Only keys under this prefix are read, and returned without it. */
  readonly keyPrefix: string;
  /** A directory for the temporary data dir (removed afterwards). */
  readonly workDir: string;
  /** Timeout for `etcdctl snapshot restore`, 120 s by default. */
  readonly restoreTimeoutMs?: number;
}

/**
 * Reads every key under `keyPrefix` from an etcd snapshot file: restores it
 * with `etcdctl snapshot restore` into a temporary data dir (which checks
 * etcd's own hash), runs a temporary etcd on it, pages through the keys with
 * their lease TTLs, then stops that etcd and removes the directory (also when
 * the consumer stops early). A corrupt or truncated file fails with
 * {@link SnapshotInvalidError}.
 */
export async function* readEtcdSnapshotEntries(
  snapshotPath: string,
  opts: ReadEtcdSnapshotOptions,
): AsyncIterable<SnapshotEntry> {
  await verifyEtcdSnapshotHash(snapshotPath);
  await mkdir(opts.workDir, { recursive: true });
  const tmp = await mkdtemp(join(opts.workDir, "etcd-snapshot-read-"));
  let etcd: EtcdProcess | undefined;
  let client: Etcd3 | undefined;
  try {
    etcd = await restoreAndStart(snapshotPath, tmp, opts.restoreTimeoutMs ?? 120_000);
    client = new Etcd3({ hosts: [etcd.endpoint] });
    yield* readEntries(client, opts.keyPrefix);
  } finally {
    client?.close();
    await etcd?.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}

async function restoreAndStart(snapshotPath: string, tmp: string, timeoutMs: number): Promise<EtcdProcess> {
  const name = "skiff-snapshot-read";
  let lastError: unknown;
  // The restore bakes the peer URL into the member list, so ports are chosen
  // first; if another process takes one meanwhile, start over with new ones.
  for (let attempt = 0; attempt < 3; attempt++) {
    const dataDir = join(tmp, `data-${attempt}`);
    const [clientPort, peerPort] = await twoFreePorts();
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    try {
      await run(
        "etcdctl",
        [
          "snapshot",
          "restore",
          snapshotPath,
          "--data-dir",
          dataDir,
          "--name",
          name,
          "--initial-cluster",
          `${name}=${peerUrl}`,
          "--initial-advertise-peer-urls",
          peerUrl,
        ],
        { ...process.env, ETCDCTL_API: "3" },
        timeoutMs,
      );
    } catch (err) {
      throw new SnapshotInvalidError(`etcd snapshot ${snapshotPath} cannot be restored: ${(err as Error).message}`);
    }
    try {
      return await startEtcd({ dataDir, name, clientPort, peerPort });
    } catch (err) {
      lastError = err;
      if (!(err instanceof PortInUseError)) break;
    }
  }
  throw new SnapshotInvalidError(
    `etcd snapshot ${snapshotPath} was restored but etcd would not start on it: ${(lastError as Error).message}`,
  );
}

async function* readEntries(client: Etcd3, keyPrefix: string): AsyncIterable<SnapshotEntry> {
  // Lease TTLs first: a restored etcd re-arms every lease with its full TTL
  // on start, so nothing expires while the keys are paged through below.
  const ttls = new Map<string, number>();
  const leases = await client.leaseClient.leaseLeases();
  for (const l of leases.leases) {
    const info = await client.leaseClient.leaseTimeToLive({ ID: l.ID });
    ttls.set(l.ID, Number(info.grantedTTL));
  }
  const keys = new EtcdKeySpace(keyPrefix);
  const { key: first, end } = keys.range("");
  let start = first;
  let revision: string | number = 0;
  for (;;) {
    const res = await client.kv.range({ key: start, range_end: end, limit: 500, revision });
    revision = res.header.revision;
    for (const kv of res.kvs) {
      const ttl = kv.lease !== "0" ? ttls.get(kv.lease) : undefined;
      const value = bytes(kv.value);
      const key = keys.stripKey(kv.key);
      yield ttl ? { key, value, leaseTtl: ttl } : { key, value };
    }
    if (!res.more || res.kvs.length === 0) return;
    start = Buffer.concat([res.kvs[res.kvs.length - 1]!.key, Buffer.from([0])]);
  }
}
