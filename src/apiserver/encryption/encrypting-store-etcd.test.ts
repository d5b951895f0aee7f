/**
 * Encryption at rest over the etcd backend (a real etcd): the wrapper is a
 * faithful Store there too, and etcd itself only ever holds ciphertext for
 * secrets.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type EtcdProcess, startEtcd } from "../../storage/backends/etcd/etcd-process.js";
import { EtcdStore } from "../../storage/backends/etcd/etcd-store.js";
import type { Store, WatchBatch } from "../../storage/store.js";
import { defaultEncryptionConfig } from "./config.js";
import { EncryptingStore, ResourceTransformers } from "./encrypting-store.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

const root = mkdtempSync(join(tmpdir(), "skiff-etcd-enc-"));
let etcd: EtcdProcess;
const opened: Store[] = [];

before(async () => {
  etcd = await startEtcd({ dataDir: join(root, "etcd"), logFile: join(root, "etcd.log") });
});

after(async () => {
  for (const s of opened) await s.close().catch(() => {});
  await etcd?.stop();
  rmSync(root, { recursive: true, force: true });
});

async function open(prefix: string): Promise<EtcdStore> {
  const s = await EtcdStore.open({ endpoints: [etcd.endpoint], keyPrefix: prefix, requestTimeoutMs: 10_000 });
  opened.push(s);
  return s;
}

describe("encryption at rest on etcd", () => {
  it("etcd holds only ciphertext for secrets; reads and watches through the wrapper see plaintext", async () => {
    const prefix = `/skiff-enc-${process.pid}`;
    const store = new EncryptingStore(await open(prefix), new ResourceTransformers(defaultEncryptionConfig()));
    const raw = await open(prefix);
    const ac = new AbortController();
    const start = (await store.currentRevision()) + 1;
    const events: WatchBatch[] = [];
    const watching = (async () => {
      for await (const b of store.watch("/registry/secrets/", { startRevision: start, signal: ac.signal })) {
        events.push(b);
        if (events.flatMap((e) => e.events).length >= 1) break;
      }
    })();
    await store.create("/registry/secrets/ns/db", enc('{"data":{"password":"aHVudGVyMg=="}}'));
    await store.create("/registry/configmaps/ns/c", enc('{"data":{"k":"plain"}}'));
    await watching;
    ac.abort();
    const stored = dec((await raw.get("/registry/secrets/ns/db")).kv!.value);
    assert.ok(stored.startsWith("k8s:enc:aescbc:v1:aescbckey:"));
    assert.ok(!stored.includes("aHVudGVyMg=="));
    assert.equal(dec((await raw.get("/registry/configmaps/ns/c")).kv!.value), '{"data":{"k":"plain"}}');
    assert.equal(dec((await store.get("/registry/secrets/ns/db")).kv!.value), '{"data":{"password":"aHVudGVyMg=="}}');
    assert.equal(dec(events[0]!.events[0]!.kv.value), '{"data":{"password":"aHVudGVyMg=="}}');
    const listed = await store.list("/registry/");
    assert.deepEqual(listed.kvs.map((k) => dec(k.value)).sort(), ['{"data":{"k":"plain"}}', '{"data":{"password":"aHVudGVyMg=="}}']);
  });
});
