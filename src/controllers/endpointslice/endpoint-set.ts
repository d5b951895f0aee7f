/**
 * A set of EndpointSlice endpoints keyed as upstream's `EndpointSet`: by
 * addresses, hostname and target pod only, so an endpoint whose
 * conditions, node or zone changed is the same member and is updated in
 * place rather than moved between slices.
 */
import type { Endpoint } from "kubernetes-types/discovery/v1.js";

/** The identity of an endpoint (upstream's `hashEndpoint`). */
export function endpointKey(ep: Endpoint): string {
  return JSON.stringify([[...ep.addresses].sort(), ep.hostname ?? "", ep.targetRef?.namespace ?? "", ep.targetRef?.name ?? ""]);
}

/** Endpoints by identity, in insertion order. */
export class EndpointSet {
  private readonly items = new Map<string, Endpoint>();

  /** Adds (or replaces) the member with `ep`'s identity. */
  insert(ep: Endpoint): void {
    this.items.set(endpointKey(ep), ep);
  }

  /** The member with `ep`'s identity. */
  get(ep: Endpoint): Endpoint | undefined {
    return this.items.get(endpointKey(ep));
  }

  /** Removes the member with `ep`'s identity. */
  delete(ep: Endpoint): void {
    this.items.delete(endpointKey(ep));
  }

  /** Removes and returns some member (the oldest inserted, so results are reproducible). */
  popAny(): Endpoint | undefined {
    for (const [k, ep] of this.items) {
      this.items.delete(k);
      return ep;
    }
    return undefined;
  }

  /** Number of members. */
  get size(): number {
    return this.items.size;
  }
}
