/**
 * Names of the proxy's nftables objects, as upstream kube-proxy's nftables
 * mode spells them (pkg/proxy/nftables/proxier.go): a hash prefix keeps
 * names unique and stable, the readable tail says whose chain it is.
 */
import { createHash } from "node:crypto";

/** The table name for a node's bridge (nft identifiers allow no `-`), like `guardTableName()`. */
export function proxyTableName(suffix: string): string {
  return `skiff_proxy_${suffix.replace(/[^A-Za-z0-9_]/g, "_")}`;
}

/** A Service port as upstream's ServicePortName: namespace, name and port name. */
export interface ServicePortName {
  readonly namespace: string;
  readonly name: string;
  /** The port's name; "" for an unnamed port. */
  readonly port: string;
  /** Lower case: `tcp`, `udp` or `sctp`. */
  readonly protocol: string;
}

/** `ns/name:port` (or `ns/name` for an unnamed port), as upstream's ServicePortName.String(). */
export function servicePortNameString(p: ServicePortName): string {
  return `${p.namespace}/${p.name}${p.port === "" ? "" : `:${p.port}`}`;
}

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** The first 8 characters of the standard base32 of sha256(text): what upstream prefixes chain names with. */
export function hash8(text: string): string {
  const d = createHash("sha256").update(text).digest();
  // 8 base32 characters are exactly the first 40 bits.
  let bits = 0n;
  for (let i = 0; i < 5; i++) bits = (bits << 8n) | BigInt(d[i] ?? 0);
  let out = "";
  for (let i = 7; i >= 0; i--) out += BASE32[Number((bits >> BigInt(i * 5)) & 31n)];
  return out;
}

/** Longest chain name base; longer ones end in `...` (upstream's chainNameBaseLengthMax). */
const CHAIN_NAME_BASE_MAX = 240;

/** `HASH-name`, HASH from `name` itself, cut to {@link CHAIN_NAME_BASE_MAX} (upstream's hashAndTruncate). */
function hashAndTruncate(name: string): string {
  const out = `${hash8(name)}-${name}`;
  return out.length > CHAIN_NAME_BASE_MAX ? `${out.slice(0, CHAIN_NAME_BASE_MAX - 3)}...` : out;
}

/** `HASH-ns/name/proto/port`: the base of a service port's chain names (upstream's servicePortChainNameBase). */
export function servicePortChainBase(p: ServicePortName): string {
  return hashAndTruncate(`${p.namespace}/${p.name}/${p.protocol}/${p.port}`);
}

/** `HASH-ns/name/proto/port__ip/port`: the base of an endpoint's chain and affinity set names. */
export function endpointChainBase(p: ServicePortName, endpoint: string): string {
  const i = endpoint.lastIndexOf(":");
  // IPv6 colons are not allowed in chain names (upstream writes them as dots).
  const ip = endpoint.slice(0, i).replace(/[[\]]/g, "").replace(/:/g, ".");
  return hashAndTruncate(`${p.namespace}/${p.name}/${p.protocol}/${p.port}__${ip}/${endpoint.slice(i + 1)}`);
}
