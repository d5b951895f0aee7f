/**
 * The network add-ons `skiff server` runs beside its control plane, as k3s
 * deploys CoreDNS and Traefik: the cluster DNS (answering at the server's
 * node address, reached by pods through the `kube-system/kube-dns` Service
 * this file keeps in place) and the ingress controller (on its own worker
 * thread, listening on the node's ports 80 and 443). Both are clients of the
 * API as `system:skiff-controller`. An add-on that cannot start (its port is
 * taken) is logged with what to do, and the rest of the server runs on.
 */
import { configFromFiles } from "../client/config.js";
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

/** Starts the enabled add-ons; the returned function stops them. */
export async function startNetworkAddons(o: NetworkAddonsOptions): Promise<() => Promise<void>> {
  const client = configFromFiles({ server: o.server, caFile: o.caFile, certFile: o.certFile, keyFile: o.keyFile, userAgent: "skiff-network-addons" });
  let dns: ClusterDns | undefined;
  let ingress: IngressControllerThread | undefined;
  let timer: NodeJS.Timeout | undefined;
  if (!o.disabled.includes("dns")) {
    const log = o.logger.with({ component: "dns" });
    try {
      dns = await startClusterDns({
        client,
        listen: { host: o.nodeAddress, port: o.dnsPort },
        domain: o.clusterDomain,
        resolvConf: o.resolvConf,
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
  if (!o.disabled.includes("ingress")) {
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
    await Promise.allSettled([dns?.stop(), ingress?.stop()]);
  };
}
