/**
 * Running a real `etcd` (Debian's 3.4) as a child process on loopback, for
 * tests, the benchmark and reading etcd snapshots.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdir, open } from "node:fs/promises";
import { get as httpGet } from "node:http";
import { createServer } from "node:net";
import { sleep } from "../../../machinery/backoff.js";

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

/** Two distinct free loopback ports. */
export async function twoFreePorts(): Promise<[number, number]> {
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


/** etcd could not bind a port it was given; starting again on other ports may work. */
export class PortInUseError extends Error {}

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


/** The last `n` lines of `text`, joined with " | ", for one-line error messages. */
export function lastLines(text: string, n = 5): string {
  return text.trim().split("\n").slice(-n).join(" | ");
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

