/**
 * One DNS query in, one reply out: the server's side of CoreDNS' plugin
 * chain `kubernetes` → `forward` (+ `cache`, `loadbalance`), with the
 * request checks of miekg/dns' server and the EDNS0 handling of CoreDNS'
 * request package (a reply carries an OPT record when the query did, with
 * the client's UDP size and DO bit; an EDNS version above 0 is BADVERS; the
 * reply is truncated to the client's size over UDP).
 *
 * Cluster replies are kept encoded, keyed by the query's bytes after its
 * ID, until the cluster changes: a repeated question costs a copy and
 * the new ID, not a decode and encode. (Replies with shuffled records or
 * upstream parts are not kept.)
 */
import * as dnsPacket from "dns-packet";
import type { Answer, DecodedPacket, OptAnswer, Packet, Question } from "dns-packet";
import type { Logger } from "../../machinery/log.js";
import { AnswerCache, cacheKey } from "./answer-cache.js";
import type { Forwarder } from "./forwarder.js";
import { type ExternalAnswer, externalKey, type KubernetesZone, RCODE, type ZoneOutcome } from "./kubernetes-zone.js";
import { MAX_MSG_SIZE, MIN_UDP_SIZE, truncateReply } from "./truncate.js";

const { AUTHORITATIVE_ANSWER: AA, RECURSION_DESIRED: RD, CHECKING_DISABLED: CD, AUTHENTIC_DATA: AD, DNSSEC_OK } = dnsPacket;
const OPCODE_MASK = 0x7800;
const BADVERS = 16;
/** Encoded cluster replies kept at most (the map is emptied when full or when the cluster changes). */
const MAX_KEPT_REPLIES = 20_000;

type Decoded = DecodedPacket & { opcode?: string; rcode?: string };

export interface DnsHandlerOptions {
  readonly zone: KubernetesZone;
  /** Changes whenever an answer of the zone may change (the index generation and the sync state). */
  readonly version: () => string;
  readonly forwarder: Forwarder;
  readonly cache?: AnswerCache;
  readonly logger: Logger;
}

/** Answers queries (wire format in, wire format out). */
export class DnsHandler {
  readonly #o: DnsHandlerOptions;
  readonly #cache: AnswerCache;
  readonly #kept = new Map<string, Buffer>();
  #keptVersion = "";

  constructor(o: DnsHandlerOptions) {
    this.#o = o;
    this.#cache = o.cache ?? new AnswerCache();
  }

  /** The forwarder's cache. */
  get cache(): AnswerCache {
    return this.#cache;
  }

