/**
 * Running a real `etcd` (Debian's 3.4) as a child process on loopback, for
 * tests, the benchmark and `skiff server --cluster-init`; reading an etcd
 * snapshot file back as skiff snapshot entries; and the operator commands for
 * a full etcd restore.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, openSync, closeSync } from "node:fs";
import { mkdir, mkdtemp, open, rm, stat } from "node:fs/promises";
import { get as httpGet } from "node:http";
import { createServer } from "node:net";
import { join } from "node:path";
import { Etcd3 } from "etcd3";
import { SnapshotInvalidError } from "../../errors.js";
import type { SnapshotEntry } from "../../store.js";

/** Options for {@link startEtcd}. */
export interface StartEtcdOptions {
  /** etcd's `--data-dir`; created if missing. */
  readonly dataDir: string;
  /** Member name (`--name`), "skiff" by default. */
  readonly name?: string;
  /** Append etcd's own log here; by default it is kept in memory for error messages only. */
  readonly logFile?: string;
  /**
   * Client port on 127.0.0.1; 0 or absent picks a free one. Pass the ports of
   * a previous run to restart etcd on the same data dir and endpoint.
   */
  readonly clientPort?: number;
  /** Peer port on 127.0.0.1; 0 or absent picks a free one. */
  readonly peerPort?: number;
  /** How long to wait for etcd to report healthy, 30 s by default. */
  readonly startTimeoutMs?: number;
  /** Extra command-line flags, appended last. */
  readonly extraArgs?: readonly string[];
  /** The etcd binary, `etcd` from PATH by default. */
  readonly binary?: string;
}

