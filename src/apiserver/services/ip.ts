/**
 * IPv4 addresses and CIDRs as numbers, for the ClusterIP allocator and
 * Service validation. Parsing follows Go's `netutils.ParseIPSloppy`: dotted
 * quads may carry leading zeros (read as decimal).
 */
import { isIPv6 } from "node:net";

/** Parses a dotted-quad IPv4 address to an unsigned 32-bit number; undefined if it is not one. */
export function parseIPv4(s: string): number | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^[0-9]{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

/** Formats an unsigned 32-bit number as a dotted quad. */
export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** The family of a textual IP, or undefined when it is not an IP (upstream's `IsValidIP`). */
export function ipFamilyOf(s: string): "IPv4" | "IPv6" | undefined {
  if (parseIPv4(s) !== undefined) return "IPv4";
  // Go also reads IPv4-mapped IPv6 ("::ffff:1.2.3.4") as IPv4; node reports it as IPv6.
  if (isIPv6(s)) return /^::ffff:[0-9.]+$/i.test(s) ? "IPv4" : "IPv6";
  return undefined;
}

/** An IPv4 network. */
export interface IPv4Cidr {
  /** Network address as a number. */
  readonly network: number;
  readonly prefix: number;
  /** Number of addresses, 2^(32-prefix). */
  readonly size: number;
  /** Canonical text, e.g. `10.43.0.0/16` (host bits cleared, as Go's IPNet.String()). */
  readonly text: string;
}

/** Parses `a.b.c.d/n`; throws with a clear message for anything else (IPv6 included: not supported). */
export function parseIPv4Cidr(s: string): IPv4Cidr {
  const m = /^([^/]+)\/([0-9]{1,3})$/.exec(s.trim());
  const addr = m ? parseIPv4(m[1]!) : undefined;
  const prefix = m ? Number(m[2]) : Number.NaN;
  if (!m || addr === undefined || prefix > 32) {
    if (m && isIPv6(m[1]!)) throw new Error(`service CIDR ${s}: IPv6 service ranges are not supported`);
    throw new Error(`invalid CIDR address: ${s}`);
  }
  const size = 2 ** (32 - prefix);
  const network = addr - (addr % size);
  return { network, prefix, size, text: `${formatIPv4(network)}/${prefix}` };
}

/** Whether `ip` lies inside `cidr`. */
export function cidrContains(cidr: IPv4Cidr, ip: number): boolean {
  return ip >= cidr.network && ip < cidr.network + cidr.size;
}

/** The n-th address of a network (upstream's `GetIndexedIP`): the `kubernetes` Service takes index 1. */
export function indexedIP(cidr: string, index: number): string {
  const c = parseIPv4Cidr(cidr);
  if (index < 0 || index >= c.size) throw new Error(`can't get IP with index ${index} from ${c.text}`);
  return formatIPv4(c.network + index);
}
