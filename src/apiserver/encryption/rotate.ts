/**
 * Key rotation, as k3s' `secrets-encrypt rotate-keys` does it in one go:
 * 1. a new key goes first in every encrypting provider (the old keys stay,
 *    so everything still reads), and the configuration is saved;
 * 2. every value under the encrypted resources is rewritten with the new key
 *    (compare-and-swap on its revision, so a concurrent write is never lost);
 * 3. the old keys are dropped and the configuration saved again.
 * A crash between steps leaves a configuration that reads every stored
 * value; running the rotation again finishes it.
 */
import { RevisionMismatchError } from "../../storage/errors.js";
import type { Store } from "../../storage/store.js";
import { type EncryptionConfiguration, type EncryptionKey, newKeySecret } from "./config.js";
import { EncryptingStore, ResourceTransformers } from "./encrypting-store.js";

/** k3s' name for a rotated key: `aescbckey-<RFC 3339 time>`. */
export function rotatedKeyName(now: Date, provider: "aescbc" | "aesgcm" = "aescbc"): string {
  return `${provider}key-${now.toISOString().replace(/\.\d{3}Z$/, "Z")}`;
}

function encryptingKeys(cfg: EncryptionConfiguration): { provider: "aescbc" | "aesgcm"; keys: EncryptionKey[] }[] {
  const out: { provider: "aescbc" | "aesgcm"; keys: EncryptionKey[] }[] = [];
  for (const rc of cfg.resources) {
    const first = rc.providers[0];
    if (first?.aescbc) out.push({ provider: "aescbc", keys: first.aescbc.keys });
    else if (first?.aesgcm) out.push({ provider: "aesgcm", keys: first.aesgcm.keys });
  }
  return out;
}

/** Step 1: the configuration with a new key first in every encrypting provider (one new key shared by all). */
export function withNewKey(cfg: EncryptionConfiguration, now: Date): { config: EncryptionConfiguration; keyName: string } {
  const next = structuredClone(cfg);
  const lists = encryptingKeys(next);
  if (lists.length === 0) {
    throw new Error("encryption at rest is not enabled: no resource's first provider is aescbc or aesgcm, so there is no key to rotate");
  }
  let keyName = rotatedKeyName(now, lists[0]!.provider);
  // Two rotations within one second would otherwise repeat a name.
  for (let i = 1; lists.some((l) => l.keys.some((k) => k.name === keyName)); i++) keyName = `${rotatedKeyName(now, lists[0]!.provider)}-${i}`;
  const key = { name: keyName, secret: newKeySecret() };
  for (const l of lists) l.keys.unshift({ ...key });
  return { config: next, keyName };
}

/** Step 3: only the first key of every encrypting provider remains. */
export function withoutOldKeys(cfg: EncryptionConfiguration): EncryptionConfiguration {
  const next = structuredClone(cfg);
  for (const l of encryptingKeys(next)) l.keys.splice(1);
  return next;
}

export interface RewriteResult {
  /** Values rewritten with the write key. */
  readonly rewritten: number;
  /** Values already written with it. */
  readonly current: number;
}

/**
 * Step 2: rewrites every stale value under the configured resources with the
 * configuration's write key. `store` is the backend itself (not wrapped).
 * Throws (naming the key) if a value cannot be read with any configured key.
 */
export async function rewriteAll(store: Store, cfg: EncryptionConfiguration): Promise<RewriteResult> {
  const enc = new EncryptingStore(store, new ResourceTransformers(cfg));
  let rewritten = 0;
  let current = 0;
  for (const prefix of enc.transformers.prefixes()) {
    let startKey: string | undefined;
    for (;;) {
      const page = await store.list(prefix, { limit: 500, ...(startKey ? { startKey } : {}) });
      for (const kv of page.kvs) {
        let cur = kv;
        for (;;) {
          const r = enc.read(cur);
          if (!r.stale) {
            current++;
            break;
          }
          try {
            await enc.update(cur.key, r.data, cur.modRevision, cur.lease ? { lease: cur.lease } : undefined);
            rewritten++;
            break;
          } catch (err) {
            // Written meanwhile: read the new value and try again (it may already use the new key).
            if (!(err instanceof RevisionMismatchError)) throw err;
            const again = await store.get(cur.key);
            if (!again.kv) break;
            cur = again.kv;
          }
        }
      }
      if (!page.more || page.kvs.length === 0) break;
      startKey = `${page.kvs[page.kvs.length - 1]!.key}\u0000`;
    }
  }
  return { rewritten, current };
}
