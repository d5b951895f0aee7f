import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { openMemoryStore } from "../../storage/backends/memory/memory-store.js";
import { runStoreConformance } from "../../storage/conformance/suite.js";
import { StatusError } from "../../machinery/status-error.js";
import { defaultEncryptionConfig, type EncryptionConfiguration, parseEncryptionConfig, transformersOf } from "./config.js";
import { EncryptingStore, prefixesOfResourceName, ResourceTransformers } from "./encrypting-store.js";
import { rewriteAll, withNewKey, withoutOldKeys } from "./rotate.js";
import { aescbcTransformer, aesgcmTransformer, identityTransformer, PrefixTransformers } from "./transformers.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const KEY32 = Buffer.alloc(32, 7).toString("base64");

// Everything encrypted, with both AES providers readable: the wrapper must still be a faithful Store.
// Restore takes stored bytes (what saveSnapshot wrote, already encrypted) as they are; the suite restores
// hand-made plain entries, which identity (last, as in skiff's default configuration) reads.
runStoreConformance("encrypting(memory)", {
  open: async () =>
    new EncryptingStore(
      openMemoryStore({ leaseSweepIntervalMs: 200 }),
      new ResourceTransformers([
        { prefixes: [""], transformers: new PrefixTransformers([aesgcmTransformer("g", Buffer.alloc(32, 1)), aescbcTransformer("c", Buffer.alloc(32, 2)), identityTransformer]) },
      ]),
    ),
});

function config(providers: EncryptionConfiguration["resources"][number]["providers"], resources = ["secrets"]): EncryptionConfiguration {
  return { apiVersion: "apiserver.config.k8s.io/v1", kind: "EncryptionConfiguration", resources: [{ resources, providers }] };
}

describe("transformers", () => {
  it("write upstream's prefixes and read back; aesgcm binds the value to its key", () => {
    for (const t of [aescbcTransformer("k1", Buffer.alloc(32, 3)), aesgcmTransformer("k1", Buffer.alloc(16, 3))]) {
      const set = new PrefixTransformers([t]);
      const stored = set.toStorage(enc("top secret"), "/registry/secrets/a/b");
      assert.ok(dec(stored).startsWith(`k8s:enc:${t.provider}:v1:k1:`));
      assert.ok(!dec(stored).includes("top secret"));
      assert.equal(dec(set.fromStorage(stored, "/registry/secrets/a/b").data), "top secret");
      if (t.provider === "aesgcm") assert.throws(() => set.fromStorage(stored, "/registry/secrets/a/c"), /message authentication failed/);
    }
  });

  it("read with any configured key, flag values of older keys as stale, refuse unknown prefixes", () => {
    const oldT = new PrefixTransformers([aescbcTransformer("old", Buffer.alloc(32, 1))]);
    const both = new PrefixTransformers([aescbcTransformer("new", Buffer.alloc(32, 2)), aescbcTransformer("old", Buffer.alloc(32, 1))]);
    const stored = oldT.toStorage(enc("v"), "k");
    assert.deepEqual({ data: dec(both.fromStorage(stored, "k").data), stale: both.fromStorage(stored, "k").stale }, { data: "v", stale: true });
    const onlyNew = new PrefixTransformers([aescbcTransformer("new", Buffer.alloc(32, 2))]);
    assert.throws(() => onlyNew.fromStorage(stored, "k"), /^Error: no matching prefix found$/);
    // Same name, different key bytes: the padding check catches it.
    const wrong = new PrefixTransformers([aescbcTransformer("old", Buffer.alloc(32, 9))]);
    assert.throws(() => wrong.fromStorage(stored, "k"), /invalid PKCS7 data|no matching/);
    const withIdentity = transformersOf([{ identity: {} }, { aescbc: { keys: [{ name: "old", secret: Buffer.alloc(32, 1).toString("base64") }] } }]);
    assert.equal(dec(withIdentity.fromStorage(enc("plain"), "k").data), "plain");
    assert.equal(dec(withIdentity.fromStorage(stored, "k").data), "v");
    assert.throws(() => transformersOf([{ identity: {} }]).fromStorage(stored, "k"), /identity transformer tried to read encrypted data/);
  });
});

