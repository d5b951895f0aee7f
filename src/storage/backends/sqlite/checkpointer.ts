/**
 * Copies WAL pages into the database file from a worker thread with its own
 * connection, so the fsync of a checkpoint stays off the event loop: with
 * only SQLite's auto-checkpoint, a write every few seconds stalls 30–50 ms
 * (mutating p99). The writer's own auto-checkpoint stays as a backstop that
 * finds little left to do.
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

// Plain CommonJS, so the worker needs no TypeScript loader from source or dist.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.module);
const db = new Database(workerData.path);
db.pragma("busy_timeout = 5000");
const run = () => {
  try { db.pragma("wal_checkpoint(PASSIVE)"); } catch (err) { parentPort.postMessage(String(err && err.message)); }
};
const timer = setInterval(run, workerData.intervalMs);
parentPort.on("message", () => { clearInterval(timer); db.close(); parentPort.close(); });
`;

/** A running checkpoint thread; {@link stop} ends it. */
export class Checkpointer {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;

  constructor(path: string, intervalMs: number, onError: (msg: string) => void) {
    const module = createRequire(import.meta.url).resolve("better-sqlite3");
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, path, intervalMs } });
    this.worker.on("message", (m: string) => onError(m));
    this.worker.on("error", (err) => onError(err.message));
    // The thread must not keep the process alive by itself.
    this.worker.unref();
    this.exited = new Promise((resolve) => this.worker.once("exit", () => resolve()));
  }

  async stop(): Promise<void> {
    this.worker.ref();
    this.worker.postMessage("stop");
    await this.exited;
  }
}
