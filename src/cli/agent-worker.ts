/**
 * The worker-thread side of server-agent.ts: runs the server's own node
 * with the options in `workerData`, logs through this thread's standard
 * error, and stops when the parent posts "stop".
 */
import { parentPort, workerData } from "node:worker_threads";
import { type RuncNodeOptions, startRuncNode } from "../kubelet/runc-node.js";
import { consoleLogger } from "../machinery/log.js";

const log = consoleLogger();
const agent = await startRuncNode({ ...(workerData as Omit<RuncNodeOptions, "logger">), logger: log });
parentPort?.on("message", (m) => {
  if (m !== "stop") return;
  void agent.stop().finally(() => parentPort?.close());
});
