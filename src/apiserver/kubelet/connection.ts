/**
 * How the API server reaches a node's kubelet, as upstream's
 * NodeConnectionInfoGetter: the node's address of the first preferred type
 * (k3s' order: InternalIP, ExternalIP, Hostname) and the port the kubelet
 * reports in `status.daemonEndpoints.kubeletEndpoint.Port` (10250 when it
 * reports none), over HTTPS with the API server's kubelet client
 * certificate. The kubelet's serving certificate is verified only when a
 * CA is given (upstream's --kubelet-certificate-authority; unset, as by
 * default, it is not).
 */
import { Agent } from "node:https";
import { StatusError } from "../../machinery/status-error.js";
import type { ObjectStore } from "../registry/object-store.js";

/** The API server's side of kubelet connections (upstream's --kubelet-* flags). */
export interface KubeletClientConfig {
  /** Client certificate and key presented to kubelets (`client-kube-apiserver`: CN kube-apiserver-kubelet-client, O system:masters). */
  readonly certPem?: string;
  readonly keyPem?: string;
  /** Verifies kubelets' serving certificates (--kubelet-certificate-authority); not verified when absent. */
  readonly caPem?: string;
  /** Node address types in preference order (--kubelet-preferred-address-types; k3s': InternalIP, ExternalIP, Hostname). */
  readonly preferredAddressTypes?: readonly string[];
  /** Port when a node reports none (--kubelet-port, 10250). */
  readonly defaultPort?: number;
  /**
   * Let `nodes/proxy` reach loopback and link-local node addresses.
   * Upstream refuses them (`address not allowed`), so the proxy cannot be
   * turned on the API server's own host; simulated nodes live on 127.1.x.y.
   */
  readonly allowLoopbackProxy?: boolean;
}

/** Where a node's kubelet listens. */
export interface KubeletEndpoint {
  readonly host: string;
  readonly port: number;
  /** `host:port`, IPv6 in brackets. */
  readonly hostPort: string;
}

const DEFAULT_ADDRESS_TYPES = ["InternalIP", "ExternalIP", "Hostname"];

/** A Status error with no reason, as upstream turns a plain Go error into one (kubectl: `Error from server: …`). */
export function unknownError(message: string, code = 500): StatusError {
  return new StatusError({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, code });
}

/** `host:port`, bracketing IPv6 as Go's net.JoinHostPort. */
export function joinHostPort(host: string, port: number | string): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

interface NodeStatusFields {
  addresses?: { type?: string; address?: string }[];
  daemonEndpoints?: { kubeletEndpoint?: { Port?: number } };
}

/** Finds kubelets and holds the TLS agents that talk to them. */
export class KubeletConnections {
  private readonly agent: Agent;
  private readonly insecureAgent: Agent;

  constructor(
    private readonly nodes: ObjectStore,
    readonly config: KubeletClientConfig = {},
  ) {
    const cert = config.certPem && config.keyPem ? { cert: config.certPem, key: config.keyPem } : {};
    this.agent = new Agent({ keepAlive: true, maxSockets: 64, ...cert, ...(config.caPem ? { ca: config.caPem, rejectUnauthorized: true } : { rejectUnauthorized: false }) });
    this.insecureAgent = config.caPem ? new Agent({ keepAlive: true, maxSockets: 64, ...cert, rejectUnauthorized: false }) : this.agent;
  }

  /** The agent for kubelet requests; `insecure` skips verifying the kubelet (PodLogOptions.insecureSkipTLSVerifyBackend). */
  agentFor(insecure = false): Agent {
    return insecure ? this.insecureAgent : this.agent;
  }

  /** Where node `nodeName`'s kubelet listens: 404 for an unknown node, 500 (no reason) for a node with no usable address. */
  async endpoint(nodeName: string): Promise<KubeletEndpoint> {
    const node = await this.nodes.get(undefined, nodeName);
    const status = (node.status ?? {}) as NodeStatusFields;
    const addresses = status.addresses ?? [];
    let host: string | undefined;
    for (const t of this.config.preferredAddressTypes ?? DEFAULT_ADDRESS_TYPES) {
      host = addresses.find((a) => a.type === t && a.address)?.address;
      if (host) break;
    }
    if (!host) {
      throw unknownError(`no preferred addresses found; known addresses: [${addresses.map((a) => `{${a.type ?? ""} ${a.address ?? ""}}`).join(" ")}]`);
    }
    const reported = status.daemonEndpoints?.kubeletEndpoint?.Port ?? 0;
    const port = reported > 0 ? reported : (this.config.defaultPort ?? 10250);
    return { host, port, hostPort: joinHostPort(host, port) };
  }

  /** Closes pooled connections. */
  close(): void {
    this.agent.destroy();
    if (this.insecureAgent !== this.agent) this.insecureAgent.destroy();
  }
}
