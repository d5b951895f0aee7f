/**
 * Test helpers for the cluster DNS: a client that asks over UDP or TCP
 * with dns-packet (retrying a truncated UDP answer over TCP, as resolvers
 * do), and a fake upstream resolver on loopback that answers from a table
 * and counts what it was asked.
 */
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { once } from "node:events";
import { createServer, type Server, Socket } from "node:net";
import * as dnsPacket from "dns-packet";
import type { Answer, DecodedPacket, Packet, RecordType } from "dns-packet";

export type Reply = DecodedPacket & { rcode: string };

let nextId = 1;

/** Sends one query to 127.0.0.1:`port` over UDP (default) or TCP and decodes the reply. */
export async function dnsQuery(
  port: number,
  name: string,
  type: RecordType,
  opts: { tcp?: boolean; udpSize?: number; host?: string; packet?: Partial<Packet>; raw?: Buffer; timeoutMs?: number } = {},
): Promise<Reply> {
  const host = opts.host ?? "127.0.0.1";
  const id = (nextId = (nextId + 1) & 0xffff);
  const packet: Packet = {
    id,
    type: "query",
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type, class: "IN" }],
    additionals: opts.udpSize ? [{ name: ".", type: "OPT", udpPayloadSize: opts.udpSize, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [],
    ...opts.packet,
  };
  const buf = opts.raw ?? dnsPacket.encode(packet);
  const timeoutMs = opts.timeoutMs ?? 5000;
  if (opts.tcp) return (await tcpExchange(host, port, buf, timeoutMs)) as Reply;
  const s = createSocket(host.includes(":") ? "udp6" : "udp4");
  try {
    const got = once(s, "message", { signal: AbortSignal.timeout(timeoutMs) });
    s.send(buf, port, host);
    const [msg] = (await got) as [Buffer];
    return dnsPacket.decode(msg) as Reply;
  } finally {
    s.close();
  }
}

/** Like a stub resolver: UDP first, TCP again when the reply is truncated. Reports which was used. */
export async function resolve(port: number, name: string, type: RecordType): Promise<{ reply: Reply; overTcp: boolean }> {
  const udp = await dnsQuery(port, name, type);
  if (!udp.flag_tc) return { reply: udp, overTcp: false };
  return { reply: await dnsQuery(port, name, type, { tcp: true }), overTcp: true };
}

async function tcpExchange(host: string, port: number, buf: Buffer, timeoutMs: number): Promise<DecodedPacket> {
  const sock = new Socket();
  try {
    sock.setTimeout(timeoutMs, () => sock.destroy(new Error("DNS over TCP timed out")));
    sock.connect(port, host);
    await once(sock, "connect");
    const len = Buffer.alloc(2);
    len.writeUInt16BE(buf.length);
    sock.write(Buffer.concat([len, buf]));
    let acc = Buffer.alloc(0);
    for await (const chunk of sock) {
      acc = Buffer.concat([acc, chunk as Buffer]);
      if (acc.length >= 2 && acc.length >= 2 + acc.readUInt16BE(0)) return dnsPacket.decode(acc.subarray(2, 2 + acc.readUInt16BE(0)));
    }
    throw new Error("connection closed before a reply");
  } finally {
    sock.destroy();
  }
}

/** A fake upstream resolver on 127.0.0.1 (UDP and TCP, one port). */
export interface FakeUpstream {
  readonly port: number;
  /** Questions seen, as `name type udp|tcp`. */
  readonly asked: string[];
  /** Records by lowercase `name type`; names not in it are NXDOMAIN. */
  readonly records: Map<string, Answer[]>;
  /** When true, queries are not answered. */
  silent: boolean;
  stop(): Promise<void>;
}

export async function startFakeUpstream(records: Record<string, Answer[]> = {}): Promise<FakeUpstream> {
  const table = new Map(Object.entries(records).map(([k, v]) => [k.toLowerCase(), v]));
  const asked: string[] = [];
  const state = { silent: false };
  const answer = (buf: Buffer, proto: "udp" | "tcp", size: number): Buffer | undefined => {
    const q = dnsPacket.decode(buf);
    const question = q.questions![0]!;
    asked.push(`${question.name} ${question.type} ${proto}`);
    if (state.silent) return undefined;
    const rrs = table.get(`${question.name} ${question.type}`.toLowerCase());
    const known = [...table.keys()].some((k) => k.startsWith(`${question.name.toLowerCase()} `));
    const soa: Answer = { name: "example.org", type: "SOA", ttl: 60, data: { mname: "ns.example.org", rname: "host.example.org", serial: 1, minimum: 60 } };
    const reply: Packet = {
      id: q.id,
      type: "response",
      flags: ((q.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | dnsPacket.RECURSION_AVAILABLE | (known ? 0 : 3),
      questions: q.questions,
      answers: rrs ?? [],
      authorities: rrs ? [] : [soa],
    };
    let out = dnsPacket.encode(reply);
    if (out.length > size) out = dnsPacket.encode({ ...reply, answers: [], authorities: [], flags: (reply.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE });
    return out;
  };
  const onUdp = (udp: UdpSocket) => (msg: Buffer, rinfo: { port: number; address: string }) => {
    const out = answer(msg, "udp", 512);
    if (out) udp.send(out, rinfo.port, rinfo.address);
  };
  const onTcp = (sock: Socket) => {
    let acc = Buffer.alloc(0);
    sock.on("error", () => {});
    sock.on("data", (d) => {
      acc = Buffer.concat([acc, d]);
      while (acc.length >= 2 && acc.length >= 2 + acc.readUInt16BE(0)) {
        const msg = acc.subarray(2, 2 + acc.readUInt16BE(0));
        acc = acc.subarray(2 + msg.length);
        const out = answer(msg, "tcp", 65535);
        if (!out) continue;
        const len = Buffer.alloc(2);
        len.writeUInt16BE(out.length);
        sock.write(Buffer.concat([len, out]));
      }
    });
  };
  // UDP takes a free port; TCP may find it taken: then both try again.
  let udp: UdpSocket | undefined;
  let tcp: Server | undefined;
  for (let attempt = 0; attempt < 20 && !tcp; attempt++) {
    const u = createSocket("udp4");
    u.on("message", onUdp(u));
    u.bind(0, "127.0.0.1");
    await once(u, "listening");
    const t = createServer(onTcp);
    try {
      t.listen((u.address() as { port: number }).port, "127.0.0.1");
      await once(t, "listening");
      udp = u;
      tcp = t;
    } catch {
      u.close();
      t.close();
    }
  }
  if (!udp || !tcp) throw new Error("no free port for both UDP and TCP");
  const port = (udp.address() as { port: number }).port;
  const [udpSock, tcpServer] = [udp, tcp];
  const sockets = new Set<Socket>();
  tcpServer.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  return {
    port,
    asked,
    records: table,
    get silent() {
      return state.silent;
    },
    set silent(v: boolean) {
      state.silent = v;
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await Promise.all([new Promise<void>((r) => udpSock.close(() => r())), new Promise<void>((r) => tcpServer.close(() => r()))]);
    },
  };
}
