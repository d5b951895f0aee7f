/**
 * What a Service's Endpoints should hold, computed from its pods (the pure
 * half of upstream's `syncService` in pkg/controller/endpoint): one address
 * per selected pod with an IP of the Service's family, ready or not ready,
 * for every Service port that resolves on that pod; repacked canonically;
 * and capped at 1000 addresses as upstream does.
 */
import type { EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Pod, Service, ServicePort } from "kubernetes-types/core/v1.js";
import { findPort, isIPv6, isPodReady, shouldPodBeInEndpoints, shouldSetHostname } from "../endpointslice/util/pods.js";
import { repackSubsets } from "./repack.js";

/** Addresses an Endpoints object may hold before it is truncated. */
export const MAX_CAPACITY = 1000;
/** Annotation marking truncated Endpoints. */
export const OVER_CAPACITY_ANNOTATION = "endpoints.kubernetes.io/over-capacity";
/** Its one value. */
export const TRUNCATED = "truncated";

/** The pod's IPs: `status.podIPs`, or `[podIP]` from a writer that set only that (as the API's conversion does). */
function podIPs(pod: Pod): string[] {
  const ips = (pod.status?.podIPs ?? []).map((p) => p.ip).filter((ip): ip is string => !!ip);
  if (ips.length === 0 && pod.status?.podIP) ips.push(pod.status.podIP);
  return ips;
}

/**
 * The address of `pod` for `svc` (upstream's `podToEndpointAddressForService`):
 * the pod IP of the Service's primary family (from `spec.ipFamilies`, else
 * the ClusterIP's, else the pod's own for headless), with nodeName and a
 * targetRef to the pod. Undefined when the pod has no IP of that family.
 */
export function podToEndpointAddress(svc: Service, pod: Pod): EndpointAddress | undefined {
  let ipv6: boolean;
  const families = svc.spec?.ipFamilies ?? [];
  if (families.length > 0) ipv6 = families[0] === "IPv6";
  else if (svc.spec?.clusterIP && svc.spec.clusterIP !== "None") ipv6 = isIPv6(svc.spec.clusterIP);
  else ipv6 = isIPv6(pod.status?.podIP ?? "");
  const ip = podIPs(pod).find((candidate) => isIPv6(candidate) === ipv6);
  if (!ip) return undefined;
  return {
    ip,
    nodeName: pod.spec?.nodeName ?? "",
    targetRef: { kind: "Pod", namespace: pod.metadata?.namespace, name: pod.metadata?.name, uid: pod.metadata?.uid },
  };
}

/** The endpoint port a Service port resolves to on a pod whose container port is `port`. */
export function endpointPortFromServicePort(sp: ServicePort, port: number): EndpointPort {
  const epp: EndpointPort = { port };
  if (sp.name) epp.name = sp.name;
  epp.protocol = sp.protocol ?? "TCP";
  if (sp.appProtocol) epp.appProtocol = sp.appProtocol;
  return epp;
}

/** Counts from {@link computeSubsets}, for logs. */
export interface SubsetsResult {
  readonly subsets: EndpointSubset[];
  readonly ready: number;
  readonly notReady: number;
}

/**
 * The subsets `svc` should have given the pods its selector matches.
 * Terminating pods are left out unless `publishNotReadyAddresses`, which
 * also lists unready pods as ready. A pod on which a port does not resolve
 * (a named targetPort its containers lack) is left out of that port only.
 */
export function computeSubsets(svc: Service, pods: readonly Pod[]): SubsetsResult {
  const publishNotReady = svc.spec?.publishNotReadyAddresses === true;
  const subsets: EndpointSubset[] = [];
  let ready = 0;
  let notReady = 0;
  const add = (pod: Pod, addr: EndpointAddress, port: EndpointPort | undefined) => {
    const ports = port ? [port] : [];
    if (publishNotReady || isPodReady(pod)) {
      subsets.push({ addresses: [addr], ports });
      ready++;
    } else {
      subsets.push({ notReadyAddresses: [addr], ports });
      notReady++;
    }
  };
  for (const pod of pods) {
    if (!shouldPodBeInEndpoints(pod, publishNotReady)) continue;
    const addr = podToEndpointAddress(svc, pod);
    if (!addr) continue;
    if (shouldSetHostname(pod, svc)) addr.hostname = pod.spec?.hostname;
    const svcPorts = svc.spec?.ports ?? [];
    if (svcPorts.length === 0) {
      // A headless Service may have no ports: its addresses still count.
      if (svc.spec?.clusterIP === "None") add(pod, addr, undefined);
      continue;
    }
    for (const sp of svcPorts) {
      const port = findPort(pod, sp);
      if (port === undefined) continue;
      add(pod, addr, endpointPortFromServicePort(sp, port));
    }
  }
  return { subsets: repackSubsets(subsets), ready, notReady };
}

function addressCount(subsets: readonly EndpointSubset[] | undefined): number {
  let n = 0;
  for (const s of subsets ?? []) n += (s.addresses?.length ?? 0) + (s.notReadyAddresses?.length ?? 0);
  return n;
}

/**
 * False when the over-capacity annotation is missing on Endpoints that must
 * be truncated, or present on Endpoints that fit (upstream's
 * `capacityAnnotationSetCorrectly`).
 */
export function capacityAnnotationSetCorrectly(annotations: Readonly<Record<string, string>> | undefined, subsets: readonly EndpointSubset[] | undefined): boolean {
  if (addressCount(subsets) > MAX_CAPACITY) return false;
  return !(annotations && OVER_CAPACITY_ANNOTATION in annotations);
}

/**
 * Truncates `ep.subsets` in place to {@link MAX_CAPACITY} addresses, each
 * subset keeping its share (rounded up), ready addresses before not-ready
 * ones. Returns whether anything was cut (upstream's `truncateEndpoints`).
 */
export function truncateEndpoints(ep: Endpoints): boolean {
  let totalReady = 0;
  let totalNotReady = 0;
  for (const s of ep.subsets ?? []) {
    totalReady += s.addresses?.length ?? 0;
    totalNotReady += s.notReadyAddresses?.length ?? 0;
  }
  if (totalReady + totalNotReady <= MAX_CAPACITY) return false;
  const truncateReady = totalReady > MAX_CAPACITY;
  const max = truncateReady ? MAX_CAPACITY : MAX_CAPACITY - totalReady;
  const numTotal = truncateReady ? totalReady : totalNotReady;
  let canBeAdded = max;
  for (const s of ep.subsets ?? []) {
    const inSubset = truncateReady ? (s.addresses?.length ?? 0) : (s.notReadyAddresses?.length ?? 0);
    const toBeAdded = Math.min(Math.ceil((inSubset / numTotal) * max), canBeAdded);
    if (truncateReady) {
      s.addresses = (s.addresses ?? []).slice(0, toBeAdded);
      s.notReadyAddresses = [];
      canBeAdded -= s.addresses.length;
    } else {
      s.notReadyAddresses = (s.notReadyAddresses ?? []).slice(0, toBeAdded);
      canBeAdded -= s.notReadyAddresses.length;
    }
  }
  return true;
}
