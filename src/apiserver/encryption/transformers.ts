/**
 * Value transformers for encryption at rest, as upstream's
 * k8s.io/apiserver/pkg/storage/value: every encrypted value starts with
 * `k8s:enc:<provider>:v1:<key name>:` so a reader knows which key wrote it,
 * and the identity transformer stores values as they are.
 *
 * Formats (byte-compatible with upstream, so a store written by
 * kube-apiserver with the same key reads here and the other way round):
 * - aescbc: 16-byte random IV, then AES-256-CBC ciphertext with PKCS#7 padding.
 * - aesgcm: 12-byte random nonce, then AES-GCM ciphertext and 16-byte tag,
 *   authenticated with the storage key (so a value moved to another key
 *   does not decrypt).
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/** Every encrypted value begins with this (upstream's identity reader refuses such data). */
export const ENCRYPTED_PREFIX = "k8s:enc:";

/** One way to store values, with the prefix that marks what it wrote. */
export interface PrefixTransformer {
  /** Bytes every value this transformer writes starts with ("" for identity). */
  readonly prefix: Uint8Array;
  /** "aescbc", "aesgcm" or "identity". */
  readonly provider: string;
  /** The key's name ("" for identity). */
  readonly keyName: string;
  /** Encrypts `data` (without the prefix); `key` is the storage key, authenticated by aesgcm. */
  toStorage(data: Uint8Array, key: string): Uint8Array;
  /** Decrypts `data` (prefix already stripped); throws an Error saying why on failure. */
  fromStorage(data: Uint8Array, key: string): Uint8Array;
}

const enc = new TextEncoder();

function concat(...parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

/** AES-CBC with a 32-byte key (upstream aescbc). */
export function aescbcTransformer(name: string, secret: Uint8Array): PrefixTransformer {
  const algorithm = `aes-${secret.length * 8}-cbc`;
  return {
    prefix: enc.encode(`k8s:enc:aescbc:v1:${name}:`),
    provider: "aescbc",
    keyName: name,
    toStorage(data) {
      const iv = randomBytes(16);
      const c = createCipheriv(algorithm, secret, iv);
      return concat(iv, c.update(data), c.final());
    },
    fromStorage(data) {
      // Upstream's messages for short and misaligned data.
      if (data.length < 16) throw new Error("the stored data was shorter than the required size");
      if ((data.length - 16) % 16 !== 0) throw new Error("invalid block size");
      try {
        const d = createDecipheriv(algorithm, secret, data.subarray(0, 16));
        return concat(d.update(data.subarray(16)), d.final());
      } catch {
        // A wrong key shows up as bad padding, as upstream's errInvalidPKCS7Padding.
        throw new Error("invalid PKCS7 data (empty or not padded)");
      }
    },
  };
}

/** AES-GCM with a 16, 24 or 32-byte key (upstream aesgcm). */
export function aesgcmTransformer(name: string, secret: Uint8Array): PrefixTransformer {
  const algorithm = `aes-${secret.length * 8}-gcm` as "aes-256-gcm";
  return {
    prefix: enc.encode(`k8s:enc:aesgcm:v1:${name}:`),
    provider: "aesgcm",
    keyName: name,
    toStorage(data, key) {
      const nonce = randomBytes(12);
      const c = createCipheriv(algorithm, secret, nonce);
      c.setAAD(enc.encode(key));
      const body = concat(c.update(data), c.final());
      return concat(nonce, body, c.getAuthTag());
    },
    fromStorage(data, key) {
      if (data.length < 12 + 16) throw new Error("the stored data was shorter than the required size");
      try {
        const d = createDecipheriv(algorithm, secret, data.subarray(0, 12));
        d.setAAD(enc.encode(key));
        d.setAuthTag(data.subarray(data.length - 16));
        return concat(d.update(data.subarray(12, data.length - 16)), d.final());
      } catch {
        throw new Error("cipher: message authentication failed");
      }
    },
  };
}

const ENCRYPTED = enc.encode(ENCRYPTED_PREFIX);

/** Stores values as they are; refuses to hand out data some other transformer encrypted. */
export const identityTransformer: PrefixTransformer = {
  prefix: new Uint8Array(0),
  provider: "identity",
  keyName: "",
  toStorage: (data) => data,
  fromStorage(data) {
    if (hasPrefix(data, ENCRYPTED)) throw new Error("identity transformer tried to read encrypted data");
    return data;
  },
};

export function hasPrefix(data: Uint8Array, prefix: Uint8Array): boolean {
  if (data.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (data[i] !== prefix[i]) return false;
  return true;
}

/** What reading a value gave: the plain bytes, and whether it was written by another than the write transformer. */
export interface ReadResult {
  readonly data: Uint8Array;
  /** True when a rewrite would store it differently (an older key or provider): what rotation rewrites. */
  readonly stale: boolean;
}

/**
 * Upstream's prefixTransformers: writes with the first transformer, reads
 * with the first whose prefix the data carries.
 */
export class PrefixTransformers {
  constructor(readonly transformers: readonly PrefixTransformer[]) {
    if (transformers.length === 0) throw new Error("no transformers provided");
  }

  toStorage(data: Uint8Array, key: string): Uint8Array {
    const t = this.transformers[0]!;
    return t.prefix.length === 0 ? t.toStorage(data, key) : concat(t.prefix, t.toStorage(data, key));
  }

  /** Throws an Error with upstream's reason when no transformer can read `data`. */
  fromStorage(data: Uint8Array, key: string): ReadResult {
    const errs: string[] = [];
    for (let i = 0; i < this.transformers.length; i++) {
      const t = this.transformers[i]!;
      if (!hasPrefix(data, t.prefix)) continue;
      try {
        return { data: t.fromStorage(data.subarray(t.prefix.length), key), stale: i !== 0 };
      } catch (err) {
        // Another transformer with the same prefix (a repeated key name) may still read it.
        errs.push((err as Error).message);
      }
    }
    if (errs.length > 0) throw new Error(errs.length === 1 ? errs[0] : `[${errs.join(", ")}]`);
    throw new Error("no matching prefix found");
  }
}