describe("EncryptionConfiguration", () => {
  it("parses upstream's format and refuses bad configurations with upstream's messages", () => {
    const good = `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets, configmaps]
    providers:
      - aesgcm:
          keys: [{name: key1, secret: ${Buffer.alloc(16, 1).toString("base64")}}]
      - identity: {}
`;
    assert.equal(parseEncryptionConfig(good, "f").resources[0]!.resources.length, 2);
    const bad = (providers: string) =>
      `apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources: [secrets]\n    providers:\n${providers}`;
    assert.throws(
      () => parseEncryptionConfig(bad(`      - aescbc:\n          keys: [{name: k, secret: ${Buffer.alloc(16).toString("base64")}}]\n`), "f"),
      /resources\[0\]\.providers\[0\]\.aescbc\.keys\[0\]\.secret: Invalid value: "REDACTED": secret is not of the expected length, got 16, expected one of \[32\]/,
    );
    assert.throws(() => parseEncryptionConfig(bad(`      - aescbc:\n          keys: [{name: k, secret: "not base64!"}]\n`), "f"), /secrets must be base64 encoded/);
    assert.throws(
      () => parseEncryptionConfig(bad(`      - identity: {}\n        aescbc: {keys: [{name: k, secret: ${KEY32}}]}\n`), "f"),
      /more than one provider specified in a single element/,
    );
    assert.throws(() => parseEncryptionConfig(bad(`      - kms: {name: x}\n`), "f"), /does not support the kms provider/);
    assert.throws(() => parseEncryptionConfig(bad(`      - aescbc: {keys: []}\n`), "f"), /at least one key is required/);
    assert.throws(() => parseEncryptionConfig(bad(""), "f"), /at least one provider is required/);
    assert.throws(() => parseEncryptionConfig("kind: Other\n", "f"), /kind: Invalid value/);
    // The secret itself never appears in an error.
    try {
      parseEncryptionConfig(bad(`      - aescbc:\n          keys: [{name: k, secret: QUJD}]\n`), "f");
      assert.fail("expected a failure");
    } catch (err) {
      assert.ok(!(err as Error).message.includes("QUJD"));
    }
  });

  it("maps resource names to store prefixes as the registry lays keys out", () => {
    assert.deepEqual(prefixesOfResourceName("secrets"), ["/registry/secrets/"]);
    assert.deepEqual(prefixesOfResourceName("services"), ["/registry/services/specs/"]);
    assert.deepEqual(prefixesOfResourceName("*.*"), ["/registry/"]);
    assert.ok(prefixesOfResourceName("*.apps").includes("/registry/deployments/"));
    assert.ok(prefixesOfResourceName("*.").includes("/registry/configmaps/"));
    assert.deepEqual(prefixesOfResourceName("widgets.example.com"), ["/registry/example.com/widgets/"]);
  });
});

