/**
 * IPv4 address ranges for a NetworkPolicy peer set: the union of the
 * peers' pod IPs and ipBlocks, each ipBlock minus its `except` ranges,
 * merged into disjoint ranges. An nft interval set refuses overlapping
 * elements, and an element can only be deleted by its exact text, so the
 * set is always written as these canonical, non-overlapping elements.
 */
import { ipToNumber, numberToIp, tryParseCidr } from "../../machinery/cidr.js";

/** An inclusive range of IPv4 addresses as unsigned 32-bit numbers. */
export interface IpRange {
  readonly first: number;
  readonly last: number;
}

/** The range a CIDR covers, or an error message. */
export function cidrRange(text: string): IpRange | string {
  const c = tryParseCidr(text);
  if (typeof c === "string") return c;
  return { first: c.base, last: c.base + 2 ** (32 - c.prefix) - 1 };
}

/** The one-address range of an IPv4 address, or undefined when it is not one. */
export function ipRange(ip: string): IpRange | undefined {
  const n = ipToNumber(ip);
  return n === undefined ? undefined : { first: n, last: n };
}

/** Sorts and merges overlapping or adjacent ranges. */
export function mergeRanges(ranges: readonly IpRange[]): IpRange[] {
  const sorted = [...ranges].sort((a, b) => a.first - b.first || a.last - b.last);
  const out: IpRange[] = [];
  for (const r of sorted) {
    const prev = out[out.length - 1];
    if (prev !== undefined && r.first <= prev.last + 1) {
      if (r.last > prev.last) out[out.length - 1] = { first: prev.first, last: r.last };
    } else {
      out.push(r);
    }
  }
  return out;
}

/** `from` minus every range of `holes`. */
export function subtractRanges(from: IpRange, holes: readonly IpRange[]): IpRange[] {
  let pieces: IpRange[] = [from];
  for (const h of mergeRanges(holes)) {
    const next: IpRange[] = [];
    for (const p of pieces) {
      if (h.last < p.first || h.first > p.last) {
        next.push(p);
        continue;
      }
      if (h.first > p.first) next.push({ first: p.first, last: h.first - 1 });
      if (h.last < p.last) next.push({ first: h.last + 1, last: p.last });
    }
    pieces = next;
  }
  return pieces;
}

/** The nft element text of a range: an address, a CIDR when it is one, else `a-b`. */
export function formatRange(r: IpRange): string {
  if (r.first === r.last) return numberToIp(r.first);
  const size = r.last - r.first + 1;
  const prefix = 32 - Math.log2(size);
  if (Number.isInteger(prefix) && r.first % size === 0) return `${numberToIp(r.first)}/${prefix}`;
  return `${numberToIp(r.first)}-${numberToIp(r.last)}`;
}