/** A running etcd child process. */
export interface EtcdProcess {
  /** Client URL, `http://127.0.0.1:PORT`. */
  readonly endpoint: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly pid: number;
  readonly dataDir: string;
  readonly name: string;
  /** SIGTERM to this PID, SIGKILL after 5 s; resolves once it has exited. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Larger than etcd's default 1.5 MiB so that a key plus value of exactly
 * `MAX_VALUE_BYTES` still fits in one compare-and-put txn (which carries the
 * key three times plus framing).
 */
const MAX_REQUEST_BYTES = 2 * 1024 * 1024;

/** Asks the kernel for a free loopback port by binding port 0 and closing it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error("could not find a free port"))));
    });
  });
}

async function twoFreePorts(): Promise<[number, number]> {
  const a = await freePort();
  return [a, await freePortExcept(a)];
}

/**
 * Starts `etcd` on loopback and waits until `/health` says it is healthy.
 * Free ports are chosen unless given; if etcd loses a race for a chosen port
 * it is started again on new ones.
 */
export async function startEtcd(opts: StartEtcdOptions): Promise<EtcdProcess> {
  const bothFixed = Boolean(opts.clientPort) && Boolean(opts.peerPort);
  let lastError: unknown;
  for (let attempt = 0; attempt < (bothFixed ? 1 : 5); attempt++) {
    const clientPort = opts.clientPort || (await freePortExcept(opts.peerPort ?? 0));
    const peerPort = opts.peerPort || (await freePortExcept(clientPort));
    try {
      return await startOnce(opts, clientPort, peerPort);
    } catch (err) {
      lastError = err;
      if (!(err instanceof PortInUseError)) throw err;
    }
  }
  throw lastError;
}

async function freePortExcept(avoid: number): Promise<number> {
  for (;;) {
    const p = await freePort();
    if (p !== avoid) return p;
  }
}

class PortInUseError extends Error {}

/** Keeps the last bytes of a child's output, for error messages. */
class OutputTail {
  private text = "";
  add(chunk: Buffer | string): void {
    this.text = (this.text + chunk.toString()).slice(-16384);
  }
  get value(): string {
    return this.text;
  }
}

/** Child processes still running, killed if this process exits without stopping them. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function trackChild(child: ChildProcess): void {
  running.add(child);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // Only this process's own children, by their PIDs, so an aborted test run
    // does not leave etcd listening.
    process.on("exit", () => {
      for (const c of running) c.kill("SIGKILL");
    });
  }
}

async function startOnce(opts: StartEtcdOptions, clientPort: number, peerPort: number): Promise<EtcdProcess> {
  const name = opts.name ?? "skiff";
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  const args = [
    "--name",
    name,
    "--data-dir",
    opts.dataDir,
    "--listen-client-urls",
    clientUrl,
    "--advertise-client-urls",
    clientUrl,
    "--listen-peer-urls",
    peerUrl,
    "--initial-advertise-peer-urls",
    peerUrl,
    "--initial-cluster",
    `${name}=${peerUrl}`,
    "--initial-cluster-state",
    "new",
    "--max-request-bytes",
    String(MAX_REQUEST_BYTES),
    "--logger",
    "zap",
    "--log-outputs",
    "stderr",
    ...(opts.extraArgs ?? []),
  ];
  const tail = new OutputTail();
  let logFd: number | undefined;
  if (opts.logFile) logFd = openSync(opts.logFile, "a");
  const child = spawn(opts.binary ?? "etcd", args, {
    stdio: ["ignore", logFd ?? "pipe", logFd ?? "pipe"],
  });
  if (logFd !== undefined) closeSync(logFd);
  // Always drain the pipes: a full pipe would block etcd's logging and so etcd.
  child.stdout?.on("data", (c: Buffer) => tail.add(c));
  child.stderr?.on("data", (c: Buffer) => tail.add(c));
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.on("exit", (code, signal) => {
      exited = { code, signal };
      running.delete(child);
      resolve();
    });
  });
  const spawnError = await new Promise<Error | undefined>((resolve) => {
    child.once("spawn", () => resolve(undefined));
    child.once("error", (err) => resolve(err));
  });
  if (spawnError || child.pid === undefined) {
    throw new Error(`cannot start etcd (${opts.binary ?? "etcd"}): ${spawnError?.message ?? "no pid"}; is etcd installed?`);
  }
  child.on("error", () => {});
  trackChild(child);
  const pid = child.pid;

  const stop = async (): Promise<void> => {
    if (exited) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => {
      if (!exited) child.kill("SIGKILL");
    }, 5000);
    await exitPromise;
    clearTimeout(timer);
  };

  const deadline = Date.now() + (opts.startTimeoutMs ?? 30_000);
  for (;;) {
    if (exited) {
      const out = await outputOf(tail, opts.logFile);
      if (/address already in use/.test(out)) throw new PortInUseError(`etcd could not bind its ports: ${lastLines(out)}`);
      throw new Error(
        `etcd exited during start (code=${exited.code} signal=${exited.signal}) data-dir=${opts.dataDir}: ${lastLines(out)}`,
      );
    }
    if (await healthy(clientPort)) break;
    if (Date.now() > deadline) {
      await stop();
      const out = await outputOf(tail, opts.logFile);
      throw new Error(`etcd did not become healthy on ${clientUrl} within ${opts.startTimeoutMs ?? 30_000} ms: ${lastLines(out)}`);
    }
    await sleep(100);
  }
  return { endpoint: clientUrl, clientPort, peerPort, pid, dataDir: opts.dataDir, name, stop };
}

async function outputOf(tail: OutputTail, logFile?: string): Promise<string> {
  if (!logFile) return tail.value;
  try {
    const fh = await open(logFile, "r");
    try {
      const { size } = await fh.stat();
      const len = Math.min(size, 16384);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, size - len);
      return buf.toString();
    } finally {
      await fh.close();
    }
  } catch {
    return "";
  }
}

function lastLines(text: string, n = 5): string {
  return text.trim().split("\n").slice(-n).join(" | ");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True when etcd's `/health` endpoint on 127.0.0.1:port reports healthy. */
function healthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpGet({ host: "127.0.0.1", port, path: "/health", timeout: 1000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => {
        try {
          const parsed: unknown = JSON.parse(body);
          resolve(
            typeof parsed === "object" && parsed !== null && (parsed as { health?: unknown }).health === "true",
          );
        } catch {
          resolve(false);
        }
      });
      res.on("error", () => resolve(false));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
  });
}

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
      `etcd snapshot ${path} is corrupt or truncated: its sha256 trailer does not match its contents`,
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

function byteRangeEnd(prefix: Buffer): Buffer {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i]! < 0xff) {
      const end = Buffer.from(prefix.subarray(0, i + 1));
      end[i]! += 1;
      return end;
    }
  }
  return Buffer.from([0]);
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
  const prefix = Buffer.from(keyPrefix, "utf8");
  const end = prefix.length === 0 ? Buffer.from([0]) : byteRangeEnd(prefix);
  let start = prefix.length === 0 ? Buffer.from([0]) : prefix;
  let revision: string | number = 0;
  for (;;) {
    const res = await client.kv.range({ key: start, range_end: end, limit: 500, revision });
    revision = res.header.revision;
    for (const kv of res.kvs) {
      const ttl = kv.lease !== "0" ? ttls.get(kv.lease) : undefined;
      const value = new Uint8Array(kv.value.buffer, kv.value.byteOffset, kv.value.byteLength);
      const key = kv.key.subarray(prefix.length).toString("utf8");
      yield ttl ? { key, value, leaseTtl: ttl } : { key, value };
    }
    if (!res.more || res.kvs.length === 0) return;
    start = Buffer.concat([res.kvs[res.kvs.length - 1]!.key, Buffer.from([0])]);
  }
}

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
