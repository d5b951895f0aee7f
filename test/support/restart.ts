/**
 * A `skiff server` on an existing data dir, for tests that kill a server and
 * start another on what it left behind. The caller owns the data dir: stopping
 * the server here does not remove it.
 */
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { skiffBackground, stopProcess, TEST_SERVER_FLAGS, waitForLog } from "./skiff.js";

export interface ServerOnDir {
  readonly dataDir: string;
  readonly kubeconfig: string;
  readonly port: number;
  readonly process: ChildProcess;
  /** Everything the server printed to standard error so far. */
  log(): string;
  /** Stops the server by PID (SIGTERM, SIGKILL after 10 s); leaves the data dir. */
  stop(): Promise<void>;
}

/**
 * Starts a server on `dataDir` (made if missing) and waits until it listens; the port is read from its log.
 * Scheduled snapshots are off unless `opts.snapshots` (then pass a `--snapshot-schedule`).
 */
export async function startServerOnDir(dataDir: string, extra: string[] = [], opts: { readonly snapshots?: boolean } = {}): Promise<ServerOnDir> {
  const proc = skiffBackground(["server", ...TEST_SERVER_FLAGS, "--data-dir", dataDir, ...(opts.snapshots ? [] : ["--disable-snapshots"]), ...extra]);
  let output = "";
  proc.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  let line: string;
  try {
    line = await waitForLog(proc, /msg="API server listening"/);
  } catch (err) {
    await stopProcess(proc);
    throw err;
  }
  const port = Number(/port=(\d+)/.exec(line)![1]);
  return {
    dataDir,
    kubeconfig: join(dataDir, "kubeconfig.yaml"),
    port,
    process: proc,
    log: () => output,
    async stop() {
      await stopProcess(proc);
    },
  };
}

/** Sends SIGKILL to `child` by its PID and waits until it has exited. */
export async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  process.kill(child.pid!, "SIGKILL");
  await exited;
}
