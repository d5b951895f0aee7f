/**
 * The cache in front of the forwarder, as CoreDNS' `cache 30`: answers
 * (NOERROR with records, and NXDOMAIN/NODATA) are kept for their smallest
 * TTL (for denials the SOA's, as RFC 2308), clamped to 5…30 s; a hit comes
 * back with every TTL set to the time left and the AA bit set, as CoreDNS'
 * cache answers. Keyed by lowercase name, type, class and the DO and CD
 * bits. SERVFAIL and other errors are not kept. Bounded: the oldest entry
 * goes when full.
 */
import type { Answer, DecodedPacket } from "dns-packet";

export interface AnswerCacheOptions {
  /** Longest time an answer is kept (s); 30, as `cache 30`. */
  readonly maxTtl?: number;
  /** Shortest (s); 5, CoreDNS' minimum TTL. */
  readonly minTtl?: number;
  /** Entries kept; 9984, CoreDNS' default capacity. */
  readonly capacity?: number;
  readonly now?: () => number;
}

/** A kept answer. */
export interface CachedAnswer {
  readonly rcode: string;
  readonly flags: number;
  readonly answers: readonly Answer[];
  readonly authorities: readonly Answer[];
  readonly additionals: readonly Answer[];
  /** Epoch ms when it expires. */
  readonly expires: number;
}

/** The key of a question in the cache. */
export const cacheKey = (name: string, type: string, klass: string, dnssecOk: boolean, checkingDisabled: boolean): string =>
  `${name.toLowerCase().replace(/\.$/, "")}|${type}|${klass}|${dnssecOk ? 1 : 0}${checkingDisabled ? 1 : 0}`;

const ttlOf = (a: Answer): number => ("ttl" in a && typeof a.ttl === "number" ? a.ttl : 0);

/** Forwarded answers by question. */
export class AnswerCache {
  readonly #entries = new Map<string, CachedAnswer>();
  readonly #max: number;
  readonly #min: number;
  readonly #capacity: number;
  readonly #now: () => number;

  constructor(o: AnswerCacheOptions = {}) {
    this.#max = o.maxTtl ?? 30;
    this.#min = o.minTtl ?? 5;
    this.#capacity = o.capacity ?? 9984;
    this.#now = o.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Keeps `p` (an upstream answer) if it is cacheable. */
  put(key: string, p: DecodedPacket): void {
    const rcode = (p as DecodedPacket & { rcode?: string }).rcode ?? "NOERROR";
    if (rcode !== "NOERROR" && rcode !== "NXDOMAIN") return;
    // A truncated answer is not the whole answer.
    if (p.flag_tc) return;
    const answers = (p.answers ?? []).filter((a) => a.type !== "OPT");
    const authorities = (p.authorities ?? []).filter((a) => a.type !== "OPT");
    const additionals = (p.additionals ?? []).filter((a) => a.type !== "OPT");
    let ttl: number;
    if (rcode === "NOERROR" && answers.length > 0) {
      ttl = Math.min(...answers.map(ttlOf), ...authorities.map(ttlOf), ...(additionals.length > 0 ? additionals.map(ttlOf) : []));
    } else {
      const soa = authorities.find((a) => a.type === "SOA");
      // Without an SOA a denial has no stated lifetime: keep it the least time.
      ttl = soa && soa.type === "SOA" ? Math.min(ttlOf(soa), soa.data.minimum ?? 0) : this.#min;
    }
    ttl = Math.max(this.#min, Math.min(this.#max, ttl));
    if (this.#entries.size >= this.#capacity) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.delete(key);
    this.#entries.set(key, { rcode, flags: p.flags ?? 0, answers, authorities, additionals, expires: this.#now() + ttl * 1000 });
  }

  /**
   * The kept answer with every TTL set to the seconds left, or undefined
   * (expired entries are dropped).
   */
  get(key: string): CachedAnswer | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    const left = Math.floor((e.expires - this.#now()) / 1000);
    if (left <= 0) {
      this.#entries.delete(key);
      return undefined;
    }
    const withTtl = (rs: readonly Answer[]) => rs.map((a) => ({ ...a, ttl: left }) as Answer);
    return { ...e, answers: withTtl(e.answers), authorities: withTtl(e.authorities), additionals: withTtl(e.additionals) };
  }

  clear(): void {
    this.#entries.clear();
  }
}
