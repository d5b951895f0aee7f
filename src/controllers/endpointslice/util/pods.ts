/**
 * Pod and Service predicates shared by the Endpoints and EndpointSlice
 * controllers, as upstream's `k8s.io/endpointslice/util` and
 * `pkg/api/v1/pod` helpers: which pods belong in endpoints, whether a pod
 * is ready, how a Service port resolves to a container port, and whether a
 * pod change can move its endpoints.
 */
import { isDeepStrictEqual } from "node:util";
import type { Container, ContainerPort, Pod, PodCondition, Service, ServicePort } from "kubernetes-types/core/v1.js";

/** The pod's `Ready` condition, if it has one. */
export function podReadyCondition(pod: Pod): PodCondition | undefined {
  return pod.status?.conditions?.find((c) => c.type === "Ready");
}

/** True when the pod's `Ready` condition is `True` (upstream's `IsPodReady`). */
export function isPodReady(pod: Pod): boolean {
  return podReadyCondition(pod)?.status === "True";
}

/** A pod in phase Succeeded or Failed: its containers are done for good. */
export function isPodTerminal(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return phase === "Succeeded" || phase === "Failed";
}

/**
 * Whether a pod belongs in an Endpoints or EndpointSlice object at all:
 * not terminal, has an IP, and (unless `includeTerminating`) is not being
 * deleted. Upstream's `ShouldPodBeInEndpoints`.
 */
export function shouldPodBeInEndpoints(pod: Pod, includeTerminating: boolean): boolean {
  if (isPodTerminal(pod)) return false;
  if (!pod.status?.podIP && (pod.status?.podIPs ?? []).length === 0) return false;
  if (!includeTerminating && pod.metadata?.deletionTimestamp) return false;
  return true;
}

/**
 * Whether an address gets the pod's hostname: only when the pod names this
 * Service as its subdomain (the headless-service DNS contract).
 */
export function shouldSetHostname(pod: Pod, svc: Service): boolean {
  const hostname = pod.spec?.hostname ?? "";
  return hostname.length > 0 && pod.spec?.subdomain === svc.metadata?.name && svc.metadata?.namespace === pod.metadata?.namespace;
}

/** A Service with a ClusterIP (not headless). */
export function isServiceIPSet(svc: Service): boolean {
  const ip = svc.spec?.clusterIP ?? "";
  return ip !== "None" && ip !== "";
}

/** True for an IPv6 literal (only a syntactic check: the API server validated it). */
export function isIPv6(ip: string): boolean {
  return ip.includes(":");
}

function portMatches(port: ContainerPort, name: string, protocol: string): boolean {
  // Container ports and Service ports both default to TCP.
  return port.name === name && (port.protocol ?? "TCP") === protocol;
}

function isSidecar(c: Container): boolean {
  return c.restartPolicy === "Always";
}

/**
 * The container port a Service port targets on `pod`: a numeric targetPort
 * is used as is; a named one is looked up among the pod's container ports
 * (and sidecar init containers') with the same protocol. Undefined when no
 * container names that port (upstream's `FindPort` error).
 */
export function findPort(pod: Pod, svcPort: ServicePort): number | undefined {
  const target = svcPort.targetPort ?? svcPort.port;
  if (typeof target === "number") return target;
  const protocol = svcPort.protocol ?? "TCP";
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) if (portMatches(p, target, protocol)) return p.containerPort;
  }
  for (const c of pod.spec?.initContainers ?? []) {
    if (!isSidecar(c)) continue;
    for (const p of c.ports ?? []) if (portMatches(p, target, protocol)) return p.containerPort;
  }
  return undefined;
}

/**
 * How a pod update can affect endpoints (upstream's `podEndpointsChanged`):
 * `podChanged` when its deletion, readiness or IPs changed; `labelsChanged`
 * when its labels, hostname or subdomain changed (Service membership or
 * DNS names may move).
 */
export function podEndpointsChanged(oldPod: Pod, newPod: Pod): { podChanged: boolean; labelsChanged: boolean } {
  const labelsChanged =
    !isDeepStrictEqual(newPod.metadata?.labels ?? {}, oldPod.metadata?.labels ?? {}) ||
    newPod.spec?.hostname !== oldPod.spec?.hostname ||
    newPod.spec?.subdomain !== oldPod.spec?.subdomain;
  if (newPod.metadata?.deletionTimestamp !== oldPod.metadata?.deletionTimestamp) return { podChanged: true, labelsChanged };
  if (isPodReady(oldPod) !== isPodReady(newPod)) return { podChanged: true, labelsChanged };
  const oldIPs = oldPod.status?.podIPs ?? [];
  const newIPs = newPod.status?.podIPs ?? [];
  if (oldIPs.length !== newIPs.length) return { podChanged: true, labelsChanged };
  for (let i = 0; i < oldIPs.length; i++) if (oldIPs[i]!.ip !== newIPs[i]!.ip) return { podChanged: true, labelsChanged };
  // Name, namespace and uid are immutable, and nodeName is set before a pod has an IP.
  return { podChanged: false, labelsChanged };
}

/**
 * Whether a Service's selector selects a label set. A Service without a
 * selector selects nothing; an empty selector selects everything (as
 * `labels.Set(selector).AsSelectorPreValidated()`).
 */
export function serviceSelects(svc: Service, labels: Readonly<Record<string, string>> | undefined): boolean {
  const selector = svc.spec?.selector;
  if (!selector) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector)) if (l[k] !== v) return false;
  return true;
}

/** `ns/name` keys of the Services among `services` that select `labels`. */
export function servicesSelecting(services: readonly Service[], labels: Readonly<Record<string, string>> | undefined): Set<string> {
  const out = new Set<string>();
  for (const svc of services) {
    if (serviceSelects(svc, labels)) out.add(`${svc.metadata?.namespace}/${svc.metadata?.name}`);
  }
  return out;
}

/**
 * The Services to sync after a pod update (upstream's
 * `GetServicesToUpdateOnPodChange`): none when nothing relevant changed;
 * when only the labels changed, the Services the pod joined or left; when
 * the pod itself changed too, every Service it was or is a member of.
 */
export function servicesToUpdateOnPodChange(services: readonly Service[], oldPod: Pod, newPod: Pod): Set<string> {
  // A resync delivers the same object: the service informer covers resyncs.
  if (oldPod.metadata?.resourceVersion === newPod.metadata?.resourceVersion) return new Set();
  const { podChanged, labelsChanged } = podEndpointsChanged(oldPod, newPod);
  if (!podChanged && !labelsChanged) return new Set();
  const now = servicesSelecting(services, newPod.metadata?.labels);
  if (!labelsChanged) return now;
  const before = servicesSelecting(services, oldPod.metadata?.labels);
  const out = new Set<string>();
  if (podChanged) {
    for (const k of now) out.add(k);
    for (const k of before) out.add(k);
  } else {
    for (const k of now) if (!before.has(k)) out.add(k);
    for (const k of before) if (!now.has(k)) out.add(k);
  }
  return out;
}
