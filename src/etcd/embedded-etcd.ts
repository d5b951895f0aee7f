/**
 * The etcd member `skiff server --cluster-init` runs and supervises, as
 * k3s' embedded etcd: Debian's `etcd` binary as a child process, data in
 * `<data-dir>/db/etcd`, client and peer TLS from the etcd PKI (client
 * certificates required on both), `--pre-vote=true` so a member whose link
 * comes back cannot unseat a healthy leader, its log appended to
 * `<data-dir>/db/etcd.log`.
 *
 * What a restart needs is recorded in `<data-dir>/db/etcd-member.json`
 * (member name, ports, advertised address: the peer URL is part of the
 * cluster's membership and must not change), so a server restarts its
 * member with no flags. The child's PID is kept in `<data-dir>/db/etcd.pid`:
 * a server killed with SIGKILL cannot stop its etcd, so the next start finds
 * that orphan (only if its command line names this very data dir) and stops
 * it before starting a fresh one. An etcd that exits on its own is started
 * again with backoff (1 s doubling to 30 s), logged each time.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { sleep } from "../machinery/backoff.js";
import type { Logger } from "../machinery/log.js";
import type { EtcdPki } from "../pki/etcd-pki.js";
import { freePort } from "../storage/backends/etcd/etcd-launch.js";
import type { EtcdTlsOptions } from "../storage/backends/etcd/etcd-client.js";
import type { Datastore } from "../storage/datastore.js";
import { EtcdMembership, FatalError, retrying } from "./membership.js";
import { processExists } from "../machinery/process-exists.js";

/** What a member needs to start again exactly as before. */
export interface EtcdMemberRecord {
  /** `--name`: the node name plus a random suffix, as k3s names members. */
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  /** The address peers and other servers reach this member on. */
  readonly advertiseAddress: string;
  /** Set while the member is being added to an existing cluster (cleared once it is a voting member). */
  readonly joining?: boolean;
}

/** Options of {@link startEmbeddedEtcd}. */
export interface EmbeddedEtcdOptions {
  /**
   * Join the cluster whose members answer on these client URLs (a server
   * started with `--server`), instead of starting a cluster of one. Used
   * only at the first start; a member that has joined restarts on its own.
   */
  readonly join?: { readonly clientURLs: readonly string[] };
  /** skiff's data dir: etcd's data goes to `<data-dir>/db/etcd`. */
  readonly dataDir: string;
  readonly nodeName: string;
  /** Used at first start only (later starts keep the recorded one). */
  readonly advertiseAddress: string;
  /** Client and peer ports at first start; 0 picks a free one (recorded for later starts). */
  readonly clientPort: number;
  readonly peerPort: number;
  readonly pki: EtcdPki;
  readonly logger: Logger;
  /** The etcd binary; `etcd` from PATH by default. */
  readonly binary?: string;
  /** How long to wait for the member to be healthy; 60 s by default. */
  readonly startTimeoutMs?: number;
  /** etcd's `--force-new-cluster`: this member alone, from its own data (`skiff server --cluster-reset`). */
  readonly forceNewCluster?: boolean;
}

/** A running, supervised member. */
export interface EmbeddedEtcd {
  readonly member: EtcdMemberRecord;
  /** The local client URL the API server uses. */
  readonly endpoint: string;
  /** The datastore that reaches this member with the API server's client certificate. */
  readonly datastore: Datastore;
  /** The current etcd process's PID (changes when supervision restarts it). */
  pid(): number | undefined;
  /** Client URLs of every started member (what a joining server dials). */
  clientURLs(): Promise<string[]>;
  /** Stops supervising and stops etcd (SIGTERM, SIGKILL after 10 s). Idempotent. */
  stop(): Promise<void>;
}

/** Where the member's files live. */
export function embeddedEtcdPaths(dataDir: string): { dataDir: string; record: string; pid: string; log: string } {
  const db = join(dataDir, "db");
  return { dataDir: join(db, "etcd"), record: join(db, "etcd-member.json"), pid: join(db, "etcd.pid"), log: join(db, "etcd.log") };
}

