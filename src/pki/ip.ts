/**
 * One spelling per IP address, so SAN lists compare by value: IPv6 in
 * RFC 5952 form (lower case, longest zero run compressed) and IPv4-mapped
 * IPv6 as plain IPv4, which is how Go encodes such an address in a
 * certificate (`net.IP.To4`).
 */
import { isIP } from "node:net";

const MAPPED_V4 = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;

/** The canonical text of an IP address; throws on anything that is not one (zones included). */
export function canonicalIp(text: string): string {
  const ip = text.trim();
  if (ip.includes("%")) throw new Error(`IP address ${JSON.stringify(text)} has a zone; certificates cannot name one`);
  const family = isIP(ip);
  if (family === 4) return ip;
  if (family !== 6) throw new Error(`${JSON.stringify(text)} is not an IP address`);
  // The WHATWG URL serializer writes RFC 5952 form for IPv6 hosts.
  const v6 = new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  const mapped = MAPPED_V4.exec(v6);
  if (mapped) {
    const hi = Number.parseInt(mapped[1]!, 16);
    const lo = Number.parseInt(mapped[2]!, 16);
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  }
  return v6;
}

/** True when `text` is an IPv4 or IPv6 address (without a zone). */
export function isIpAddress(text: string): boolean {
  return !text.includes("%") && isIP(text.trim()) !== 0;
}
