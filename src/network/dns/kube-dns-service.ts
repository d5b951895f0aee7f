/**
 * The `kube-system/kube-dns` Service pods reach the cluster DNS at (their
 * resolv.conf names its ClusterIP, 10.43.0.10 by default), kept the way
 * apiserver/services/kubernetes-service.ts keeps `default/kubernetes`:
 *
 * - Service `kube-dns`: labels as k3s' CoreDNS manifest (`k8s-app:
 *   kube-dns`, `kubernetes.io/cluster-service: "true"`, `kubernetes.io/name:
 *   CoreDNS`), ClusterIP = the 10th address of the service CIDR, ports
 *   `dns` 53/UDP, `dns-tcp` 53/TCP and `metrics` 9153/TCP, no selector
 *   (the DNS server is not a pod, so no controller may manage its
 *   endpoints).
 * - Endpoints `kube-dns` (what `kubectl get endpoints` shows): the same
 *   address and ports, labelled `endpointslice.kubernetes.io/skip-mirror:
 *   "true"` so the mirroring controller leaves it alone.
 * - EndpointSlice `kube-dns`: labelled `kubernetes.io/service-name:
 *   kube-dns` and managed-by `dns.skiff.io` (a label value, so no slash; upstream's controller writes `endpointslice-controller.k8s.io`), one ready endpoint at the
 *   address the DNS server listens on, ports `dns`/`dns-tcp` with the port
 *   it really listens on (the proxy sends Service port 53 there). The
 *   `metrics` port has no endpoint: skiff's DNS serves no Prometheus
 *   metrics yet, and a port nobody listens on is worse than none.
 *
 * Idempotent: call it at start and periodically. A `kube-dns` Service with
 * another ClusterIP (the field is immutable) is left alone and reported.
 */
import type { KObject } from "../../apiserver/registry/types.js";
import {
  getIfExists,
  type ObjectAccess,
  type ReconcileOutcome,
  reconcileOwnEndpointSlice,
  reconcileSkipMirrorEndpoints,
  reconcileStep,
  SERVICE_NAME_LABEL,
  servicePortsMatch,
} from "../../apiserver/services/system-service-objects.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { isAlreadyExists } from "../../machinery/status-error.js";

export type { ObjectAccess, ReconcileOutcome } from "../../apiserver/services/system-service-objects.js";

export const KUBE_DNS_SERVICE_NAME = "kube-dns";
export const KUBE_DNS_NAMESPACE = "kube-system";
/** The cluster DNS IP with skiff's default service CIDR (10.43.0.0/16, index 10), as k3s. */
export const DEFAULT_CLUSTER_DNS_IP = "10.43.0.10";
/** The managed-by label value of the slice, so the EndpointSlice controllers leave it alone. */
export const KUBE_DNS_MANAGED_BY = "dns.skiff.io";

const MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by";
const SERVICE_LABELS = { "k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS" };

export interface KubeDnsServiceDeps {
  readonly services: ObjectAccess;
  readonly endpoints: ObjectAccess;
  readonly endpointSlices: ObjectAccess;
  /** The address pods reach the DNS server at (the server node's IP). */
  readonly dnsIP: string;
  /** The port the DNS server listens on (UDP and TCP). */
  readonly dnsPort: number;
  /** The node the DNS server runs on, when there is one (the endpoint's nodeName). */
  readonly nodeName?: string;
  /** ClusterIP of the Service; 10.43.0.10 (use `indexedIP(serviceCIDR, 10)` for other ranges). */
  readonly serviceIP?: string;
  readonly logger?: Logger;
}

export interface KubeDnsServiceResult {
  readonly service: ReconcileOutcome;
  readonly endpoints: ReconcileOutcome;
  readonly endpointSlice: ReconcileOutcome;
}

/** The Service's ports: 53 for DNS over UDP and TCP (to `dnsPort`), 9153 for metrics. */
export function kubeDnsServicePorts(dnsPort: number): { name: string; protocol: string; port: number; targetPort: number }[] {
  return [
    { name: "dns", protocol: "UDP", port: 53, targetPort: dnsPort },
    { name: "dns-tcp", protocol: "TCP", port: 53, targetPort: dnsPort },
    { name: "metrics", protocol: "TCP", port: 9153, targetPort: 9153 },
  ];
}