/** The recorded member, if this data dir has run one (a server then keeps using it). */
export function readEtcdMemberRecord(dataDir: string): EtcdMemberRecord | undefined {
  const file = embeddedEtcdPaths(dataDir).record;
  if (!existsSync(file)) return undefined;
  const v = JSON.parse(readFileSync(file, "utf8")) as Partial<EtcdMemberRecord>;
  if (typeof v.name !== "string" || typeof v.clientPort !== "number" || typeof v.peerPort !== "number" || typeof v.advertiseAddress !== "string") {
    throw new Error(`${file} is not an etcd member record; restore it or remove the data dir's db/ to start over`);
  }
  return v as EtcdMemberRecord;
}

function hostPort(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

/** How a member's first start finds its cluster: a new one of its own, or the existing one it was added to. */
interface InitialCluster {
  /** `name=peerURL,…` of every member (etcdctl's ETCD_INITIAL_CLUSTER). */
  readonly members: string;
  readonly state: "new" | "existing";
}

function memberArgs(m: EtcdMemberRecord, paths: ReturnType<typeof embeddedEtcdPaths>, pki: EtcdPki, cluster: InitialCluster): string[] {
  const clientUrls = [`https://127.0.0.1:${m.clientPort}`, ...(m.advertiseAddress === "127.0.0.1" ? [] : [`https://${hostPort(m.advertiseAddress, m.clientPort)}`])];
  const peerUrl = `https://${hostPort(m.advertiseAddress, m.peerPort)}`;
  return [
    "--name", m.name,
    "--data-dir", paths.dataDir,
    "--listen-client-urls", clientUrls.join(","),
    "--advertise-client-urls", `https://${hostPort(m.advertiseAddress, m.clientPort)}`,
    "--listen-peer-urls", peerUrl,
    "--initial-advertise-peer-urls", peerUrl,
    // Read only when the data dir is new; a restart takes the membership from its WAL.
    "--initial-cluster", cluster.members,
    "--initial-cluster-state", cluster.state,
    "--client-cert-auth", "--trusted-ca-file", pki.serverCa.certFile,
    "--cert-file", pki.server.certFile, "--key-file", pki.server.keyFile,
    "--peer-client-cert-auth", "--peer-trusted-ca-file", pki.peerCa.certFile,
    "--peer-cert-file", pki.peer.certFile, "--peer-key-file", pki.peer.keyFile,
    "--pre-vote=true",
    // Room for a whole object plus txn framing (etcd's default is 1.5 MiB), as the etcd backend expects.
    "--max-request-bytes", String(2 * 1024 * 1024),
    // Keep the space a compacted history frees usable without an operator's defrag (k3s sets the same quota).
    "--quota-backend-bytes", String(2 * 1024 * 1024 * 1024),
    "--logger", "zap", "--log-outputs", "stderr",
  ];
}


/** Stops an etcd a SIGKILLed server left running on this very data dir; leaves any other process alone. */
export async function stopOrphan(paths: ReturnType<typeof embeddedEtcdPaths>, log: Logger): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(paths.pid, "utf8").trim());
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !processExists(pid)) return;
  let cmdline: string[];
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return;
  }
  const i = cmdline.indexOf("--data-dir");
  if (i < 0 || cmdline[i + 1] !== paths.dataDir) return;
  log.warn("stopping the etcd member a previous server left running", { pid });
  process.kill(pid, "SIGTERM");
  for (let waited = 0; processExists(pid); waited += 100) {
    if (waited >= 10_000) process.kill(pid, "SIGKILL");
    await sleep(100);
  }
}

/** The member's peer URL, as the cluster's membership names it. */
export function peerUrlOf(m: EtcdMemberRecord): string {
  return `https://${hostPort(m.advertiseAddress, m.peerPort)}`;
}

/** Writes the member record (see {@link readEtcdMemberRecord}). */
export function writeMemberRecord(file: string, m: EtcdMemberRecord): void {
  writeFileSync(file, `${JSON.stringify(m, null, 2)}\n`, { mode: 0o600 });
}

/** The API server's client TLS to etcd, as files. */
function clientTls(pki: EtcdPki): { ca: string; cert: string; key: string } {
  return { ca: pki.serverCa.certFile, cert: pki.client.certFile, key: pki.client.keyFile };
}

/**
 * Adds `m` as a learner, or finds it already added (a join cut short after
 * the add); resolves with its id and the initial cluster etcd needs, as
 * `etcdctl member add` prints it (an unstarted member has no name yet).
 */