  /**
   * The reply to `query` received over UDP or TCP; undefined when nothing
   * should be sent (not a query, or too short to carry an ID).
   */
  handle(query: Buffer, tcp: boolean): Buffer | undefined | Promise<Buffer | undefined> {
    if (query.length < 12) return undefined;
    const version = this.#o.version();
    if (version !== this.#keptVersion) {
      this.#kept.clear();
      this.#keptVersion = version;
    }
    const key = (tcp ? "t" : "u") + query.toString("latin1", 2);
    const kept = this.#kept.get(key);
    if (kept) {
      const out = Buffer.allocUnsafe(kept.length);
      kept.copy(out);
      // The ID is the only part of the reply the query's bytes past it do not decide.
      out[0] = query[0]!;
      out[1] = query[1]!;
      return out;
    }
    let req: Decoded;
    try {
      req = dnsPacket.decode(query) as Decoded;
    } catch {
      return this.#error(query.readUInt16BE(0), undefined, RCODE.FORMERR);
    }
    if (req.type === "response") return undefined;
    // miekg/dns' DefaultMsgAcceptFunc.
    if (req.opcode !== "QUERY") return this.#error(req.id ?? 0, req, RCODE.NOTIMP);
    if (req.questions?.length !== 1 || (req.answers?.length ?? 0) > 1 || (req.authorities?.length ?? 0) > 1 || (req.additionals?.length ?? 0) > 2) {
      return this.#error(req.id ?? 0, req, RCODE.FORMERR);
    }
    const opt = req.additionals?.find((a): a is OptAnswer => a.type === "OPT");
    if (opt && opt.ednsVersion > 0) return this.#badVersion(req);
    const size = tcp ? MAX_MSG_SIZE : opt ? Math.max(MIN_UDP_SIZE, opt.udpPayloadSize) : MIN_UDP_SIZE;
    const q = req.questions[0]!;
    const { outcome, needs } = this.#o.zone.resolve(q.name, q.type);
    if (needs.length > 0) return this.#chase(req, q, opt, size, tcp, needs);
    if (outcome.kind === "next") return this.#forward(req, q, opt, size, tcp);
    const { buf, shuffled } = this.#clusterReply(req, q, opt, size, outcome);
    if (!shuffled) {
      if (this.#kept.size >= MAX_KEPT_REPLIES) this.#kept.clear();
      this.#kept.set(key, buf);
    }
    return buf;
  }

  /** REFUSED for `query` (CoreDNS' acl plugin `block`): for clients the server does not serve. */
  refuse(query: Buffer): Buffer | undefined {
    if (query.length < 12) return undefined;
    let req: Decoded;
    try {
      req = dnsPacket.decode(query) as Decoded;
    } catch {
      return this.#error(query.readUInt16BE(0), undefined, RCODE.REFUSED);
    }
    return req.type === "response" ? undefined : this.#error(req.id ?? 0, req, RCODE.REFUSED);
  }

  #clusterReply(req: Decoded, q: Question, opt: OptAnswer | undefined, size: number, o: Extract<ZoneOutcome, { kind: "reply" }>): { buf: Buffer; shuffled: boolean } {
    const answers = [...o.answers];
    const shuffled = loadBalance(answers);
    let flags = replyFlags(req) | o.rcode;
    if (o.authoritative) flags |= AA;
    if (o.truncated) flags |= dnsPacket.TRUNCATED_RESPONSE;
    const reply: Packet = {
      id: req.id,
      type: "response",
      flags,
      questions: [q],
      answers,
      authorities: o.authorities,
      additionals: [...o.additionals, ...echoOpt(opt)],
    };
    truncateReply(reply, size);
    return { buf: dnsPacket.encode(reply), shuffled };
  }

