/**
 * The PKI of the etcd that `skiff server --cluster-init` runs, laid out as
 * k3s lays out its embedded etcd's (`<data-dir>/tls/etcd/`):
 *   - `server-ca`: signs etcd's serving certificates and the clients etcd
 *     accepts (`--trusted-ca-file`, `--client-cert-auth`);
 *   - `peer-ca`: signs the members' peer certificates, so only members of
 *     this cluster can join the raft group (`--peer-client-cert-auth`);
 *   - `server-client`: etcd's own client-facing certificate (server and
 *     client usages), SANs localhost, the loopbacks and this host's addresses;
 *   - `peer-server-client`: the member's peer certificate (both usages: a
 *     member dials its peers with it);
 *   - `client`: what the API server (and `skiff snapshot`) presents to etcd.
 * Every server of a cluster must hold the same two CAs (a joining server
 * receives them); leaves are per server.
 */
import { join } from "node:path";
import type { Clock } from "../machinery/clock.js";
import type { Logger } from "../machinery/log.js";
import { defaultHostAddresses, ensureCa, ensureLeaf, type PkiFiles, pkiContext } from "./cluster-pki.js";
import { canonicalIp, isIpAddress } from "./ip.js";

/** The files {@link ensureEtcdPki} made or found. */
export interface EtcdPki {
  readonly dir: string;
  readonly serverCa: PkiFiles;
  readonly peerCa: PkiFiles;
  /** etcd's serving certificate for clients (server-ca). */
  readonly server: PkiFiles;
  /** The member's peer certificate (peer-ca). */
  readonly peer: PkiFiles;
  /** The API server's client certificate to etcd (server-ca). */
  readonly client: PkiFiles;
}

/** Options of {@link ensureEtcdPki}. */
export interface EnsureEtcdPkiOptions {
  /** `<data-dir>/tls`; the etcd files go in its `etcd/` subdirectory. */
  readonly tlsDir: string;
  /** This server's node name: the member certificates' common name. */
  readonly nodeName: string;
  /** Addresses peers and clients reach this member on (the default: every interface address and the loopbacks). */
  readonly hostAddresses?: readonly string[];
  readonly logger: Logger;
  readonly clock?: Clock;
}

/** Where the etcd PKI lives in a data dir's `tls/`. */
export function etcdPkiDir(tlsDir: string): string {
  return join(tlsDir, "etcd");
}

/** Makes the etcd PKI on first use and keeps its leaves current (see the module comment). */
export async function ensureEtcdPki(opts: EnsureEtcdPkiOptions): Promise<EtcdPki> {
  const dir = etcdPkiDir(opts.tlsDir);
  const ctx = pkiContext(dir, opts.logger, opts.clock);
  const serverCa = await ensureCa(ctx, "server-ca", "etcd-server-ca");
  const peerCa = await ensureCa(ctx, "peer-ca", "etcd-peer-ca");
  const addresses = [...new Set(["127.0.0.1", "::1", ...(opts.hostAddresses ?? defaultHostAddresses())])];
  const ips = [...new Set(addresses.filter(isIpAddress).map(canonicalIp))];
  const dns = [...new Set(["localhost", opts.nodeName.toLowerCase(), ...addresses.filter((a) => !isIpAddress(a)).map((a) => a.toLowerCase())])];
  const member = { organizations: [], usages: ["server", "client"] as const, dnsNames: dns, ipAddresses: ips };
  const server = await ensureLeaf(ctx, { base: "server-client", ca: serverCa, commonName: `etcd-server-${opts.nodeName}`, ...member });
  const peer = await ensureLeaf(ctx, { base: "peer-server-client", ca: peerCa, commonName: `etcd-peer-${opts.nodeName}`, ...member });
  const client = await ensureLeaf(ctx, { base: "client", ca: serverCa, commonName: "etcd-client", organizations: [], usages: ["client"] });
  return { dir, serverCa, peerCa, server, peer, client };
}