/** Brings the Service and its EndpointSlice to their desired state; never throws for API errors. */
export async function reconcileKubeDnsService(deps: KubeDnsServiceDeps): Promise<KubeDnsServiceResult> {
  const log = (deps.logger ?? silentLogger).with({ component: "kube-dns-service" });
  const ns = KUBE_DNS_NAMESPACE;
  const name = KUBE_DNS_SERVICE_NAME;
  const serviceIP = deps.serviceIP ?? DEFAULT_CLUSTER_DNS_IP;
  const family = deps.dnsIP.includes(":") ? "IPv6" : "IPv4";
  const ports = kubeDnsServicePorts(deps.dnsPort);

  const step = reconcileStep(ns, name, log);

  const service = await step("Service", async () => {
    for (let attempt = 0; ; attempt++) {
      const current = await getIfExists(deps.services, ns, name);
      if (current) {
        const spec = (current.spec ?? {}) as Record<string, unknown>;
        if (spec.clusterIP !== serviceIP) {
          log.error("kube-dns Service has another ClusterIP than the cluster DNS IP; pods will not reach the DNS server", {
            object: `${ns}/${name}`,
            clusterIP: String(spec.clusterIP),
            want: serviceIP,
          });
          return "failed";
        }
        const labels = current.metadata?.labels ?? {};
        const labelsOk = Object.entries(SERVICE_LABELS).every(([k, v]) => labels[k] === v);
        if (spec.type === "ClusterIP" && spec.selector === undefined && servicePortsMatch(spec.ports, ports) && labelsOk) return "unchanged";
        const next = structuredClone(current);
        const nspec = (next.spec ?? {}) as Record<string, unknown>;
        nspec.ports = ports;
        nspec.type = "ClusterIP";
        // A selector would let the EndpointSlice controller claim the Service; the server is no pod.
        delete nspec.selector;
        next.spec = nspec;
        next.metadata = { ...next.metadata, labels: { ...labels, ...SERVICE_LABELS } };
        await deps.services.update(ns, name, next);
        return "updated";
      }
      try {
        await deps.services.create(ns, {
          apiVersion: "v1",
          kind: "Service",
          metadata: { name, namespace: ns, labels: { ...SERVICE_LABELS } },
          spec: { type: "ClusterIP", clusterIP: serviceIP, clusterIPs: [serviceIP], ipFamilyPolicy: "SingleStack", sessionAffinity: "None", ports },
        });
        return "created";
      } catch (err) {
        if (isAlreadyExists(err) && attempt === 0) continue;
        throw err;
      }
    }
  });

  const endpointPorts = [
    { name: "dns", port: deps.dnsPort, protocol: "UDP" },
    { name: "dns-tcp", port: deps.dnsPort, protocol: "TCP" },
  ];
  const subsets = [{ addresses: [{ ip: deps.dnsIP, ...(deps.nodeName ? { nodeName: deps.nodeName } : {}) }], ports: endpointPorts }];
  const endpoints = await step("Endpoints", () => reconcileSkipMirrorEndpoints(deps.endpoints, ns, name, subsets));

  const slice: KObject = {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name, namespace: ns, labels: { [SERVICE_NAME_LABEL]: name, [MANAGED_BY_LABEL]: KUBE_DNS_MANAGED_BY } },
    addressType: family,
    endpoints: [
      {
        addresses: [deps.dnsIP],
        conditions: { ready: true, serving: true, terminating: false },
        ...(deps.nodeName ? { nodeName: deps.nodeName } : {}),
      },
    ],
    ports: [
      { name: "dns", protocol: "UDP", port: deps.dnsPort },
      { name: "dns-tcp", protocol: "TCP", port: deps.dnsPort },
    ],
  };
  const endpointSlice = await step("EndpointSlice", () => reconcileOwnEndpointSlice(deps.endpointSlices, slice, "merge"));

  return { service, endpoints, endpointSlice };
}
