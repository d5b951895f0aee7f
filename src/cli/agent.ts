/**
 * `skiff agent`: joins nodes to a cluster. Runs one kubelet (or, with
 * `--simulate-nodes N`, N simulated ones in this process) against the API
 * server at `--server`, authenticated by a bearer token or a kubeconfig.
 * Only the simulated runtime exists so far; `--runtime runc` says so.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { type ClientConfig, configFromKubeconfig } from "../client/config.js";
import { consoleLogger, type Logger } from "../machinery/log.js";
import { parseJoinToken } from "../pki/join-token.js";
import { joinCluster } from "../kubelet/join.js";
import { DEFAULT_KUBELET_CONFIG, loadKubeletConfig } from "../kubelet/config.js";
import { startAgent } from "../kubelet/agent.js";
import { defaultDataDir } from "./data-dir.js";

/** Flags of `skiff agent`. */
export interface AgentFlags {
  server?: string;
  token?: string;
  kubeconfig?: string;
  certificateAuthority?: string;
  insecureSkipTlsVerify?: boolean;
  nodeName?: string;
  nodeIp?: string;
  dataDir: string;
  runtime: string;
  simulateNodes?: string;
  kubeletConfig?: string;
}

/** What the agent talks to the cluster with. */
export interface AgentCredentials {
  readonly client: ClientConfig;
  /** The cluster's client CA (known after a join), for the kubelet API to verify callers. */
  readonly clientCaPem?: string;
}

/**
 * With a join token (`K10…`, from the server's `<data-dir>/token`): joins
 * and authenticates as `system:node:NAME` with its own certificate. Else
 * the bearer token or kubeconfig the flags give.
 */
export async function agentCredentials(flags: AgentFlags, log: Logger): Promise<AgentCredentials> {
  const joinToken = flags.token ? parseJoinToken(flags.token) : undefined;
  if (!joinToken || flags.kubeconfig) return { client: agentClientConfig(flags) };
  if (!flags.server) throw new Error("--server URL is required with a join token");
  if (!/^https:\/\//.test(flags.server)) throw new Error(`--server must be an https:// URL, not ${flags.server}`);
  const nodeName = flags.nodeName ?? hostname().toLowerCase();
  const creds = await joinCluster({ server: flags.server, token: joinToken, nodeName, dir: join(flags.dataDir, "agent", "pki", nodeName), logger: log });
  return {
    client: { server: flags.server, caPem: creds.caPem, certPem: creds.certPem, keyPem: creds.keyPem, userAgent: "skiff-kubelet" },
    clientCaPem: creds.clientCaPem,
  };
}

/** The client config of a bearer token or kubeconfig; throws a message saying what is missing. */
export function agentClientConfig(flags: AgentFlags): ClientConfig {
  let config: ClientConfig | undefined;
  if (flags.kubeconfig) config = configFromKubeconfig(flags.kubeconfig);
  const server = flags.server ?? config?.server;
  if (!server) throw new Error("--server URL is required (or a --kubeconfig that names the server)");
  if (!/^https:\/\//.test(server)) throw new Error(`--server must be an https:// URL, not ${server}`);
  const token = flags.token ?? config?.token;
  if (!config && !token) {
    throw new Error("give --token TOKEN (a bearer token of the server's --token-auth-file) or --kubeconfig FILE");
  }
  let caPem = config?.caPem;
  if (flags.certificateAuthority) caPem = readFileSync(flags.certificateAuthority, "utf8");
  const insecure = flags.insecureSkipTlsVerify === true || config?.insecureSkipTlsVerify === true;
  if (!caPem && !insecure) {
    throw new Error(
      "cannot verify the server: use the join token from the server's <data-dir>/token (K10…, it pins the cluster CA), " +
        "or pass --certificate-authority FILE (the server's <data-dir>/tls/server-ca.crt) or --insecure-skip-tls-verify",
    );
  }
  return { ...(config ?? {}), server, token, caPem, insecureSkipTlsVerify: insecure, userAgent: "skiff-kubelet" };
}

/** Registers `skiff agent` on the program. */
export function registerAgent(program: Command): void {
  program
    .command("agent")
    .description("Run a node agent (kubelet) that joins a skiff or Kubernetes cluster")
    .option("--server <url>", "the API server, e.g. https://10.0.0.1:6443")
    .option("--token <token>", "join token from the server's <data-dir>/token (K10…), or a bearer token of the server's --token-auth-file")
    .option("--kubeconfig <file>", "kubeconfig with the server and credentials (instead of --server/--token)")
    .option("--certificate-authority <file>", "CA bundle the server's certificate must chain to")
    .option("--insecure-skip-tls-verify", "do not verify the server's certificate (tests only)")
    .option("--node-name <name>", "node name (with --simulate-nodes, the prefix of NAME-0 … NAME-(N-1))", hostname().toLowerCase())
    .option("--node-ip <ip>", "the node's InternalIP (default for simulated nodes: 127.1.x.y)")
    .option("--data-dir <dir>", "state directory (the agent keeps its files under <data-dir>/agent)", defaultDataDir())
    .option("--runtime <name>", "container runtime: runc or sim (simulated, no processes)", "runc")
    .option("--simulate-nodes <n>", "run N simulated nodes in this process (needs --runtime sim)")
    .option("--kubelet-config <file>", "KubeletConfiguration (kubelet.config.k8s.io/v1beta1) file")
    .action(async (flags: AgentFlags) => {
      const log = consoleLogger();
      if (flags.runtime === "runc") {
        throw new Error("--runtime runc is not available yet in this build: only the simulated runtime exists (use --runtime sim)");
      }
      if (flags.runtime !== "sim") throw new Error(`--runtime must be runc or sim, not ${flags.runtime}`);
      let simulateNodes: number | undefined;
      if (flags.simulateNodes !== undefined) {
        simulateNodes = Number(flags.simulateNodes);
        if (!Number.isInteger(simulateNodes) || simulateNodes < 1) throw new Error(`--simulate-nodes must be a whole number >= 1, not ${flags.simulateNodes}`);
      }
      const config = flags.kubeletConfig ? loadKubeletConfig(flags.kubeletConfig) : DEFAULT_KUBELET_CONFIG;
      try {
        mkdirSync(join(flags.dataDir, "agent"), { recursive: true, mode: 0o700 });
      } catch (err) {
        throw new Error(`cannot use --data-dir ${flags.dataDir}: ${(err as Error).message}`);
      }
      const { client } = await agentCredentials(flags, log);
      log.info("starting skiff agent", { server: client.server, runtime: flags.runtime, nodes: simulateNodes ?? 1, pid: process.pid });
      const agent = await startAgent({
        client,
        nodeName: flags.nodeName ?? hostname().toLowerCase(),
        runtime: "sim",
        simulateNodes,
        config,
        nodeIP: flags.nodeIp,
        logger: log,
      });
      const shutdown = async (sig: string) => {
        log.info("shutting down", { signal: sig });
        await agent.stop();
        process.exit(0);
      };
      process.once("SIGINT", () => void shutdown("SIGINT"));
      process.once("SIGTERM", () => void shutdown("SIGTERM"));
      await agent.registered;
      // Keep running until a signal arrives.
      setInterval(() => {}, 1 << 30);
    });
}