async function addOrFindLearner(membership: EtcdMembership, m: EtcdMemberRecord): Promise<{ id: string; initialCluster: string }> {
  const peerURL = peerUrlOf(m);
  let members = await membership.list();
  let mine = members.find((x) => x.peerURLs.includes(peerURL));
  if (!mine) {
    const added = await membership.addLearner(peerURL);
    members = added.members;
    mine = added.added;
  }
  const id = mine.id;
  const initialCluster = members.flatMap((x) => x.peerURLs.map((u) => `${x.id === id ? m.name : x.name}=${u}`)).join(",");
  return { id, initialCluster };
}

/** etcd needs a majority: with an even count, one more member adds no tolerance (2 tolerate no failure, like 1). */
async function warnOnEvenMembership(endpoint: string, tls: EtcdTlsOptions, log: Logger): Promise<void> {
  const membership = new EtcdMembership([endpoint], tls);
  try {
    const n = (await membership.list()).length;
    if (n % 2 === 0) {
      log.warn(`etcd has ${n} members: a cluster of ${n} tolerates no more failures than one of ${n - 1}; run an odd number of servers (3 tolerate one failure)`, { members: n });
    }
  } catch (err) {
    log.debug("cannot count the etcd members", { err: (err as Error).message });
  } finally {
    membership.close();
  }
}

/** True when the member answers `/health` with `"health":"true"` (client certificate required). */
function healthy(port: number, pki: EtcdPki): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/health",
        timeout: 2000,
        ca: readFileSync(pki.serverCa.certFile),
        cert: readFileSync(pki.client.certFile),
        key: readFileSync(pki.client.keyFile),
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () => resolve(/"health"\s*:\s*"true"/.test(body)));
        res.on("error", () => resolve(false));
      },
    );
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
    req.end();
  });
}

/** The last lines of the member's log, for error messages. */
function logTail(file: string, lines = 5): string {
  try {
    return readFileSync(file, "utf8").trim().split("\n").slice(-lines).join(" | ");
  } catch {
    return "";
  }
}

/**
 * Starts (or restarts) this server's etcd member and waits until it is
 * healthy; throws with etcd's last log lines when it cannot start.
 */
