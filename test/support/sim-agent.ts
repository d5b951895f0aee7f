/**
 * A `skiff agent --runtime sim --simulate-nodes N` joined to a test server
 * with the server's join token (each simulated node gets its own
 * `system:node:NAME` certificate, as the Node authorizer wants).
 */
import type { ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TestServer } from "./cluster.js";
import { skiffBackground, waitForLog } from "./skiff.js";

/** What {@link startSimAgent} needs besides the server. */
export interface SimAgentOptions {
  readonly nodes: number;
  /** Nodes are named NAME-0 … NAME-(N-1). */
  readonly nodeName: string;
  /** The agent's data dir (inside the test's temp dir). */
  readonly dataDir: string;
  /** A KubeletConfiguration file (shortened timings). */
  readonly kubeletConfig?: string;
}

/** A started agent and everything it has logged so far. */
export interface SimAgent {
  readonly process: ChildProcess;
  log(): string;
}

/** Starts the agent and resolves once every node registered. */
export async function startSimAgent(server: Pick<TestServer, "port" | "dataDir">, o: SimAgentOptions): Promise<SimAgent> {
  const token = readFileSync(join(server.dataDir, "token"), "utf8").trim();
  const agent = skiffBackground([
    "agent",
    "--server",
    `https://127.0.0.1:${server.port}`,
    "--token",
    token,
    "--runtime",
    "sim",
    "--simulate-nodes",
    String(o.nodes),
    "--node-name",
    o.nodeName,
    "--data-dir",
    o.dataDir,
    ...(o.kubeletConfig ? ["--kubelet-config", o.kubeletConfig] : []),
  ]);
  let log = "";
  agent.stderr?.on("data", (d: Buffer) => {
    log += d.toString();
  });
  await waitForLog(agent, /msg="nodes registered"/);
  return { process: agent, log: () => log };
}

/**
 * Writes a KubeletConfiguration with test timings into `dir` and returns its
 * path: status every second, and crash-loop and image-pull back-offs that
 * start at 500 ms and stop growing at 4 s, so failure states show in seconds.
 */
export function writeFastKubeletConfig(dir: string): string {
  const file = join(dir, "kubelet.yaml");
  writeFileSync(
    file,
    [
      "apiVersion: kubelet.config.k8s.io/v1beta1",
      "kind: KubeletConfiguration",
      "nodeStatusUpdateFrequency: 1s",
      "crashLoopBackOff:",
      "  initialContainerRestartPeriod: 500ms",
      "  maxContainerRestartPeriod: 4s",
      "imagePullBackOff:",
      "  initialPeriod: 500ms",
      "  maxPeriod: 4s",
      "",
    ].join("\n"),
  );
  return file;
}
