/**
 * IPv4 CIDR arithmetic (node IPAM, the simulated runtime): carving a node's pod
 * range out of the cluster CIDR, and handing out pod IPs from it the way
 * CNI's host-local IPAM does (network and gateway addresses skipped,
 * released addresses reused).
 */

/** A parsed IPv4 CIDR. */
export interface Cidr {
  /** The network address as an unsigned 32-bit number. */
  readonly base: number;
  readonly prefix: number;
}

export function ipToNumber(ip: string): number | undefined {
  const parts = ip.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

/** Dotted form of an unsigned 32-bit address. */
export function numberToIp(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** Parses `10.42.0.0/16`; the address is masked to its network. Throws on bad input (configuration errors). */
export function parseCidr(text: string): Cidr {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(text.trim());
  const ip = m ? ipToNumber(m[1]!) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (ip === undefined || !(prefix >= 0 && prefix <= 32)) throw new Error(`invalid IPv4 CIDR ${JSON.stringify(text)} (want e.g. 10.42.0.0/16)`);
  const size = 2 ** (32 - prefix);
  return { base: ip - (ip % size), prefix };
}

/** Whether two ranges share an address. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  const end = (c: Cidr) => c.base + 2 ** (32 - c.prefix) - 1;
  return a.base <= end(b) && b.base <= end(a);
}

/** `10.42.3.0/24`. */
export function formatCidr(c: Cidr): string {
  return `${numberToIp(c.base)}/${c.prefix}`;
}

/** How many subnets of `/maskSize` fit in `cidr`. */
export function subnetCount(cidr: Cidr, maskSize: number): number {
  return maskSize < cidr.prefix ? 0 : 2 ** (maskSize - cidr.prefix);
}

/** The `index`-th `/maskSize` subnet of `cidr` (0-based), or undefined past the end. */
export function nthSubnet(cidr: Cidr, maskSize: number, index: number): Cidr | undefined {
  if (!Number.isInteger(index) || index < 0 || index >= subnetCount(cidr, maskSize)) return undefined;
  return { base: cidr.base + index * 2 ** (32 - maskSize), prefix: maskSize };
}

/**
 * The largest per-node mask size (smallest prefix number ≥ `preferred`
 * is kept when it fits) that gives `nodes` subnets inside `cidr`: /24 for
 * up to 256 nodes in a /16, /26 for 1,000.
 */
export function maskSizeFor(cidr: Cidr, nodes: number, preferred: number): number {
  let mask = Math.max(preferred, cidr.prefix);
  while (mask < 30 && subnetCount(cidr, mask) < nodes) mask++;
  return mask;
}

/**
 * Pod IPs of one node range, as host-local IPAM hands them out: from .2
 * upwards (.0 is the network, .1 the bridge gateway), skipping the
 * broadcast address, each search starting after the last address handed
 * out so a released IP is not reused at once.
 */
export class IpPool {
  private readonly used = new Set<number>();
  private readonly first: number;
  private readonly last: number;
  private next: number;

  constructor(readonly range: Cidr) {
    const size = 2 ** (32 - range.prefix);
    this.first = range.base + (size >= 4 ? 2 : 0);
    this.last = range.base + size - (size >= 4 ? 2 : 1);
    this.next = this.first;
  }

  /** A free address, or undefined when the range is exhausted. */
  allocate(): string | undefined {
    const span = this.last - this.first + 1;
    for (let i = 0; i < span; i++) {
      const n = this.next;
      this.next = n >= this.last ? this.first : n + 1;
      if (!this.used.has(n)) {
        this.used.add(n);
        return numberToIp(n);
      }
    }
    return undefined;
  }

  /** Returns an address to the pool (unknown addresses are ignored). */
  release(ip: string): void {
    const n = ipToNumber(ip);
    if (n !== undefined) this.used.delete(n);
  }

  /** Addresses in use. */
  get size(): number {
    return this.used.size;
  }
}
