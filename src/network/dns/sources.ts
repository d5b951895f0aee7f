/**
 * Keeps a {@link ClusterIndex} in step with the cluster through informers
 * on Services, EndpointSlices (discovery.k8s.io/v1) and Namespaces, the
 * three caches CoreDNS' kubernetes plugin watches (pods are not watched:
 * `pods insecure` answers without them).
 */
import type { Namespace, Service } from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";
import type { ClientConfig } from "../../client/config.js";
import { SharedInformer, stripManagedFields } from "../../client/informer.js";
import { ResourceClient } from "../../client/resource-client.js";
import { ENDPOINT_SLICES, NAMESPACES, SERVICES } from "../../client/resources.js";
import { RestClient } from "../../client/rest-client.js";
import type { Logger } from "../../machinery/log.js";
import type { ClusterIndex } from "./cluster-index.js";

/** The informers the DNS server reads (shared with other components, or its own). */
export interface DnsInformers {
  readonly services: SharedInformer<Service>;
  readonly endpointSlices: SharedInformer<EndpointSlice>;
  readonly namespaces: SharedInformer<Namespace>;
}

/** Informers of its own, from a client config; `run` them until the signal aborts. */
export function createDnsInformers(config: ClientConfig, logger: Logger): DnsInformers & { run(signal: AbortSignal): Promise<void> } {
  const rest = new RestClient({ ...config, userAgent: config.userAgent ?? "skiff-dns" }, { maxSockets: 4 });
  const services = new SharedInformer<Service>({ source: new ResourceClient<Service>(rest, SERVICES), name: "services", logger, transform: stripManagedFields });
  const endpointSlices = new SharedInformer<EndpointSlice>({
    source: new ResourceClient<EndpointSlice>(rest, ENDPOINT_SLICES),
    name: "endpointslices",
    logger,
    transform: stripManagedFields,
  });
  const namespaces = new SharedInformer<Namespace>({ source: new ResourceClient<Namespace>(rest, NAMESPACES), name: "namespaces", logger, transform: stripManagedFields });
  return {
    services,
    endpointSlices,
    namespaces,
    async run(signal) {
      await Promise.all([services.run(signal), endpointSlices.run(signal), namespaces.run(signal)]);
    },
  };
}

/** Feeds the informers' events into `index`; `synced` once all three have listed. */
export function feedIndex(index: ClusterIndex, informers: DnsInformers): { synced(): boolean; remove(): void } {
  const regs = [
    informers.services.addEventHandler({
      onAdd: (s) => index.setService(s),
      onUpdate: (_o, s) => index.setService(s),
      onDelete: (s) => index.deleteService(s),
    }),
    informers.endpointSlices.addEventHandler({
      onAdd: (s) => index.setEndpointSlice(s),
      onUpdate: (_o, s) => index.setEndpointSlice(s),
      onDelete: (s) => index.deleteEndpointSlice(s),
    }),
    informers.namespaces.addEventHandler({
      onAdd: (n) => index.setNamespace(n),
      onUpdate: (_o, n) => index.setNamespace(n),
      onDelete: (n) => index.deleteNamespace(n),
    }),
  ];
  return {
    synced: () => regs.every((r) => r.hasSynced()),
    remove: () => {
      for (const r of regs) r.remove();
    },
  };
}
