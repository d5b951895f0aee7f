/**
 * `skiff agent`: joins nodes to a cluster. Runs one kubelet (or, with
 * `--simulate-nodes N`, N simulated ones in this process) against the API
 * server at `--server`, authenticated by a bearer token or a kubeconfig.
 *
 * Each kind of node (real, simulated) and `--cleanup` load their code only
 * when asked for: an agent's memory holds what it runs and no more (the
 * idle agent's RSS target is 60 MB).
 */
import { mkdirSync, readFileSync } from "node:fs";
import { hostname, networkInterfaces } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { type ClientConfig, configFromKubeconfig } from "../client/config.js";
import { consoleLogger, type Logger } from "../machinery/log.js";
import { parseJoinToken } from "../pki/join-token.js";
import { joinCluster } from "../kubelet/join.js";
import { nodeHostTools } from "../kubelet/host-tools.js";
import { ensureHostTools } from "../machinery/debian-packages.js";
import { indexedIP } from "../apiserver/services/ip.js";
import { proxyModeOption } from "../network/proxy/proxy-mode.js";
import type { ProxyMode } from "../network/proxy/service-proxy.js";
import { DEFAULT_KUBELET_CONFIG, type KubeletConfig, loadKubeletConfig } from "../kubelet/config.js";
import { defaultDataDir } from "./data-dir.js";
import { claimAgentDataDir, runningAgentPid } from "./server-lock.js";
import { followApiServerEndpoints, startServerBalancer } from "../kubelet/server-balancer.js";
import { RestClient } from "../client/rest-client.js";

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
  kubeletPort?: string;
  clusterCidr: string;
  serviceCidr: string;
  privateRegistry?: string;
  cleanup?: boolean;
  clusterDns?: string;
  disableKubeProxy?: boolean;
  proxyMode?: ProxyMode;
  disableNetworkPolicy?: boolean;
}

/** The first external IPv4 address of this host (what the kubelet advertises unless told otherwise). */
export function defaultNodeIP(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  }
  return "127.0.0.1";
}

