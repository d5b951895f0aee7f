/**
 * The worker-thread side of thread.ts: runs the ingress controller with the
 * options in `workerData`, reports its ports, and stops when the parent
 * posts "stop".
 */
import { parentPort, workerData } from "node:worker_threads";
import { consoleLogger } from "../../machinery/log.js";
import { type IngressController, startIngressController } from "./controller.js";
import type { IngressWorkerData, IngressWorkerMessage } from "./thread.js";

const data = workerData as IngressWorkerData;
const post = (m: IngressWorkerMessage) => parentPort?.postMessage(m);
let ctl: IngressController | undefined;
let stopping = false;

async function stop(): Promise<void> {
  await ctl?.stop();
  post({ type: "stopped" });
  // The API client's idle keep-alive sockets would hold the thread for half a minute.
  process.exit(0);
}

parentPort?.on("message", (m) => {
  if (m !== "stop" || stopping) return;
  stopping = true;
  // Asked to stop while starting: the start below stops it once it is up.
  if (ctl !== undefined) void stop();
});
try {
  ctl = await startIngressController({ ...data, logger: consoleLogger(data.logLevel ? { level: data.logLevel } : {}) });
  post({ type: "ready", httpPort: ctl.httpPort, httpsPort: ctl.httpsPort });
  if (stopping) await stop();
} catch (err) {
  post({ type: "failed", message: (err as Error).message });
  process.exit(1);
}
