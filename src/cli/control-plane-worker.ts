/**
 * The worker-thread side of control-plane.ts: runs the components with
 * the configuration in `workerData`, logs through this thread's standard
 * error, and stops (releasing its Leases) when the parent posts "stop".
 */
import { parentPort, workerData } from "node:worker_threads";
import { consoleLogger } from "../machinery/log.js";
import { type ComponentsConfig, runComponents } from "./control-plane-components.js";

const stop = new AbortController();
parentPort?.on("message", (m) => {
  if (m === "stop") stop.abort();
});
await runComponents(workerData as ComponentsConfig, consoleLogger(), stop.signal);
parentPort?.close();
