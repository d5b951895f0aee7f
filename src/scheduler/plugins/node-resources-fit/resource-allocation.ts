/**
 * resourceAllocationScorer (noderesources/resource_allocation.go): gathers,
 * for each configured resource, what the node would have requested with the
 * pod on it and what it can allocate, and hands both to a scoring strategy.
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import {
  type NodeInfo,
  PACK_ALLOC_CPU,
  PACK_ALLOC_EPHEMERAL,
  PACK_ALLOC_MEMORY,
  PACK_NONZERO_CPU,
  PACK_NONZERO_MEMORY,
  PACK_REQ_CPU,
  PACK_REQ_EPHEMERAL,
  PACK_REQ_MEMORY,
} from "../../framework/node-info.js";
import { NON_ZERO_DEFAULTS, podRequests } from "../../framework/pod-resources.js";
import { isScalarResourceName, ResourceCPU, ResourceEphemeralStorage, ResourceMemory } from "../../framework/resource.js";
import { Status } from "../../framework/status.js";
import type { ResourceSpec } from "./args.js";
import type { Scorer } from "./scoring.js";

export class ResourceAllocationScorer {
  // Scratch arrays: scoring is single-threaded, so one pair serves every node.
  private readonly requested: number[];
  private readonly allocatable: number[];

  constructor(
    readonly name: string,
    /** Use actual requests (BalancedAllocation) rather than requests with non-zero defaults. */
    private readonly useRequested: boolean,
    private readonly scorer: Scorer,
    readonly resources: readonly ResourceSpec[],
  ) {
    this.requested = new Array(resources.length).fill(0);
    this.allocatable = new Array(resources.length).fill(0);
  }

  /** calculatePodResourceRequestList: the pod's request for each configured resource. */
  podRequestList(pod: Pod): number[] {
    const reqs = podRequests(pod, this.useRequested ? {} : { nonMissingContainerRequests: NON_ZERO_DEFAULTS });
    return this.resources.map((r) => reqs.get(r.name) ?? 0);
  }

  /**
   * calculateResourceAllocatableRequest for resource i: sets allocatable[i]
   * and requested[i] (with the pod); both 0 skip the resource. Writes into
   * the scratch arrays rather than returning pairs: this runs per node.
   */
  private fill(i: number, nodeInfo: NodeInfo, resource: string, podRequest: number): void {
    const requested = this.useRequested ? nodeInfo.requested : nodeInfo.nonZeroRequested;
    let alloc = 0;
    let req = 0;
    const pack = nodeInfo.pack;
    // An extended resource the pod does not request does not count.
    if (!(podRequest === 0 && isScalarResourceName(resource))) {
      if (pack !== undefined && (resource === ResourceCPU || resource === ResourceMemory || resource === ResourceEphemeralStorage)) {
        // The same numbers from the snapshot's packed copy (see PackedResources).
        const d = pack.data;
        const o = nodeInfo.packSlot;
        if (resource === ResourceCPU) {
          alloc = d[o + PACK_ALLOC_CPU]!;
          req = d[o + (this.useRequested ? PACK_REQ_CPU : PACK_NONZERO_CPU)]! + podRequest;
        } else if (resource === ResourceMemory) {
          alloc = d[o + PACK_ALLOC_MEMORY]!;
          req = d[o + (this.useRequested ? PACK_REQ_MEMORY : PACK_NONZERO_MEMORY)]! + podRequest;
        } else {
          alloc = d[o + PACK_ALLOC_EPHEMERAL]!;
          req = d[o + PACK_REQ_EPHEMERAL]! + podRequest;
        }
        this.allocatable[i] = alloc;
        this.requested[i] = alloc === 0 ? 0 : req;
        return;
      }
      switch (resource) {
        case ResourceCPU:
          alloc = nodeInfo.allocatable.milliCPU;
          req = requested.milliCPU + podRequest;
          break;
        case ResourceMemory:
          alloc = nodeInfo.allocatable.memory;
          req = requested.memory + podRequest;
          break;
        case ResourceEphemeralStorage:
          alloc = nodeInfo.allocatable.ephemeralStorage;
          req = nodeInfo.requested.ephemeralStorage + podRequest;
          break;
        default:
          if (nodeInfo.allocatable.scalarResources?.has(resource)) {
            alloc = nodeInfo.allocatable.scalar(resource);
            req = nodeInfo.requested.scalar(resource) + podRequest;
          }
      }
    }
    this.allocatable[i] = alloc;
    this.requested[i] = alloc === 0 ? 0 : req;
  }

  score(nodeInfo: NodeInfo, podRequests: readonly number[]): number | Status {
    if (!nodeInfo.node()) return Status.asStatus("node not found");
    if (this.resources.length === 0) return Status.asStatus("resources not found");
    for (let i = 0; i < this.resources.length; i++) this.fill(i, nodeInfo, this.resources[i]!.name, podRequests[i]!);
    return this.scorer(this.requested, this.allocatable);
  }
}
