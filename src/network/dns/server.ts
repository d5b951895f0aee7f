/**
 * The cluster DNS server: `cluster.local` from the cluster's Services,
 * EndpointSlices and Namespaces as CoreDNS' kubernetes plugin answers it,
 * everything else forwarded to upstream resolvers (the node's
 * /etc/resolv.conf unless given) behind a 30 s cache; UDP and TCP on one
 * port. Reached by pods through the `kube-system/kube-dns` Service
 * (kube-dns-service.ts), whose EndpointSlice points at this listener.
 *
 * Like CoreDNS it waits (up to 5 s) for its informers to list before it
 * serves; until they have, names it cannot find are SERVFAIL, not NXDOMAIN.
 */
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { once } from "node:events";
import { isIP, type Server, createServer as createTcpServer, type Socket } from "node:net";
import type { ClientConfig } from "../../client/config.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { AnswerCache } from "./answer-cache.js";
import { ClusterIndex } from "./cluster-index.js";
import { Forwarder, parseUpstream, resolvConfNameservers } from "./forwarder.js";
import { DnsHandler } from "./handler.js";
import { KubernetesZone } from "./kubernetes-zone.js";
import { createDnsInformers, type DnsInformers, feedIndex } from "./sources.js";

/** Where the cluster's objects come from. */
export type DnsSource =
  /** A client config: the server runs informers of its own. */
  | ClientConfig
  /** Informers someone else runs (shared with other components of the process). */
  | DnsInformers
  /** An index fed by the caller (tests, benchmarks); `synced` defaults to true. */
  | { readonly index: ClusterIndex; readonly synced?: () => boolean };

export interface ClusterDnsOptions {
  readonly client: DnsSource;
  /** Address and port for UDP and TCP; port 0 takes a free port (the same for both). */
  readonly listen: { readonly host: string; readonly port: number };
  /** Cluster domain; `cluster.local`. */
  readonly domain?: string;
  /** Upstream resolvers (`IP`, `IP:port`, `[IPv6]:port`); the nameservers of `resolvConf` when absent. */
  readonly upstreams?: readonly string[];
  /** The resolv.conf read when `upstreams` is absent; `/etc/resolv.conf`. */
  readonly resolvConf?: string;
  /** TTL of cluster records (s); 5, as CoreDNS' kubernetes plugin. */
  readonly ttlSeconds?: number;
  /** Addresses for `ns.dns.<domain>` and the apex NS; the `kube-system/kube-dns` ClusterIPs when absent. */
  readonly nsAddresses?: readonly string[];
  /** How long to wait for the informers before serving anyway; 5000 ms, as CoreDNS. */
  readonly syncTimeoutMs?: number;
  /**
   * Which clients are served (CoreDNS' acl plugin): others get REFUSED over
   * UDP and a closed connection over TCP, so a server listening on a node
   * address is no open resolver for its network. Default: everyone.
   */
  readonly allowClient?: (address: string) => boolean;
  /** Time to wait for one upstream's answer; 2000 ms. */
  readonly upstreamTimeoutMs?: number;
  readonly logger?: Logger;
}

/** A running server. */
export interface ClusterDns {
  readonly host: string;
  /** The port UDP and TCP listen on. */
  readonly port: number;
  /** What the server knows about the cluster (diagnostics, tests). */
  readonly index: ClusterIndex;
  /** Stops listening, closes connections and the informers it runs. */
  stop(): Promise<void>;
}

const TCP_IDLE_MS = 8_000;

function isInformers(s: DnsSource): s is DnsInformers {
  return "services" in s && "endpointSlices" in s && "namespaces" in s;
}

