/**
 * What a pod asks of a node (k8s.io/kubernetes/pkg/api/v1/resource
 * PodRequests, as the v1.30 scheduler calls it): the larger of
 *   - the sum of the regular containers plus every restartable init
 *     (sidecar) container, and
 *   - for each ordinary init container i, its requests plus the sidecars
 *     started before it,
 * plus the pod overhead. Amounts are integers per resource name (cpu in
 * millicores). Each container's quantity is rounded up on its own before
 * summing, where upstream sums exact quantities first; the two differ only
 * for sub-millicore cpu requests.
 */
import type { Container, Pod } from "kubernetes-types/core/v1.js";
import { DefaultMemoryRequest, DefaultMilliCPURequest, quantityFor, Resource, ResourceCPU, ResourceMemory } from "./resource.js";

/** Requests filled in for containers that leave a resource unset (NonMissingContainerRequests). */
export type NonMissingRequests = ReadonlyMap<string, number>;

/** The non-zero defaults used when scoring: 100m cpu, 200Mi memory. */
export const NON_ZERO_DEFAULTS: NonMissingRequests = new Map([
  [ResourceCPU, DefaultMilliCPURequest],
  [ResourceMemory, DefaultMemoryRequest],
]);

export interface PodRequestsOptions {
  /** Leave out spec.overhead (ExcludeOverhead). */
  excludeOverhead?: boolean;
  /** Values used for resources a container does not request at all. */
  nonMissingContainerRequests?: NonMissingRequests;
}

function containerRequests(c: Container, nonMissing: NonMissingRequests | undefined): Map<string, number> {
  const out = new Map<string, number>();
  const reqs = c.resources?.requests;
  if (reqs) for (const name of Object.keys(reqs)) out.set(name, quantityFor(name, reqs[name]));
  if (nonMissing) for (const [name, v] of nonMissing) if (!out.has(name)) out.set(name, v);
  return out;
}

function addTo(dst: Map<string, number>, src: ReadonlyMap<string, number>): void {
  for (const [k, v] of src) dst.set(k, (dst.get(k) ?? 0) + v);
}

function maxInto(dst: Map<string, number>, src: ReadonlyMap<string, number>): void {
  for (const [k, v] of src) {
    const cur = dst.get(k);
    if (cur === undefined || v > cur) dst.set(k, v);
  }
}

/** PodRequests: the pod's effective requests, name → integer amount (cpu in milli). */
export function podRequests(pod: Pod, opts: PodRequestsOptions = {}): Map<string, number> {
  const reqs = new Map<string, number>();
  const spec = pod.spec;
  if (!spec) return reqs;
  const nonMissing = opts.nonMissingContainerRequests;
  for (const c of spec.containers ?? []) addTo(reqs, containerRequests(c, nonMissing));

  const restartableInit = new Map<string, number>();
  const initMax = new Map<string, number>();
  for (const c of spec.initContainers ?? []) {
    let use = containerRequests(c, nonMissing);
    if (c.restartPolicy === "Always") {
      // A sidecar keeps running: it adds to the steady state and to every later init step.
      addTo(reqs, use);
      addTo(restartableInit, use);
      use = new Map(restartableInit);
    } else {
      const tmp = new Map(use);
      addTo(tmp, restartableInit);
      use = tmp;
    }
    maxInto(initMax, use);
  }
  maxInto(reqs, initMax);

  if (!opts.excludeOverhead && spec.overhead) {
    const overhead = spec.overhead;
    for (const name of Object.keys(overhead)) reqs.set(name, (reqs.get(name) ?? 0) + quantityFor(name, overhead[name]));
  }
  return reqs;
}

/** What a pod adds to a NodeInfo: its requests, and the cpu/memory counted with non-zero defaults. */
export interface PodResource {
  readonly resource: Resource;
  readonly non0CPU: number;
  readonly non0Mem: number;
}

/** calculateResource (framework/types.go). */
export function calculatePodResource(pod: Pod): PodResource {
  const resource = new Resource();
  resource.addAmounts(podRequests(pod));
  const non0 = podRequests(pod, { nonMissingContainerRequests: NON_ZERO_DEFAULTS });
  return { resource, non0CPU: non0.get(ResourceCPU) ?? 0, non0Mem: non0.get(ResourceMemory) ?? 0 };
}

/** computePodResourceRequest (NodeResourcesFit): the requests as a Resource. */
export function computePodResourceRequest(pod: Pod): Resource {
  const r = new Resource();
  r.addAmounts(podRequests(pod));
  return r;
}
