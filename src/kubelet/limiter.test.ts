import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Limiter } from "./limiter.js";

/** A call that runs until the test lets it finish. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

describe("Limiter", () => {
  it("runs at most max calls at once and serves heartbeats before other waiting calls", async () => {
    const limiter = new Limiter(1);
    const order: string[] = [];
    const first = gate();
    const running = limiter.run(async () => {
      order.push("first");
      await first.promise;
    });
    const calls = [
      limiter.run(async () => void order.push("status-1")),
      limiter.run(async () => void order.push("status-2")),
      limiter.run(async () => void order.push("lease"), "heartbeat"),
      limiter.run(async () => void order.push("node-status"), "heartbeat"),
    ];
    assert.equal(limiter.pending, 5);
    assert.deepEqual(order, ["first"], "the others wait for the one slot");
    first.open();
    await Promise.all([running, ...calls]);
    assert.deepEqual(order, ["first", "lease", "node-status", "status-1", "status-2"]);
    assert.equal(limiter.pending, 0);
  });

  it("frees the slot when a call fails, and leaves the failure to the caller", async () => {
    const limiter = new Limiter(1);
    await assert.rejects(limiter.run(() => Promise.reject(new Error("boom"))), /boom/);
    assert.equal(await limiter.run(async () => 7), 7);
    assert.equal(limiter.pending, 0);
  });
});