/** The kubelet configuration of the flags: the file's, with --kubelet-port over it. */
export function kubeletConfigOf(file: string | undefined, port: string | undefined): KubeletConfig {
  const config = file ? loadKubeletConfig(file) : DEFAULT_KUBELET_CONFIG;
  if (port === undefined) return config;
  const n = Number(port);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--kubelet-port must be a port number from 0 (any free port) to 65535, not ${port}`);
  return { ...config, port: n };
}

/** Refuses to run a real node without root, naming what needs it. */
export function requireRootForNode(alternative: string): void {
  if (process.getuid?.() === 0) return;
  throw new Error(`a node running real containers needs root (runc, network namespaces, mounts, cgroups); run as root, or ${alternative}`);
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

/**
 * With a join token and `--simulate-nodes`, each simulated node joins as
 * itself (`system:node:NAME-i`, its own key and certificate kept under
 * `<data-dir>/agent/pki/NAME-i`), as that many real kubelets would;
 * undefined without a join token (a bearer token or kubeconfig serves all).
 */
export async function simulatedNodeCredentials(flags: AgentFlags, names: readonly string[], log: Logger): Promise<Map<string, ClientConfig> | undefined> {
  const joinToken = flags.token ? parseJoinToken(flags.token) : undefined;
  if (!joinToken || flags.kubeconfig) return undefined;
  if (!flags.server) throw new Error("--server URL is required with a join token");
  if (!/^https:\/\//.test(flags.server)) throw new Error(`--server must be an https:// URL, not ${flags.server}`);
  const server = flags.server;
  const out = new Map<string, ClientConfig>();
  // A few joins at a time: each is a key pair and one round trip.
  for (let i = 0; i < names.length; i += 16) {
    await Promise.all(
      names.slice(i, i + 16).map(async (nodeName) => {
        const creds = await joinCluster({ server, token: joinToken, nodeName, dir: join(flags.dataDir, "agent", "pki", nodeName), logger: log });
        out.set(nodeName, { server, caPem: creds.caPem, certPem: creds.certPem, keyPem: creds.keyPem, userAgent: "skiff-kubelet" });
      }),
    );
  }
  return out;
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
    .option("--kubelet-port <port>", "port of the kubelet API (logs, exec, port-forward); 0 picks a free port", undefined)
    .option("--cluster-cidr <cidr>", "the cluster's pod range (the server's --cluster-cidr)", "10.42.0.0/16")
    .option("--service-cidr <cidr>", "the cluster's Service range (the server's --service-cidr)", "10.43.0.0/16")
    .option("--private-registry <file>", "registries.yaml (k3s format: mirrors, credentials, TLS) for image pulls")
    .option("--cluster-dns <ip>", "the cluster DNS Service's IP pods resolve with (default: the 10th address of --service-cidr, 10.43.0.10)")
    .option("--disable-kube-proxy", "do not run the service proxy on this node")
    .option("--proxy-mode <mode>", "which rules the service proxy writes: nftables or iptables (default: nftables, iptables where nftables does not work)", proxyModeOption)
    .option("--disable-network-policy", "do not enforce NetworkPolicies on this node")
    .option("--cleanup", "remove this node's pod network (namespaces, bridges, routes, rules) left by an earlier agent, then exit")
    .action(async (flags: AgentFlags) => {
      const log = consoleLogger();
      if (flags.runtime !== "sim" && flags.runtime !== "runc") throw new Error(`--runtime must be runc or sim, not ${flags.runtime}`);
      let simulateNodes: number | undefined;
      if (flags.simulateNodes !== undefined) {
        simulateNodes = Number(flags.simulateNodes);
        if (!Number.isInteger(simulateNodes) || simulateNodes < 1) throw new Error(`--simulate-nodes must be a whole number >= 1, not ${flags.simulateNodes}`);
      }
      const fileConfig = kubeletConfigOf(flags.kubeletConfig, flags.kubeletPort);
      // --cluster-dns wins; a KubeletConfiguration's own clusterDNS next; else the service range's 10th address.
      const fileSetsDns = fileConfig.clusterDNS.join(",") !== DEFAULT_KUBELET_CONFIG.clusterDNS.join(",");
      const config = { ...fileConfig, clusterDNS: flags.clusterDns ? [flags.clusterDns] : fileSetsDns ? fileConfig.clusterDNS : [indexedIP(flags.serviceCidr, 10)] };
      if (flags.cleanup) {
        requireRootForNode("there is nothing to clean up");
        const running = runningAgentPid(flags.dataDir);
        if (running) throw new Error(`skiff agent (pid ${running}) is still running on --data-dir ${flags.dataDir}; stop it before cleaning up its node`);
        // Loaded only for --cleanup: a running agent does not need that code.
        const { cleanupNodeNetworking } = await import("./node-cleanup.js");
        const errors = await cleanupNodeNetworking(
          flags.dataDir,
          { cniBinDirs: config.network.cniBinDirs, bridgeName: config.network.bridgeName, netnsPrefix: config.network.netnsPrefix, cgroupRoot: config.cgroupRoot, clusterCidr: flags.clusterCidr, serviceCidr: flags.serviceCidr },
          log,
        );
        if (errors.length > 0) throw new Error(`cleanup left something behind: ${errors.join("; ")}`);
        log.info("node network cleaned up", { bridge: config.network.bridgeName, netnsPrefix: config.network.netnsPrefix });
        return;
      }
      if (flags.runtime === "runc") {
        if (simulateNodes !== undefined) throw new Error("--simulate-nodes needs --runtime sim");
        requireRootForNode("use --runtime sim (simulated nodes, no containers)");
        ensureHostTools(nodeHostTools(config.network.cniBinDirs), (line) => log.info(line));
      }
      try {
        mkdirSync(join(flags.dataDir, "agent"), { recursive: true, mode: 0o700 });
      } catch (err) {
        throw new Error(`cannot use --data-dir ${flags.dataDir}: ${(err as Error).message}`);
      }
      // Simulated nodes put nothing on the host; a real one claims its data dir (cleanup and uninstall check it).
      const releaseDataDir = flags.runtime === "runc" ? claimAgentDataDir(flags.dataDir) : () => undefined;
      const nodeName = flags.nodeName ?? hostname().toLowerCase();
      const simNames = simulateNodes !== undefined ? Array.from({ length: simulateNodes }, (_, i) => `${nodeName}-${i}`) : undefined;
      // Joined to skiff servers, the node talks to "the API server" through a local balancer that follows every live
      // server (k3s' agent load balancer); skiff's certificates name 127.0.0.1, so TLS still verifies end to end.
      const joinedVia = flags.server;
      if (joinedVia && !/^https:\/\//.test(joinedVia)) throw new Error(`--server must be an https:// URL, not ${joinedVia}`);
      const balancer =
        joinedVia && !flags.kubeconfig && flags.token && parseJoinToken(flags.token) ? await startServerBalancer({ servers: [joinedVia], stateFile: join(flags.dataDir, "agent", "server-list.json"), logger: log }) : undefined;
      const via: AgentFlags = balancer ? { ...flags, server: balancer.url } : flags;
      const nodeClients = simNames ? await simulatedNodeCredentials(via, simNames, log) : undefined;
      const { client, clientCaPem } = nodeClients && simNames ? { client: nodeClients.get(simNames[0]!)!, clientCaPem: undefined } : await agentCredentials(via, log);
      log.info("starting skiff agent", { server: client.server, runtime: flags.runtime, nodes: simulateNodes ?? 1, pid: process.pid });
      const agent =
        flags.runtime === "runc"
          ? await (await import("../kubelet/runc-node.js")).startRuncNode({
              client,
              nodeName,
              nodeIP: flags.nodeIp ?? defaultNodeIP(),
              dataDir: flags.dataDir,
              config,
              clientCaPem,
              clusterCidr: flags.clusterCidr,
              serviceCidr: flags.serviceCidr,
              registriesFile: flags.privateRegistry,
              ...(balancer ? { apiServerHost: () => new URL(balancer.active()).hostname.replace(/^\[(.*)\]$/, "$1") } : {}),
              kubeProxy: !flags.disableKubeProxy,
              ...(flags.proxyMode !== undefined ? { proxyMode: flags.proxyMode } : {}),
              networkPolicy: !flags.disableNetworkPolicy,
              logger: log,
            })
          : await (await import("../kubelet/agent.js")).startAgent({
              client,
              nodeName,
              runtime: "sim",
              simulateNodes,
              config,
              nodeIP: flags.nodeIp,
              ...(nodeClients ? { nodeClient: (n: string) => nodeClients.get(n)! } : {}),
              logger: log,
            });
      const shutdown = async (sig: string) => {
        log.info("shutting down", { signal: sig });
        await agent.stop();
        await balancer?.stop();
        releaseDataDir();
        process.exit(0);
      };
      process.once("SIGINT", () => void shutdown("SIGINT"));
      process.once("SIGTERM", () => void shutdown("SIGTERM"));
      await agent.registered;
      if (balancer && joinedVia) followApiServerEndpoints(balancer, new RestClient({ ...client, userAgent: "skiff-agent-balancer" }), joinedVia, log);
      // Keep running until a signal arrives.
      setInterval(() => {}, 1 << 30);
    });
}
