/**
 * IPv4 CIDR arithmetic, the one module for it (node IPAM, the simulated
 * runtime, the CNI pod network): parsing `a.b.c.d/n`, containment and
 * overlap (a node's podCIDR inside the cluster CIDR), carving a node's pod
 * range out of the cluster CIDR, and handing out pod IPs from it the way
 * CNI's host-local IPAM does (network and gateway addresses skipped,
 * released addresses reused). IPv6 is not supported yet; parsers reject it
 * with a message rather than mis-parse it.
 */

/** A parsed IPv4 CIDR, host bits cleared (print it with {@link formatCidr}). */
export interface Cidr {
  /** The network address as an unsigned 32-bit number. */
  readonly base: number;
  readonly prefix: number;
}

/** Parses a dotted-quad IPv4 address to an unsigned 32-bit number; undefined when it is not one. */
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

/**
 * Parses `a.b.c.d/n` exactly as given (no trimming); the address is masked
 * to its network. Returns an error message instead when it is not an IPv4
 * CIDR: upstream's wording for `net.ParseCIDR` (`invalid CIDR address: X`),
 * or a plain "not supported" for IPv6. For values that come from API
 * objects or the node, where a bad one is an outcome to report.
 */
export function tryParseCidr(text: string): Cidr | string {
  const slash = text.indexOf("/");
  if (slash < 0) return `invalid CIDR address: ${text}`;
  const ip = ipToNumber(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (ip === undefined || !/^\d{1,2}$/.test(prefixText) || Number(prefixText) > 32) {
    return text.includes(":") ? `IPv6 CIDR ${text} is not supported (skiff's pod network is IPv4 only)` : `invalid CIDR address: ${text}`;
  }
  const prefix = Number(prefixText);
  const size = 2 ** (32 - prefix);
  return { base: ip - (ip % size), prefix };
}

/**
 * Parses `10.42.0.0/16` (surrounding blanks allowed); the address is masked
 * to its network. Throws on bad input: for configuration, where a bad value
 * is an error to stop on.
 */
export function parseCidr(text: string): Cidr {
  const c = tryParseCidr(text.trim());
  if (typeof c === "string") throw new Error(`invalid IPv4 CIDR ${JSON.stringify(text)} (want e.g. 10.42.0.0/16)`);
  return c;
}

/** The last address of the range, as an unsigned 32-bit number. */
function lastAddress(c: Cidr): number {
  return c.base + 2 ** (32 - c.prefix) - 1;
}

/** True when `ip` (an unsigned 32-bit number, see {@link ipToNumber}) lies in `cidr`. */
export function cidrContainsIp(cidr: Cidr, ip: number): boolean {
  return ip >= cidr.base && ip <= lastAddress(cidr);
}

/** True when every address of `inner` lies in `outer`. */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  return inner.prefix >= outer.prefix && cidrContainsIp(outer, inner.base);
}

/** Whether two ranges share an address. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.base <= lastAddress(b) && b.base <= lastAddress(a);
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
