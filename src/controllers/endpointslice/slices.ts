/**
 * Building blocks of the EndpointSlice reconciler, as upstream's
 * `k8s.io/endpointslice` utils: a pod's endpoint and ports, new slices
 * with their labels and owner, and the comparisons that decide whether a
 * slice must be written.
 */
import type { Node, Pod, Service } from "kubernetes-types/core/v1.js";
import type { Endpoint, EndpointPort, EndpointSlice } from "kubernetes-types/discovery/v1.js";
import type { OwnerReference } from "kubernetes-types/meta/v1.js";
import { HEADLESS_LABEL } from "./util/labels.js";
import { findPort, isIPv6, isPodReady, isServiceIPSet, shouldSetHostname } from "./util/pods.js";
import { semanticEqual } from "./util/semantic.js";

/** Label naming a slice's Service. */
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";
/** Label naming the controller that manages a slice. */
export const MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by";
/** This controller's value of {@link MANAGED_BY_LABEL}. */
export const CONTROLLER_NAME = "endpointslice-controller.k8s.io";
/** The Node label an endpoint's zone comes from. */
export const ZONE_LABEL = "topology.kubernetes.io/zone";

/** Address types the controller writes. */
export type AddressType = "IPv4" | "IPv6";

/** The ports and address type that group endpoints into slices (upstream's `endpointMeta`). */
export interface EndpointMeta {
  readonly ports: EndpointPort[];
  readonly addressType: AddressType;
}

function podIPs(pod: Pod): string[] {
  const ips = (pod.status?.podIPs ?? []).map((p) => p.ip).filter((ip): ip is string => !!ip);
  if (ips.length === 0 && pod.status?.podIP) ips.push(pod.status.podIP);
  return ips;
}

/**
 * The endpoint of `pod` for `svc` in slices of `addressType` (upstream's
 * `podToEndpoint`): `serving` is the pod's readiness, `terminating` its
 * deletion, and `ready` is serving-and-not-terminating (or always true with
 * `publishNotReadyAddresses`); nodeName, the node's zone and the hostname
 * (when the pod's subdomain is this Service) as known.
 */
export function podToEndpoint(pod: Pod, node: Node | undefined, svc: Service, addressType: AddressType): Endpoint {
  const serving = isPodReady(pod);
  const terminating = !!pod.metadata?.deletionTimestamp;
  const ready = svc.spec?.publishNotReadyAddresses === true || (serving && !terminating);
  const ep: Endpoint = {
    addresses: podIPs(pod).filter((ip) => isIPv6(ip) === (addressType === "IPv6")),
    conditions: { ready, serving, terminating },
    targetRef: { kind: "Pod", namespace: pod.metadata?.namespace, name: pod.metadata?.name, uid: pod.metadata?.uid },
  };
  if (pod.spec?.nodeName) ep.nodeName = pod.spec.nodeName;
  const zone = node?.metadata?.labels?.[ZONE_LABEL];
  if (zone) ep.zone = zone;
  if (shouldSetHostname(pod, svc)) ep.hostname = pod.spec?.hostname;
  return ep;
}

/**
 * The slice ports of `pod` for `svc` (upstream's `getEndpointPorts`): one
 * per Service port that resolves on the pod; none for a headless Service
 * without ports.
 */
export function getEndpointPorts(svc: Service, pod: Pod): EndpointPort[] {
  const out: EndpointPort[] = [];
  const svcPorts = svc.spec?.ports ?? [];
  if (svcPorts.length === 0 && svc.spec?.clusterIP === "None") return out;
  for (const sp of svcPorts) {
    const port = findPort(pod, sp);
    if (port === undefined) continue;
    const epp: EndpointPort = { name: sp.name ?? "", port, protocol: sp.protocol ?? "TCP" };
    if (sp.appProtocol) epp.appProtocol = sp.appProtocol;
    out.push(epp);
  }
  return out;
}

function portJSON(p: EndpointPort): string {
  return JSON.stringify([p.name ?? "", p.port ?? null, p.protocol ?? "TCP", p.appProtocol ?? null]);
}

/** Sorts ports into a canonical order (in place) and returns them. */
export function sortPorts(ports: EndpointPort[]): EndpointPort[] {
  return ports.sort((a, b) => {
    const ak = portJSON(a);
    const bk = portJSON(b);
    return ak < bk ? -1 : ak > bk ? 1 : 0;
  });
}

/** The key of a set of ports, independent of their order (upstream's `PortMapKey`). */
export function portMapKey(ports: readonly EndpointPort[] | undefined): string {
  return (ports ?? []).map(portJSON).sort().join(",");
}

/** The address types `svc` has slices of: its IP families, else guessed as upstream does for old Services. */
export function addressTypesForService(svc: Service): Set<AddressType> {
  const out = new Set<AddressType>();
  for (const f of svc.spec?.ipFamilies ?? []) {
    if (f === "IPv4") out.add("IPv4");
    if (f === "IPv6") out.add("IPv6");
  }
  if (out.size > 0) return out;
  const ip = svc.spec?.clusterIP;
  if (ip && ip !== "None") {
    out.add(isIPv6(ip) ? "IPv6" : "IPv4");
    return out;
  }
  // Headless without families (a Service from an old API server): both, until defaulted.
  out.add("IPv4");
  out.add("IPv6");
  return out;
}