describe("EncryptingStore", () => {
  it("stores secrets encrypted, others plain, and decrypts reads, lists, errors and watches", async () => {
    const inner = openMemoryStore();
    const store = new EncryptingStore(inner, new ResourceTransformers(defaultEncryptionConfig()));
    const w = await store.create("/registry/secrets/ns/s1", enc('{"data":"hunter2"}'));
    assert.equal(dec(w.kv.value), '{"data":"hunter2"}');
    await store.create("/registry/configmaps/ns/c1", enc('{"data":"visible"}'));
    const raw = await inner.list("/registry/");
    const rawSecret = dec(raw.kvs.find((k) => k.key.includes("secrets"))!.value);
    assert.ok(rawSecret.startsWith("k8s:enc:aescbc:v1:aescbckey:"));
    assert.ok(!rawSecret.includes("hunter2"));
    assert.equal(dec(raw.kvs.find((k) => k.key.includes("configmaps"))!.value), '{"data":"visible"}');
    assert.equal(dec((await store.get("/registry/secrets/ns/s1")).kv!.value), '{"data":"hunter2"}');
    assert.deepEqual((await store.list("/registry/")).kvs.map((k) => dec(k.value)), ['{"data":"visible"}', '{"data":"hunter2"}']);

    const ac = new AbortController();
    const it = store.watch("/registry/secrets/", { startRevision: w.revision, signal: ac.signal })[Symbol.asyncIterator]();
    const first = await it.next();
    assert.equal(dec((first.value as { events: { kv: { value: Uint8Array } }[] }).events[0]!.kv.value), '{"data":"hunter2"}');
    ac.abort();

    // A conflict carries the current (decrypted) value, as the backends promise.
    await assert.rejects(store.update("/registry/secrets/ns/s1", enc("x"), 1), (err: Error & { current?: { value: Uint8Array } }) => {
      assert.equal(dec(err.current!.value), '{"data":"hunter2"}');
      return true;
    });
    const del = await store.delete("/registry/secrets/ns/s1");
    assert.equal(dec(del.prevKv.value), '{"data":"hunter2"}');
    await store.close();
  });

  it("fails only the undecryptable object, with upstream's 500 naming the key and not the data", async () => {
    const inner = openMemoryStore();
    const first = new EncryptingStore(inner, new ResourceTransformers(config([{ aescbc: { keys: [{ name: "a", secret: KEY32 }] } }])));
    await first.create("/registry/secrets/ns/s1", enc("hunter2"));
    await first.create("/registry/configmaps/ns/c1", enc("fine"));
    const other = new EncryptingStore(inner, new ResourceTransformers(config([{ aescbc: { keys: [{ name: "b", secret: Buffer.alloc(32, 8).toString("base64") }] } }])));
    await assert.rejects(other.get("/registry/secrets/ns/s1"), (err: unknown) => {
      assert.ok(err instanceof StatusError);
      assert.equal(err.code, 500);
      assert.equal(err.status.message, 'Internal error occurred: unable to transform key "/registry/secrets/ns/s1": no matching prefix found');
      assert.ok(!JSON.stringify(err.status).includes("hunter2"));
      return true;
    });
    assert.equal(dec((await other.get("/registry/configmaps/ns/c1")).kv!.value), "fine");
    await inner.close();
  });

  it("rotation: a new key first, every value rewritten, old keys dropped, nothing lost", async () => {
    const inner = openMemoryStore();
    const cfg0 = config([{ aescbc: { keys: [{ name: "aescbckey", secret: KEY32 }] } }, { identity: {} }]);
    await inner.create("/registry/secrets/ns/legacy", enc("plain-before-encryption"));
    const s0 = new EncryptingStore(inner, new ResourceTransformers(cfg0));
    for (let i = 0; i < 5; i++) await s0.create(`/registry/secrets/ns/s${i}`, enc(`value-${i}`));
    const { config: staged, keyName } = withNewKey(cfg0, new Date("2026-01-02T03:04:05.678Z"));
    assert.equal(keyName, "aescbckey-2026-01-02T03:04:05Z");
    assert.deepEqual(staged.resources[0]!.providers[0]!.aescbc!.keys.map((k) => k.name), [keyName, "aescbckey"]);
    const r = await rewriteAll(inner, staged);
    assert.deepEqual(r, { rewritten: 6, current: 0 });
    assert.deepEqual(await rewriteAll(inner, staged), { rewritten: 0, current: 6 });
    const final = withoutOldKeys(staged);
    assert.deepEqual(final.resources[0]!.providers.map((p) => Object.keys(p)[0]), ["aescbc", "identity"]);
    assert.deepEqual(final.resources[0]!.providers[0]!.aescbc!.keys.map((k) => k.name), [keyName]);
    const s1 = new EncryptingStore(inner, new ResourceTransformers(final));
    const all = (await s1.list("/registry/secrets/")).kvs.map((k) => dec(k.value));
    assert.deepEqual(all.sort(), ["plain-before-encryption", ...Array.from({ length: 5 }, (_, i) => `value-${i}`)].sort());
    for (const kv of (await inner.list("/registry/secrets/")).kvs) assert.ok(dec(kv.value).startsWith(`k8s:enc:aescbc:v1:${keyName}:`));
    assert.throws(() => withNewKey(config([{ identity: {} }]), new Date()), /encryption at rest is not enabled/);
    await inner.close();
  });
});
