/**
 * The worker-thread side of control-plane.ts: runs the components with
 * the configuration in `workerData`, logs through this thread's standard
 * error, posts "started" once it can stop cleanly, and stops (releasing
 * its Leases) when the parent posts "stop".
 */
import { parentPort, workerData } from "node:worker_threads";
import { consoleLogger } from "../machinery/log.js";
import { type ComponentsConfig, runComponents } from "./control-plane-components.js";

const stop = new AbortController();
parentPort?.on("message", (m) => {
  if (m === "stop") stop.abort();
});
// From here on a stop releases the Leases cleanly; before it there is nothing to release.
parentPort?.postMessage("started");
await runComponents(workerData as ComponentsConfig, consoleLogger(), stop.signal);
parentPort?.close();
