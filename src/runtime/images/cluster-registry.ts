/**
 * The cluster registry as every node sees it, with no configuration: the
 * server publishes its name (`localhost:PORT`) in KEP-1755's ConfigMap
 * `kube-public/local-registry-hosting`; the node reads it (at start, then
 * periodically, so a registry started or moved later is found without a
 * restart) and adds one implicit registries.yaml entry on top of the
 * user's:
 *
 * ```yaml
 * mirrors:
 *   "localhost:PORT": { endpoint: ["https://<API server host>:PORT"] }   # and no fallback to the node's own localhost
 * configs:
 *   "<API server host>:PORT": { tls: { <cluster CA>, <the node's client certificate> } }
 * ```
 *
 * so `localhost:PORT/team/app:1` pulls from the server, verifying it against
 * the cluster CA and authenticating as the node itself (the registry grants
 * nodes pull only). The user's explicit entries for that name or endpoint
 * win: a mirror for `localhost:PORT` replaces the implicit one, and a config
 * for the endpoint or for `localhost:PORT` replaces the implicit TLS.
 */
import type { Logger } from "../../machinery/log.js";
import { LOCAL_REGISTRY_HOSTING, localRegistryPort, parseLocalRegistryHosting } from "../../registry/hosting.js";
import type { RegistryConfig, RegistryTls } from "./registry-config.js";

/** Where the node reaches the server and how it proves who it is. */
export interface ClusterRegistryAccess {
  /**
   * The API server's host as this node reaches it (the host of the agent's `--server` URL); an IPv6 address without
   * brackets. A function when it changes: an agent behind its server balancer follows the server it uses now.
   */
  readonly serverHost: string | (() => string);
  /** The cluster CA the registry's serving certificate chains to. */
  readonly caPem?: string;
  /** The node's client certificate and key (`system:node:NAME`); without them the node pulls anonymously. */
  readonly certPem?: string;
  readonly keyPem?: string;
}

/** `config` with the implicit entry for the cluster registry on `port` (see the file header). */
export function withClusterRegistry(config: RegistryConfig, port: number, access: ClusterRegistryAccess): RegistryConfig {
  const name = `localhost:${port}`;
  const serverHost = typeof access.serverHost === "function" ? access.serverHost() : access.serverHost;
  const host = serverHost.includes(":") ? `[${serverHost}]` : serverHost;
  const endpoint = `${host}:${port}`;
  const mirrors = name in config.mirrors ? config.mirrors : { ...config.mirrors, [name]: { endpoint: [`https://${endpoint}`], mirrorOnly: true } };
  const explicitConfig = endpoint in config.configs || name in config.configs;
  const tls: RegistryTls = {
    ...(access.caPem !== undefined ? { caPem: access.caPem } : {}),
    ...(access.certPem !== undefined && access.keyPem !== undefined ? { certPem: access.certPem, keyPem: access.keyPem } : {}),
  };
  const configs = explicitConfig ? config.configs : { ...config.configs, [endpoint]: { tls } };
  return { mirrors, configs };
}

/** Options of {@link ClusterRegistry}. */
export interface ClusterRegistryOptions {
  /** The user's registries.yaml (already parsed); empty when none. */
  readonly base: RegistryConfig;
  readonly access: ClusterRegistryAccess;
  /** GETs the ConfigMap; undefined when it does not exist (no registry). Other errors reject. */
  readonly read: (signal: AbortSignal) => Promise<{ readonly data?: Readonly<Record<string, string>> } | undefined>;
  /** How often to re-read (30 s by default). */
  readonly intervalMs?: number;
  readonly logger: Logger;
}

/** Keeps the node's registry configuration in step with the published registry port. */
export class ClusterRegistry {
  private port: number | undefined;
  private current: RegistryConfig;
  private host: string | undefined;

  constructor(private readonly opts: ClusterRegistryOptions) {
    this.current = opts.base;
  }

  /** The configuration pulls use now (following the server host when it moved). */
  config(): RegistryConfig {
    const { serverHost } = this.opts.access;
    if (typeof serverHost === "function" && this.port !== undefined && serverHost() !== this.host) this.apply(this.port);
    return this.current;
  }

  private apply(port: number | undefined): void {
    const { serverHost } = this.opts.access;
    this.host = typeof serverHost === "function" ? serverHost() : serverHost;
    this.current = port === undefined ? this.opts.base : withClusterRegistry(this.opts.base, port, this.opts.access);
  }

  /** Reads the ConfigMap once and applies what it says; returns the port now in use (undefined: no cluster registry). */
  async refresh(signal: AbortSignal = new AbortController().signal): Promise<number | undefined> {
    const cm = await this.opts.read(signal);
    const hosting = parseLocalRegistryHosting(cm);
    // The name nodes pull by; `host` when an older writer left the runtime's name out.
    const port = localRegistryPort(hosting?.hostFromContainerRuntime ?? hosting?.host);
    if (cm !== undefined && port === undefined) {
      this.opts.logger.warn("the cluster registry's ConfigMap names no localhost:PORT; images from it will not pull", {
        configMap: `${LOCAL_REGISTRY_HOSTING.namespace}/${LOCAL_REGISTRY_HOSTING.name}`,
      });
    }
    if (port !== this.port) {
      this.port = port;
      this.apply(port);
      this.opts.logger.info(port === undefined ? "no cluster registry" : "cluster registry found", {
        ...(port !== undefined ? { name: `localhost:${port}`, endpoint: this.current.mirrors[`localhost:${port}`]?.endpoint[0] } : {}),
      });
    }
    return port;
  }

  /** Re-reads until `signal` aborts; a failed read keeps what was known and is retried next round. */
  async run(signal: AbortSignal): Promise<void> {
    const interval = this.opts.intervalMs ?? 30_000;
    let failing = false;
    while (!signal.aborted) {
      try {
        await this.refresh(signal);
        failing = false;
      } catch (err) {
        if (signal.aborted) return;
        // Said once per outage, not every round.
        if (!failing) this.opts.logger.warn("could not read where the cluster registry is; retrying", { err: (err as Error).message });
        failing = true;
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          signal.removeEventListener("abort", done);
          resolve();
        };
        const t = setTimeout(done, interval);
        signal.addEventListener("abort", done, { once: true });
      });
    }
  }
}
