/**
 * framework.Resource: a node's or pod's resources as integers (cpu in
 * millicores, memory/ephemeral-storage/extended resources in units), plus
 * upstream's resource-name predicates.
 */
import type { Quantity } from "kubernetes-types/api/resource.js";
import { milliValue, value } from "./quantity.js";

export const ResourceCPU = "cpu";
export const ResourceMemory = "memory";
export const ResourceEphemeralStorage = "ephemeral-storage";
export const ResourcePods = "pods";

/** A resource list as the API carries it: name → quantity. */
export type ResourceList = { readonly [name: string]: Quantity };

/** The default requests used for scoring pods that leave cpu/memory unset (schedutil). */
export const DefaultMilliCPURequest = 100;
export const DefaultMemoryRequest = 200 * 1024 * 1024;

const QUALIFIED_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** IsPrefixedNativeResource: contains "kubernetes.io/". */
export function isPrefixedNativeResource(name: string): boolean {
  return name.includes("kubernetes.io/");
}

/** IsNativeResource: no "/" or a kubernetes.io/ prefix. */
export function isNativeResource(name: string): boolean {
  return !name.includes("/") || isPrefixedNativeResource(name);
}

/** IsExtendedResourceName: not native, not "requests.*", and "requests.<name>" is a qualified name. */
export function isExtendedResourceName(name: string): boolean {
  if (isNativeResource(name) || name.startsWith("requests.")) return false;
  const forQuota = `requests.${name}`;
  const slash = forQuota.indexOf("/");
  const last = slash >= 0 ? forQuota.slice(slash + 1) : forQuota;
  if (last.length === 0 || last.length > 63) return false;
  if (slash >= 0 && slash > 253) return false;
  return QUALIFIED_NAME.test(forQuota);
}

export function isHugePageResourceName(name: string): boolean {
  return name.startsWith("hugepages-");
}

export function isAttachableVolumeResourceName(name: string): boolean {
  return name.startsWith("attachable-volumes-");
}

/** schedutil.IsScalarResourceName: extended, hugepages, prefixed native or attachable-volume resources. */
export function isScalarResourceName(name: string): boolean {
  return isExtendedResourceName(name) || isHugePageResourceName(name) || isPrefixedNativeResource(name) || isAttachableVolumeResourceName(name);
}

/** Converts one quantity to the integer the scheduler keeps for that resource name. */
export function quantityFor(name: string, q: Quantity | null | undefined): number {
  return name === ResourceCPU ? milliValue(q) : value(q);
}

/** framework.Resource. */
export class Resource {
  milliCPU = 0;
  memory = 0;
  ephemeralStorage = 0;
  allowedPodNumber = 0;
  /** Scalar (extended, hugepages, …) resources; undefined until one is set. */
  scalarResources: Map<string, number> | undefined;

  /** NewResource(rl). */
  static fromList(rl: ResourceList | undefined | null): Resource {
    const r = new Resource();
    if (rl) r.add(rl);
    return r;
  }

  /** Add(rl): adds every quantity of a resource list. */
  add(rl: ResourceList): void {
    for (const name of Object.keys(rl)) {
      const q = rl[name];
      switch (name) {
        case ResourceCPU:
          this.milliCPU += milliValue(q);
          break;
        case ResourceMemory:
          this.memory += value(q);
          break;
        case ResourcePods:
          this.allowedPodNumber += value(q);
          break;
        case ResourceEphemeralStorage:
          this.ephemeralStorage += value(q);
          break;
        default:
          if (isScalarResourceName(name)) this.addScalar(name, value(q));
      }
    }
  }

  /** Adds integer amounts keyed by resource name (cpu in milli), as computed by podRequests. */
  addAmounts(amounts: ReadonlyMap<string, number>): void {
    for (const [name, v] of amounts) {
      switch (name) {
        case ResourceCPU:
          this.milliCPU += v;
          break;
        case ResourceMemory:
          this.memory += v;
          break;
        case ResourcePods:
          this.allowedPodNumber += v;
          break;
        case ResourceEphemeralStorage:
          this.ephemeralStorage += v;
          break;
        default:
          if (isScalarResourceName(name)) this.addScalar(name, v);
      }
    }
  }

  addScalar(name: string, quantity: number): void {
    this.setScalar(name, (this.scalarResources?.get(name) ?? 0) + quantity);
  }

  setScalar(name: string, quantity: number): void {
    if (!this.scalarResources) this.scalarResources = new Map();
    this.scalarResources.set(name, quantity);
  }

  scalar(name: string): number {
    return this.scalarResources?.get(name) ?? 0;
  }

  /** Makes this a copy of `other` (scalar resources in a map of its own). */
  copyFrom(other: Resource): void {
    this.milliCPU = other.milliCPU;
    this.memory = other.memory;
    this.ephemeralStorage = other.ephemeralStorage;
    this.allowedPodNumber = other.allowedPodNumber;
    this.scalarResources = other.scalarResources ? new Map(other.scalarResources) : undefined;
  }

  clone(): Resource {
    const r = new Resource();
    r.milliCPU = this.milliCPU;
    r.memory = this.memory;
    r.ephemeralStorage = this.ephemeralStorage;
    r.allowedPodNumber = this.allowedPodNumber;
    if (this.scalarResources) r.scalarResources = new Map(this.scalarResources);
    return r;
  }
}