export async function startEmbeddedEtcd(o: EmbeddedEtcdOptions): Promise<EmbeddedEtcd> {
  const log = o.logger.with({ component: "etcd" });
  const paths = embeddedEtcdPaths(o.dataDir);
  mkdirSync(join(o.dataDir, "db"), { recursive: true, mode: 0o700 });
  await stopOrphan(paths, log);
  const tls = clientTls(o.pki);
  let m = readEtcdMemberRecord(o.dataDir);
  if (!m) {
    const clientPort = o.clientPort || (await freePort());
    let peerPort = o.peerPort;
    while (!peerPort || peerPort === clientPort) peerPort = await freePort();
    // A joining member is recorded before it is added, so a join cut short is retried with the same peer URL.
    m = { name: `${o.nodeName}-${randomBytes(4).toString("hex")}`, clientPort, peerPort, advertiseAddress: o.advertiseAddress, ...(o.join ? { joining: true } : {}) };
    writeMemberRecord(paths.record, m);
    log.info("new etcd member", { name: m.name, clientPort, peerPort, advertiseAddress: m.advertiseAddress, join: o.join ? o.join.clientURLs.join(",") : undefined });
  }
  let cluster: InitialCluster = { members: `${m.name}=${peerUrlOf(m)}`, state: "new" };
  let learner: { id: string; membership: EtcdMembership } | undefined;
  if (m.joining) {
    if (!o.join) throw new Error(`this server's etcd member (${m.name}) never finished joining its cluster; start it again with --server and --token`);
    // What a cut-short join left: etcd must start from the cluster's data, not a half-made copy.
    rmSync(paths.dataDir, { recursive: true, force: true });
    const membership = new EtcdMembership(o.join.clientURLs, tls);
    const me = m;
    const joined = await retrying("adding this server to the etcd cluster as a learner", () => addOrFindLearner(membership, me), { timeoutMs: 120_000, logger: log }).catch((err: Error) => {
      membership.close();
      throw err;
    });
    cluster = { members: joined.initialCluster, state: "existing" };
    learner = { id: joined.id, membership };
    log.info("added as an etcd learner", { id: joined.id, cluster: joined.initialCluster });
  }
  const args = [...memberArgs(m, paths, o.pki, cluster), ...(o.forceNewCluster ? ["--force-new-cluster"] : [])];
  let child: ChildProcess | undefined;
  let stopping = false;
  let ready = false;
  let failedStart: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let exited: Promise<void> = Promise.resolve();

  let spawnedAt = 0;
  const spawnMember = (): void => {
    spawnedAt = Date.now();
    const logFd = openSync(paths.log, "a");
    const c = spawn(o.binary ?? "etcd", args, { stdio: ["ignore", logFd, logFd] });
    closeSync(logFd);
    child = c;
    c.on("error", (err) => log.error("cannot run etcd", { err: err.message }));
    if (c.pid !== undefined) writeFileSync(paths.pid, `${c.pid}\n`);
    exited = new Promise((resolve) => {
      c.on("exit", (code, signal) => {
        if (child === c) child = undefined;
        resolve();
        if (stopping) return;
        // Before the first healthy answer an exit is a failed start (bad flags, a port in use): report it, do not loop.
        if (ready) void restart(code, signal);
        else failedStart = { code, signal };
      });
    });
  };

  let backoffMs = 1000;
  const restart = async (code: number | null, signal: NodeJS.Signals | null): Promise<void> => {
    // A member that ran a while before dying starts the backoff over.
    if (Date.now() - spawnedAt > 60_000) backoffMs = 1000;
    log.error("etcd exited; starting it again", { code, signal, inMs: backoffMs, log: paths.log, last: logTail(paths.log, 3) });
    await sleep(backoffMs);
    backoffMs = Math.min(backoffMs * 2, 30_000);
    if (!stopping) spawnMember();
  };

  const stop = async (): Promise<void> => {
    stopping = true;
    const c = child;
    if (!c) return;
    c.kill("SIGTERM");
    const timer = setTimeout(() => c.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
    rmSync(paths.pid, { force: true });
  };

  spawnMember();
  const deadline = Date.now() + (o.startTimeoutMs ?? 60_000);
  const checkStarted = (): void => {
    if (failedStart) {
      stopping = true;
      throw new FatalError(`etcd exited during start (code=${failedStart.code} signal=${failedStart.signal}; log ${paths.log}): ${logTail(paths.log)}`);
    }
  };
  if (learner) {
    // A learner serves no client requests; the leader promotes it once it has caught up.
    const { id, membership } = learner;
    try {
      await retrying("promoting this server's etcd learner", async () => {
        checkStarted();
        await membership.promote(id);
      }, { timeoutMs: o.startTimeoutMs ?? 120_000, logger: log });
    } catch (err) {
      await stop();
      throw err;
    } finally {
      membership.close();
    }
    writeMemberRecord(paths.record, { name: m.name, clientPort: m.clientPort, peerPort: m.peerPort, advertiseAddress: m.advertiseAddress });
    log.info("etcd learner promoted to a voting member", { id });
  }
  for (;;) {
    checkStarted();
    if (await healthy(m.clientPort, o.pki)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`etcd did not become healthy on https://127.0.0.1:${m.clientPort} within ${(o.startTimeoutMs ?? 60_000) / 1000} s (log ${paths.log}): ${logTail(paths.log)}`);
    }
    await sleep(200);
  }
  ready = true;
  const endpoint = `https://127.0.0.1:${m.clientPort}`;
  await warnOnEvenMembership(endpoint, tls, log);
  log.info("etcd member ready", { name: m.name, endpoint, peer: `https://${hostPort(m.advertiseAddress, m.peerPort)}`, pid: child?.pid });
  return {
    member: m,
    endpoint,
    datastore: { kind: "etcd", endpoints: [endpoint], tls: { caFile: tls.ca, certFile: tls.cert, keyFile: tls.key } },
    pid: () => child?.pid,
    async clientURLs() {
      const membership = new EtcdMembership([endpoint], tls);
      try {
        return (await membership.list()).filter((x) => x.name !== "").flatMap((x) => x.clientURLs);
      } finally {
        membership.close();
      }
    },
    stop,
  };
}
