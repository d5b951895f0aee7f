import assert from "node:assert/strict";
import { after, test } from "node:test";
import { openMemoryStore } from "../../storage/backends/memory/memory-store.js";
import type { Store } from "../../storage/store.js";
import { isAllocationError } from "./allocation-error.js";
import { NodePortAllocator, SERVICE_NODE_PORTS_KEY } from "./port-allocator.js";

const stores: Store[] = [];
function store(): Store {
  const s = openMemoryStore();
  stores.push(s);
  return s;
}
after(async () => {
  for (const s of stores) await s.close();
});

test("default range 30000-32767 with a static band of 86", async () => {
  const s = store();
  const a = new NodePortAllocator({ store: s });
  assert.equal(a.rangeSpec, "30000-32767");
  assert.equal(a.size, 2768);
  assert.equal(a.staticBand, 86);
  await a.allocate(30080);
  await assert.rejects(a.allocate(30080), (e: unknown) => isAllocationError(e, "allocated") && e.message === "provided port is already allocated");
  await assert.rejects(
    a.allocate(80),
    (e: unknown) => isAllocationError(e, "not-in-range") && e.message === "provided port is not in the valid range. The range of valid ports is 30000-32767",
  );
  await a.release(30080);
  await a.allocate(30080);
  const { kv } = await s.get(SERVICE_NODE_PORTS_KEY);
  assert.equal(JSON.parse(new TextDecoder().decode(kv!.value)).range, "30000-32767");
});

test("dynamic ports come from above the static band until it is all that is left", async () => {
  const a = new NodePortAllocator({ store: store(), range: [30000, 30099] }); // 100 ports, band 16
  assert.equal(a.staticBand, 16);
  for (let i = 0; i < 84; i++) assert.ok((await a.allocateNext()) >= 30016);
  for (let i = 0; i < 16; i++) assert.ok((await a.allocateNext()) < 30016);
  await assert.rejects(a.allocateNext(), (e: unknown) => isAllocationError(e, "full"));
});

test("200 concurrent allocations across allocators sharing a store never collide", async () => {
  const s = store();
  const allocators = [0, 1, 2].map(() => new NodePortAllocator({ store: s }));
  const ports = await Promise.all(Array.from({ length: 200 }, (_, i) => allocators[i % 3]!.allocateNext()));
  assert.equal(new Set(ports).size, 200);
  assert.ok(ports.every((p) => p >= 30000 && p <= 32767));
  assert.equal(await allocators[1]!.free(), 2768 - 200);
});
