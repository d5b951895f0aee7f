/**
 * ClusterIP allocation from the service CIDR, as upstream's bitmap
 * `ipallocator.Range` persisted in the store: one `RangeAllocation` at
 * `/registry/ranges/serviceips`, updated with compare-and-swap.
 *
 * Layout (upstream's): the network address and, for IPv4, the broadcast
 * address are never handed out; offset 0 is the network address + 1. The
 * lowest min(max(16, size/16), 256) offsets (10.43.0.1–10.43.1.0 for a /16)
 * are left to explicit requests while the rest has room, which is how the
 * `kubernetes` Service keeps 10.43.0.1 and cluster DNS 10.43.0.10.
 */
import type { Store } from "../../storage/store.js";
import { AllocationError, guardRange } from "./allocation-error.js";
import { cidrContains, formatIPv4, type IPv4Cidr, ipFamilyOf, parseIPv4, parseIPv4Cidr } from "./ip.js";
import { RangeBitmap, rangeOffset } from "./range-allocation.js";

/** Store key of the ClusterIP bitmap (upstream's key). */
export const SERVICE_IPS_KEY = "/registry/ranges/serviceips";
/** skiff's default service CIDR (k3s's). */
export const DEFAULT_SERVICE_CIDR = "10.43.0.0/16";

export interface ServiceIPAllocatorOptions {
  readonly store: Store;
  /** IPv4 CIDR, default 10.43.0.0/16. */
  readonly cidr?: string;
  readonly key?: string;
  /** Random source in [0, 1), for tests. */
  readonly random?: () => number;
}

export class ServiceIPAllocator {
  /** The range in canonical form, e.g. `10.43.0.0/16`. */
  readonly cidr: string;
  readonly family = "IPv4" as const;
  /** Number of allocatable addresses. */
  readonly size: number;
  /** Size of the low band kept for explicit requests. */
  readonly staticBand: number;
  /** The stored bitmap (offset 0 = network address + 1); for repair passes. */
  readonly bitmap: RangeBitmap;
  private readonly net: IPv4Cidr;
  private readonly base: number;

  constructor(opts: ServiceIPAllocatorOptions) {
    this.net = parseIPv4Cidr(opts.cidr ?? DEFAULT_SERVICE_CIDR);
    this.cidr = this.net.text;
    // Neither the network ("x.0") nor the broadcast address is usable.
    this.size = Math.max(0, this.net.size - 2);
    this.base = this.net.network + 1;
    this.staticBand = rangeOffset(this.net.size, 16, 256, 16);
    this.bitmap = new RangeBitmap({
      store: opts.store,
      key: opts.key ?? SERVICE_IPS_KEY,
      rangeSpec: this.cidr,
      max: this.size,
      offset: this.staticBand,
      mismatchMessage: "the provided network does not match the current range",
      random: opts.random,
    });
  }

  /** Offset of `ip` in the bitmap, or undefined when it is not an allocatable address of the range. */
  offsetOf(ip: string): number | undefined {
    const n = parseIPv4(ip);
    if (n === undefined || !cidrContains(this.net, n)) return undefined;
    const off = n - this.base;
    return off >= 0 && off < this.size ? off : undefined;
  }

  /** The address at bitmap offset `offset`. */
  ipAt(offset: number): string {
    return formatIPv4(this.base + offset);
  }

  /** Whether `ip` is an allocatable address of this range. */
  contains(ip: string): boolean {
    return this.offsetOf(ip) !== undefined;
  }

  private notInRange(ip: string): AllocationError {
    // Go prints the parsed net.IP: canonical dotted quad (or IPv6 text).
    const n = parseIPv4(ip);
    const shown = n !== undefined ? formatIPv4(n) : ipFamilyOf(ip) ? ip.toLowerCase() : "<nil>";
    return new AllocationError("not-in-range", `the provided IP (${shown}) is not in the valid range. The range of valid IPs is ${this.cidr}`);
  }

  /** Reserves `ip`: AllocationError "not-in-range" or "allocated" when it cannot be had. */
  async allocate(ip: string): Promise<void> {
    const off = this.offsetOf(ip);
    if (off === undefined) throw this.notInRange(ip);
    if (!(await guardRange(this.bitmap.allocate(off)))) throw new AllocationError("allocated", "provided IP is already allocated");
  }

  /** Checks what {@link allocate} would say, reserving nothing (dry run). */
  async check(ip: string): Promise<void> {
    const off = this.offsetOf(ip);
    if (off === undefined) throw this.notInRange(ip);
    if (await guardRange(this.bitmap.has(off))) throw new AllocationError("allocated", "provided IP is already allocated");
  }

  /** Reserves a free address, preferring the upper band; AllocationError "full" when none is left. */
  async allocateNext(): Promise<string> {
    const off = await guardRange(this.bitmap.allocateNext());
    if (off === undefined) throw new AllocationError("full", "range is full");
    return this.ipAt(off);
  }

  /** What a dry run reports instead of allocating: the network address, as upstream. */
  dryRunNext(): string {
    return formatIPv4(this.net.network);
  }

  /** Frees `ip`; a no-op when it is free or outside the range. */
  async release(ip: string): Promise<void> {
    const off = this.offsetOf(ip);
    if (off !== undefined) await guardRange(this.bitmap.release(off));
  }

  /** Whether `ip` is allocated now. */
  async has(ip: string): Promise<boolean> {
    const off = this.offsetOf(ip);
    return off === undefined ? false : guardRange(this.bitmap.has(off));
  }

  /** Every allocated address, ascending. */
  async used(): Promise<string[]> {
    return (await guardRange(this.bitmap.used())).map((o) => this.ipAt(o));
  }

  /** Number of free addresses. */
  free(): Promise<number> {
    return guardRange(this.bitmap.free());
  }
}
