/**
 * The network add-ons `skiff server` runs beside its control plane, as k3s
 * deploys CoreDNS and Traefik: the cluster DNS (answering at the server's
 * node address, reached by pods through the `kube-system/kube-dns` Service
 * this file keeps in place) and the ingress controller (on its own worker
 * thread, listening on the node's ports 80 and 443). Both are clients of the
 * API as `system:skiff-controller`. An add-on that cannot start (its port is
 * taken) is logged with what to do, and the rest of the server runs on.
 */
import { networkInterfaces } from "node:os";
import type { Node } from "kubernetes-types/core/v1.js";
import { configFromFiles } from "../client/config.js";
import { SharedInformer } from "../client/informer.js";
import { ResourceClient } from "../client/resource-client.js";
import { NODES } from "../client/resources.js";
import { RestClient } from "../client/rest-client.js";
import { cidrContainsIp, ipToNumber, parseCidr } from "../machinery/cidr.js";
import type { Logger } from "../machinery/log.js";
import { type ObjectAccess, reconcileKubeDnsService } from "../network/dns/kube-dns-service.js";
import { type ClusterDns, startClusterDns } from "../network/dns/server.js";
import { type IngressControllerThread, startIngressControllerThread } from "../network/ingress/thread.js";

/** What the add-ons need. */
export interface NetworkAddonsOptions {
  /** The API server URL (loopback) and the CA that signed it. */
  readonly server: string;
  readonly caFile: string;
  /** The add-ons' client certificate (`system:skiff-controller`). */
  readonly certFile: string;
  readonly keyFile: string;
  /** skiff's names of disabled components (`dns`, `ingress`). */
  readonly disabled: readonly string[];
  /** The address pods reach this server's node at: the DNS answers there, and Ingress status names it. */
  readonly nodeAddress: string;
  /** The server's node, when it runs one (the DNS endpoint's nodeName). */
  readonly nodeName?: string;
  readonly clusterDomain: string;
  /** Pods' range: the DNS serves them, this machine's own addresses and loopback, and nobody else. */
  readonly clusterCidr: string;
  /** The kube-dns Service's ClusterIP. */
  readonly clusterDnsIP: string;
  readonly dnsPort: number;
  /** Where names outside the cluster are resolved. */
  readonly resolvConf: string;
  /** The ingress controller's listeners. */
  readonly ingressAddress: string;
  readonly ingressHttpPort: number;
  readonly ingressHttpsPort: number;
  /** Direct store access for the kube-dns Service (as the `kubernetes` Service's reconciler has). */
  readonly objects: { readonly services: ObjectAccess; readonly endpoints: ObjectAccess; readonly endpointSlices: ObjectAccess };
  readonly logger: Logger;
}

/** How often the kube-dns Service is checked (as the `kubernetes` Service's endpoint reconciler). */
const RECONCILE_PERIOD_MS = 10_000;

/**
 * Who the cluster DNS answers (CoreDNS' acl): pods (the cluster range), this
 * machine itself (loopback and its own addresses, which host processes'
 * queries to the kube-dns ClusterIP come from), and the cluster's nodes
 * (pods on other nodes reach it masqueraded to their node's address, as
 * the CNI bridge masquerades traffic leaving the pod range). Listening on a
 * node address, the DNS must not be an open resolver for the node's network.
 */
function clusterClients(clusterCidr: string, nodes: SharedInformer<Node>): (address: string) => boolean {
  const pods = parseCidr(clusterCidr);
  const own = new Set(Object.values(networkInterfaces()).flatMap((addrs) => (addrs ?? []).map((a) => a.address)));
  let nodeAddresses = new Set<string>();
  const refresh = () => {
    nodeAddresses = new Set(nodes.list().flatMap((n) => (n.status?.addresses ?? []).map((a) => a.address)));
  };
  nodes.addEventHandler({ onAdd: refresh, onUpdate: refresh, onDelete: refresh });
  return (address) => {
    const v4 = address.startsWith("::ffff:") ? address.slice(7) : address;
    if (own.has(v4) || v4.startsWith("127.") || v4 === "::1" || nodeAddresses.has(v4)) return true;
    const n = ipToNumber(v4);
    return n !== undefined && cidrContainsIp(pods, n);
  };
}

