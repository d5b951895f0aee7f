/**
 * Sends queries for names outside the cluster to upstream resolvers, as
 * CoreDNS' `forward . /etc/resolv.conf` does: over the protocol the client
 * used (a truncated UDP answer goes back truncated, and the client's retry
 * over TCP is forwarded over TCP), upstreams tried in random order (policy
 * `random`), the next one on a timeout or a broken answer, SERVFAIL to the
 * client when none answers. UDP queries share one socket per address
 * family; answers are matched by ID and question.
 */
import { randomInt } from "node:crypto";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { readFileSync } from "node:fs";
import { isIP, Socket } from "node:net";
import * as dnsPacket from "dns-packet";
import type { DecodedPacket, Packet } from "dns-packet";
import type { Logger } from "../../machinery/log.js";

/** An upstream resolver. */
export interface Upstream {
  readonly host: string;
  readonly port: number;
}

/** Parses `host`, `host:port`, `[v6]:port` or a bare IPv6 address (port 53 unless given). */
export function parseUpstream(s: string): Upstream {
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracket) return { host: bracket[1]!, port: bracket[2] ? Number(bracket[2]) : 53 };
  if (isIP(s) === 6) return { host: s, port: 53 };
  const m = /^([^:]+)(?::(\d+))?$/.exec(s);
  if (!m || isIP(m[1]!) === 0) throw new Error(`upstream resolver ${JSON.stringify(s)} is not an IP address with an optional port`);
  return { host: m[1]!, port: m[2] ? Number(m[2]) : 53 };
}

/** The `nameserver` lines of a resolv.conf (CoreDNS `forward . /etc/resolv.conf`). */
export function resolvConfNameservers(path = "/etc/resolv.conf"): Upstream[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return [];
  }
  const out: Upstream[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    // A link-local zone (fe80::1%eth0) is kept out of the address check.
    const host = m[1]!.split("%")[0]!;
    if (isIP(host) !== 0) out.push({ host: m[1]!, port: 53 });
  }
  return out;
}

export interface ForwarderOptions {
  readonly upstreams: readonly Upstream[];
  /** CoreDNS forward's `policy`: `random` (the default) or `sequential` (in the order given). */
  readonly policy?: "random" | "sequential";
  /** Time to wait for one upstream's answer (2 s, CoreDNS' default read timeout). */
  readonly timeoutMs?: number;
  readonly logger: Logger;
}

interface Pending {
  /** `host:port` the answer must come from. */
  readonly from: string;
  readonly name: string;
  readonly type: string;
  readonly resolve: (p: DecodedPacket | undefined) => void;
}

const sameQuestion = (p: DecodedPacket, name: string, type: string): boolean => {
  const q = p.questions?.[0];
  return q !== undefined && q.name.toLowerCase() === name && q.type === type;
};

/** Forwards queries to the upstreams. */
export class Forwarder {
  readonly #o: ForwarderOptions;
  readonly #sockets = new Map<4 | 6, UdpSocket>();
  readonly #pending = new Map<string, Pending>();
  #closed = false;

  constructor(o: ForwarderOptions) {
    this.#o = o;
  }

  get upstreams(): readonly Upstream[] {
    return this.#o.upstreams;
  }

