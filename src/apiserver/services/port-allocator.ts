/**
 * NodePort allocation, as upstream's `portallocator.PortAllocator` persisted
 * in the store: one `RangeAllocation` at `/registry/ranges/servicenodeports`
 * updated with compare-and-swap. The lowest min(max(16, size/32), 128) ports
 * (30000–30085 by default) are left to explicit requests while the rest has
 * room.
 */
import type { Store } from "../../storage/store.js";
import { AllocationError, guardRange } from "./allocation-error.js";
import { RangeBitmap, rangeOffset } from "./range-allocation.js";

/** Store key of the NodePort bitmap (upstream's key). */
export const SERVICE_NODE_PORTS_KEY = "/registry/ranges/servicenodeports";
/** Upstream's default --service-node-port-range. */
export const DEFAULT_NODE_PORT_RANGE: readonly [number, number] = [30000, 32767];

export interface NodePortAllocatorOptions {
  readonly store: Store;
  /** First and last port, inclusive; default 30000–32767. */
  readonly range?: readonly [number, number];
  readonly key?: string;
  /** Random source in [0, 1), for tests. */
  readonly random?: () => number;
}

export class NodePortAllocator {
  readonly base: number;
  readonly size: number;
  /** `30000-32767`, as upstream's PortRange.String(). */
  readonly rangeSpec: string;
  /** Size of the low band kept for explicit requests. */
  readonly staticBand: number;
  /** The stored bitmap (offset 0 = first port); for repair passes. */
  readonly bitmap: RangeBitmap;

  constructor(opts: NodePortAllocatorOptions) {
    const [first, last] = opts.range ?? DEFAULT_NODE_PORT_RANGE;
    if (!Number.isInteger(first) || !Number.isInteger(last) || first < 1 || last > 65535 || last < first) {
      throw new Error(`invalid node port range ${first}-${last}`);
    }
    this.base = first;
    this.size = last - first + 1;
    this.rangeSpec = `${first}-${last}`;
    this.staticBand = rangeOffset(this.size, 16, 128, 32);
    this.bitmap = new RangeBitmap({
      store: opts.store,
      key: opts.key ?? SERVICE_NODE_PORTS_KEY,
      rangeSpec: this.rangeSpec,
      max: this.size,
      offset: this.staticBand,
      mismatchMessage: "the provided port range does not match the current port range",
      random: opts.random,
    });
  }

  /** Whether `port` lies in the range. */
  contains(port: number): boolean {
    return Number.isInteger(port) && port >= this.base && port < this.base + this.size;
  }

  private notInRange(): AllocationError {
    return new AllocationError("not-in-range", `provided port is not in the valid range. The range of valid ports is ${this.rangeSpec}`);
  }

  /** Reserves `port`: AllocationError "not-in-range" or "allocated" when it cannot be had. */
  async allocate(port: number): Promise<void> {
    if (!this.contains(port)) throw this.notInRange();
    if (!(await guardRange(this.bitmap.allocate(port - this.base)))) throw new AllocationError("allocated", "provided port is already allocated");
  }

  /** Checks what {@link allocate} would say, reserving nothing (dry run). */
  async check(port: number): Promise<void> {
    if (!this.contains(port)) throw this.notInRange();
    if (await guardRange(this.bitmap.has(port - this.base))) throw new AllocationError("allocated", "provided port is already allocated");
  }

  /** Reserves a free port, preferring the upper band; AllocationError "full" when none is left. */
  async allocateNext(): Promise<number> {
    const off = await guardRange(this.bitmap.allocateNext());
    if (off === undefined) throw new AllocationError("full", "range is full");
    return this.base + off;
  }

  /** Frees `port`; a no-op when it is free or outside the range. */
  async release(port: number): Promise<void> {
    if (this.contains(port)) await guardRange(this.bitmap.release(port - this.base));
  }

  /** Whether `port` is allocated now. */
  async has(port: number): Promise<boolean> {
    return this.contains(port) ? guardRange(this.bitmap.has(port - this.base)) : false;
  }

  /** Every allocated port, ascending. */
  async used(): Promise<number[]> {
    return (await guardRange(this.bitmap.used())).map((o) => this.base + o);
  }

  /** Number of free ports. */
  free(): Promise<number> {
    return guardRange(this.bitmap.free());
  }
}
