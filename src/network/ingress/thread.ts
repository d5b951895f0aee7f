/**
 * The ingress controller on a worker thread of its own, as `skiff server`
 * runs it: proxying is CPU-bound JavaScript, and on the API server's
 * thread every proxied request would queue behind API work (and the
 * reverse). Same options and ports as {@link startIngressController}; the
 * thread logs through its own console logger at `logLevel`.
 */
import { Worker } from "node:worker_threads";
import { workerEntry } from "../../cli/worker-entry.js";
import type { Logger, LogLevel } from "../../machinery/log.js";
import type { IngressControllerOptions } from "./controller.js";

/** Options of {@link startIngressControllerThread}: the controller's, with the thread's log level. */
export interface IngressThreadOptions extends Omit<IngressControllerOptions, "logger"> {
  /** Logs the thread's start and failures (on the calling thread). */
  readonly logger: Logger;
  /** The level of the thread's own log lines (SKIFF_LOG_LEVEL, else info, unless given). */
  readonly logLevel?: LogLevel;
}

/** What the worker is started with. */
export type IngressWorkerData = Omit<IngressThreadOptions, "logger">;

/** Messages from the worker. */
export type IngressWorkerMessage =
  | { readonly type: "ready"; readonly httpPort: number; readonly httpsPort: number }
  | { readonly type: "failed"; readonly message: string }
  | { readonly type: "stopped" };

/** The running thread. */
export interface IngressControllerThread {
  readonly httpPort: number;
  readonly httpsPort: number;
  /** Stops the controller (listeners closed, watches ended) and the thread. */
  stop(): Promise<void>;
}

/** Starts the controller on a new worker thread; resolves once it listens, rejects if it could not start. */
export async function startIngressControllerThread(opts: IngressThreadOptions): Promise<IngressControllerThread> {
  const { logger, ...data } = opts;
  const worker = new Worker(workerEntry("ingress-worker", import.meta.url), { workerData: data satisfies IngressWorkerData, name: "ingress-controller" });
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  const ready = await new Promise<{ httpPort: number; httpsPort: number }>((resolve, reject) => {
    worker.on("message", (m: IngressWorkerMessage) => {
      if (m.type === "ready") resolve({ httpPort: m.httpPort, httpsPort: m.httpsPort });
      else if (m.type === "failed") reject(new Error(`ingress controller: ${m.message}`));
    });
    worker.once("error", reject);
    void exited.then(() => reject(new Error("ingress controller thread exited before it was ready")));
  }).catch(async (err: unknown) => {
    await worker.terminate();
    throw err;
  });
  worker.on("error", (err) => logger.error("ingress controller thread failed", { err: err.message }));
  return {
    ...ready,
    async stop() {
      worker.postMessage("stop");
      const timer = setTimeout(() => void worker.terminate(), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
