/**
 * The `default/kubernetes` Service and its endpoints, as upstream's
 * control-plane controllers keep them (pkg/controlplane/controller/
 * kubernetesservice and pkg/controlplane/reconcilers):
 *
 * - Service `kubernetes`: ClusterIP (index 1 of the service CIDR), port
 *   `https` 443/TCP → the API server's port, labels component=apiserver and
 *   provider=kubernetes. When it exists with other ports or another type,
 *   ports and type are reset; nothing else is touched.
 * - Endpoints `kubernetes`: one subset with every live API server's
 *   address (upstream's lease reconciler, see master-leases.ts) and port `https`, labelled `endpointslice.kubernetes.io/skip-mirror: "true"`
 *   so the mirroring controller leaves it alone.
 * - EndpointSlice `kubernetes`: written directly by the same reconciler
 *   (upstream's EndpointsAdapter), labelled only
 *   `kubernetes.io/service-name: kubernetes` (no managed-by label), address
 *   type IPv4, the endpoint ready.
 *
 * Idempotent: call it at start and periodically (upstream: every 10 s).
 */
import { type Logger, silentLogger } from "../../machinery/log.js";
import { isAlreadyExists } from "../../machinery/status-error.js";
import type { ObjectStore } from "../registry/object-store.js";
import type { KObject } from "../registry/types.js";
import { ipFamilyOf } from "./ip.js";
import {
  getIfExists,
  type ReconcileOutcome,
  reconcileOwnEndpointSlice,
  reconcileSkipMirrorEndpoints,
  reconcileStep,
  SERVICE_NAME_LABEL,
  servicePortsMatch,
} from "./system-service-objects.js";

export type { ReconcileOutcome } from "./system-service-objects.js";

export const KUBERNETES_SERVICE_NAME = "kubernetes";
export const KUBERNETES_SERVICE_NAMESPACE = "default";
/** The ClusterIP of `kubernetes` with skiff's default service CIDR. */
export const DEFAULT_KUBERNETES_SERVICE_IP = "10.43.0.1";
/** Upstream's default public port of the `kubernetes` Service. */
export const DEFAULT_KUBERNETES_SERVICE_PORT = 443;

export interface KubernetesServiceDeps {
  readonly services: ObjectStore;
  readonly endpoints: ObjectStore;
  readonly endpointSlices: ObjectStore;
  /** The address pods reach the API server at (upstream's --advertise-address). */
  readonly apiServerIP: string;
  /**
   * Every live API server's address (from master-leases.ts), this one
   * included; just `apiServerIP` when not given. All serve on `port`, as
   * upstream assumes.
   */
  readonly apiServerIPs?: readonly string[];
  /** False on a clean stop: publish the others without this server (upstream's RemoveEndpoints). */
  readonly includeSelf?: boolean;
  /** The port the API server serves on: the Service's targetPort and the endpoint port. */
  readonly port: number;
  readonly logger?: Logger;
  /** ClusterIP of the Service; default 10.43.0.1 (use `indexedIP(serviceCIDR, 1)` for other ranges). */
  readonly serviceIP?: string;
  /** The Service's own port; default 443. */
  readonly servicePort?: number;
}

export interface KubernetesServiceResult {
  readonly service: ReconcileOutcome;
  readonly endpoints: ReconcileOutcome;
  readonly endpointSlice: ReconcileOutcome;
}

/**
 * Brings the three objects to their desired state. Failures are logged and
 * reported as "failed" (the next periodic call retries); it never throws for
 * API errors.
 */
export async function reconcileKubernetesService(deps: KubernetesServiceDeps): Promise<KubernetesServiceResult> {
  const log = (deps.logger ?? silentLogger).with({ component: "kubernetes-service" });
  const ns = KUBERNETES_SERVICE_NAMESPACE;
  const name = KUBERNETES_SERVICE_NAME;
  const family = ipFamilyOf(deps.apiServerIP);
  if (!family || deps.apiServerIP === "0.0.0.0" || deps.apiServerIP === "::") {
    log.error("cannot publish the API server endpoint: not a usable IP address", { ip: deps.apiServerIP });
  }
  const port = deps.port;
  const servicePorts = [{ name: "https", protocol: "TCP", port: deps.servicePort ?? DEFAULT_KUBERNETES_SERVICE_PORT, targetPort: port }];
  const endpointPorts = [{ name: "https", port, protocol: "TCP" }];
  const step = reconcileStep(ns, name, log);

  const service = await step("Service", async () => {
    for (let attempt = 0; ; attempt++) {
      const current = await getIfExists(deps.services, ns, name);
      if (current) {
        const spec = (current.spec ?? {}) as Record<string, unknown>;
        if (spec.type === "ClusterIP" && servicePortsMatch(spec.ports, servicePorts)) return "unchanged";
        // Upstream resets only ports and type ("Resetting master service").
        const next = structuredClone(current);
        const nspec = (next.spec ?? {}) as Record<string, unknown>;
        nspec.ports = servicePorts;
        nspec.type = "ClusterIP";
        next.spec = nspec;
        await deps.services.update(ns, name, next);
        return "updated";
      }
      try {
        await deps.services.create(ns, {
          apiVersion: "v1",
          kind: "Service",
          metadata: { name, namespace: ns, labels: { provider: "kubernetes", component: "apiserver" } },
          spec: {
            type: "ClusterIP",
            clusterIP: deps.serviceIP ?? DEFAULT_KUBERNETES_SERVICE_IP,
            ipFamilyPolicy: "SingleStack",
            sessionAffinity: "None",
            ports: servicePorts,
          },
        });
        return "created";
      } catch (err) {
        // Another API server made it first: reconcile what it made.
        if (isAlreadyExists(err) && attempt === 0) continue;
        throw err;
      }
    }
  });

  if (!family || deps.apiServerIP === "0.0.0.0" || deps.apiServerIP === "::") {
    return { service, endpoints: "failed", endpointSlice: "failed" };
  }

  // The live servers of this one's family, itself always among them (its own lease may not be written yet).
  const self = deps.includeSelf === false ? [] : [deps.apiServerIP];
  const ips = [...new Set([...(deps.apiServerIPs ?? []), ...self])].filter((ip) => ipFamilyOf(ip) === family && (deps.includeSelf !== false || ip !== deps.apiServerIP)).sort();
  const subsets = [{ addresses: ips.map((ip) => ({ ip })), ports: endpointPorts }];
  const endpoints = await step("Endpoints", () => reconcileSkipMirrorEndpoints(deps.endpoints, ns, name, subsets));
  const slice: KObject = {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name, namespace: ns, labels: { [SERVICE_NAME_LABEL]: name } },
    addressType: family,
    endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
    ports: endpointPorts,
  };
  // Upstream writes its own slice wholesale, labels included.
  const endpointSlice = await step("EndpointSlice", () => reconcileOwnEndpointSlice(deps.endpointSlices, slice, "replace"));
  return { service, endpoints, endpointSlice };
}
