/**
 * The node `skiff server` runs beside its control plane (unless
 * `--disable-agent`), as k3s' server does: a kubelet with the runc
 * runtime, authenticated as `system:node:NAME` with a certificate the
 * server issues itself, on its own worker thread so container work never
 * holds up the API server.
 */
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import type { KubeletConfig } from "../kubelet/config.js";
import { nodeHostTools } from "../kubelet/host-tools.js";
import { localNodeCredentials } from "../kubelet/join.js";
import type { RuncNodeOptions } from "../kubelet/runc-node.js";
import { ensureHostTools } from "../machinery/debian-packages.js";
import type { Logger } from "../machinery/log.js";
import type { KeyPairPem } from "../pki/certs.js";
import { requireRootForNode } from "./agent.js";
import { workerEntry } from "./worker-entry.js";

/** What the server's node needs. */
export interface ServerAgentOptions {
  /** The API server (loopback). */
  readonly server: string;
  readonly serverCaPem: string;
  readonly clientCa: KeyPairPem;
  readonly dataDir: string;
  readonly nodeName: string;
  readonly nodeIP: string;
  readonly config: KubeletConfig;
  readonly clusterCidr: string;
  readonly serviceCidr: string;
  readonly registriesFile?: string;
  /** Run the service proxy and the NetworkPolicy enforcer on the node (default true each). */
  readonly kubeProxy?: boolean;
  /** `--proxy-mode`; unset: nftables where it works, else iptables. */
  readonly proxyMode?: RuncNodeOptions["proxyMode"];
  readonly networkPolicy?: boolean;
  readonly logger: Logger;
}

/** Starts the server's node on a worker thread; the returned function stops it (and waits). */
export async function startServerAgent(o: ServerAgentOptions): Promise<() => Promise<void>> {
  requireRootForNode("pass --disable-agent to run the control plane alone (and join nodes with skiff agent)");
  ensureHostTools(nodeHostTools(o.config.network.cniBinDirs), (line) => o.logger.info(line));
  const creds = await localNodeCredentials(join(o.dataDir, "agent", "pki", o.nodeName), o.nodeName, o.serverCaPem, o.clientCa);
  const data: Omit<RuncNodeOptions, "logger"> = {
    client: { server: o.server, caPem: creds.caPem, certPem: creds.certPem, keyPem: creds.keyPem, userAgent: "skiff-kubelet" },
    nodeName: o.nodeName,
    nodeIP: o.nodeIP,
    dataDir: o.dataDir,
    config: o.config,
    clientCaPem: creds.clientCaPem,
    clusterCidr: o.clusterCidr,
    serviceCidr: o.serviceCidr,
    ...(o.registriesFile ? { registriesFile: o.registriesFile } : {}),
    ...(o.kubeProxy === false ? { kubeProxy: false } : {}),
    ...(o.proxyMode !== undefined ? { proxyMode: o.proxyMode } : {}),
    ...(o.networkPolicy === false ? { networkPolicy: false } : {}),
  };
  const worker = new Worker(workerEntry("agent-worker"), { workerData: data });
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  worker.on("error", (err) => o.logger.error("the server's node agent failed", { err: err.message }));
  return async () => {
    worker.postMessage("stop");
    const timer = setTimeout(() => void worker.terminate(), 30_000);
    await exited;
    clearTimeout(timer);
  };
}