/**
 * Starts the enabled add-ons in the background: the server does not wait
 * for them (the DNS waits for its informers to sync, the ingress controller
 * for its caches, and an API that cannot list something yet, such as a
 * Secret it cannot decrypt, must not hold up the server). The returned
 * function waits for the start to settle, then stops them.
 */
export function startNetworkAddons(o: NetworkAddonsOptions): () => Promise<void> {
  let stopping = false;
  const started = startAddons(o, () => stopping);
  return async () => {
    stopping = true;
    const stop = await started;
    await stop();
  };
}

async function startAddons(o: NetworkAddonsOptions, stopping: () => boolean): Promise<() => Promise<void>> {
  const client = configFromFiles({ server: o.server, caFile: o.caFile, certFile: o.certFile, keyFile: o.keyFile, userAgent: "skiff-network-addons" });
  let dns: ClusterDns | undefined;
  let ingress: IngressControllerThread | undefined;
  let timer: NodeJS.Timeout | undefined;
  const stops: (() => void)[] = [];
  const stopInformers = new AbortController();
  if (!o.disabled.includes("dns")) {
    const log = o.logger.with({ component: "dns" });
    const rest = new RestClient(client);
    const nodes = new SharedInformer<Node>({ source: new ResourceClient<Node>(rest, NODES), name: "nodes", logger: log });
    const allowClient = clusterClients(o.clusterCidr, nodes);
    void nodes.run(stopInformers.signal).catch((err: Error) => log.error("the node watch of the DNS access list stopped", { err: err.message }));
    stops.push(() => rest.close());
    try {
      dns = await startClusterDns({
        client,
        listen: { host: o.nodeAddress, port: o.dnsPort },
        domain: o.clusterDomain,
        resolvConf: o.resolvConf,
        allowClient,
        logger: o.logger,
      });
      const running = dns;
      const reconcile = () =>
        reconcileKubeDnsService({
          ...o.objects,
          dnsIP: running.host,
          dnsPort: running.port,
          ...(o.nodeName ? { nodeName: o.nodeName } : {}),
          serviceIP: o.clusterDnsIP,
          logger: log,
        });
      await reconcile();
      timer = setInterval(() => void reconcile(), RECONCILE_PERIOD_MS);
      timer.unref();
    } catch (err) {
      log.error("the cluster DNS could not start; pods will not resolve Service names. Free the port or pass --cluster-dns-port (0: any free port)", {
        address: o.nodeAddress,
        port: o.dnsPort,
        err: (err as Error).message,
      });
    }
  }
  if (!o.disabled.includes("ingress") && !stopping()) {
    try {
      ingress = await startIngressControllerThread({
        client,
        httpListen: { host: o.ingressAddress, port: o.ingressHttpPort },
        httpsListen: { host: o.ingressAddress, port: o.ingressHttpsPort },
        statusAddresses: [o.nodeAddress],
        logger: o.logger.with({ component: "ingress" }),
      });
      o.logger.info("ingress controller listening", { address: o.ingressAddress, http: ingress.httpPort, https: ingress.httpsPort });
    } catch (err) {
      o.logger.error("the ingress controller could not start; free its ports, pass --ingress-http-port/--ingress-https-port, or --disable ingress", {
        address: o.ingressAddress,
        err: (err as Error).message,
      });
    }
  }
  return async () => {
    clearInterval(timer);
    stopInformers.abort();
    await Promise.allSettled([dns?.stop(), ingress?.stop()]);
    for (const stop of stops) stop();
  };
}