/** Whether `slice` is owned (by uid) by `svc`. */
export function ownedBy(slice: EndpointSlice, svc: Service): boolean {
  return (slice.metadata?.ownerReferences ?? []).some((o) => o.uid === svc.metadata?.uid && o.kind === "Service" && o.apiVersion === "v1");
}

function isReservedLabel(key: string): boolean {
  return key === SERVICE_NAME_LABEL || key === MANAGED_BY_LABEL || key === HEADLESS_LABEL;
}

/**
 * The labels `slice` should have: the Service's (reserved keys excepted),
 * the headless label when it has no ClusterIP, and the service-name and
 * managed-by labels; `changed` when the copied Service labels differ from
 * the slice's (upstream's `setEndpointSliceLabels`).
 */
export function endpointSliceLabels(slice: EndpointSlice, svc: Service, controllerName = CONTROLLER_NAME): { labels: Record<string, string>; changed: boolean } {
  const sliceLabels: Record<string, string> = {};
  for (const [k, v] of Object.entries(slice.metadata?.labels ?? {})) if (!isReservedLabel(k)) sliceLabels[k] = v;
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(svc.metadata?.labels ?? {})) if (!isReservedLabel(k)) labels[k] = v;
  const changed = !semanticEqual(sliceLabels, labels);
  if (!isServiceIPSet(svc)) labels[HEADLESS_LABEL] = "";
  labels[SERVICE_NAME_LABEL] = svc.metadata?.name ?? "";
  labels[MANAGED_BY_LABEL] = controllerName;
  return { labels, changed };
}

/** The controller reference a Service's slices carry. */
export function serviceControllerRef(svc: Service): OwnerReference {
  return { apiVersion: "v1", kind: "Service", name: svc.metadata?.name ?? "", uid: svc.metadata?.uid ?? "", controller: true, blockOwnerDeletion: true };
}

/** A new, empty slice of `svc` for `meta`, named by the server from `<service>-` (upstream's `newEndpointSlice`). */
export function newEndpointSlice(svc: Service, meta: EndpointMeta, controllerName = CONTROLLER_NAME): EndpointSlice {
  const slice: EndpointSlice = {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      generateName: `${svc.metadata?.name}-`,
      namespace: svc.metadata?.namespace,
      ownerReferences: [serviceControllerRef(svc)],
      labels: {},
    },
    addressType: meta.addressType,
    ports: meta.ports,
    endpoints: [],
  };
  slice.metadata!.labels = endpointSliceLabels(slice, svc, controllerName).labels;
  return slice;
}

/**
 * Whether two endpoints with the same identity differ in what identity
 * leaves out: node, zone, conditions or target (its resourceVersion
 * ignored). Upstream's `EndpointsEqualBeyondHash`.
 */
export function endpointsEqualBeyondHash(a: Endpoint, b: Endpoint): boolean {
  if ((a.nodeName ?? undefined) !== (b.nodeName ?? undefined)) return false;
  if ((a.zone ?? undefined) !== (b.zone ?? undefined)) return false;
  if (a.conditions?.ready !== b.conditions?.ready) return false;
  if (a.conditions?.serving !== b.conditions?.serving) return false;
  if (a.conditions?.terminating !== b.conditions?.terminating) return false;
  return semanticEqual({ targetRef: a.targetRef }, { targetRef: b.targetRef });
}

/**
 * The existing slice that `numEndpoints` more endpoints fill closest to
 * `maxEndpoints` without overflowing it (upstream's `getSliceToFill`).
 */
export function getSliceToFill(slices: readonly EndpointSlice[], numEndpoints: number, maxEndpoints: number): EndpointSlice | undefined {
  let closestDiff = maxEndpoints;
  let closest: EndpointSlice | undefined;
  for (const s of slices) {
    const diff = maxEndpoints - (numEndpoints + (s.endpoints?.length ?? 0));
    if (diff >= 0 && diff < closestDiff) {
      closestDiff = diff;
      closest = s;
      if (diff === 0) return closest;
    }
  }
  return closest;
}

function ownerRefKey(o: OwnerReference): string {
  return JSON.stringify([o.apiVersion, o.kind, o.name, o.uid, o.controller ?? null, o.blockOwnerDeletion ?? null]);
}

/**
 * Whether `existing` is the placeholder `placeholder` describes: same
 * namespace, labels, owners and address type, no endpoints, no ports
 * (upstream's `placeholderSliceCompare`).
 */
export function samePlaceholder(existing: EndpointSlice, placeholder: EndpointSlice): boolean {
  if (existing.metadata?.namespace !== placeholder.metadata?.namespace) return false;
  if (!semanticEqual(existing.metadata?.labels ?? {}, placeholder.metadata?.labels ?? {})) return false;
  const ao = (existing.metadata?.ownerReferences ?? []).map(ownerRefKey);
  const bo = (placeholder.metadata?.ownerReferences ?? []).map(ownerRefKey);
  if (ao.length !== bo.length || ao.some((k, i) => k !== bo[i])) return false;
  return existing.addressType === placeholder.addressType && semanticEqual(existing.endpoints, placeholder.endpoints) && semanticEqual(existing.ports, placeholder.ports);
}