  /**
   * Asks the upstreams `query` (its ID is replaced) over UDP or TCP; resolves
   * the first answer, or undefined when none came.
   */
  async query(query: Packet, tcp: boolean): Promise<DecodedPacket | undefined> {
    const q = query.questions?.[0];
    if (!q || this.#o.upstreams.length === 0) return undefined;
    const order = [...this.#o.upstreams];
    for (let i = order.length - 1; i > 0 && this.#o.policy !== "sequential"; i--) {
      const j = randomInt(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (const up of order) {
      if (this.#closed) return undefined;
      const answer = tcp ? await this.#tcp(up, query) : await this.#udp(up, query);
      if (answer) return answer;
      this.#o.logger.debug("upstream resolver did not answer", { upstream: `${up.host}:${up.port}`, name: q.name, type: q.type, tcp });
    }
    return undefined;
  }

  #socket(family: 4 | 6): UdpSocket {
    let s = this.#sockets.get(family);
    if (s) return s;
    s = createSocket(family === 4 ? "udp4" : "udp6");
    s.on("message", (buf, rinfo) => {
      let p: DecodedPacket;
      try {
        p = dnsPacket.decode(buf);
      } catch {
        return;
      }
      const key = `${family}:${p.id}`;
      const pending = this.#pending.get(key);
      // Answers to another question (spoofed, or a stale ID) are dropped.
      if (!pending || pending.from !== `${rinfo.address}:${rinfo.port}` || !sameQuestion(p, pending.name, pending.type)) return;
      this.#pending.delete(key);
      pending.resolve(p);
    });
    s.on("error", (err) => this.#o.logger.warn("forwarder socket failed", { err: err.message }));
    s.unref();
    this.#sockets.set(family, s);
    return s;
  }

  #udp(up: Upstream, query: Packet): Promise<DecodedPacket | undefined> {
    const family = isIP(up.host.split("%")[0]!) === 6 ? 6 : 4;
    const socket = this.#socket(family);
    const q = query.questions![0]!;
    let id = 0;
    let key = "";
    for (let tries = 0; tries < 8; tries++) {
      id = randomInt(65536);
      key = `${family}:${id}`;
      if (!this.#pending.has(key)) break;
    }
    if (this.#pending.has(key)) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(key);
        resolve(undefined);
      }, this.#o.timeoutMs ?? 2000);
      timer.unref();
      this.#pending.set(key, {
        from: `${up.host}:${up.port}`,
        name: q.name.toLowerCase(),
        type: q.type,
        resolve: (p) => {
          clearTimeout(timer);
          resolve(p);
        },
      });
      let buf: Buffer;
      try {
        buf = dnsPacket.encode({ ...query, id });
      } catch (err) {
        this.#pending.get(key)?.resolve(undefined);
        this.#pending.delete(key);
        this.#o.logger.warn("cannot encode a forwarded query", { err: (err as Error).message });
        return;
      }
      socket.send(buf, up.port, up.host, (err) => {
        if (err) this.#pending.get(key)?.resolve(undefined);
      });
    });
  }

  #tcp(up: Upstream, query: Packet): Promise<DecodedPacket | undefined> {
    const q = query.questions![0]!;
    const id = randomInt(65536);
    return new Promise((resolve) => {
      const sock = new Socket();
      let chunks = Buffer.alloc(0);
      let done = false;
      const finish = (p: DecodedPacket | undefined) => {
        if (done) return;
        done = true;
        sock.destroy();
        resolve(p);
      };
      sock.setTimeout(this.#o.timeoutMs ?? 2000, () => finish(undefined));
      sock.on("error", () => finish(undefined));
      sock.on("close", () => finish(undefined));
      sock.on("data", (d) => {
        chunks = Buffer.concat([chunks, d]);
        if (chunks.length < 2) return;
        const len = chunks.readUInt16BE(0);
        if (chunks.length < 2 + len) return;
        try {
          const p = dnsPacket.decode(chunks.subarray(2, 2 + len));
          finish(p.id === id && sameQuestion(p, q.name.toLowerCase(), q.type) ? p : undefined);
        } catch {
          finish(undefined);
        }
      });
      sock.connect(up.port, up.host, () => {
        try {
          sock.write(dnsPacket.streamEncode({ ...query, id }));
        } catch {
          finish(undefined);
        }
      });
    });
  }

  /** Closes the UDP sockets; queries in flight resolve undefined. */
  close(): void {
    this.#closed = true;
    for (const p of this.#pending.values()) p.resolve(undefined);
    this.#pending.clear();
    for (const s of this.#sockets.values()) s.close();
    this.#sockets.clear();
  }
}
