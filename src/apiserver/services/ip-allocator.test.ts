import assert from "node:assert/strict";
import { after, test } from "node:test";
import { openMemoryStore } from "../../storage/backends/memory/memory-store.js";
import type { Store } from "../../storage/store.js";
import { AllocationError, isAllocationError } from "./allocation-error.js";
import { SERVICE_IPS_KEY, ServiceIPAllocator } from "./ip-allocator.js";

const stores: Store[] = [];
function store(): Store {
  const s = openMemoryStore();
  stores.push(s);
  return s;
}
after(async () => {
  for (const s of stores) await s.close();
});

test("layout: network and broadcast excluded, static band of 256 for a /16", () => {
  const a = new ServiceIPAllocator({ store: store() });
  assert.equal(a.cidr, "10.43.0.0/16");
  assert.equal(a.size, 65534);
  assert.equal(a.staticBand, 256);
  assert.equal(a.offsetOf("10.43.0.0"), undefined);
  assert.equal(a.offsetOf("10.43.255.255"), undefined);
  assert.equal(a.offsetOf("10.43.0.1"), 0);
  assert.equal(a.offsetOf("10.43.255.254"), 65533);
  assert.equal(a.offsetOf("10.44.0.1"), undefined);
  assert.equal(new ServiceIPAllocator({ store: store(), cidr: "10.0.0.0/24" }).staticBand, 16);
  assert.equal(new ServiceIPAllocator({ store: store(), cidr: "10.0.0.0/28" }).staticBand, 0);
  assert.throws(() => new ServiceIPAllocator({ store: store(), cidr: "fd00::/108" }), /IPv6 service ranges are not supported/);
});

test("specific allocation, conflicts, release, has", async () => {
  const a = new ServiceIPAllocator({ store: store() });
  await a.allocate("10.43.0.1");
  assert.equal(await a.has("10.43.0.1"), true);
  await assert.rejects(a.allocate("10.43.0.1"), (e: unknown) => isAllocationError(e, "allocated") && e.message === "provided IP is already allocated");
  await assert.rejects(
    a.allocate("10.44.0.5"),
    (e: unknown) =>
      isAllocationError(e, "not-in-range") && e.message === "the provided IP (10.44.0.5) is not in the valid range. The range of valid IPs is 10.43.0.0/16",
  );
  await assert.rejects(a.allocate("10.43.0.0"), (e: unknown) => isAllocationError(e, "not-in-range"));
  await assert.rejects(a.allocate("10.43.255.255"), (e: unknown) => isAllocationError(e, "not-in-range"));
  await a.release("10.43.0.1");
  assert.equal(await a.has("10.43.0.1"), false);
  await a.allocate("10.43.0.1");
  // Release of a free or foreign address is a no-op.
  await a.release("10.43.9.9");
  await a.release("192.168.0.1");
  assert.deepEqual(await a.used(), ["10.43.0.1"]);
  assert.equal(await a.free(), 65533);
});

test("dynamic allocation prefers the upper band and falls back to the static band", async () => {
  const a = new ServiceIPAllocator({ store: store(), cidr: "10.0.0.0/27" }); // 30 usable, static band 16
  assert.equal(a.staticBand, 16);
  const got: number[] = [];
  for (let i = 0; i < 14; i++) got.push(a.offsetOf(await a.allocateNext())!);
  assert.ok(got.every((o) => o >= 16), `upper band first: ${got}`);
  const more: number[] = [];
  for (let i = 0; i < 16; i++) more.push(a.offsetOf(await a.allocateNext())!);
  assert.ok(more.every((o) => o < 16), `then the static band: ${more}`);
  await assert.rejects(a.allocateNext(), (e: unknown) => e instanceof AllocationError && e.reason === "full" && e.message === "range is full");
});

test("the bitmap is stored as upstream's RangeAllocation", async () => {
  const s = store();
  const a = new ServiceIPAllocator({ store: s });
  await a.allocate("10.43.0.1"); // offset 0
  await a.allocate("10.43.0.10"); // offset 9
  const { kv } = await s.get(SERVICE_IPS_KEY);
  const obj = JSON.parse(new TextDecoder().decode(kv!.value));
  assert.equal(obj.kind, "RangeAllocation");
  assert.equal(obj.range, "10.43.0.0/16");
  // big.Int bytes, big-endian: bits 0 and 9 → 0x0201.
  assert.deepEqual([...Buffer.from(obj.data, "base64")], [0x02, 0x01]);
});

test("200 concurrent allocations across allocators sharing a store never collide", async () => {
  const s = store();
  const allocators = [0, 1, 2, 3].map(() => new ServiceIPAllocator({ store: s, cidr: "10.43.0.0/22" }));
  const ips = await Promise.all(Array.from({ length: 200 }, (_, i) => allocators[i % 4]!.allocateNext()));
  assert.equal(new Set(ips).size, 200);
  assert.equal((await allocators[0]!.used()).length, 200);
  // Concurrent requests for one specific address: exactly one wins.
  const results = await Promise.allSettled(allocators.map((a) => a.allocate("10.43.0.7")));
  assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
});

test("a stale cache never yields a wrong 'already allocated'", async () => {
  const s = store();
  const a = new ServiceIPAllocator({ store: s });
  const b = new ServiceIPAllocator({ store: s });
  await a.allocate("10.43.0.5");
  await b.release("10.43.0.5"); // a's cache still says taken
  await a.allocate("10.43.0.5");
  assert.equal(await b.has("10.43.0.5"), true);
});

test("a bitmap stored for another range is refused until repaired", async () => {
  const s = store();
  await new ServiceIPAllocator({ store: s, cidr: "10.96.0.0/12" }).allocate("10.96.0.1");
  const a = new ServiceIPAllocator({ store: s });
  await assert.rejects(
    a.allocateNext(),
    (e: unknown) => isAllocationError(e, "mismatched-range") && e.message === "the provided network does not match the current range",
  );
  const snap = await a.bitmap.snapshot();
  assert.equal(snap.range, "10.96.0.0/12");
  assert.equal(await a.bitmap.replace([0], snap.revision), true);
  assert.deepEqual(await a.used(), ["10.43.0.1"]);
});
