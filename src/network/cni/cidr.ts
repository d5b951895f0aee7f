/**
 * IPv4 CIDR arithmetic for the pod network: parsing `a.b.c.d/n`, and
 * whether one range lies inside another (a node's podCIDR inside the
 * cluster CIDR). IPv6 is not supported by skiff's pod network yet; callers
 * reject it with a message rather than mis-parse it.
 */

/** A parsed IPv4 CIDR. `network` is the address with host bits cleared. */
export interface Ipv4Cidr {
  /** The network address as an unsigned 32-bit number. */
  readonly network: number;
  readonly prefix: number;
  /** Canonical text, host bits cleared: `10.42.7.0/24`. */
  readonly text: string;
}

/** Parses a dotted-quad IPv4 address; undefined when it is not one. */
export function parseIpv4(s: string): number | undefined {
  const parts = s.split(".");
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

/** Formats an unsigned 32-bit number as a dotted quad. */
export function formatIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff - (2 ** (32 - prefix) - 1)) >>> 0;
}

/**
 * Parses `a.b.c.d/n`. Returns an error message (upstream's wording for
 * `net.ParseCIDR`: `invalid CIDR address: X`) when it is not an IPv4 CIDR.
 */
export function parseIpv4Cidr(s: string): Ipv4Cidr | string {
  const slash = s.indexOf("/");
  if (slash < 0) return `invalid CIDR address: ${s}`;
  const addr = parseIpv4(s.slice(0, slash));
  const prefixText = s.slice(slash + 1);
  if (addr === undefined || !/^\d{1,2}$/.test(prefixText) || Number(prefixText) > 32) {
    return s.includes(":") ? `IPv6 CIDR ${s} is not supported (skiff's pod network is IPv4 only)` : `invalid CIDR address: ${s}`;
  }
  const prefix = Number(prefixText);
  const network = (addr & mask(prefix)) >>> 0;
  return { network, prefix, text: `${formatIpv4(network)}/${prefix}` };
}

/** True when `ip` (unsigned 32-bit) lies in `cidr`. */
export function cidrContainsIp(cidr: Ipv4Cidr, ip: number): boolean {
  return ((ip & mask(cidr.prefix)) >>> 0) === cidr.network;
}

/** True when every address of `inner` lies in `outer`. */
export function cidrContains(outer: Ipv4Cidr, inner: Ipv4Cidr): boolean {
  return inner.prefix >= outer.prefix && cidrContainsIp(outer, inner.network);
}

/** True when the two ranges share at least one address. */
export function cidrsOverlap(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  return cidrContains(a, b) || cidrContains(b, a);
}
