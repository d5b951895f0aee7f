/**
 * Content digests (`sha256:<64 hex>`), the only algorithm the store accepts:
 * parsing, hashing buffers and streams, and the chain id of a layer stack.
 */
import { createHash, type Hash } from "node:crypto";

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

/** True for a well-formed `sha256:<hex>` digest. */
export function isDigest(s: unknown): s is string {
  return typeof s === "string" && DIGEST_RE.test(s);
}

/** The hex part of a sha256 digest. */
export function digestHex(digest: string): string {
  return digest.slice("sha256:".length);
}

/** `sha256:<hex>` of `data`. */
export function sha256Digest(data: string | Uint8Array): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/** A running sha256 with a byte count, for streams. */
export class DigestCounter {
  private readonly hash: Hash = createHash("sha256");
  bytes = 0;

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
  }

  /** The digest; call once, after the last update. */
  digest(): string {
    return `sha256:${this.hash.digest("hex")}`;
  }
}

/**
 * The OCI chain id of layers given by their diff ids, bottom first:
 * ChainID(L0) = DiffID(L0); ChainID(L0..n) = sha256(ChainID(L0..n-1) + " " + DiffID(Ln)).
 * Two images with the same layers share one unpacked root filesystem through it.
 */
export function chainId(diffIds: readonly string[]): string {
  if (diffIds.length === 0) return sha256Digest("");
  let chain = diffIds[0]!;
  for (const d of diffIds.slice(1)) chain = sha256Digest(`${chain} ${d}`);
  return chain;
}
