/**
 * The pool of per-node pod ranges carved out of the cluster CIDR, as
 * upstream's cidrset: a bitmap of `/maskSize` subnets, allocation searching
 * onward from the last one handed out, so a range freed by a deleted node
 * is not given to the next node at once.
 */
import { type Cidr, formatCidr, nthSubnet, parseCidr, subnetCount } from "../../machinery/cidr.js";

/** Allocates and tracks `/maskSize` subnets of one cluster CIDR. */
export class CidrSet {
  private readonly used: Uint8Array;
  private readonly count: number;
  private next = 0;
  private inUse = 0;

  constructor(
    readonly cluster: Cidr,
    readonly maskSize: number,
  ) {
    if (maskSize < cluster.prefix || maskSize > 30) {
      throw new Error(`node CIDR mask size /${maskSize} does not fit cluster CIDR ${formatCidr(cluster)} (want /${cluster.prefix}…/30)`);
    }
    this.count = subnetCount(cluster, maskSize);
    this.used = new Uint8Array(this.count);
  }

  /** A free subnet (now taken), or undefined when all are taken. */
  allocateNext(): string | undefined {
    for (let i = 0; i < this.count; i++) {
      const idx = (this.next + i) % this.count;
      if (this.used[idx]) continue;
      this.used[idx] = 1;
      this.inUse++;
      this.next = (idx + 1) % this.count;
      return formatCidr(nthSubnet(this.cluster, this.maskSize, idx)!);
    }
    return undefined;
  }

  /**
   * Marks `cidr` taken (a node that already has it). False when it is not
   * one of this set's subnets (another range, or another mask size).
   */
  occupy(cidr: string): boolean {
    const idx = this.indexOf(cidr);
    if (idx === undefined) return false;
    if (!this.used[idx]) this.inUse++;
    this.used[idx] = 1;
    return true;
  }

  /** Frees `cidr` (a deleted node's); unknown ranges are ignored. */
  release(cidr: string): void {
    const idx = this.indexOf(cidr);
    if (idx === undefined || !this.used[idx]) return;
    this.used[idx] = 0;
    this.inUse--;
  }

  /** Subnets taken. */
  get allocated(): number {
    return this.inUse;
  }

  private indexOf(text: string): number | undefined {
    let c: Cidr;
    try {
      c = parseCidr(text);
    } catch {
      return undefined;
    }
    if (c.prefix !== this.maskSize) return undefined;
    const offset = c.base - this.cluster.base;
    const size = 2 ** (32 - this.maskSize);
    if (offset < 0 || offset % size !== 0) return undefined;
    const idx = offset / size;
    return idx < this.count ? idx : undefined;
  }
}
