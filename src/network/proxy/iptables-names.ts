/**
 * Chain names of the iptables backend. Upstream's iptables proxier names a
 * Service port's chains `KUBE-SVC-` + 16 base32 characters of
 * sha256(`ns/name:port` + protocol) (and KUBE-SEP- of that + the
 * endpoint). skiff must not clash with a real kube-proxy or another skiff
 * node on the same machine, so every chain starts with a per-node prefix
 * `SKIFF-<tag>-` (tag: 4 base32 characters of sha256 of the node's bridge
 * name) and the hash keeps 13 characters, so no name is over iptables'
 * 28-character limit.
 */
import { createHash } from "node:crypto";
import { type ServicePortName, servicePortNameString } from "./names.js";

/** iptables refuses longer chain names (XT_EXTENSION_MAXNAMELEN - 1). */
export const MAX_CHAIN_NAME = 28;

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** The first `n` characters of the standard base32 of sha256(text) (upstream's portProtoHash shape). */
export function base32Hash(text: string, n: number): string {
  const d = createHash("sha256").update(text).digest();
  let out = "";
  let bits = 0;
  let value = 0;
  for (const byte of d) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < n) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
    if (out.length >= n) break;
  }
  return out;
}

/** `SKIFF-<tag>-`: the prefix of every chain one node's proxy owns. */
export function iptablesChainPrefix(suffix: string): string {
  return `SKIFF-${base32Hash(suffix, 4)}-`;
}

/** Characters of the hash kept in per-Service chain names (upstream keeps 16). */
const HASH_CHARS = 13;

/** The readable `ns/name:port` plus protocol that upstream hashes. */
function portProto(p: ServicePortName): string {
  return `${servicePortNameString(p)}${p.protocol}`;
}

/** The names of one Service port's chains (upstream's KUBE-SVC/SVL/EXT/FW). */
export interface ServicePortChains {
  readonly svc: string;
  readonly svl: string;
  readonly ext: string;
  readonly fw: string;
}

export function servicePortChains(prefix: string, p: ServicePortName): ServicePortChains {
  const h = base32Hash(portProto(p), HASH_CHARS);
  return { svc: `${prefix}SVC-${h}`, svl: `${prefix}SVL-${h}`, ext: `${prefix}EXT-${h}`, fw: `${prefix}FW-${h}` };
}

/** An endpoint's chain (upstream's KUBE-SEP-); also the name of its `recent` list for ClientIP affinity. */
export function endpointChain(prefix: string, p: ServicePortName, endpoint: string): string {
  return `${prefix}SEP-${base32Hash(`${portProto(p)}${endpoint}`, HASH_CHARS)}`;
}

/** The fixed chains of one node's proxy (upstream's KUBE-* names after the prefix). */
export function fixedChains(prefix: string) {
  return {
    nat: {
      services: `${prefix}SERVICES`,
      nodePorts: `${prefix}NODEPORTS`,
      postrouting: `${prefix}POSTROUTING`,
      markMasq: `${prefix}MARK-MASQ`,
    },
    filter: {
      services: `${prefix}SERVICES`,
      externalServices: `${prefix}EXTERNAL-SERVICES`,
      proxyFirewall: `${prefix}PROXY-FIREWALL`,
      firewall: `${prefix}FIREWALL`,
    },
  } as const;
}

export type FixedChains = ReturnType<typeof fixedChains>;
