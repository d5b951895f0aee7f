/**
 * Fits a reply into the size the client can take over UDP, as miekg/dns'
 * `Msg.Truncate` (which CoreDNS applies to every reply): whole records are
 * dropped from the end of the answer, then authority, then additional
 * sections; the EDNS0 OPT record always stays; the TC bit is set when any
 * record was dropped, so the client asks again over TCP.
 *
 * dns-packet writes names without compression, so sizes here are the
 * uncompressed lengths (a reply may be truncated where a compressing server
 * would have fitted it; the client's TCP retry still gets all of it).
 */
import * as dnsPacket from "dns-packet";
import type { Answer, Packet } from "dns-packet";

/** The smallest size a client can take (RFC 1035; RFC 6891 treats smaller EDNS0 sizes as 512). */
export const MIN_UDP_SIZE = 512;
/** A TCP reply's limit. */
export const MAX_MSG_SIZE = 65535;

const HEADER = 12;
const rrLength = (rr: Answer): number => dnsPacket.encodingLength({ answers: [rr] }) - HEADER;

/** Records of `rrs` that fit from length `l`, and the length then (miekg truncateLoop). */
function fit(rrs: readonly Answer[], size: number, l: number): [number, number] {
  for (let i = 0; i < rrs.length; i++) {
    l += rrLength(rrs[i]!);
    if (l > size) return [size, i];
    if (l === size) return [l, i + 1];
  }
  return [l, rrs.length];
}

/** Truncates `p` in place to at most `size` bytes; returns whether anything was dropped. */
export function truncateReply(p: Packet, size: number): boolean {
  size = Math.max(size, MIN_UDP_SIZE);
  if (dnsPacket.encodingLength(p) <= size) return false;
  const answers = p.answers ?? [];
  const authorities = p.authorities ?? [];
  const additionals = (p.additionals ?? []).filter((a) => a.type !== "OPT");
  const opt = (p.additionals ?? []).find((a) => a.type === "OPT");
  if (opt) size -= rrLength(opt);
  let l = HEADER + dnsPacket.encodingLength({ questions: p.questions ?? [] }) - HEADER;
  let nAnswer = 0;
  let nNs = 0;
  let nExtra = 0;
  if (l < size) [l, nAnswer] = fit(answers, size, l);
  if (l < size) [l, nNs] = fit(authorities, size, l);
  if (l < size) [l, nExtra] = fit(additionals, size, l);
  const dropped = answers.length > nAnswer || authorities.length > nNs || additionals.length > nExtra;
  p.answers = answers.slice(0, nAnswer);
  p.authorities = authorities.slice(0, nNs);
  p.additionals = [...additionals.slice(0, nExtra), ...(opt ? [opt] : [])];
  if (dropped) p.flags = (p.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE;
  return dropped;
}