/** Starts the cluster DNS server. */
export async function startClusterDns(o: ClusterDnsOptions): Promise<ClusterDns> {
  const log = (o.logger ?? silentLogger).with({ component: "dns" });
  const domain = (o.domain ?? "cluster.local").toLowerCase().replace(/\.$/, "");
  const ttl = o.ttlSeconds ?? 5;
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 3600) throw new Error(`ttl must be an integer between 0 and 3600, not ${ttl}`);
  const upstreams = o.upstreams !== undefined ? o.upstreams.map(parseUpstream) : resolvConfNameservers(o.resolvConf);
  if (upstreams.length === 0) log.warn("no upstream resolvers: names outside the cluster get SERVFAIL", { resolvConf: o.resolvConf ?? "/etc/resolv.conf" });

  const abort = new AbortController();
  let index: ClusterIndex;
  let synced: () => boolean;
  let running: Promise<void> = Promise.resolve();
  let unfeed = () => {};
  const src = o.client;
  if ("index" in src) {
    index = src.index;
    synced = src.synced ?? (() => true);
  } else {
    index = new ClusterIndex();
    const informers = isInformers(src) ? src : createDnsInformers(src, log);
    const fed = feedIndex(index, informers);
    synced = fed.synced;
    unfeed = fed.remove;
    if (!isInformers(src)) running = (informers as ReturnType<typeof createDnsInformers>).run(abort.signal);
  }

  const nsAddresses = () => {
    if (o.nsAddresses) return o.nsAddresses;
    const svc = index.service("kube-system", "kube-dns");
    return svc ? svc.clusterIPs.filter((ip) => isIP(ip) !== 0) : [];
  };
  const zone = new KubernetesZone({ index, domain, ttl, nsAddresses, synced });
  const forwarder = new Forwarder({ upstreams, timeoutMs: o.upstreamTimeoutMs, logger: log });
  const handler = new DnsHandler({ zone, forwarder, cache: new AnswerCache(), logger: log, version: () => `${index.generation}/${synced()}` });

  let udp: UdpSocket | undefined;
  let tcp: Server | undefined;
  const conns = new Set<Socket>();
  try {
    [udp, tcp] = await listen(o.listen.host, o.listen.port, handler, conns, o.allowClient ?? (() => true), log);
  } catch (err) {
    abort.abort();
    unfeed();
    forwarder.close();
    await running.catch(() => {});
    throw err;
  }
  const port = (udp.address() as { port: number }).port;

  // CoreDNS: "waiting for Kubernetes API before starting server", at most 5 s.
  const deadline = Date.now() + (o.syncTimeoutMs ?? 5000);
  while (!synced() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (!synced()) log.warn("starting server with unsynced Kubernetes API");
  log.info("cluster DNS listening", { host: o.listen.host, port, domain, upstreams: upstreams.map((u) => `${u.host}:${u.port}`).join(",") || "none", ttl });

  const udpSocket = udp;
  const tcpServer = tcp;
  return {
    host: o.listen.host,
    port,
    index,
    async stop() {
      abort.abort();
      unfeed();
      forwarder.close();
      for (const c of conns) c.destroy();
      await Promise.all([new Promise<void>((r) => udpSocket.close(() => r())), new Promise<void>((r) => tcpServer.close(() => r()))]);
      await running.catch(() => {});
    },
  };
}

/** Binds UDP and TCP on one port (port 0: retried until both get the same free port). */
async function listen(host: string, port: number, handler: DnsHandler, conns: Set<Socket>, allow: (address: string) => boolean, log: Logger): Promise<[UdpSocket, Server]> {
  const family = isIP(host) === 6 ? "udp6" : "udp4";
  let lastErr: unknown;
  for (let attempt = 0; attempt < (port === 0 ? 20 : 1); attempt++) {
    const udp = createSocket({ type: family, recvBufferSize: 4 << 20 } as Parameters<typeof createSocket>[0]);
    try {
      udp.bind(port, host);
      await once(udp, "listening");
    } catch (err) {
      udp.close();
      throw err;
    }
    const bound = (udp.address() as { port: number }).port;
    const tcp = createTcpServer((sock) => {
      if (allow(sock.remoteAddress ?? "")) serveTcp(sock, handler, conns, log);
      else sock.destroy();
    });
    try {
      tcp.listen(bound, host);
      await once(tcp, "listening");
    } catch (err) {
      lastErr = err;
      udp.close();
      tcp.close();
      if ((err as NodeJS.ErrnoException).code === "EADDRINUSE" && port === 0) continue;
      throw err;
    }
    udp.on("message", (msg, rinfo) => {
      let out: ReturnType<DnsHandler["handle"]>;
      try {
        out = allow(rinfo.address) ? handler.handle(msg, false) : handler.refuse(msg);
      } catch (err) {
        log.error("cannot answer a query", { err: (err as Error).message });
        return;
      }
      if (out === undefined) return;
      const send = (b: Buffer | undefined) => {
        if (!b) return;
        try {
          udp.send(b, rinfo.port, rinfo.address);
        } catch {
          // The socket closed (the server stopped) while an upstream answer was on its way.
        }
      };
      if (Buffer.isBuffer(out)) send(out);
      else out.then(send, (err: Error) => log.error("cannot answer a query", { err: (err as Error).message }));
    });
    udp.on("error", (err) => log.warn("UDP socket error", { err: err.message }));
    return [udp, tcp];
  }
  throw lastErr;
}

/** DNS over TCP: two-byte length framing, several queries per connection, answered as they complete. */
function serveTcp(sock: Socket, handler: DnsHandler, conns: Set<Socket>, log: Logger): void {
  conns.add(sock);
  sock.setNoDelay(true);
  sock.setTimeout(TCP_IDLE_MS, () => sock.destroy());
  sock.on("close", () => conns.delete(sock));
  sock.on("error", () => sock.destroy());
  let buf = Buffer.alloc(0);
  const send = (b: Buffer | undefined) => {
    if (!b || sock.destroyed) return;
    const len = Buffer.allocUnsafe(2);
    len.writeUInt16BE(b.length);
    sock.write(Buffer.concat([len, b]));
  };
  sock.on("data", (d) => {
    buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
    while (buf.length >= 2) {
      const len = buf.readUInt16BE(0);
      if (buf.length < 2 + len) break;
      const msg = buf.subarray(2, 2 + len);
      buf = buf.subarray(2 + len);
      try {
        const out = handler.handle(msg, true);
        if (Buffer.isBuffer(out) || out === undefined) send(out);
        else out.then(send, (err: Error) => log.error("cannot answer a query", { err: err.message }));
      } catch (err) {
        log.error("cannot answer a query", { err: (err as Error).message });
      }
    }
  });
}