  /** Resolves the external targets of CNAMEs through the forwarder, then answers. */
  async #chase(req: Decoded, q: Question, opt: OptAnswer | undefined, size: number, tcp: boolean, needs: { name: string; type: string }[]): Promise<Buffer | undefined> {
    const external = new Map<string, ExternalAnswer | null>();
    for (let round = 0; round < 4 && needs.length > 0; round++) {
      for (const n of needs) {
        const got = await this.#lookup({ name: n.name, type: n.type as Question["type"], class: "IN" }, req, tcp);
        const answers = got ? got.answers.filter((a) => a.type !== "OPT") : [];
        external.set(externalKey(n.name, n.type), got ? { answers, truncated: (got.flags & dnsPacket.TRUNCATED_RESPONSE) !== 0 } : null);
      }
      const next = this.#o.zone.resolve(q.name, q.type, external);
      if (next.needs.length === 0) {
        if (next.outcome.kind === "next") return this.#forward(req, q, opt, size, tcp);
        return this.#clusterReply(req, q, opt, size, next.outcome).buf;
      }
      needs = next.needs;
    }
    return this.#error(req.id ?? 0, req, RCODE.SERVFAIL);
  }

  /** An upstream answer to `q` (from the cache when kept), or undefined when no upstream answered. */
  async #lookup(q: Question, req: Decoded, tcp: boolean): Promise<{ answers: readonly Answer[]; authorities: readonly Answer[]; additionals: readonly Answer[]; flags: number } | undefined> {
    const opt = req.additionals?.find((a): a is OptAnswer => a.type === "OPT");
    const dnssecOk = opt?.flag_do === true;
    const key = cacheKey(q.name, q.type, q.class ?? "IN", dnssecOk, req.flag_cd);
    const hit = this.#cache.get(key);
    // CoreDNS' cache answers with AA set and the kept RA, AD and rcode.
    if (hit) return { ...hit, flags: (hit.flags & ~0xf) | rcodeValue(hit.rcode) | AA };
    const forwarded: Packet = {
      type: "query",
      flags: (req.flags ?? 0) & (RD | CD | AD),
      questions: [q],
      additionals: opt ? [{ ...opt, options: [] }] : [],
    };
    const got = await this.#o.forwarder.query(forwarded, tcp);
    if (!got) return undefined;
    this.#cache.put(key, got);
    return { answers: got.answers ?? [], authorities: got.authorities ?? [], additionals: got.additionals ?? [], flags: got.flags ?? 0 };
  }

  async #forward(req: Decoded, q: Question, opt: OptAnswer | undefined, size: number, tcp: boolean): Promise<Buffer | undefined> {
    const got = await this.#lookup(q, req, tcp);
    if (!got) {
      this.#o.logger.debug("no upstream resolver answered", { name: q.name, type: q.type, upstreams: this.#o.forwarder.upstreams.length });
      return this.#error(req.id ?? 0, req, RCODE.SERVFAIL);
    }
    const strip = (rs: readonly Answer[]) => rs.filter((a) => a.type !== "OPT");
    const reply: Packet = {
      id: req.id,
      type: "response",
      // The upstream's flags (AA, TC, RA, AD, rcode), the client's RD and CD.
      flags: (got.flags & ~(RD | CD | OPCODE_MASK)) | replyFlags(req),
      questions: [q],
      answers: strip(got.answers),
      authorities: strip(got.authorities),
      additionals: [...strip(got.additionals), ...echoOpt(opt)],
    };
    truncateReply(reply, size);
    return dnsPacket.encode(reply);
  }

  /** miekg SetRcode: the question kept, no records. */
  #error(id: number, req: Decoded | undefined, rcode: number): Buffer {
    const opt = req?.additionals?.find((a): a is OptAnswer => a.type === "OPT");
    return dnsPacket.encode({
      id,
      type: "response",
      flags: (req ? replyFlags(req) : 0) | rcode,
      questions: req?.questions?.slice(0, 1) ?? [],
      additionals: echoOpt(opt),
    });
  }

  /** CoreDNS edns.Version: BADVERS (extended rcode 1 in the OPT record, 0 in the header), no question. */
  #badVersion(req: Decoded): Buffer {
    return dnsPacket.encode({
      id: req.id,
      type: "response",
      flags: replyFlags(req) | (BADVERS & 0xf),
      additionals: [{ name: ".", type: "OPT", udpPayloadSize: MIN_UDP_SIZE, extendedRcode: BADVERS >> 4, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
    });
  }
}

/** miekg SetReply: the opcode, and for queries RD and CD, of the request. */
function replyFlags(req: Decoded): number {
  return (req.flags ?? 0) & (OPCODE_MASK | RD | CD);
}

/** CoreDNS SizeAndDo: the request's OPT record back, flags other than DO cleared, no options. */
function echoOpt(opt: OptAnswer | undefined): Answer[] {
  if (!opt) return [];
  return [{ name: ".", type: "OPT", udpPayloadSize: opt.udpPayloadSize, extendedRcode: 0, ednsVersion: 0, flags: opt.flags & DNSSEC_OK, flag_do: opt.flag_do, options: [] }];
}

const RCODES: Record<string, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };
const rcodeValue = (s: string): number => RCODES[s] ?? 0;

/**
 * CoreDNS `loadbalance` (round_robin): the address records of an answer
 * in random order, after its CNAMEs. Returns whether it reordered anything.
 */
function loadBalance(answers: Answer[]): boolean {
  let addrs = 0;
  for (const a of answers) if (a.type === "A" || a.type === "AAAA") addrs++;
  if (addrs < 2) return false;
  const cnames = answers.filter((a) => a.type === "CNAME");
  const address = answers.filter((a) => a.type === "A" || a.type === "AAAA");
  const rest = answers.filter((a) => a.type !== "CNAME" && a.type !== "A" && a.type !== "AAAA");
  for (let i = address.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [address[i], address[j]] = [address[j]!, address[i]!];
  }
  answers.splice(0, answers.length, ...cnames, ...address, ...rest);
  return true;
}
